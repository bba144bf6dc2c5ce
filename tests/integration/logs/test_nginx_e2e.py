"""A real nginx in front of a real registry: its access log (combined + request/upstream times) through the
nginx format gives exactly the requests sent, including nginx's own 429s that never reach the registry."""

import subprocess
import time
from collections import Counter

import httpx
import yaml

from regslo.config import parse_config
from regslo.outputs import extras
from regslo.sources.logs.replay import replay
from tests.conftest import require
from tests.support.nginx import nginx_proxy
from tests.unit.logs.support import expected_operation, series, total

HTTP = "limit_req_zone $binary_remote_addr zone=catalog:1m rate=1r/m;"
LOCATIONS = """
    location /v2/_catalog {{ limit_req zone=catalog nodelay; limit_req_status 429; proxy_pass http://127.0.0.1:{upstream}; }}
"""
FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
          '"$http_user_agent" $request_time $upstream_response_time')


def test_nginx_access_log_equals_traffic(tmp_path, registry):
    with nginx_proxy(tmp_path, registry.port, FORMAT, http=HTTP, locations=LOCATIONS) as (port, _):
        sent = Counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            def send(method, path, **kw):
                r = c.request(method, path, **kw)
                sent[(expected_operation(method, path), str(r.status_code))] += 1
                return r
            for _ in range(3):
                assert send("GET", "/v2/").status_code == 200
            assert send("GET", "/v2/app/manifests/latest").status_code == 404
            r = send("POST", "/v2/app/blobs/uploads/")
            assert r.status_code == 202
            loc = httpx.URL(r.headers["Location"]).raw_path.decode()
            assert send("PUT", loc + "&digest=sha256:" + "0" * 64, content=b"x").status_code == 400  # wrong digest
            assert send("GET", "/v2/_catalog").status_code == 200
            assert send("GET", "/v2/_catalog").status_code == 429  # nginx's limit: never reaches the registry
        time.sleep(0.2)
    reg = replay([str(tmp_path / "access.log")], "nginx", "edge", log_format=FORMAT)
    got = Counter()
    for (code, op, _r), v in series(reg, "regslo_registry_requests_total").items():
        got[(op, code)] += int(v)
    assert got == sent and sent[("list", "429")] == 1
    assert total(reg, "regslo_registry_request_duration_seconds_count") == sum(sent.values())
    lines = {o: v for (o, _s), v in series(reg, "regslo_log_lines_total").items()}
    assert lines == {"parsed": sum(sent.values()), "ignored": 0, "malformed": 0}

    _rate_limiting_alert_fires_on(series(reg, "regslo_registry_requests_total"), tmp_path)


def _rate_limiting_alert_fires_on(requests: dict, tmp_path) -> None:
    """The generated RegsloRateLimiting rule, evaluated by promtool on this run's counts (as if the same
    traffic came every minute): nginx's 429 (1 of 8 requests) is over the 5% share, so the alert fires after
    its 10 minutes; the same traffic without the 429 stays silent."""
    cfg = parse_config(f"""
registries: [{{name: edge, url: 'http://127.0.0.1:1'}}]
logs: {{sources: [{{path: '{tmp_path}/access.log', format: nginx, registry: edge}}]}}
traffic: {{rate_limited_ratio: 5%}}
""", base_dir=tmp_path)
    files = extras.files(cfg)
    (tmp_path / "traffic.rules.yml").write_text(files["alerts/regslo-traffic.rules.yml"])
    rule = next(r for g in yaml.safe_load(files["alerts/regslo-traffic.rules.yml"])["groups"] for r in g["rules"]
                if r.get("alert") == "RegsloRateLimiting")

    def case(name, counts, expected):
        inputs = [{"series": f'regslo_registry_requests_total{{registry="{r}",operation="{op}",code="{code}"}}',
                   "values": f"0+{int(v)}x30"} for (code, op, r), v in counts.items()]
        return {"name": name, "interval": "1m", "input_series": inputs,
                "alert_rule_test": [{"eval_time": "25m", "alertname": "RegsloRateLimiting", "exp_alerts": expected}]}

    summary = rule["annotations"]["summary"].replace("{{ $labels.registry }}", "edge")
    description = rule["annotations"]["description"].replace("{{ $labels.registry }}", "edge")
    firing = [{"exp_labels": {"registry": "edge", "severity": "ticket"},
               "exp_annotations": {"summary": summary, "description": description,
                                   "runbook_url": rule["annotations"]["runbook_url"]}}]
    healthy = {k: v for k, v in requests.items() if k[0] != "429"}
    doc = {"rule_files": ["traffic.rules.yml"], "evaluation_interval": "1m",
           "tests": [case("nginx 429s fire RegsloRateLimiting", requests, firing),
                     case("the same traffic without the 429 is silent", healthy, [])]}
    (tmp_path / "traffic_test.yml").write_text(yaml.safe_dump(doc))
    res = subprocess.run([require("promtool"), "test", "rules", str(tmp_path / "traffic_test.yml")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
