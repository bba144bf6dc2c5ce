"""The repository carries everything its tests, benchmarks and scripts read: nothing reaches outside it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ("regslo", "tests", "bench", "scripts", ".ci")
# A path that climbs out of the checkout into a sibling folder the developers happen to have.
# Also the absolute path of the developers' copy, and the same climb spelt with path joins.
# ("share[d]": this line must not match itself)
OUTSIDE = re.compile(r"\.\./share[d]|/work/share[d]|parents\[\d+\]\s*/\s*[\"']shared|[\"']\.\.[\"']\s*,\s*[\"']shared")


def test_the_pattern_catches_each_way_of_reaching_outside():
    # the examples are assembled from parts so that this file holds no such path itself
    sibling = "shared"
    for line in (f'SAMPLES = ROOT / "../{sibling}/samples"', f"open('/work/{sibling}/reference/oci.md')",
                 f'Path(__file__).parents[3] / "{sibling}"', f"os.path.join(root, '..', '{sibling}', 'x')"):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search('"shared by every source"')


def test_no_file_refers_to_a_folder_beside_the_checkout():
    offenders = []
    for top in CHECKED:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or path.suffix in {".pyc", ".png"}:
                continue
            text = path.read_text(errors="replace")
            for no, line in enumerate(text.splitlines(), 1):
                if OUTSIDE.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()[:120]}")
    assert offenders == []


def test_recorded_samples_are_in_the_repository():
    data = ROOT / "tests" / "data" / "distribution-2.8"
    names = {p.name for p in data.iterdir()}
    assert {"r1-json-mixed.log", "r2-text-mixed.log", "registry_notifications.jsonl"} <= names
