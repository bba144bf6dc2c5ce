"""The image inspector against a hanging registry on 127.0.0.1 (tests/support/hostile.py): the inspection
ends at its deadline as a counted timeout, and stopping does not wait for it."""

from __future__ import annotations

import hashlib
import json
import time

import yaml
from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sources.inspect.inspector import Inspector, Push
from tests.support.hostile import Reply
from tests.unit.logs.support import series

DIGEST = "sha256:" + "e" * 64


def inspector(url: str, timeout: str):
    cfg = parse_config(yaml.safe_dump({
        "registries": [{"name": "hang", "url": url}],
        "logs": {"sources": [{"format": "notifications", "registry": "hang"}]},
        "inspect": {"repositories": ["prod/**"], "delay": "0s", "max_per_minute": 600, "timeout": timeout}}))
    reg = CollectorRegistry()
    return Inspector(cfg, reg), reg


def test_a_hanging_inspection_is_a_timeout_by_the_deadline(hostile):
    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    insp, reg = inspector(hang.url, "2s")
    t0 = time.monotonic()
    assert insp.inspect_one(Push("hang", "prod/app", DIGEST, "v1", time.monotonic())) is None
    assert time.monotonic() - t0 < 2 + 6  # its 2 s deadline, with slack; not the endless header
    failed = {k: v for k, v in series(reg, "regslo_inspect_failures_total").items() if v}  # every reason exists at 0
    assert failed == {("timeout", "hang"): 1}  # (labels sorted by name: reason, registry)
    insp.stop()


def test_stop_does_not_wait_for_an_inspection_in_flight(hostile):
    hang = hostile().route("*", "/*", Reply(200, header_drip=0.5, headers_forever=True))
    insp, _reg = inspector(hang.url, "10s")
    insp.start()
    assert insp.submit("hang", "prod/app", "v1", DIGEST)
    deadline = time.monotonic() + 10
    while not hang.received() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hang.received()
    t0 = time.monotonic()
    insp.stop()
    took = time.monotonic() - t0
    # before: stop() joined for inspect.timeout + 5 s, after the probes had used their own shutdown bound
    assert took < 5, took


INDEX = "application/vnd.oci.image.index.v1+json"


def serve_index(server, manifests: list) -> str:
    """Serve an image index at its own digest under prod/app (the client checks the body's sha256)."""
    body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    server.route("GET", f"/v2/prod/app/manifests/{digest}", Reply(200, body=body, headers={"Content-Type": INDEX}))
    return digest


def test_an_index_entry_cannot_steer_reads_to_another_repository(hostile):
    srv = hostile()
    secret = Reply(200, json={"schemaVersion": 2})
    srv.route("*", "/v2/admin/*", secret).route("*", "/admin/*", secret)
    digest = serve_index(srv, [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                                "digest": "../../admin/secret/manifests/latest"}])
    insp, reg = inspector(srv.url, "5s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is None
    insp.stop()
    assert [r.path for r in srv.received()] == [f"/v2/prod/app/manifests/{digest}"]  # the index, nothing else
    failed = {k: v for k, v in series(reg, "regslo_inspect_failures_total").items() if v}
    assert failed == {("invalid_manifest", "hang"): 1}
