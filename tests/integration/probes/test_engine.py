"""The scheduler: runs of one job never overlap, hung probes are cut at their timeout, starts are staggered."""

import time

from regslo.sli.recent import RecentResults
from regslo.sources.probes.engine import ProbeEngine
from tests.support.configs import make_config


def test_no_overlap_timeouts_cut_and_stagger(registries, tmp_path):
    good, frozen = registries("good", "frozen")
    config = make_config(tmp_path, [good, frozen], probes={"interval": "1s", "timeout": "1s", "jitter": 0})
    recent = RecentResults(config)
    engine = ProbeEngine(config, [recent], instance="sched")
    frozen.freeze()
    t_start = time.time()
    engine.start(sweep=False)
    time.sleep(5)
    t0 = time.monotonic()
    engine.stop()
    stop_seconds = time.monotonic() - t0
    frozen.resume()
    snap = recent.snapshot()["history"]
    # a stop waits for running probes, each bounded by the 1 s timeout (plus cleanup on a frozen registry)
    assert stop_seconds < 8, stop_seconds
    for (reg, probe), results in snap.items():
        spans = sorted((r.timestamp - r.duration, r.timestamp) for r in results)
        for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
            assert s2 >= e1 - 0.01, f"{reg}/{probe} overlapped: {spans}"
        if reg == "frozen":
            assert results and all(r.reason == "timeout" for r in results), results
            assert all(r.duration < 1.5 for r in results)
    good_pushes = snap[("good", "push")]
    assert len(good_pushes) >= 3 and all(r.ok for r in good_pushes)
    # registries are staggered over the interval: with two registries, half an interval apart
    first = {reg: min(r.timestamp - r.duration for r in results)
             for (reg, probe), results in snap.items() if probe == "ping"}
    assert first["frozen"] - first["good"] >= 0.3, first
    assert first["good"] - t_start < 1.0
