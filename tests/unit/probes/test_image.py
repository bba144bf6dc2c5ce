import gzip
import io
import json
import tarfile

from regslo.oci.client import sha256_digest
from regslo.sources.probes.image import OCI_LAYER_GZIP, build_image, make_tag, parse_tag


def test_images_are_unique_and_self_consistent():
    a, b = build_image("inst", 1024), build_image("inst", 1024)
    assert a.layer != b.layer and a.manifest_digest != b.manifest_digest and a.tag != b.tag
    doc = json.loads(a.manifest)
    assert doc["layers"][0]["digest"] == sha256_digest(a.layer) and doc["layers"][0]["size"] == len(a.layer)
    assert doc["config"]["digest"] == sha256_digest(a.config)
    assert a.manifest_digest == sha256_digest(a.manifest)


def test_tags_parse_back_and_foreign_tags_do_not():
    tag = make_tag("eu-probe-1", now=1700000000)
    assert parse_tag(tag) == ("eu-probe-1", 1700000000)
    assert len(tag) <= 128
    for foreign in ("latest", "v1.2", "regslo-x", "regslo-a-123-zz", "regslo-inst-1700000000-0123456789"):
        assert parse_tag(foreign) is None


def test_layer_is_a_gzipped_tar_of_one_random_file_with_matching_diff_id():
    """What copy tools need to keep the digest: a tar+gzip layer whose diff_id is the uncompressed tar."""
    img = build_image("inst", 5000)
    doc = json.loads(img.manifest)
    assert doc["layers"][0]["mediaType"] == OCI_LAYER_GZIP
    tar = gzip.decompress(img.layer)
    assert json.loads(img.config)["rootfs"]["diff_ids"] == [sha256_digest(tar)]
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        (member,) = archive.getmembers()
        assert member.isfile() and member.size == 5000
        content = archive.extractfile(member).read()
    assert len(set(content)) > 200  # random bytes, not padding
    assert len(img.layer) < 5000 + 2048
