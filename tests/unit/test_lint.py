"""pyflakes finds nothing in the code we ship or test with: no undefined names (an annotation naming a type
that was never imported went unnoticed for a long time because postponed annotations are never evaluated),
no unused imports or variables."""

from pathlib import Path

from pyflakes.api import checkRecursive
from pyflakes.reporter import Reporter

ROOT = Path(__file__).resolve().parents[2]


class _Collect:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        if text.strip():
            self.lines.append(text.strip())


def test_pyflakes_is_clean():
    out = _Collect()
    paths = [str(ROOT / d) for d in ("regslo", "tests", "bench", "scripts") if (ROOT / d).exists()]
    count = checkRecursive(paths, Reporter(out, out))
    assert count == 0 and not out.lines, "\n".join(out.lines)


def test_pyflakes_would_report_an_undefined_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from __future__ import annotations\n\ndef f(x: Missing) -> None:\n    return None\n")
    out = _Collect()
    assert checkRecursive([str(bad)], Reporter(out, out)) == 1
    assert "undefined name 'Missing'" in out.lines[0]
