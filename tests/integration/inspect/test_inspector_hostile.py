"""The image inspector against hostile registries on 127.0.0.1 (tests/support/hostile.py): a hanging one (the
inspection ends at its deadline as a counted timeout, and stopping does not wait for it), and crafted
indexes and referrers (every read capped, fan-out bounded, no read outside the pushed repository)."""

from __future__ import annotations

import hashlib
import json
import time

import yaml
from prometheus_client import CollectorRegistry

from regslo.config import parse_config
from regslo.sources.inspect.inspector import Inspector, Push
from tests.support.hostile import Reply
from tests.unit.logs.support import series, total

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


def serve_manifest(server, doc: dict) -> str:
    body = json.dumps(doc).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    media = doc.get("mediaType", "application/vnd.oci.image.manifest.v1+json")
    server.route("GET", f"/v2/prod/app/manifests/{digest}", Reply(200, body=body, headers={"Content-Type": media}))
    return digest


def image(layers: int, seed: int = 0) -> dict:
    return {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{seed:064x}",
                       "size": 1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": f"sha256:{seed:032x}{i:032x}", "size": 1} for i in range(1, layers + 1)]}


def failures(reg) -> dict:
    return {k: v for k, v in series(reg, "regslo_inspect_failures_total").items() if v}


def test_an_index_of_40000_manifests_is_one_read_and_refused(hostile):
    srv = hostile()
    digest = serve_index(srv, [{"digest": f"sha256:{i:064x}"} for i in range(40_000)])  # just under 4 MiB
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is None
    insp.stop()
    assert len(srv.received()) == 1
    assert failures(reg) == {("invalid_manifest", "hang"): 1}


def test_an_index_over_4_mib_is_not_read_past_the_cap(hostile):
    srv = hostile()
    digest = serve_index(srv, [{"digest": f"sha256:{i:064x}"} for i in range(100_000)])  # about 8 MiB
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is None
    insp.stop()
    assert len(srv.received()) == 1
    assert failures(reg) == {("server_error", "hang"): 1}


def test_nested_indexes_are_not_followed(hostile):
    srv = hostile()
    inner = serve_index(srv, [{"digest": "sha256:" + "1" * 64}])  # would go on; never read
    middle = serve_index(srv, [{"digest": inner}])
    outer = serve_index(srv, [{"digest": middle}])
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", outer, "v1", time.monotonic())) is None  # no image in it
    insp.stop()
    assert [r.path for r in srv.received()] == [f"/v2/prod/app/manifests/{d}" for d in (outer, middle)]
    assert not failures(reg) and total(reg, "regslo_pushed_images_inspected_total") == 0


def test_blobs_of_one_image_are_bounded_over_all_platforms(hostile):
    # before: 64 platform manifests of 4 MiB each went into one dict of distinct blobs (millions of entries)
    srv = hostile()
    platforms = [serve_manifest(srv, image(400, seed=p + 1)) for p in range(64)]
    digest = serve_index(srv, [{"digest": d, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
                               for d in platforms])
    insp, reg = inspector(srv.url, "20s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is None
    insp.stop()
    assert failures(reg) == {("invalid_manifest", "hang"): 1}
    assert len(srv.received()) < 1 + 64  # stopped at the cap (20,000 blobs: the 51st platform)


def test_referrers_are_bounded_over_all_pages(hostile):
    srv = hostile()
    subject = serve_manifest(srv, image(2))
    page = Reply(200, json={"schemaVersion": 2, "mediaType": INDEX, "manifests": [{}] * 5000},
                 headers={"Content-Type": INDEX, "Link": f'</v2/prod/app/referrers/{subject}?n=1>; rel="next"'})
    srv.route("GET", f"/v2/prod/app/referrers/{subject}", page)
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", subject, "v1", time.monotonic())) is None
    insp.stop()
    assert failures(reg) == {("server_error", "hang"): 1}
    assert len(srv.received(f"/v2/prod/app/referrers/{subject}*")) == 3  # 15,000 > 10,000 after the third


def test_a_huge_descriptor_size_is_an_invalid_manifest_and_the_worker_goes_on(hostile):
    # before: a 400-digit size passed the checks and the histogram's float sum raised OverflowError outside
    # the counted failures, which ended the worker thread: nothing was inspected again
    srv = hostile()
    huge = image(1, seed=1)
    huge["layers"][0]["size"] = 10**400
    bad = serve_manifest(srv, huge)
    good = serve_manifest(srv, image(1, seed=2))
    insp, reg = inspector(srv.url, "10s")
    insp.start()
    try:
        assert insp.submit("hang", "prod/app", "v1", bad) and insp.submit("hang", "prod/app", "v2", good)
        deadline = time.monotonic() + 30
        while total(reg, "regslo_pushed_images_inspected_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        insp.stop()
    assert failures(reg) == {("invalid_manifest", "hang"): 1}
    assert total(reg, "regslo_pushed_images_inspected_total") == 1


def test_a_referrers_next_link_cannot_leave_the_subjects_list(hostile):
    # (another host is followed without credentials, like a redirect: tests/integration/oci/test_credentials_origin.py)
    srv = hostile()
    subject = serve_manifest(srv, image(2))
    steered = {"other repository": f"</v2/admin/secret/referrers/{subject}?n=1>",
               "dot segments": f"</v2/prod/app/referrers/../../../admin/secret/referrers/{subject}>",
               "encoded": f"</v2/prod/app/referrers/%2e%2e/%2e%2e/%2e%2e/admin/secret/referrers/{subject}>"}
    for what, link in steered.items():
        page = Reply(200, json={"schemaVersion": 2, "mediaType": INDEX, "manifests": []},
                     headers={"Content-Type": INDEX, "Link": f'{link}; rel="next"'})
        srv.route("GET", f"/v2/prod/app/referrers/{subject}", page)
        insp, reg = inspector(srv.url, "10s")
        assert insp.inspect_one(Push("hang", "prod/app", subject, "v1", time.monotonic())) is None, what
        insp.stop()
        assert failures(reg) == {("server_error", "hang"): 1}, what
    assert not srv.received("/v2/admin/*")
    assert all(r.path.startswith("/v2/prod/app/") for r in srv.received()), srv.received()


def test_crafted_notifications_never_reach_another_repository(hostile):
    """Push events POSTed to the webhook handler with names a registry would never send: the inspector
    (delay 0, running) reads nothing outside prod/, and reads the one genuine push."""
    import uuid

    from regslo.sources.logs.service import LogService

    srv = hostile()
    good = serve_manifest(srv, image(1, seed=3))
    any_digest = "sha256:" + "c" * 64
    names = [("prod/../admin/secret", any_digest), ("prod/%2e%2e/admin/secret", any_digest),
             ("prod/app/../../admin/secret", any_digest), ("prod/app\nadmin", any_digest),
             ("prod/" + "a" * 5000, any_digest), ("prod/app", "sha256:../../../admin/secret/manifests/x"),
             ("prod/app", good)]
    events = [{"id": str(uuid.uuid4()), "timestamp": "2026-11-29T00:00:00Z", "action": "push",
               "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": d,
                          "repository": r, "tag": "v1"}, "request": {"useragent": "docker/24.0"}}
              for r, d in names]
    cfg = parse_config(yaml.safe_dump({
        "registries": [{"name": "hang", "url": srv.url}],
        "logs": {"sources": [{"format": "notifications", "registry": "hang"}]},
        "inspect": {"repositories": ["prod/**"], "delay": "0s", "max_per_minute": 600, "timeout": "10s"}}))
    reg = CollectorRegistry()
    logs = LogService(cfg.logs, reg)
    insp = Inspector(cfg, reg)
    logs.subscribe(insp.submit)
    insp.start()
    try:
        status, _ = logs.handle_notification(json.dumps({"events": events}).encode(),
                                             {"Content-Type": "application/vnd.docker.distribution.events.v1+json"},
                                             "hang")
        assert status == 200
        deadline = time.monotonic() + 30
        while total(reg, "regslo_pushed_images_inspected_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # (anything else queued would be read by now: 0.1 s apart)
    finally:
        insp.stop()
        logs.stop()
    assert total(reg, "regslo_pushed_images_inspected_total") == 1
    paths = [r.path.split("?")[0] for r in srv.received()]
    assert paths and all(p.startswith("/v2/prod/app/") for p in paths), paths
    skipped = {r: v for (r, _reg), v in series(reg, "regslo_inspect_skipped_total").items() if v}
    assert skipped == {"invalid": 5}  # the 5000-character name is not even remembered by the parser


def test_an_index_without_a_manifests_list_is_invalid_not_an_artifact(hostile):
    srv = hostile()
    body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": "everything"}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    srv.route("GET", f"/v2/prod/app/manifests/{digest}", Reply(200, body=body, headers={"Content-Type": INDEX}))
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is None
    insp.stop()
    assert failures(reg) == {("invalid_manifest", "hang"): 1}
    assert total(reg, "regslo_inspect_skipped_total", reason="artifact") == 0


def test_a_reload_with_rotated_credentials_is_used_by_the_next_inspection(hostile):
    # before: the inspector kept the client (and password) it was started with until regslo restarted
    import base64

    srv = hostile()
    good = serve_manifest(srv, image(1, seed=4))
    manifest = srv._find("GET", f"/v2/prod/app/manifests/{good}")
    new = "Basic " + base64.b64encode(b"u:new").decode()

    def only_the_new_password(req):
        if req.headers.get("authorization") != new:
            return Reply(401, headers={"WWW-Authenticate": 'Basic realm="hostile"'}, json={"errors": [{"code": "DENIED"}]})
        if req.route == f"/v2/prod/app/manifests/{good}":
            return manifest
        return Reply(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})  # referrers API, cosign tags

    srv.route("*", "/*", only_the_new_password)

    def config(password: str):
        return parse_config(yaml.safe_dump({
            "registries": [{"name": "hang", "url": srv.url, "auth": {"username": "u", "password": password}}],
            "logs": {"sources": [{"format": "notifications", "registry": "hang"}]},
            "inspect": {"repositories": ["prod/**"], "delay": "0s", "max_per_minute": 600, "timeout": "10s"}}))

    reg = CollectorRegistry()
    insp = Inspector(config("old"), reg)
    try:
        assert insp.inspect_one(Push("hang", "prod/app", good, "v1", time.monotonic())) is None
        assert failures(reg) == {("auth", "hang"): 1}
        insp.update_registries(config("new"))
        assert insp.inspect_one(Push("hang", "prod/app", good, "v2", time.monotonic())) is not None
    finally:
        insp.stop()
    assert failures(reg) == {("auth", "hang"): 1} and total(reg, "regslo_pushed_images_inspected_total") == 1


def test_an_index_listing_one_manifest_64_times_reads_it_once(hostile):
    srv = hostile()
    platform = serve_manifest(srv, image(1, seed=5))
    digest = serve_index(srv, [{"digest": platform}] * 64)
    insp, reg = inspector(srv.url, "10s")
    assert insp.inspect_one(Push("hang", "prod/app", digest, "v1", time.monotonic())) is not None
    insp.stop()
    assert len(srv.received(f"/v2/prod/app/manifests/{platform}")) == 1
    assert total(reg, "regslo_pushed_image_size_bytes_sum") == 2  # its config and layer, once
