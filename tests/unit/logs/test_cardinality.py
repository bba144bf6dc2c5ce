import tracemalloc

from prometheus_client import CollectorRegistry

from regslo.sli.log_metrics import OTHER, LogMetrics, RepositoryLimiter
from tests.unit.logs.support import series, total

REPO = "regslo_registry_repository_requests_total"


def test_a_million_distinct_repositories_stay_at_the_bound():
    reg = CollectorRegistry()
    metrics = LogMetrics(reg, top_k=50)
    sink = metrics.sink("r1", "test")
    hot = [f"hot/app{i}" for i in range(10)]
    with metrics.lock:
        for i in range(1_000_000):
            sink.request("pull", "200", 0, f"user{i}/repo")
            if i % 20 == 0:
                sink.request("push", "201", 0, hot[i % 200 // 20])
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(50_000):
            sink.request("pull", "200", 0, f"more{i}/repo")
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    lim = metrics.limiters["r1"]
    assert len(lim.sketch) <= lim.capacity and len(lim.admitted) <= 50
    metrics.publish()
    exposed = series(reg, REPO)
    repos = {repo for (_cls, _op, _r, repo) in exposed}
    assert len(repos) <= 50 + 1 and OTHER in repos
    assert len(exposed) <= (50 + 1) * 5 * 6  # repositories x operations with a repository x classes
    assert set(hot) <= repos  # the busy repositories keep their own series
    # everything is counted under its own name or __other__, except the series of the (at most 50) evicted
    # first-come repositories, which disappear with their single request each
    assert 1_100_000 - 50 <= total(reg, REPO) <= 1_100_000
    assert total(reg, "regslo_registry_requests_total") == 1_100_000
    assert after - before < 2_000_000  # flat: 50k more names cost no memory


def test_limiter_admits_heavy_hitter_after_k_filled():
    lim = RepositoryLimiter(k=2, capacity=16, rebalance_every=100)
    assert lim.label("a") == "a" and lim.label("b") == "b"
    assert lim.label("c") == OTHER
    labels = [lim.label("c") for _ in range(1000)]
    assert labels[-1] == "c"  # became top: admitted, a weak one evicted
    assert len(lim.admitted) == 2 and lim.evicted


def test_evicted_series_disappear_and_other_stays_monotonic():
    reg = CollectorRegistry()
    metrics = LogMetrics(reg, top_k=1)
    metrics.limiters["r1"] = RepositoryLimiter(1, capacity=8, rebalance_every=10)
    sink = metrics.sink("r1", "s")
    values = []
    with metrics.lock:
        sink.request("pull", "200", 0, "cold")
        for step in range(5):
            for _ in range(50):
                sink.request("pull", "200", 0, "hot")
            metrics.publish()
            values.append(series(reg, REPO))
    assert ("2xx", "pull", "r1", "cold") not in values[-1]
    assert values[-1][("2xx", "pull", "r1", "hot")] > 0
    others = [v.get(("2xx", "pull", "r1", OTHER), 0) for v in values]
    assert others == sorted(others)


def test_overlong_repository_names_never_get_a_series():
    lim = RepositoryLimiter(k=10)
    assert lim.label("a" * 256) == OTHER and not lim.admitted and not lim.sketch
    assert lim.label("a" * 255) == "a" * 255
