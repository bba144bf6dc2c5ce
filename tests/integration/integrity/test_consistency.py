"""The consistency checker against real registries: manifests and indexes, absence, and a region down."""

import json

from prometheus_client import CollectorRegistry

from regslo.config import Registry
from regslo.config.consistency import ConsistencyCheck
from regslo.oci.client import OCI_INDEX, RegistryClient
from regslo.sources.consistency import ConsistencyChecker
from regslo.sources.probes.image import build_image
from tests.unit.logs.support import series


def push(client: RegistryClient, repo: str, tag: str, image=None) -> str:
    image = image or build_image("user", 256)
    client.push_blob(repo, image.layer, digest=image.layer_digest)
    client.push_blob(repo, image.config, digest=image.config_digest)
    client.put_manifest(repo, image.manifest_digest, image.manifest)
    client.put_manifest(repo, tag, image.manifest)
    return image.manifest_digest


def push_index(client: RegistryClient, repo: str, tag: str, images) -> str:
    manifests = []
    for arch, image in zip(("amd64", "arm64"), images):
        push(client, repo, f"{arch}-{image.tag}", image)
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": image.manifest_digest,
                          "size": len(image.manifest), "platform": {"architecture": arch, "os": "linux"}})
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}).encode()
    return client.put_manifest(repo, tag, body, media_type=OCI_INDEX)


def test_consistency_of_manifests_indexes_and_absent_tags(registries):
    us, eu = registries("us", "eu")
    clients = {"us": RegistryClient(Registry("us", us.url, "us"), timeout=5),
               "eu": RegistryClient(Registry("eu", eu.url, "eu"), timeout=5)}
    reg = CollectorRegistry()
    check = ConsistencyCheck("app/web", ("latest", "multi", "gone"), ("us", "eu"), interval=1, grace=0)
    checker = ConsistencyChecker([check], clients, reg, timeout=3)
    image = build_image("user", 256)
    push(clients["us"], "app/web", "latest", image)
    push(clients["eu"], "app/web", "latest", image)
    images = [build_image("user", 256), build_image("user", 256)]
    index_us = push_index(clients["us"], "app/web", "multi", images)
    index_eu = push_index(clients["eu"], "app/web", "multi", images)
    assert index_us == index_eu
    states = {s.tag: s for s in checker.check(check)}
    assert states["multi"].digests == {"us": index_us, "eu": index_us}  # the index digest, as clients see it
    assert series(reg, "regslo_tag_consistent") == {("app/web", "latest"): 1, ("app/web", "multi"): 1,
                                                    ("app/web", "gone"): 1}
    assert series(reg, "regslo_tag_digests") == {("app/web", "latest"): 1, ("app/web", "multi"): 1,
                                                 ("app/web", "gone"): 0}

    push(clients["eu"], "app/web", "latest")  # other bytes under the tag in one region
    push(clients["us"], "app/web", "gone")  # now present in one region only
    checker.check(check)
    assert series(reg, "regslo_tag_consistent") == {("app/web", "latest"): 0, ("app/web", "multi"): 1,
                                                    ("app/web", "gone"): 0}
    assert series(reg, "regslo_tag_digests")[("app/web", "latest")] == 2
    assert series(reg, "regslo_tag_digests")[("app/web", "gone")] == 1
    snap = {s["tag"]: s for s in checker.snapshot()}
    assert snap["gone"]["digests"]["eu"] is None and snap["latest"]["inconsistent_since"] is not None

    eu.stop()  # a region down is an error, not a verdict: the gauges keep their last value
    checker.check(check)
    # one error: a region that cannot be reached is skipped for the rest of the round
    assert series(reg, "regslo_tag_consistency_errors_total") == {("eu",): 1, ("us",): 0}
    assert series(reg, "regslo_tag_consistent")[("app/web", "multi")] == 1
    for client in clients.values():
        client.close()


def test_checker_thread_checks_on_schedule_and_stops(registries):
    us, eu = registries("us", "eu")
    clients = {"us": RegistryClient(Registry("us", us.url, "us"), timeout=5),
               "eu": RegistryClient(Registry("eu", eu.url, "eu"), timeout=5)}
    reg = CollectorRegistry()
    check = ConsistencyCheck("app/web", ("latest",), ("us", "eu"), interval=0.5, grace=0)
    checker = ConsistencyChecker([check], clients, reg, timeout=3)
    checker.start()
    try:
        import time
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and checker.snapshot()[0]["checked_at"] is None:
            time.sleep(0.05)
        first = checker.snapshot()[0]["checked_at"]
        assert first is not None
        push(clients["us"], "app/web", "latest")
        while time.monotonic() < deadline and series(reg, "regslo_tag_consistent").get(("app/web", "latest")) != 0:
            time.sleep(0.05)
        assert series(reg, "regslo_tag_consistent")[("app/web", "latest")] == 0
    finally:
        t0 = time.monotonic()
        checker.stop()
        assert time.monotonic() - t0 < 5
    for client in clients.values():
        client.close()
