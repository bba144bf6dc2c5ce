"""The ``inspect:`` section: which pushed images the image inspector reads, when, and how fast. See
docs/supply-chain.md.

```yaml
inspect:
  repositories: ["prod/**", "base/*"]  # globs: * stays inside one path segment, ** is whole segments
  delay: 10m              # wait after the push: signatures and attestations arrive after the image
  max_per_minute: 60      # images inspected per minute, at most (all registries together)
  queue_size: 10000       # pushes waiting for their delay; more are dropped and counted
  timeout: 30s            # all reads of one image together
  registries: [us]        # default: every registry with a notifications source
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from regslo.config.base import Errors, Section, join
from regslo.config.globs import repository_glob

# a queued push costs up to ~850 bytes (measured): the largest queue stays under ~170 MB
MAX_QUEUE = 200_000
_KEYS = {"repositories", "delay", "max_per_minute", "queue_size", "timeout", "registries"}


@dataclass(frozen=True)
class InspectConfig:
    repositories: tuple[str, ...]
    delay: float = 600.0
    max_per_minute: int = 60
    queue_size: int = 10_000
    timeout: float = 30.0
    registries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", compile_globs(self.repositories))

    def selects(self, repository: str) -> bool:
        """True if ``repository`` matches one of the ``repositories`` globs."""
        return self._pattern.fullmatch(repository) is not None  # type: ignore[attr-defined]


def compile_globs(globs: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(f"(?:{repository_glob(g)})" for g in globs) or "(?!)")


def parse(raw: Any, path: str, errors: Errors, config: Any) -> InspectConfig | None:
    """Validate the ``inspect`` section; None when absent."""
    if raw is None:
        return None
    sec = Section(raw, path, errors, known=_KEYS)
    d = InspectConfig(repositories=())
    globs: list[str] = []
    items = sec.list("repositories", required=True)
    if sec.has("repositories") and not items and isinstance(sec.raw.get("repositories"), list):
        errors.add(sec.key("repositories"), "must list at least one repository glob (like prod/**)")
    for i, item in enumerate(items):
        try:
            repository_glob(item)
        except ValueError as exc:
            errors.add(join(sec.key("repositories"), i), str(exc))
        else:
            globs.append(item)
    delay = sec.duration("delay", d.delay, positive=False)
    if delay is not None and delay > 86400:
        errors.add(sec.key("delay"), "must be at most 1d (pushes wait in memory until then)")
    per_minute = sec.int("max_per_minute", d.max_per_minute, minimum=1)
    if per_minute is not None and per_minute > 600_000:
        errors.add(sec.key("max_per_minute"), f"must be at most 600000, got {per_minute}")
    queue_size = sec.int("queue_size", d.queue_size, minimum=1)
    if queue_size is not None and queue_size > MAX_QUEUE:
        errors.add(sec.key("queue_size"), f"must be at most {MAX_QUEUE}, got {queue_size}")
    timeout = sec.duration("timeout", d.timeout)
    names = [r.name for r in getattr(config, "registries", []) or []]
    logs = getattr(config, "logs", None)
    fed = {s.registry for s in (logs.sources if logs else ()) if s.format == "notifications"}
    chosen: list[str] = []
    for i, name in enumerate(sec.list("registries")):
        if not isinstance(name, str) or name not in names:
            errors.add(join(sec.key("registries"), i), f"unknown registry {name!r} (known: {', '.join(names) or 'none'})")
        else:
            chosen.append(name)
    if not sec.has("registries"):
        chosen = [n for n in names if n in fed]
    for name in chosen:
        if name not in fed:
            errors.warn(sec.path, f"registry {name!r} has no notifications source in logs:, so no pushes reach "
                                  "the inspector")
    if not chosen and not errors.problems:
        errors.warn(sec.path, "no registry has a notifications source in logs:; the inspector gets no pushes")
    return InspectConfig(repositories=tuple(globs), delay=d.delay if delay is None else delay,
                         max_per_minute=per_minute or d.max_per_minute, queue_size=queue_size or d.queue_size,
                         timeout=timeout or d.timeout, registries=tuple(chosen))
