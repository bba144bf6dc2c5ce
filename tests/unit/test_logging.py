"""regslo's log lines (regslo/logsetup.py): --log.level / --log-level, --log.format logfmt|json."""

from __future__ import annotations

import io
import json
import logging
import shlex

import pytest

from regslo import logsetup
from regslo.cli import build_parser


@pytest.fixture
def capture():
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def _log_all(logger: logging.Logger) -> None:
    logger.debug("not shown")
    logger.info("probe %s done", "pull", extra={"registry": "us", "duration_seconds": 0.25, "ok": True})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("failed with \"quotes\" and = signs", exc_info=True)


def test_json_lines_carry_ts_level_logger_msg_and_fields(capture):
    logsetup.setup("info", "json", stream=capture)
    _log_all(logging.getLogger("regslo.test"))
    lines = [json.loads(line) for line in capture.getvalue().splitlines()]
    assert len(lines) == 2  # one line per record, the traceback included
    first, second = lines
    assert list(first)[:4] == ["ts", "level", "logger", "msg"]
    assert first["level"] == "info" and first["logger"] == "regslo.test" and first["msg"] == "probe pull done"
    assert first["registry"] == "us" and first["duration_seconds"] == 0.25 and first["ok"] is True
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert second["level"] == "error" and "ValueError: boom" in second["exc"]


def test_logfmt_quotes_what_needs_quoting(capture):
    logsetup.setup("debug", "logfmt", stream=capture)
    _log_all(logging.getLogger("regslo.test"))
    lines = capture.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].split(" ", 1)[1] == 'level=debug logger=regslo.test msg="not shown"'
    assert lines[0].startswith("ts=")
    assert lines[1].endswith('msg="probe pull done" registry=us duration_seconds=0.25 ok=true')
    pairs = shlex.split(lines[2])  # logfmt quoting is shell-like for these values
    assert "level=error" in pairs and 'msg=failed with "quotes" and = signs' in pairs
    assert any(p.startswith("exc=Traceback") and "ValueError: boom" in p for p in pairs)


def test_levels_filter_and_warn_is_the_exporter_spelling(capture):
    logsetup.setup("warn", "logfmt", stream=capture)
    log = logging.getLogger("regslo.test")
    log.info("hidden")
    log.warning("shown")
    assert capture.getvalue().count("\n") == 1 and "level=warn " in capture.getvalue()


@pytest.mark.parametrize("argv, level, fmt", [
    ("run -c x.yml", "info", "logfmt"),
    ("run -c x.yml --log.level debug --log.format json", "debug", "json"),
    ("run -c x.yml --log-level warning", "warn", "logfmt"),  # the older flag and spelling still work
    ("run -c x.yml --log-level=error", "error", "logfmt"),
    ("probe -c x.yml", "warn", "logfmt"),
    ("demo --log.level info", "info", "logfmt"),
])
def test_flags(argv, level, fmt):
    words = argv.split()
    args = build_parser(words).parse_args(words)
    assert (args.log_level, args.log_format) == (level, fmt)


def test_bad_level_is_a_usage_error(capsys):
    words = "run -c x.yml --log.level verbose".split()
    with pytest.raises(SystemExit) as exc:
        build_parser(words).parse_args(words)
    assert exc.value.code == 2 and "--log.level" in capsys.readouterr().err


def test_probe_needs_no_once_and_still_accepts_it():
    for words in (["probe", "-c", "x.yml"], ["probe", "--once", "-c", "x.yml"]):
        args = build_parser(words).parse_args(words)
        assert args.config == "x.yml"


@pytest.mark.parametrize("argv, error", [
    ("generate", "one of the arguments -c/--config --import-openslo is required"),
    ("generate -c x.yml", "-c FILE needs -o DIR"),
    ("generate -c x.yml --import-openslo y.yaml", "not allowed with argument -c/--config"),
    ("generate --import-openslo y.yaml -o out", "takes no other arguments (got -o)"),
    ("generate --import-openslo y.yaml --openslo", "takes no other arguments (got --openslo)"),
])
def test_generate_refuses_combinations_outside_its_usage(argv, error, capsys):
    words = argv.split()
    with pytest.raises(SystemExit) as exc:
        args = build_parser(words).parse_args(words)
        args._check(args)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and error in err
    assert "usage: regslo generate -c FILE -o DIR" in err and "regslo generate --import-openslo FILE" in err
