"""Property: any interleaving of appends, partial writes, overlong lines, polls, rotations (with late
writes to the old file), copytruncates, deletes, clean stops and kill -9 restarts ends with exactly one
count per line written. (Like every tailer, a file renamed away before any poll saw it is invisible, and
copytruncate/delete lose what was not read before; the model polls first in those cases.)"""

import os

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.unit.logs.test_follower import line, make_service, outcomes, requests

OPS = st.lists(st.one_of(
    st.tuples(st.just("append"), st.integers(1, 20)),
    st.tuples(st.just("partial"), st.just(0)),
    st.tuples(st.just("poll"), st.just(0)),
    st.tuples(st.just("rotate"), st.just(0)),
    st.tuples(st.just("truncate"), st.just(0)),
    st.tuples(st.just("restart"), st.just(0)),
    st.tuples(st.just("stop"), st.just(0)),
    st.tuples(st.just("late"), st.integers(1, 5)),
    st.tuples(st.just("delete"), st.just(0)),
    st.tuples(st.just("overlong"), st.integers(0, 1)),
), max_size=25)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_nothing_lost_or_doubled(tmp_path_factory, ops):
    base = tmp_path_factory.mktemp("prop")
    logs = base / "logs"
    logs.mkdir()
    log = logs / "a.log"
    written = 0
    malformed = 0
    pending = b""  # the rest of a half-written line
    rotations = 0
    late_ok = False  # the writer may still append to the file it just rotated, until regslo polls again
    service, reg = make_service(base)

    unseen = False  # the current file was created after the last poll (no tailer can know it yet)

    def write(data: bytes) -> None:
        nonlocal unseen
        unseen = unseen or not log.exists()
        with open(log, "ab") as f:
            f.write(data)

    def finish_partial() -> None:
        nonlocal pending
        if pending:
            write(pending)
            pending = b""

    for op, n in ops:
        if op == "append":
            finish_partial()
            write(b"".join(line(written + i) for i in range(n)))
            written += n
        elif op == "overlong" and not pending:  # over max_line_bytes (1KiB): complete, or still being written
            malformed += 1
            stamp = b"%08d " % malformed  # log lines differ in their first bytes (timestamps, ids)
            if n:
                write(stamp + b"x" * 3000 + b"\n")
            else:
                write(stamp + b"y" * 2000)
                pending = b"y" * 10 + b"\n"
        elif op == "partial" and not pending:
            full = line(written)
            write(full[:17])
            pending = full[17:]
            written += 1
        elif op == "poll":
            service.poll_once()
            unseen = late_ok = False
        elif op == "rotate":
            finish_partial()
            if unseen:  # a file renamed away before any poll saw it is invisible to every tailer
                service.poll_once()
                unseen = False
            if log.exists():
                rotations += 1
                os.rename(log, logs / f"a.log.{rotations}")
                late_ok = True
        elif op == "late" and late_ok:
            with open(logs / f"a.log.{rotations}", "ab") as f:
                f.write(b"".join(line(written + i) for i in range(n)))
            written += n
        elif op == "delete":  # delete (after regslo read it all) and let the writer recreate it
            finish_partial()
            service.poll_once()
            unseen = late_ok = False
            if log.exists():
                os.unlink(log)
        elif op == "stop":
            service.stop()
            service, reg = make_service(base)
        elif op == "truncate":  # copytruncate: the copy is taken after regslo has read everything
            finish_partial()
            service.poll_once()
            unseen = late_ok = False
            if log.exists():
                with open(log, "r+b") as f:
                    f.truncate(0)
        elif op == "restart":  # kill -9: no stop(), the next process resumes from the checkpoint
            service, reg = make_service(base)
    finish_partial()
    for _ in range(3):
        service.poll_once()
    assert requests(reg) == written
    assert outcomes(reg)["malformed"] == malformed
