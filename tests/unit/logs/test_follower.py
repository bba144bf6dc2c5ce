"""The follower against real files: appends, rotation, truncation, recreation, partial and bad lines,
restart from a checkpoint. Lines are combined access lines; every scenario checks exact totals."""

import os

import pytest
from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sources.logs.service import LogService
from tests.unit.logs.support import series, total


def line(i: int, status: int = 200) -> bytes:
    return f'127.0.0.1 - - [27/Nov/2026:07:45:10 +0000] "GET /v2/app/manifests/v{i} HTTP/1.1" {status} 10 "" "t"\n'.encode()


def lines(a: int, b: int) -> bytes:
    return b"".join(line(i) for i in range(a, b))


def make_service(tmp_path, start_at="beginning", checkpoint=True, pattern="logs/*.log", max_line="1KiB", name="src"):
    text = f"""
registries: [{{name: r1, url: 'http://127.0.0.1:5000'}}]
logs:
  start_at: {start_at}
  max_line_bytes: {max_line}
  {"checkpoint_dir: state" if checkpoint else ""}
  sources: [{{path: '{pattern}', format: combined, registry: r1, name: {name}}}]
"""
    cfg = parse_config(text, base_dir=tmp_path)
    reg = CollectorRegistry()
    service = LogService(cfg.logs, reg)
    for f in service.followers:
        f.grace = 0.0
    return service, reg


def requests(reg) -> float:
    return total(reg, "regslo_registry_requests_total")


def outcomes(reg) -> dict:
    return {o: v for (o, _s), v in series(reg, "regslo_log_lines_total").items()}


@pytest.fixture
def logdir(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    return d


def append(path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_appends_and_partial_last_line(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 5))
    service, reg = make_service(tmp_path)
    service.poll_once()
    assert requests(reg) == 5
    full = line(5)
    append(log, full[:20])  # half a line: not yet
    service.poll_once()
    assert requests(reg) == 5
    append(log, full[20:] + lines(6, 8))
    service.poll_once()
    assert requests(reg) == 8 and outcomes(reg)["malformed"] == 0


def test_start_at_end_skips_existing_lines_but_not_new_files(tmp_path, logdir):
    append(logdir / "a.log", lines(0, 5) + line(5)[:10])
    service, reg = make_service(tmp_path, start_at="end")
    service.poll_once()
    assert requests(reg) == 0
    append(logdir / "a.log", line(5)[10:] + lines(6, 7))  # the line in progress at start counts whole
    append(logdir / "b.log", lines(0, 3))  # a file created after start is read from its beginning
    service.poll_once()
    assert requests(reg) == 2 + 3 and outcomes(reg)["malformed"] == 0


def test_rename_and_create_rotation_finishes_the_old_file(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 10))
    service, reg = make_service(tmp_path)
    service.poll_once()
    os.rename(log, logdir / "a.log.1")  # out of the glob
    append(logdir / "a.log.1", lines(10, 15))  # the writer still had the old file open
    append(log, lines(15, 20))
    service.poll_once()
    service.poll_once()  # quiet now: the old file is finished and closed
    assert requests(reg) == 20
    assert len(service.followers[0].files) == 1


def test_rotation_with_final_partial_line_in_old_file(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 3) + line(3)[:-1])  # the writer died before the newline
    service, reg = make_service(tmp_path)
    service.poll_once()
    assert requests(reg) == 3
    os.rename(log, logdir / "old")
    append(log, lines(4, 6))
    service.poll_once()
    service.poll_once()
    assert requests(reg) == 6


def test_copytruncate(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 10))
    service, reg = make_service(tmp_path)
    service.poll_once()
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, lines(10, 13))
    service.poll_once()
    assert requests(reg) == 13


def test_truncate_and_refill_past_old_offset_is_caught_by_fingerprint(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 2))
    service, reg = make_service(tmp_path)
    service.poll_once()
    with open(log, "r+b") as f:
        f.truncate(0)
    append(log, b"".join(line(i, 500) for i in range(10)))  # larger than before we looked again
    service.poll_once()
    assert requests(reg) == 12
    assert series(reg, "regslo_registry_requests_total")[("500", "pull", "r1")] == 10


def test_delete_and_recreate(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 4))
    service, reg = make_service(tmp_path)
    service.poll_once()
    os.unlink(log)
    append(log, lines(4, 6))
    service.poll_once()
    service.poll_once()
    assert requests(reg) == 6


def test_overlong_and_invalid_utf8_lines_are_counted_malformed(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 2) + b"x" * 5000 + b"\n" + b"\xff\xfe\x00garbage\n" + lines(2, 3))
    service, reg = make_service(tmp_path)
    service.poll_once()
    append(log, b"y" * 3000)  # an overlong line still being written
    service.poll_once()
    append(log, b"y" * 10 + b"\n" + lines(3, 4))
    service.poll_once()
    assert requests(reg) == 4
    assert outcomes(reg) == {"parsed": 4, "ignored": 0, "malformed": 3}


