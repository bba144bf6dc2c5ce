"""Auth failures from a real registry's access log: refused credentials count, the /v2/ challenge does not."""

import httpx
from prometheus_client import CollectorRegistry

from regslo.sli.log_metrics import LogMetrics
from regslo.sources.logs.formats import make_parser
from tests.support.registry import make_htpasswd
from tests.unit.logs.support import series


def test_refused_requests_count_and_challenges_do_not(registries, tmp_path):
    htp = make_htpasswd(tmp_path / "htpasswd", "user", "right-password")
    (reg,) = registries("auth", htpasswd=htp)
    good, bad = ("user", "right-password"), ("user", "wrong-password")
    with httpx.Client(base_url=reg.url, timeout=5) as client:
        for _ in range(3):  # what every client does first: an anonymous ping, answered with a 401 challenge
            assert client.get("/v2/").status_code == 401
        assert client.get("/v2/", auth=good).status_code == 200
        assert client.get("/v2/app/manifests/latest", auth=bad).status_code == 401  # refused: counted
        assert client.get("/v2/app/tags/list", auth=bad).status_code == 401  # refused: counted
        assert client.get("/v2/app/manifests/latest", auth=good).status_code == 404  # allowed, not found
    reg.stop()  # flush the access log
    prom = CollectorRegistry()
    metrics = LogMetrics(prom)
    sink = metrics.sink("auth", "access")
    parser = make_parser("combined")
    with metrics.lock:
        for line in reg.access_log.read_text().splitlines():
            parser.feed(line, sink)
    metrics.publish()
    requests = series(prom, "regslo_registry_requests_total")
    failures = series(prom, "regslo_registry_auth_failures_total")
    assert requests[("401", "ping", "auth")] == 3
    assert failures[("ping", "auth")] == 0
    assert failures[("pull", "auth")] == 1 and failures[("list", "auth")] == 1
    assert sum(failures.values()) == 2

