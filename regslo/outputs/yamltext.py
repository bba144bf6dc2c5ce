"""Deterministic YAML for generated files: keys in insertion order, multi-line strings as ``|`` blocks."""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # repeated label maps stay readable, no &id001 anchors
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(data: Any, header: str = "") -> str:
    """YAML text for ``data``; ``header`` lines become ``#`` comments on top."""
    body = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096,  # one line per value: no folding
                     default_flow_style=False)
    lines = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    return lines + body


def dump_all(documents: list[Any], header: str = "") -> str:
    return "---\n".join(dump(doc, header if i == 0 else "") for i, doc in enumerate(documents))
