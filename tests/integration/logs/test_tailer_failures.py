"""Issue 9 item 11: log tailer failures are visible, against a real ``regslo run``.

- a checkpoint that cannot be written is counted in ``regslo_log_checkpoint_failures_total{source}``;
- ``check-config`` refuses a checkpoint_dir it cannot write to;
- a file matched by the glob but unreadable is logged once and counted in ``regslo_log_files_unreadable_total``;
- a hand-edited checkpoint with wrong-typed values is ignored with a warning; /metrics keeps working.

Before the fix the first three were silent (a log line at most, no metric, check-config said ok) and the
last made every scrape of /metrics fail with a 500.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import httpx
import yaml

from tests.integration.server.support import parse_samples, regslo_run, value
from tests.support.registry import free_port
from tests.support.wait import poll as wait


def line(i: int) -> str:
    return f'10.0.0.1 - - [29/Nov/2026:10:00:{i % 60:02d} +0000] "GET /v2/ HTTP/1.1" 200 2 "-" "curl/8"\n'


def append(path, start: int, n: int) -> None:
    with open(path, "a") as f:
        f.writelines(line(start + i) for i in range(n))


def write(tmp_path, logs: dict):
    cfg = tmp_path / "regslo.yml"
    cfg.write_text(yaml.safe_dump({"registries": [{"name": "r1", "url": f"http://127.0.0.1:{free_port()}"}],
                                   "probes": {"interval": "60s", "timeout": "1s", "enabled": ["ping"]},
                                   "logs": {"start_at": "beginning", "poll_interval": "0.1s", **logs}}))
    return cfg


def parsed(r, source) -> float:
    return value(r.samples(), "regslo_log_lines_total", source=str(source), outcome="parsed") or 0


def test_checkpoint_write_failures_are_counted_and_retried(tmp_path):
    log, state = tmp_path / "access.log", tmp_path / "state"
    append(log, 0, 5)
    cfg = write(tmp_path, {"checkpoint_dir": str(state), "sources": [{"path": str(log), "format": "combined",
                                                                       "registry": "r1"}]})
    with regslo_run(cfg) as r:
        assert wait(lambda: parsed(r, log) == 5)
        failures = lambda: value(r.samples(), "regslo_log_checkpoint_failures_total", source=str(log))  # noqa: E731
        assert failures() == 0  # declared from the start
        shutil.rmtree(state)
        state.write_text("not a directory")  # the checkpoint directory is gone: every write fails
        append(log, 5, 3)
        assert wait(lambda: (failures() or 0) >= 1), "a failed checkpoint was not counted"
        assert parsed(r, log) == 5  # not on disk, so not published
        state.unlink()  # writable again: the next round writes it and publishes
        assert wait(lambda: parsed(r, log) == 8)
        assert (state / "logs-checkpoint.json").is_file()
    assert "Traceback" not in r.stderr_text
    assert "cannot write log checkpoint" in r.stderr_text


def test_check_config_refuses_a_checkpoint_dir_it_cannot_write(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    cfg = write(tmp_path, {"checkpoint_dir": str(blocker / "state"),
                           "sources": [{"path": str(tmp_path / "*.log"), "format": "combined", "registry": "r1"}]})
    res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                         text=True, timeout=60, cwd=str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip() == f"error: logs.checkpoint_dir: cannot be created: {blocker} is not a directory"
    if os.geteuid() != 0:  # root writes through mode bits; elsewhere a read-only directory is refused too
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        cfg = write(tmp_path, {"checkpoint_dir": str(ro), "sources": [{"path": str(tmp_path / "*.log"),
                                                                       "format": "combined", "registry": "r1"}]})
        res = subprocess.run([sys.executable, "-m", "regslo", "check-config", "-c", str(cfg)], capture_output=True,
                             text=True, timeout=60, cwd=str(tmp_path))
        assert res.returncode == 2 and "logs.checkpoint_dir: not writable" in res.stderr


def test_an_unreadable_file_in_the_glob_is_logged_once_and_counted(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    append(logs / "good.log", 0, 4)
    os.symlink(logs / "loop-b.log", logs / "loop-a.log")  # a symlink loop: matched, never openable (ELOOP),
    os.symlink(logs / "loop-a.log", logs / "loop-b.log")  # whoever runs the test, root included
    if os.geteuid() != 0:
        append(logs / "secret.log", 0, 1)
        (logs / "secret.log").chmod(0)
    pattern = str(logs / "*.log")
    cfg = write(tmp_path, {"sources": [{"path": pattern, "format": "combined", "registry": "r1"}]})
    with regslo_run(cfg) as r:
        assert wait(lambda: parsed(r, pattern) == 4)
        time.sleep(1.0)  # ten more polls: still reported once
        expected = 2 if os.geteuid() == 0 else 3
        assert value(r.samples(), "regslo_log_files_unreadable_total", source=pattern) == expected
    assert r.stderr_text.count("cannot open") == expected, r.stderr_text[-3000:]
    assert r.stderr_text.count("loop-a.log") == 1


def test_a_checkpoint_with_wrong_typed_values_is_ignored_with_a_warning(tmp_path):
    log, state = tmp_path / "access.log", tmp_path / "state"
    append(log, 0, 5)
    cfg = write(tmp_path, {"checkpoint_dir": str(state), "sources": [{"path": str(log), "format": "combined",
                                                                       "registry": "r1"}]})
    with regslo_run(cfg) as r:
        assert wait(lambda: parsed(r, log) == 5)
    path = state / "logs-checkpoint.json"
    saved = json.loads(path.read_text())
    saved["metrics"]["requests"][0][-1] = "twelve"  # a hand edit: text where a count belongs
    path.write_text(json.dumps(saved))
    with regslo_run(cfg) as r:
        resp = httpx.get(f"{r.base}/metrics", timeout=5)
        assert resp.status_code == 200
        assert parse_samples(resp.text)  # the whole exposition parses
        assert wait(lambda: parsed(r, log) == 5)  # started fresh from the beginning of the file
    assert "ignoring log checkpoint" in r.stderr_text and "Traceback" not in r.stderr_text
