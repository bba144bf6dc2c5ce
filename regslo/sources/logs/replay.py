"""Not implemented yet."""

from __future__ import annotations

import argparse

from regslo.commands.common import add_config_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def main(args: argparse.Namespace) -> int:
    raise SystemExit("not implemented yet")
