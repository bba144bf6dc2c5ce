"""The ``logs:`` section (log tailer); see docs/logs.md.

Either a plain list of sources (``logs: [{path, format, registry}]``) or a mapping with settings::

    logs:
      checkpoint_dir: /var/lib/regslo/logs   # where offsets and totals survive restarts
      start_at: end                          # first start on an existing file: end | beginning
      repository_top_k: 100
      max_line_bytes: 65536
      poll_interval: 0.25s
      sources:
        - {path: /var/log/registry/*.log, format: distribution, registry: us}
        - {format: notifications, registry: us,   # webhook POST /notifications/us (no path), which must
           token_file: /etc/regslo/us-token}      # carry "Authorization: Bearer <token>" (or token_env)
"""

from __future__ import annotations

import errno
import glob
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regslo.config.base import Errors, Secret, Section, join

FORMATS = ("distribution-json", "distribution-text", "combined", "distribution", "nginx", "notifications",
           "harbor-audit", "distribution-gc")
START_AT = ("end", "beginning")
_SETTINGS = {"checkpoint_dir", "start_at", "repository_top_k", "max_line_bytes", "poll_interval", "sources",
             "tag_memory", "event_id_memory"}
_SOURCE_KEYS = {"path", "format", "registry", "log_format", "name", "token_file", "token_env"}


LOG_FORMAT_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def log_format_problem(log_format: str) -> str | None:
    """Why an nginx ``log_format`` string cannot be used for request SLIs, or None if it can."""
    names = {a or b for a, b in LOG_FORMAT_VARIABLE.findall(log_format)}
    if "status" not in names:
        return "log_format must contain $status"
    if "request" not in names and not {"request_method", "request_uri"} <= names:
        return "log_format must contain $request (or $request_method and $request_uri)"
    return None


@dataclass(frozen=True)
class LogSource:
    format: str
    registry: str
    path: str | None = None  # an absolute glob; None for the notifications webhook
    log_format: str | None = None  # nginx only
    name: str | None = None  # the ``source`` label; defaults to the path (or notifications/<registry>)
    token: Secret | None = None  # the webhook's bearer token (notifications without a path)

    @property
    def label(self) -> str:
        return self.name or self.path or f"notifications/{self.registry}"


@dataclass(frozen=True)
class LogsConfig:
    sources: tuple[LogSource, ...]
    checkpoint_dir: Path | None = None
    start_at: str = "end"
    repository_top_k: int = 100
    max_line_bytes: int = 65536
    poll_interval: float = 0.25
    tag_memory: int = 10_000
    event_id_memory: int = 100_000
    registries: tuple[str, ...] = field(default_factory=tuple)  # every configured registry name

    @property
    def webhook_registries(self) -> tuple[str, ...]:
        return tuple(s.registry for s in self.sources if s.format == "notifications" and s.path is None)


def parse(raw: Any, path: str, errors: Errors, config: Any, base_dir: Path) -> LogsConfig | None:
    """Validate the ``logs`` section; return its model (None when absent)."""
    if raw is None:
        return None
    names = tuple(r.name for r in getattr(config, "registries", []) or [])
    if isinstance(raw, list):
        raw = {"sources": raw}
    sec = Section(raw, path, errors, known=_SETTINGS)
    d = LogsConfig(sources=())
    checkpoint_dir = None
    value = sec.str("checkpoint_dir")
    if value:
        checkpoint_dir = _absolute(value, base_dir)
        if checkpoint_dir.exists() and not checkpoint_dir.is_dir():
            errors.add(sec.key("checkpoint_dir"), f"exists and is not a directory: {checkpoint_dir}")
        elif errors.check_secrets:  # commands that will run the tailer: it must be able to write there
            problem = _unwritable(checkpoint_dir)
            if problem:
                errors.add(sec.key("checkpoint_dir"), problem)
    start_at = sec.choice("start_at", START_AT, d.start_at)
    top_k = sec.int("repository_top_k", d.repository_top_k, minimum=1)
    if top_k is not None and top_k > 10_000:
        errors.add(sec.key("repository_top_k"), f"must be <= 10000 (each repository is up to 6 series), got {top_k}")
    max_line = sec.size("max_line_bytes", d.max_line_bytes)
    if max_line is not None and not 256 <= max_line <= 16 * 1024 * 1024:
        errors.add(sec.key("max_line_bytes"), "must be between 256B and 16MiB")
    poll = sec.duration("poll_interval", d.poll_interval)
    if poll is not None and poll > 60:
        errors.add(sec.key("poll_interval"), "must be at most 60s")
    tag_memory = sec.int("tag_memory", d.tag_memory, minimum=1)
    id_memory = sec.int("event_id_memory", d.event_id_memory, minimum=1)
    sources = _parse_sources(sec, errors, names, base_dir)
    return LogsConfig(sources=tuple(sources), checkpoint_dir=checkpoint_dir, start_at=start_at or d.start_at,
                      repository_top_k=top_k or d.repository_top_k, max_line_bytes=max_line or d.max_line_bytes,
                      poll_interval=poll or d.poll_interval, tag_memory=tag_memory or d.tag_memory,
                      event_id_memory=id_memory or d.event_id_memory, registries=names)


