"""distribution-gc: real ``docker-registry garbage-collect`` output (tests/data/distribution-2.8/gc-*.log,
recorded by tests/support/capture_gc.py) yields the runs, results and deletions the tool printed."""

import re

import pytest
from prometheus_client import generate_latest

from regslo.cli import main
from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.formats.gc import GCParser
from regslo.sources.logs.replay import replay

SUMMARY = re.compile(r"(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion")


def expected(text: str) -> dict[str, int]:
    """What the file itself says: summaries, failure messages, deletion lines."""
    return {
        "success": len(SUMMARY.findall(text)),
        "failure": text.count("failed to garbage collect:"),
        "blobs": sum(int(m[1]) for m in SUMMARY.findall(text)),
        "blob_lines": text.count("Deleting blob: "),
        "manifests": sum(int(m[2]) for m in SUMMARY.findall(text)),
    }


def value(out: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", out, re.M)
    assert m, f"{name} missing from\n{out}"
    return float(m.group(1))


@pytest.mark.parametrize("formatter", ["json", "text"])
def test_real_gc_output_counts_what_it_printed(samples, formatter):
    path = samples / f"gc-{formatter}.log"
    want = expected(path.read_text())
    assert want["success"] == 4 and want["failure"] == 1  # the capture: 4 good runs, 1 failed mark phase
    assert want["blobs"] == want["blob_lines"] == 9
    out = generate_latest(replay([str(path)], "distribution-gc", "r1")).decode()
    assert value(out, 'regslo_gc_runs_total{registry="r1",result="success"}') == want["success"]
    assert value(out, 'regslo_gc_runs_total{registry="r1",result="failure"}') == want["failure"]
    assert value(out, 'regslo_gc_blobs_deleted_total{registry="r1"}') == want["blobs"]
    assert value(out, 'regslo_gc_manifests_deleted_total{registry="r1"}') == want["manifests"] == 1
    assert value(out, f'regslo_log_lines_total{{outcome="malformed",source="{path}"}}') == 0
    # times are the logrus lines' own: the last successful run deleted blobs at the end of the capture
    last_logrus = max(re.findall(r'time"?[=:]"([0-9T:.\-]+Z)', path.read_text()))
    from datetime import datetime
    assert value(out, 'regslo_gc_last_success_timestamp_seconds{registry="r1"}') == pytest.approx(
        datetime.fromisoformat(last_logrus).timestamp(), abs=1e-3)
    assert 0 <= value(out, 'regslo_gc_duration_seconds{registry="r1"}') < 60


def test_replay_cli_accepts_the_format(samples, capsys):
    assert main(["logs", "replay", "--format", "distribution-gc", "--registry", "r1",
                 str(samples / "gc-json.log")]) == 0
    assert 'regslo_gc_runs_total{registry="r1",result="success"} 4.0' in capsys.readouterr().out


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 1.0
        return self.now


def run(lines, clock=None):
    metrics = LogMetrics(None)
    sink = metrics.sink("r1", "gc.log")
    sink.declare_gc()
    parser = GCParser(clock=clock or Clock())
    outcomes = [parser.feed(line, sink) for line in lines]
    return metrics.state, outcomes


def test_failure_glued_to_next_run_and_dry_run_finishes_on_next_start():
    state, outcomes = run([
        "team/app",
        "team/app: marking manifest sha256:" + "a" * 64 + " ",
        "failed to garbage collect: failed to mark: boomteam/app",  # no newline after the failure message
        "team/app: marking manifest sha256:" + "a" * 64,
        "",
        "1 blobs marked, 2 blobs and 0 manifests eligible for deletion",
        "blob eligible for deletion: sha256:" + "b" * 64,  # --dry-run: no deletion lines follow
        "blob eligible for deletion: sha256:" + "c" * 64,
        "team/app",  # next run starts: the dry run counts as a success that deleted nothing
        "",
        "0 blobs marked, 0 blobs and 0 manifests eligible for deletion",
    ])
    assert state["gc_runs"] == {("r1", "success"): 2, ("r1", "failure"): 1}
    assert state["gc_blobs"] == {("r1",): 0}
    assert "malformed" not in outcomes


def test_configuration_error_is_a_failure_and_usage_is_ignored():
    state, outcomes = run(["configuration error: open /etc/x.yml: no such file or directory", "Usage:",
                           "  registry garbage-collect <config> [flags]", "Flags:",
                           "  -m, --delete-untagged   delete manifests"])
    assert state["gc_runs"][("r1", "failure")] == 1
    assert outcomes[1:] == ["ignored"] * 4


def test_duration_and_last_success_from_read_times_and_logrus_times():
    clock = Clock()
    state, _ = run([
        "team/app",  # read at 1001
        "1 blobs marked, 1 blobs and 0 manifests eligible for deletion",  # 1002
        "blob eligible for deletion: sha256:" + "b" * 64,  # 1003
        'time="1970-01-01T00:17:00Z" level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/bb/x"',
    ], clock)
    assert state["gc_duration"][("r1",)] == pytest.approx(1020 - 1001)
    assert state["gc_last_success"][("r1",)] == pytest.approx(1020)


def test_lines_outside_a_run_are_malformed_not_crashes():
    state, outcomes = run(['{"level":"info","msg":"Deleting blob: /x","time":"2026-01-01T00:00:00Z"}',
                           "blob eligible for deletion: sha256:" + "b" * 64, "What is this?", "{not json"])
    assert outcomes == ["malformed"] * 4
    assert state["gc_runs"] == {("r1", "success"): 0, ("r1", "failure"): 0}


def test_reclaimed_bytes_come_from_the_hook_on_success_only():
    metrics = LogMetrics(None)
    calls = []
    metrics.reclaimed = lambda reg, start, end: calls.append((reg, start, end)) or 4096
    sink = metrics.sink("r1", "gc.log")
    parser = GCParser(clock=Clock())
    for line in ["team/a", "0 blobs marked, 0 blobs and 0 manifests eligible for deletion",
                 "team/a", "failed to garbage collect: x"]:
        parser.feed(line, sink)
    assert metrics.state["gc_reclaimed"] == {("r1",): 4096}
    assert len(calls) == 1 and calls[0][0] == "r1"


def test_a_dry_run_ends_at_the_empty_line_the_cron_recipe_adds():
    state, _ = run([
        "team/app",
        "",
        "1 blobs marked, 2 blobs and 0 manifests eligible for deletion",
        "blob eligible for deletion: sha256:" + "b" * 64,
        "blob eligible for deletion: sha256:" + "c" * 64,
        "",  # `echo`
    ])
    assert state["gc_runs"] == {("r1", "success"): 1, ("r1", "failure"): 0}
    assert state["gc_blobs"] == {("r1",): 0}


BLOB = "blob eligible for deletion: sha256:"
DELETING = 'time="2026-01-01T00:00:0{}Z" level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/bb/x"'


def test_a_run_cut_off_mid_sweep_is_a_failure_not_a_success():
    # killed (OOM, a CronJob deadline) after deleting 1 of 3 blobs; the cron line's echo ends it
    state, _ = run(["team/app", "", "2 blobs marked, 3 blobs and 0 manifests eligible for deletion",
                    BLOB + "b" * 64, DELETING.format(1), BLOB + "c" * 64, ""])
    assert state["gc_runs"] == {("r1", "success"): 0, ("r1", "failure"): 1}
    assert state["gc_blobs"] == {("r1",): 1}  # what it did delete still counts
    # the same without the echo: the next run's first line ends it, as a failure
    state, _ = run(["team/app", "", "2 blobs marked, 3 blobs and 0 manifests eligible for deletion",
                    BLOB + "b" * 64, DELETING.format(1), "team/app", "",
                    "0 blobs marked, 0 blobs and 0 manifests eligible for deletion"])
    assert state["gc_runs"] == {("r1", "success"): 1, ("r1", "failure"): 1}
    # a dry run cut off before listing every eligible blob is not complete either
    state, _ = run(["team/app", "", "1 blobs marked, 2 blobs and 0 manifests eligible for deletion",
                    BLOB + "b" * 64, ""])
    assert state["gc_runs"] == {("r1", "success"): 0, ("r1", "failure"): 1}


def test_a_run_cut_off_while_marking_is_a_failure_and_the_next_run_counts_alone():
    mark = "team/app: marking manifest sha256:" + "a" * 64
    state, outcomes = run(["team/app", mark, "",  # killed while marking, then the echo
                           "team/app", mark, "", "1 blobs marked, 0 blobs and 0 manifests eligible for deletion"])
    assert state["gc_runs"] == {("r1", "success"): 1, ("r1", "failure"): 1}
    assert "malformed" not in outcomes


def test_hostile_lines_are_malformed_never_raised():
    nested = '{"msg":' + "[" * 60_000  # deeper than the json module recurses: RecursionError, not ValueError
    state, outcomes = run([nested, "[" * 60_000, "\x00\x00", 'level=info msg="\\ud800"', "x" * 70_000,
                           '{"msg":"Deleting blob: x","time":"9999-12-31T23:59:59-14:00","level":"info"}'])
    assert outcomes[0] == "malformed" and outcomes[1] == "malformed" and outcomes[4] == "malformed"
    assert state["gc_runs"] == {("r1", "success"): 0, ("r1", "failure"): 0}


@pytest.mark.parametrize("formatter", ["json", "text"])
def test_real_run_killed_mid_sweep_counts_as_a_failure(samples, formatter):
    # the recorded output with its second run cut after its first deletion (as a kill leaves it), then the
    # cron line's echo, then the runs that followed: one success fewer, one failure more
    lines = (samples / f"gc-{formatter}.log").read_text().splitlines()
    sweeps = [i for i, line in enumerate(lines) if SUMMARY.search(line)]
    second = sweeps[1]
    first_deletion = next(i for i in range(second, len(lines)) if "Deleting blob: " in lines[i])
    rest = max(i for i in range(second, sweeps[2]) if "Deleting blob: " in lines[i]) + 1  # the next run's start
    cut = lines[:first_deletion + 1] + [""] + lines[rest:]
    state, outcomes = run(cut)
    full, _ = run(lines)
    assert state["gc_runs"][("r1", "success")] == full["gc_runs"][("r1", "success")] - 1
    assert state["gc_runs"][("r1", "failure")] == full["gc_runs"][("r1", "failure")] + 1
    assert state["gc_blobs"][("r1",)] == full["gc_blobs"][("r1",)] - 2  # 2 of its 3 deletions never happened
    assert "malformed" not in outcomes
