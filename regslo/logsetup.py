"""regslo's own log output, in the habits of Prometheus exporters (``--log.level``, ``--log.format``).

Two formats, one line per record on stderr:

- ``logfmt`` (default): ``ts=2026-01-02T03:04:05.678Z level=info logger=regslo msg="serving metrics" k=v``
- ``json``: ``{"ts": ..., "level": ..., "logger": ..., "msg": ..., "k": v}``

Structured fields are whatever a call passes with ``extra={...}`` (for example
``log.warning("probe failed", extra={"registry": "us", "probe": "pull"})``); they follow the four fixed
keys. Secrets regslo has sent, and Authorization-shaped values, are removed from messages, fields and
tracebacks (``regslo.redact``). Levels are ``debug``, ``info``, ``warn``, ``error``; ``warning`` is accepted for the old
``--log-level`` flag. A traceback goes into one ``exc`` field, so each record stays one line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Any

from regslo.redact import redact

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
FORMATS = ("logfmt", "json")
_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
          logging.CRITICAL: "error"}
# attributes every LogRecord has; anything else on a record came from ``extra=``
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def level_name(text: str) -> str:
    """argparse type: ``warning`` (the old spelling) means ``warn``; other words pass to ``choices``."""
    text = text.lower()
    return "warn" if text == "warning" else text


def add_arguments(parser: argparse.ArgumentParser, default_level: str = "info") -> None:
    group = parser.add_argument_group("logging")
    group.add_argument("--log.level", "--log-level", dest="log_level", type=level_name, default=default_level,
                       choices=tuple(LEVELS), help=f"only log messages of this level or above (default "
                                                   f"{default_level}; --log-level is the older spelling)")
    group.add_argument("--log.format", dest="log_format", choices=FORMATS, default="logfmt",
                       help="output format of log messages (default logfmt)")


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record as ordered key/values: ts, level, logger, msg, then its structured fields, then exc."""
    out: dict[str, Any] = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
        "level": _NAMES.get(record.levelno, record.levelname.lower()),
        "logger": record.name,
        "msg": redact(record.getMessage()),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD and not key.startswith("_") and key not in out:
            out[key] = redact(value) if isinstance(value, str) else value
    if record.exc_info:
        out["exc"] = redact(logging.Formatter().formatException(record.exc_info))
    return out


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields(record), default=str, ensure_ascii=False)


def _logfmt_value(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        text = repr(value)
    else:
        text = json.dumps(value, default=str)
    if text and not any(c in text for c in ' ="\\') and text.isprintable():
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    escaped = escaped.replace("\t", "\\t")
    return f'"{escaped}"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields(record).items())


def setup(level: str = "info", fmt: str = "logfmt", stream: Any = None) -> None:
    """Configure the root logger (replacing earlier handlers) and quiet the chatty libraries."""
    level = level_name(level)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
