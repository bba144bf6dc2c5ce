"""Record real ``docker-registry garbage-collect`` output into tests/data (see tests/data/README.md).

    PYTHONPATH=$PWD python3 -m tests.support.capture_gc

Starts a real registry per logrus formatter (json, text), pushes small images, deletes one manifest, moves a
tag (leaving an untagged manifest), stops the registry, and runs garbage-collect the way cron would: stdout
and stderr appended to one file, run after run. The fourth run is made to fail (a revision link that does not
hold a digest), so the file also shows what a failed run prints, and a fifth succeeds after it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from regslo.config import Registry
from regslo.oci.client import RegistryClient
from regslo.sources.probes.image import build_image
from tests.support.registry import REGISTRY_BIN, start_registry

OUT = Path(__file__).resolve().parent.parent / "data" / "distribution-2.8"


def _push(client: RegistryClient, repo: str, tag: str) -> str:
    image = build_image("capture", 2048)
    client.push_blob(repo, image.layer, digest=image.layer_digest)
    client.push_blob(repo, image.config, digest=image.config_digest)
    client.put_manifest(repo, tag, image.manifest)
    return image.manifest_digest


def _gc(config: Path, log: Path, *flags: str) -> int:
    with open(log, "ab") as out:  # like `docker-registry garbage-collect ... >> gc.log 2>&1`
        return subprocess.run([REGISTRY_BIN, "garbage-collect", *flags, str(config)], stdout=out,
                              stderr=subprocess.STDOUT, timeout=120).returncode


def capture(formatter: str, base: Path) -> Path:
    reg = start_registry(base, name=f"gc-{formatter}", formatter=formatter)
    log = OUT / f"gc-{formatter}.log"
    log.unlink(missing_ok=True)
    codes = []
    try:
        with RegistryClient(Registry(name="gc", url=reg.url, region="gc")) as client:
            gone = _push(client, "team/app", "v1")
            _push(client, "team/app", "v2")
            _push(client, "team/tool", "latest")
            client.delete_manifest("team/app", gone)
            _push(client, "team/tool", "latest")  # the old "latest" manifest is now untagged
        reg.stop()
        codes.append(_gc(reg.config_path, log))                       # deletes the deleted image's blobs
        codes.append(_gc(reg.config_path, log, "--delete-untagged"))  # deletes the untagged manifest too
        codes.append(_gc(reg.config_path, log, "--delete-untagged"))  # nothing left to delete
        reg.start()
        with RegistryClient(Registry(name="gc", url=reg.url, region="gc")) as client:
            _push(client, "team/broken", "v1")
        reg.stop()
        links = reg.storage / "docker/registry/v2/repositories/team/broken/_manifests/revisions/sha256"
        for link in links.glob("*/link"):
            link.write_text("not-a-digest")
        codes.append(_gc(reg.config_path, log))                       # fails while marking
        shutil.rmtree(reg.storage / "docker/registry/v2/repositories/team/broken")
        codes.append(_gc(reg.config_path, log, "--delete-untagged"))  # the next run: its first line is glued to
        #                                                               the failure message, which has no newline
    finally:
        reg.stop()
    print(f"{log}: exit codes {codes}", file=sys.stderr)
    return log


def main() -> int:
    base = Path(tempfile.mkdtemp(prefix="regslo-gc-capture-"))
    try:
        for formatter in ("json", "text"):
            capture(formatter, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
