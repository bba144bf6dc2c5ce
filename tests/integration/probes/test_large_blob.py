"""A pull probe of a large image takes the zero-copy download path (HEAD for auth, then the GET)."""

import re

from regslo.config import ProbeSettings, Registry
from regslo.sources.probes.probes import RegistryProber


def test_large_layer_pull_uses_fast_path(registry):
    settings = ProbeSettings(interval=30, timeout=20, blob_size=9 * 1024 * 1024)
    p = RegistryProber(Registry("r1", registry.url, "t"), settings, "large")
    assert p.run("push").ok
    res = p.run("pull")
    assert res.ok, res
    assert f"{9 * 1024 * 1024}" in res.message or "blobs verified" in res.message
    layer = p._images[-1].blob_digests[1]
    log = registry.access_log.read_text()
    methods = re.findall(rf'"(HEAD|GET) /v2/regslo/probe/blobs/{layer} ', log)
    # the manifest's size sends the 9 MiB layer through regslo.oci.download: HEAD first, then GET
    assert methods[:2] == ["HEAD", "GET"], methods
    p.cleanup_all()
