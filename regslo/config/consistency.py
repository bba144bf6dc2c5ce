"""The ``consistency:`` section: tags users pull that must resolve to one digest in every region.

```yaml
consistency:
  - repository: app/web
    tags: [latest, stable]
    registries: [us, eu]      # default: every configured registry (at least two)
    interval: 1m              # how often each tag is resolved on each registry
    grace: 5m                 # RegsloTagInconsistent fires when a tag stays inconsistent this long
```

Only the repositories and tags listed here become label values, so the series count is fixed by the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from regslo.config.base import Errors, Section, join
from regslo.oci.names import REPOSITORY_NAME

TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # the distribution spec's tag grammar
MAX_TAGS = 1000  # (repository, tag) pairs in all: each is two series
_KEYS = {"repository", "tags", "registries", "interval", "grace"}


@dataclass(frozen=True)
class ConsistencyCheck:
    repository: str
    tags: tuple[str, ...]
    registries: tuple[str, ...]
    interval: float = 60.0
    grace: float = 300.0


def parse(raw: Any, path: str, errors: Errors, registries: list[str]) -> list[ConsistencyCheck]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.add(path, f"must be a list, got {type(raw).__name__}")
        return []
    out = []
    seen: dict[tuple[str, str], str] = {}
    for i, item in enumerate(raw):
        sec = Section(item, join(path, i), errors, known=_KEYS)
        repo = sec.str("repository", required=True)
        if repo is not None and not REPOSITORY_NAME.fullmatch(repo):
            errors.add(sec.key("repository"), f"not a valid repository name: {repo!r}")
        tags = sec.list("tags", required=True)
        if sec.has("tags") and not tags:
            errors.add(sec.key("tags"), "must list at least one tag")
        for j, tag in enumerate(tags):
            if not isinstance(tag, str) or not TAG.match(tag):
                errors.add(join(sec.key("tags"), j), f"not a valid tag: {tag!r}")
            elif repo is not None:
                key = (repo, tag)
                if key in seen:
                    errors.add(join(sec.key("tags"), j), f"{repo}:{tag} is already checked by {seen[key]}")
                seen.setdefault(key, sec.path)
        names = sec.list("registries") if sec.has("registries") else list(registries)
        for j, name in enumerate(names):
            if name not in registries:
                errors.add(join(sec.key("registries"), j),
                           f"unknown registry {name!r} (known: {', '.join(registries) or 'none'})")
        if len(set(map(str, names))) != len(names):
            errors.add(sec.key("registries"), "lists a registry twice")
        if len(set(map(str, names))) < 2:
            errors.add(sec.key("registries"), "needs at least two registries to compare")
        interval = sec.duration("interval", 60.0)
        grace = sec.duration("grace", 300.0, positive=False)
        if grace is not None and grace < 0:
            errors.add(sec.key("grace"), "must not be negative")
        if repo and tags:
            out.append(ConsistencyCheck(repo, tuple(str(t) for t in tags), tuple(str(n) for n in names),
                                        interval or 60.0, grace if grace is not None else 300.0))
    if len(seen) > MAX_TAGS:
        errors.add(path, f"checks {len(seen)} tags; at most {MAX_TAGS} (each is a labelled series)")
    return out
