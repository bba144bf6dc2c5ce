"""Command line: ``regslo run | probe | check-config | logs replay | generate | backtest | demo``.

Each subcommand's flags and body live beside the code they drive (``add_arguments(parser)`` and
``main(args) -> int`` in the owning module); this file only wires them together, so adding a flag never
touches another stage. Exit codes: 0 ok, 1 a probe round or command failed, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from regslo import __version__

# subcommand -> (module, help). The module provides add_arguments(parser) and main(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("regslo.commands.run", "run probes and log tailers on a schedule and serve /metrics"),
    "probe": ("regslo.commands.probe", "run one round of probes and print a table"),
    "check-config": ("regslo.commands.check_config", "validate a config file (exit 2 on problems)"),
    "generate": ("regslo.outputs.generate", "write Prometheus rules, rule tests, Alertmanager config and dashboards"),
    "backtest": ("regslo.commands.backtest", "replay past data through the SLO rules: pages, tickets, SLI, what-if"),
    "demo": ("regslo.demo", "start local registries, Prometheus and Alertmanager, and run regslo against them"),
}
# nested groups: group -> {subcommand -> (module, help)}
GROUPS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "logs": ("work with registry logs", {
        "replay": ("regslo.sources.logs.replay", "parse log files start to end and print the resulting metrics"),
    }),
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``argv``, only the chosen subcommand's module is imported (a replay of a log
    file should not pay for importing the probe engine, the SLO generator and the demo)."""
    words = [a for a in (argv or []) if not a.startswith("-")]
    chosen = words[:2] if argv is not None else None
    parser = argparse.ArgumentParser(prog="regslo", description="SLOs for container image registries.")
    parser.add_argument("--version", action="version", version=f"regslo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if chosen is None or chosen[:1] == [name]:
            _attach(p, module)
    for group, (help_text, commands) in GROUPS.items():
        gp = sub.add_parser(group, help=help_text, description=help_text)
        gsub = gp.add_subparsers(dest="subcommand", metavar="SUBCOMMAND")
        gsub.required = True
        for name, (module, sub_help) in commands.items():
            p = gsub.add_parser(name, help=sub_help, description=sub_help)
            if chosen is None or chosen == [group, name]:
                _attach(p, module)
    return parser


def _attach(parser: argparse.ArgumentParser, module_name: str) -> None:
    module = importlib.import_module(module_name)
    module.add_arguments(parser)
    parser.set_defaults(_main=module.main)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "_main", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
