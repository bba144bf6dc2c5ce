"""Build the small, unique test images probes push: one random layer, a config, an OCI manifest.

Every image is new bytes (the layer is random), so a registry's deduplication can never answer a push from
an earlier one, and a broken write path cannot hide. The image looks like any real one: the layer is a
gzip-compressed tar (``tar+gzip``) holding one file of random bytes, and the config's ``diff_ids`` is the
digest of the uncompressed tar. Copy tools (skopeo, crane, Harbor and cloud replication) then have nothing to
convert, so the copy keeps the manifest digest and the replication probe can compare digests. The gzip
stream uses stored (level 0) blocks: random bytes do not compress, and storing costs a copy, not a deflate. Tags carry who pushed them and when, so a start-up
sweep can tell its own leftovers (and stale ones of dead instances) from images another regslo still uses.
"""

from __future__ import annotations

import gzip
import json
import os
import tarfile
import re
import secrets
import socket
import time
from dataclasses import dataclass

from regslo.oci.client import OCI_CONFIG, OCI_MANIFEST, sha256_digest

OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_FILE = "regslo-probe.bin"

TAG_PREFIX = "regslo"
# regslo-<instance>-<unix seconds>-<random>
_TAG = re.compile(r"^regslo-(?P<instance>[a-z0-9-]+?)-(?P<ts>\d{10})-(?P<rand>[0-9a-f]{8})$")


def default_instance() -> str:
    """A short stable id for this host, used in tags when ``probes.instance`` is not set."""
    host = re.sub(r"[^a-z0-9-]", "-", socket.gethostname().lower()).strip("-") or "host"
    return host[:31]


@dataclass(frozen=True)
class TestImage:
    tag: str
    manifest: bytes
    manifest_digest: str
    config: bytes
    config_digest: str
    layer: bytes
    layer_digest: str

    @property
    def blob_digests(self) -> tuple[str, str]:
        return (self.config_digest, self.layer_digest)


def make_tag(instance: str, now: float | None = None) -> str:
    return f"{TAG_PREFIX}-{instance}-{int(now or time.time()):010d}-{secrets.token_hex(4)}"


def parse_tag(tag: str) -> tuple[str, int] | None:
    """(instance, unix seconds) for tags regslo wrote, None for anything else."""
    match = _TAG.match(tag)
    if not match:
        return None
    return match.group("instance"), int(match.group("ts"))


def layer_tar(content: bytes) -> bytes:
    """A tar archive holding one regular file (no 10 KiB record padding: two zero blocks end it)."""
    info = tarfile.TarInfo(LAYER_FILE)
    info.size = len(content)
    info.mode = 0o644
    info.mtime = 0
    header = info.tobuf(format=tarfile.USTAR_FORMAT)
    pad = -len(content) % tarfile.BLOCKSIZE
    return b"".join((header, content, b"\0" * (pad + 2 * tarfile.BLOCKSIZE)))


def build_image(instance: str, blob_size: int, purpose: str = "push") -> TestImage:
    """An image whose file holds ``blob_size`` random bytes (the layer is a little larger: tar and gzip
    framing, about 0.01 % plus 1.5 KiB)."""
    tar = layer_tar(os.urandom(blob_size))
    diff_id = sha256_digest(tar)
    layer = gzip.compress(tar, compresslevel=0, mtime=0)
    del tar
    layer_digest = sha256_digest(layer)
    tag = make_tag(instance)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"io.regslo.probe": purpose, "io.regslo.tag": tag}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True, separators=(",", ":")).encode()
    config_digest = sha256_digest(config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}],
        "annotations": {"io.regslo.created": str(int(time.time()))},
    }, sort_keys=True, separators=(",", ":")).encode()
    return TestImage(tag=tag, manifest=manifest, manifest_digest=sha256_digest(manifest), config=config,
                     config_digest=config_digest, layer=layer, layer_digest=layer_digest)
