"""Helpers shared by subcommands: loading the config with user-facing errors."""

from __future__ import annotations

import argparse
import logging
import sys

from regslo import logsetup
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


def add_logging_arguments(parser: argparse.ArgumentParser, default_level: str = "info") -> None:
    """``--log.level`` (alias ``--log-level``) and ``--log.format``; see regslo/logsetup.py."""
    logsetup.add_arguments(parser, default_level)


def setup_logging(level: str = "info", fmt: str = "logfmt") -> None:
    logsetup.setup(level, fmt)
    # apscheduler reports every run at INFO; keep its warnings (skipped overlapping runs) only
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_quiet_replication_skips)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _quiet_replication_skips(record: logging.LogRecord) -> bool:
    """A replication check may outlast the probe interval (its timeout is the lag it tolerates), so a
    skipped overlapping run is normal there; for ping/push/pull (timeout <= interval) it stays a warning."""
    message = record.getMessage()
    return not ("replication/" in message and "maximum number of running instances" in message)
