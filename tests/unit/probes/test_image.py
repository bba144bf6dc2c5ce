import json

from regslo.oci.client import sha256_digest
from regslo.sources.probes.image import build_image, make_tag, parse_tag


def test_images_are_unique_and_self_consistent():
    a, b = build_image("inst", 1024), build_image("inst", 1024)
    assert a.layer != b.layer and a.manifest_digest != b.manifest_digest and a.tag != b.tag
    doc = json.loads(a.manifest)
    assert doc["layers"][0]["digest"] == sha256_digest(a.layer) and doc["layers"][0]["size"] == 1024
    assert doc["config"]["digest"] == sha256_digest(a.config)
    assert a.manifest_digest == sha256_digest(a.manifest)


def test_tags_parse_back_and_foreign_tags_do_not():
    tag = make_tag("eu-probe-1", now=1700000000)
    assert parse_tag(tag) == ("eu-probe-1", 1700000000)
    assert len(tag) <= 128
    for foreign in ("latest", "v1.2", "regslo-x", "regslo-a-123-zz", "regslo-inst-1700000000-0123456789"):
        assert parse_tag(foreign) is None
