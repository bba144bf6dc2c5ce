"""Image inspector: webhook latency with 10,000 pushes queued, and inspection throughput on a local registry.

    python3 bench/inspector.py [--queued 10000] [--images 200]

1. Webhook latency. regslo's real HTTP server and notifications webhook (in-process ``Service``) receive
   ``--queued`` manifest push events for a selected repository (100 per envelope, as a busy registry batches
   nothing: each POST is one envelope). With the inspector on and a 1 h delay every push stays queued; then
   500 more envelopes are POSTed one at a time and timed, and 2000 more go to the handler directly (no HTTP,
   so the inspector's share of the work is not hidden by the TCP round trip). Anchor, in the same run: the same server without an
   ``inspect:`` section. Prints p50/p99 of both and their ratio.
2. Throughput. A real docker-registry holds ``--images`` images in prod/, each with a cosign-style ``.sig``;
   the inspector (delay 0, no rate limit) reads them all: images per minute. Anchor: one manifest GET per
   image with the same client (what a trivial reader costs), so the ratio says how many plain reads one
   inspection is worth.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry  # noqa: E402

from regslo.config import Registry, parse_config  # noqa: E402
from regslo.oci.client import RegistryClient  # noqa: E402
from regslo.service import Service  # noqa: E402
from regslo.sources.inspect.inspector import Inspector, Push  # noqa: E402
from tests.support.artifacts import attach_cosign_signature, push_image  # noqa: E402
from tests.support.registry import free_port, start_registry  # noqa: E402

CTYPE = {"Content-Type": "application/vnd.docker.distribution.events.v1+json"}


def _envelope(n: int) -> bytes:
    events = [{"id": str(uuid.uuid4()), "timestamp": "2026-11-29T00:00:00Z", "action": "push",
               "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 500,
                          "digest": "sha256:" + uuid.uuid4().hex * 2, "repository": "prod/app", "tag": f"v{i}"},
               "request": {"useragent": "docker/24.0"}} for i in range(n)]
    return json.dumps({"events": events}).encode()


def webhook(queued: int, inspect: bool) -> tuple[list[float], list[float]]:
    port = free_port()
    doc = {"registries": [{"name": "r1", "url": "http://127.0.0.1:1"}],
           "probes": {"interval": "1h", "timeout": "1s", "enabled": ["ping"]},
           "logs": {"sources": [{"format": "notifications", "registry": "r1"}], "event_id_memory": 200_000},
           "server": {"listen_address": f"127.0.0.1:{port}"}}
    if inspect:
        doc["inspect"] = {"repositories": ["prod/**"], "delay": "1h", "queue_size": queued + 10_000}
    service = Service(parse_config(yaml.safe_dump(doc)))
    service.server.start()  # the webhook only: no probes, nothing else competing
    times = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            for _ in range(queued // 100):
                assert c.post("/notifications/r1", content=_envelope(100), headers=CTYPE).status_code == 200
            if inspect:
                assert len(service.inspector._queue) >= queued, len(service.inspector._queue)
            for _ in range(500):
                body = _envelope(1)
                t = time.perf_counter()
                assert c.post("/notifications/r1", content=body, headers=CTYPE).status_code == 200
                times.append(time.perf_counter() - t)
        handler = []  # the webhook's own work, without HTTP (the TCP round trip hides microseconds)
        for _ in range(2000):
            body = _envelope(1)
            t = time.perf_counter()
            assert service.logs.handle_notification(body, CTYPE, "r1")[0] == 200
            handler.append(time.perf_counter() - t)
    finally:
        service.server.stop()
    return times, handler


def throughput(n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        reg = start_registry(Path(tmp), "bench")
        try:
            client = RegistryClient(Registry("bench", reg.url, "bench"))
            images = []
            for i in range(n):
                img = push_image(client, f"prod/app{i % 10}", f"v{i}", (1000, 2000))
                attach_cosign_signature(client, img, f"{reg.url}/prod/app{i % 10}")
                images.append(img)
            t = time.perf_counter()
            for img in images:
                client.get_manifest(img.repository, img.digest)
            anchor = time.perf_counter() - t
            cfg = parse_config(yaml.safe_dump({
                "registries": [{"name": "bench", "url": reg.url}],
                "logs": {"sources": [{"format": "notifications", "registry": "bench"}]},
                "inspect": {"repositories": ["prod/**"], "delay": "0s", "max_per_minute": 600_000}}))
            inspector = Inspector(cfg, CollectorRegistry())
            t = time.perf_counter()
            for i, img in enumerate(images):
                result = inspector.inspect_one(Push("bench", img.repository, img.digest, f"v{i}", 0.0))
                assert result is not None and "signature" in result.kinds
            elapsed = time.perf_counter() - t
            inspector.stop()
            client.close()
        finally:
            reg.stop()
    return elapsed, anchor


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queued", type=int, default=10_000)
    ap.add_argument("--images", type=int, default=200)
    args = ap.parse_args()
    base, base_handler = webhook(args.queued, inspect=False)
    with_queue, queue_handler = webhook(args.queued, inspect=True)

    def q(xs: list[float], p: float) -> float:
        return statistics.quantiles(xs, n=100)[int(p) - 1] * 1000

    print(f"webhook latency, {args.queued} pushes queued in the inspector vs no inspector (500 POSTs each):")
    for p in (50, 99):
        print(f"  p{p}: {q(with_queue, p):.2f} ms vs {q(base, p):.2f} ms  ratio {q(with_queue, p) / q(base, p):.2f}")
    print("handler alone (LogService.handle_notification, 2000 one-event envelopes):")
    for p in (50, 99):
        print(f"  p{p}: {q(queue_handler, p) * 1000:.1f} us vs {q(base_handler, p) * 1000:.1f} us  "
              f"ratio {q(queue_handler, p) / q(base_handler, p):.2f}")
    elapsed, anchor = throughput(args.images)
    per_min = args.images / elapsed * 60
    print(f"inspector throughput: {args.images} images (each with a .sig) in {elapsed:.2f} s = {per_min:,.0f} images/min"
          f" (one thread, delay 0, no rate limit)")
    print(f"  anchor: one manifest GET per image {anchor:.2f} s = {args.images / anchor * 60:,.0f}/min;"
          f" one inspection costs {elapsed / anchor:.1f} plain manifest reads")


if __name__ == "__main__":
    main()
