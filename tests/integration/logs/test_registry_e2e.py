"""A real docker-registry, known traffic sent with httpx, and the tailer's metrics equal to what was sent."""

import hashlib
import json
import time
from collections import Counter

import httpx
from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sli.log_metrics import code_class
from regslo.sources.logs.follow import serve
from regslo.sources.logs.replay import replay
from regslo.sources.logs.service import LogService
from tests.support.registry import free_port, make_htpasswd
from tests.unit.logs.support import expected_operation, series, total

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Traffic:
    """Sends requests and remembers (operation, code) of each, classified independently."""

    def __init__(self, url: str, auth):
        self.client = httpx.Client(base_url=url, auth=auth, timeout=10)
        self.sent: Counter = Counter()

    def send(self, method: str, path: str, **kw) -> httpx.Response:
        r = self.client.request(method, path, **kw)
        self.sent[(expected_operation(method, path), str(r.status_code))] += 1
        return r

    def push_blob(self, repo: str, data: bytes) -> str:
        d = _digest(data)
        r = self.send("POST", f"/v2/{repo}/blobs/uploads/")
        assert r.status_code == 202
        loc = httpx.URL(r.headers["Location"])
        path = loc.raw_path.decode()
        sep = "&" if "?" in path else "?"
        r = self.send("PUT", f"{path}{sep}digest={d}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 201, r.text
        return d

    def push_image(self, repo: str, tag: str, config: bytes, layer: bytes) -> str:
        cd, ld = self.push_blob(repo, config), self.push_blob(repo, layer)
        manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
        r = self.send("PUT", f"/v2/{repo}/manifests/{tag}", content=manifest, headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 201, r.text
        return _digest(manifest)


def wait_for(fn, expected, timeout=15.0):
    deadline = time.monotonic() + timeout
    value = fn()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = fn()
    return value


def test_real_registry_traffic_equals_metrics(tmp_path, registries):
    port = free_port()
    htpasswd = make_htpasswd(tmp_path / "htpasswd", "alice", "s3cret-pw")
    (reg,) = registries("r1", htpasswd=htpasswd, notify_url=f"http://127.0.0.1:{port}/notifications/r1")
    cfg = parse_config(f"""
registries: [{{name: r1, url: '{reg.url}'}}]
logs:
  start_at: beginning
  poll_interval: 0.05s
  sources:
    - {{path: '{reg.access_log}', format: distribution, registry: r1}}
    - {{path: '{reg.app_log}', format: distribution, registry: r1}}
    - {{format: notifications, registry: r1}}
""", base_dir=tmp_path)
    prom = CollectorRegistry()
    service = LogService(cfg.logs, prom)
    server = serve(service, prom, f"127.0.0.1:{port}")
    service.start()
    try:
        anon = Traffic(reg.url, None)
        for _ in range(3):
            assert anon.send("GET", "/v2/").status_code == 401
        t = Traffic(reg.url, ("alice", "s3cret-pw"))
        assert t.send("GET", "/v2/").status_code == 200
        first = t.push_image("team/app", "v1", b'{"architecture":"amd64","os":"linux","n":1}', b"layer-one")
        assert t.send("GET", "/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 200
        assert t.send("HEAD", "/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 200
        assert t.send("GET", f"/v2/team/app/blobs/{_digest(b'layer-one')}").status_code == 200
        assert t.send("GET", "/v2/team/app/manifests/nope").status_code == 404
        assert t.send("GET", "/v2/team/app/tags/list").status_code == 200
        assert t.send("GET", "/v2/_catalog").status_code == 200
        t.push_image("team/app", "v1", b'{"architecture":"amd64","os":"linux","n":2}', b"layer-two")  # overwrite
        assert t.send("DELETE", "/v2/team/app/manifests/v1").status_code == 400  # by tag: refused
        assert t.send("DELETE", f"/v2/team/app/manifests/{first}").status_code == 202
        assert t.send("PATCH", "/v2/team/app/manifests/v1").status_code == 405  # no completion line at all
        sent = anon.sent + t.sent
        assert sent[("ping", "401")] == 3 and sent[("delete", "202")] == 1

        def by_op_code():
            out = Counter()
            for (code, op, _r), v in series(prom, "regslo_registry_requests_total").items():
                out[(op, code)] += int(v)
            return out

        assert wait_for(by_op_code, sent) == sent
        completed = sum(n for (op, code), n in sent.items() if code not in ("401", "405"))
        assert wait_for(lambda: total(prom, "regslo_registry_request_duration_seconds_count"), completed) == completed
        assert wait_for(lambda: total(prom, "regslo_registry_tag_overwrites_total"), 1) == 1
        pushes = 4 + 2  # four blobs and two manifests
        events = lambda: {a: int(v) for (a, _r), v in series(prom, "regslo_registry_events_total").items()}
        got = wait_for(lambda: events().get("push"), pushes)
        assert got == pushes
        assert events().get("delete", 0) >= 1 and events().get("pull", 0) >= 2
        per_repo = series(prom, "regslo_registry_repository_requests_total")
        assert {repo for (_cls, _op, _r, repo) in per_repo} == {"team/app"}
        by_class = Counter()
        for (cls, op, _r, _repo), v in per_repo.items():
            by_class[(op, cls)] += int(v)
        expected = Counter()
        for (op, code), n in sent.items():
            if op != "ping":  # /v2/ names no repository
                expected[(op, code_class(code))] += n
        expected[("list", "2xx")] -= 1  # nor does _catalog
        assert by_class == expected and by_class[("pull", "4xx")] == 1 and by_class[("delete", "4xx")] == 1
    finally:
        server.stop()
        service.stop()

    # The json log alone sees every request except those the registry never logs as completed.
    alone = replay([str(reg.app_log)], "distribution-json", "r1")
    got = Counter()
    for (code, op, _r), v in series(alone, "regslo_registry_requests_total").items():
        got[(op, code)] += int(v)
    assert got == Counter({k: n for k, n in sent.items() if k[1] not in ("401", "405")})