def _token(src: Section, errors: Errors, fmt: str | None, pattern: str | None, base_dir: Path) -> Secret | None:
    """The webhook token of a notifications source without a path; a warning when it has none."""
    given = [k for k in ("token_file", "token_env") if src.has(k)]
    if given and (fmt != "notifications" or pattern is not None):
        errors.add(src.key(given[0]), "only applies to a notifications source without a path (the webhook)")
        return None
    if fmt != "notifications" or pattern is not None:
        return None
    if not given:
        errors.warn(src.path, "notifications webhook without token_file or token_env: anyone who can reach "
                              "regslo's port can post events for this registry")
        return None
    token = src.secret("token", base_dir)
    if token is not None and (len(token.reveal()) < 16 or any(c.isspace() for c in token.reveal())):
        errors.add(src.key(given[0]), "the token must be at least 16 characters without spaces")
        return None
    return token


def _unwritable(directory: Path) -> str | None:
    """Why checkpoints cannot be written to ``directory``, or None. An existing directory is tried with a real
    file (permissions, read-only mounts, quotas all show); one that does not exist yet is created at the first
    checkpoint, so its nearest existing parent must let us create it (checked without writing there)."""
    target = directory
    while not target.exists():
        if target.parent == target:
            return f"no existing parent directory of {directory}"
        target = target.parent
    if not target.is_dir():
        return f"cannot be created: {target} is not a directory"
    if target != directory:
        if not os.access(target, os.W_OK | os.X_OK):
            return f"cannot be created: {target} is not writable"
        return None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".regslo-write-test-", dir=target)
    except OSError as exc:
        reason = "read-only file system" if exc.errno == errno.EROFS else exc.strerror
        return f"not writable ({target}: {reason})"
    os.close(fd)
    os.unlink(tmp)
    return None


def _absolute(value: str, base_dir: Path) -> Path:
    p = Path(value).expanduser()
    return Path(os.path.abspath(p if p.is_absolute() else base_dir / p))


def _parse_sources(sec: Section, errors: Errors, names: tuple[str, ...], base_dir: Path) -> list[LogSource]:
    items = sec.list("sources", required=True)
    if sec.has("sources") and not items and isinstance(sec.raw.get("sources"), list):
        errors.add(sec.key("sources"), "must list at least one source")
    out: list[LogSource] = []
    seen_paths: dict[str, str] = {}
    seen_labels: dict[str, str] = {}
    for i, item in enumerate(items):
        spath = join(sec.key("sources"), i)
        src = Section(item, spath, errors, known=_SOURCE_KEYS)
        fmt = src.choice("format", FORMATS, required=True)
        registry = src.str("registry", required=True)
        if registry is not None and registry not in names:
            errors.add(src.key("registry"), f"unknown registry {registry!r} (known: {', '.join(names) or 'none'})")
        pattern = src.str("path", required=fmt not in (None, "notifications"))
        if pattern is not None:
            pattern = str(_absolute(pattern, base_dir))
            if Path(pattern).is_dir():
                errors.add(src.key("path"), f"is a directory; give a file or a glob like {pattern}/*.log")
            if pattern in seen_paths:
                errors.add(src.key("path"), f"duplicate path (also {seen_paths[pattern]}): lines would count twice")
            seen_paths.setdefault(pattern, spath)
            if not glob.has_magic(pattern) and not Path(pattern).parent.is_dir():
                errors.warn(src.key("path"), f"directory {Path(pattern).parent} does not exist (yet)")
        log_format = src.str("log_format")
        if log_format is not None:
            if fmt != "nginx":
                errors.add(src.key("log_format"), "only applies to format nginx")
            else:
                problem = log_format_problem(log_format)
                if problem:
                    errors.add(src.key("log_format"), problem)
        name = src.str("name")
        token = _token(src, errors, fmt, pattern, base_dir)
        if fmt is None or registry is None:
            continue
        source = LogSource(format=fmt, registry=registry, path=pattern, log_format=log_format, name=name,
                           token=token)
        if source.label in seen_labels:
            errors.add(src.key("name" if name else "registry"),
                       f"source label {source.label!r} already used by {seen_labels[source.label]}")
        seen_labels.setdefault(source.label, spath)
        out.append(source)
    return out