def test_restart_from_checkpoint_is_exact(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 10))
    service, reg = make_service(tmp_path)
    service.poll_once()
    append(log, lines(10, 12) + line(12)[:15])
    service.poll_once()
    del service  # no stop(): as if killed after the last checkpoint
    append(log, line(12)[15:] + lines(13, 20))
    service2, reg2 = make_service(tmp_path)
    assert requests(reg2) == 12  # totals come back with the offsets
    service2.poll_once()
    assert requests(reg2) == 20 and outcomes(reg2)["malformed"] == 0


def test_rotation_while_down_finishes_old_file_from_checkpoint(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 5))
    service, reg = make_service(tmp_path)
    service.poll_once()
    service.stop()
    append(log, lines(5, 8))  # written before rotation, while regslo was down
    os.rename(log, logdir / "a.log.1")  # out of the glob
    append(log, lines(8, 10))
    service2, reg2 = make_service(tmp_path, pattern="logs/*.log")
    service2.poll_once()
    service2.poll_once()
    assert requests(reg2) == 10


def test_scrapes_see_only_checkpointed_totals(tmp_path, logdir):
    log = logdir / "a.log"
    append(log, lines(0, 3))
    service, reg = make_service(tmp_path)
    follower = service.followers[0]
    follower.poll()  # parsed, but not committed yet
    assert requests(reg) == 0
    service.commit()
    assert requests(reg) == 3


def test_unreadable_checkpoint_starts_fresh(tmp_path, logdir):
    append(logdir / "a.log", lines(0, 2))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "logs-checkpoint.json").write_text("{not json")
    service, reg = make_service(tmp_path)
    service.poll_once()
    assert requests(reg) == 2


def test_source_added_later_starts_at_start_at(tmp_path, logdir):
    append(logdir / "a.log", lines(0, 2))
    service, reg = make_service(tmp_path, start_at="end")
    service.poll_once()
    service.stop()
    other = tmp_path / "other"
    other.mkdir()
    append(other / "b.log", lines(0, 5))  # existed before its source was configured: start at its end
    service2, reg2 = make_service(tmp_path, start_at="end", pattern="other/*.log", name="other")
    service2.poll_once()
    append(other / "b.log", lines(5, 6))
    service2.poll_once()
    assert requests(reg2) == 1


def test_series_of_a_removed_source_are_not_restored(tmp_path, logdir):
    append(logdir / "a.log", lines(0, 3))
    service, reg = make_service(tmp_path, name="old")
    service.poll_once()
    service.stop()
    (tmp_path / "new").mkdir()
    service2, reg2 = make_service(tmp_path, name="new", pattern="new/*.log")
    sources = {s for (_o, s) in series(reg2, "regslo_log_lines_total")}
    assert sources == {"new"}
    assert requests(reg2) == 3  # the registry is still configured: its request totals stay


@pytest.mark.parametrize("content", [
    '{"version": 1, "sources": [], "metrics": {}}',
    '{"version": 1, "sources": {"src": [{"path": 1}]}, "metrics": {}}',
    '{"version": 1, "sources": {"src": "x"}, "metrics": {"requests": [3]}}',
    '{"version": 2}',
])
def test_foreign_checkpoint_contents_start_fresh(tmp_path, logdir, content):
    append(logdir / "a.log", lines(0, 2))
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "logs-checkpoint.json").write_text(content)
    service, reg = make_service(tmp_path)
    service.poll_once()
    assert requests(reg) == 2


def test_behind_while_a_backlog_exceeds_one_rounds_budget(tmp_path, logdir, monkeypatch):
    from regslo.sources.logs import follower as follower_module
    monkeypatch.setattr(follower_module, "READ_CHUNK", 1024)
    append(logdir / "a.log", lines(0, 300))
    service, reg = make_service(tmp_path)
    follower = service.followers[0]
    follower.max_bytes_per_poll = 4096
    rounds = 0
    follower.poll()
    while follower.behind:  # the service loops without pausing while this holds
        follower.poll()
        rounds += 1
    service.commit()
    assert rounds > 3 and requests(reg) == 300


def test_a_line_longer_than_one_read_chunk_but_within_the_bound(tmp_path, logdir, monkeypatch):
    from regslo.sources.logs import follower as follower_module
    monkeypatch.setattr(follower_module, "READ_CHUNK", 1024)
    long_line = line(0).replace(b'"t"', b'"' + b"u" * 5000 + b'"')
    append(logdir / "a.log", long_line + lines(1, 3) + b"z" * 9000 + b"\n" + lines(3, 4))
    service, reg = make_service(tmp_path, max_line="8KiB")
    for _ in range(5):
        service.poll_once()
    assert requests(reg) == 4 and outcomes(reg)["malformed"] == 1
