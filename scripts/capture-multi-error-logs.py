"""Capture real distribution logs with multi-error responses into tests/data/distribution-2.8/.

    PYTHONPATH=$PWD python3 scripts/capture-multi-error-logs.py [OUTDIR]

Starts a real ``docker-registry`` once with the json formatter and once with the text formatter (its
stdout is the combined access log, its stderr the application log), sends known traffic including
requests whose error response carries several ``errors[]`` entries (a manifest PUT referencing blobs
that were never uploaded, an image index referencing unknown manifests) and path segments that are not
digests, and writes per run:

    r5-<formatter>-access.stdout.log   the access log (one line per request: the ground truth)
    r5-<formatter>.stderr.log          the application log
    r5-<formatter>-mixed.log           both streams interleaved as they arrived (like ``docker logs``)

Run by hand when the sample data needs refreshing; tests only read the files it wrote.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.registry import REGISTRY_BIN, free_port, registry_config, wait_port  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def manifest(config: str, layers: list[str]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": OCI_CONFIG, "digest": config, "size": 10},
                       "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": 10} for d in layers]}).encode()


def traffic(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as c:
        def push_blob(repo: str, data: bytes) -> str:
            r = c.post(f"/v2/{repo}/blobs/uploads/")
            assert r.status_code == 202, r.text
            loc = httpx.URL(r.headers["Location"]).raw_path.decode()
            r = c.put(f"{loc}{'&' if '?' in loc else '?'}digest={digest(data)}", content=data,
                      headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 201, r.text
            return digest(data)

        assert c.get("/v2/").status_code == 200
        cfg = push_blob("team/app", b'{"architecture":"amd64","os":"linux"}')
        layer = push_blob("team/app", b"layer-one")
        good = manifest(cfg, [layer])
        assert c.put("/v2/team/app/manifests/v1", content=good, headers={"Content-Type": OCI_MANIFEST}).status_code == 201
        assert c.get("/v2/team/app/manifests/v1", headers={"Accept": OCI_MANIFEST}).status_code == 200
        assert c.get(f"/v2/team/app/blobs/{layer}").status_code == 200
        missing = [digest(b"never-uploaded-%d" % i) for i in range(3)]
        # two blobs never uploaded: one response, two errors[] entries
        r = c.put("/v2/team/app/manifests/two-missing", content=manifest(missing[0], [missing[1]]),
                  headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400 and len(r.json()["errors"]) == 2, r.text
        # three never uploaded
        r = c.put("/v2/team/app/manifests/three-missing", content=manifest(missing[0], missing[1:3]),
                  headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400 and len(r.json()["errors"]) == 3, r.text
        # config present, two layers missing, twice in a row (same URI, different request ids)
        for _ in range(2):
            r = c.put("/v2/team/app/manifests/layers-missing", content=manifest(cfg, missing[1:3]),
                      headers={"Content-Type": OCI_MANIFEST})
            assert r.status_code == 400 and len(r.json()["errors"]) == 2, r.text
        # one missing: a single error line
        r = c.put("/v2/team/app/manifests/one-missing", content=manifest(cfg, [missing[0]]),
                  headers={"Content-Type": OCI_MANIFEST})
        assert r.status_code == 400 and len(r.json()["errors"]) == 1, r.text
        # an image index naming two manifests the registry does not have
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": missing[0], "size": 10,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": missing[1], "size": 10,
             "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()
        r = c.put("/v2/team/app/manifests/index-missing", content=index, headers={"Content-Type": OCI_INDEX})
        assert r.status_code == 400, r.text
        # segments that are not digests, and tags / digests that do not exist
        for path in ("/v2/team/app/blobs/notadigest", "/v2/team/app/blobs/sha256:zz",
                     "/v2/team/app/manifests/nope", f"/v2/team/app/manifests/{missing[2]}",
                     f"/v2/team/app/blobs/{missing[2]}"):
            c.get(path)
        c.head("/v2/team/app/blobs/notadigest")
        assert c.get("/v2/team/app/tags/list").status_code == 200
        assert c.get("/v2/_catalog").status_code == 200


def capture(out: Path, formatter: str) -> None:
    with tempfile.TemporaryDirectory(prefix="regslo-capture-") as tmp:
        work = Path(tmp)
        port = free_port()
        cfg = registry_config(work, port, name="r5", formatter=formatter)
        (work / "config.yml").write_text(yaml.safe_dump(cfg))
        stem = f"r5-{formatter}"
        files = {"access": open(out / f"{stem}-access.stdout.log", "wb"),
                 "app": open(out / f"{stem}.stderr.log", "wb"), "mixed": open(out / f"{stem}-mixed.log", "wb")}
        lock = threading.Lock()
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(work / "config.yml")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)

        def pump(stream, own):
            for line in stream:
                with lock:
                    own.write(line)
                    files["mixed"].write(line)

        pumps = [threading.Thread(target=pump, args=(proc.stdout, files["access"])),
                 threading.Thread(target=pump, args=(proc.stderr, files["app"]))]
        for t in pumps:
            t.start()
        try:
            wait_port(port)
            traffic(f"http://127.0.0.1:{port}")
            time.sleep(0.5)
        finally:
            proc.terminate()
            proc.wait(10)
            for t in pumps:
                t.join(10)
            for f in files.values():
                f.close()
        # the test data must not name this machine's temporary paths
        for f in files.values():
            path = Path(f.name)
            path.write_bytes(path.read_bytes().replace(str(work).encode(), b"/var/lib/registry"))


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "tests/data/distribution-2.8"
    for formatter in ("json", "text"):
        capture(out, formatter)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
