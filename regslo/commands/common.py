"""Helpers shared by subcommands: loading the config with user-facing errors."""

from __future__ import annotations

import argparse
import logging
import sys

from regslo.config import Config, ConfigError, load_config


def add_config_argument(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("-c", "--config", required=required, metavar="FILE", help="regslo YAML config")


def load_or_exit(path: str, check_secrets: bool = True) -> Config:
    """Load the config; on problems print one line each to stderr and exit 2 (no traceback)."""
    try:
        config = load_config(path, check_secrets=check_secrets)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        raise SystemExit(2) from None
    for line in config.warnings:
        print(f"warning: {line}", file=sys.stderr)
    return config


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # last net for secrets quoted by a library's message
        handler.setFormatter(_RedactingFormatter(handler.formatter._fmt if handler.formatter else None))
    # apscheduler reports every run at INFO; keep its warnings (skipped overlapping runs) only
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_quiet_replication_skips)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _quiet_replication_skips(record: logging.LogRecord) -> bool:
    """A replication check may outlast the probe interval (its timeout is the lag it tolerates), so a
    skipped overlapping run is normal there; for ping/push/pull (timeout <= interval) it stays a warning."""
    message = record.getMessage()
    return not ("replication/" in message and "maximum number of running instances" in message)


class _RedactingFormatter(logging.Formatter):
    """Formats as usual, then removes secrets regslo has sent and Authorization-shaped values from the
    whole line, traceback included (``regslo.oci.errors.redact``)."""

    def format(self, record: logging.LogRecord) -> str:
        from regslo.oci.errors import redact

        return redact(super().format(record))
