"""The ``immutable_tags:`` section: tags that must never move to another digest once pushed.

```yaml
immutable_tags: ["prod/**:v*", "base/*:latest"]
# or, with the alert's severity (default ticket):
immutable_tags:
  patterns: ["prod/**:v*", "base/*:latest"]
  severity: page
```

A pattern is ``<repository glob>:<tag glob>``. In the repository glob ``*`` matches within one path
segment and ``**`` (a whole segment) any number of segments; in the tag glob ``*`` matches any characters.
``?`` matches one character in both. Overwrites are seen in registry notifications (``logs`` source
``format: notifications``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from regslo.config.base import Errors, Section, join
from regslo.config.globs import repository_glob

SEVERITIES = ("page", "ticket")
_TAG_GLOB = re.compile(r"^[A-Za-z0-9_.*?-]{1,128}$")


def compile_pattern(pattern: str) -> tuple[re.Pattern, re.Pattern]:
    """(repository regex, tag regex) of one ``repo-glob:tag-glob``; ``ValueError`` names what is wrong."""
    repo, sep, tag = pattern.partition(":")
    if not sep or not repo or not tag:
        raise ValueError(f"must be <repository glob>:<tag glob>, got {pattern!r}")
    repo_re = re.compile(repository_glob(repo))
    if not _TAG_GLOB.match(tag):
        raise ValueError(f"bad tag glob {tag!r} (letters, digits, '_', '.', '-', '*', '?')")
    tag_re = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in tag))
    return repo_re, tag_re


@dataclass(frozen=True)
class ImmutableTags:
    patterns: tuple[str, ...] = ()
    severity: str = "ticket"
    _compiled: tuple = field(default=(), repr=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def protects(self, repository: str, tag: str) -> bool:
        return any(r.fullmatch(repository) and t.fullmatch(tag) for r, t in self._compiled)


def parse(raw: Any, path: str, errors: Errors) -> ImmutableTags:
    if raw is None:
        return ImmutableTags()
    severity = "ticket"
    if isinstance(raw, dict):
        sec = Section(raw, path, errors, known={"patterns", "severity"})
        severity = sec.choice("severity", SEVERITIES, "ticket") or "ticket"
        items, where = sec.list("patterns", required=True), sec.key("patterns")
    elif isinstance(raw, list):
        items, where = raw, path
    else:
        errors.add(path, f"must be a list of patterns or a mapping with patterns, got {type(raw).__name__}")
        return ImmutableTags()
    patterns, compiled = [], []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            errors.add(join(where, i), f"must be a string like 'prod/**:v*', got {item!r}")
            continue
        try:
            compiled.append(compile_pattern(item))
            patterns.append(item)
        except ValueError as exc:
            errors.add(join(where, i), str(exc))
    return ImmutableTags(tuple(patterns), severity, tuple(compiled))
