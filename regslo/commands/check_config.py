"""``regslo check-config -c FILE``: exit 0 when valid, 2 with one line per problem otherwise."""

from __future__ import annotations

import argparse

from regslo.commands.common import add_config_argument, load_or_exit


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser)


def main(args: argparse.Namespace) -> int:
    config = load_or_exit(args.config)
    print(f"{args.config}: ok ({len(config.registries)} registries, {len(config.replication)} replication pairs, "
          f"{len(config.slos)} SLOs)")
    return 0
