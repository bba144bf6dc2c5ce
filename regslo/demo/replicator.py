"""A small asynchronous replicator driven by registry notifications: the demo's (and tests') second region.

Real registries replicate with Harbor replication rules, cloud geo-replication or a pull-through cache;
regslo has to measure them, not be one. This replicator exists so the demo and the tests have *real*
asynchronous replication with a known delay: the source registry posts push events to it (its
``notifications.endpoints``), and after ``delay`` seconds it copies the manifest and its blobs to each
destination with the OCI client. ``python -m regslo.demo.replicator`` runs it standalone.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from regslo.config import Registry
from regslo.oci.client import OCI_INDEX, DOCKER_LIST, RegistryClient
from regslo.oci.errors import short_message

log = logging.getLogger("regslo.demo.replicator")
MAX_ENVELOPE = 1024 * 1024  # bytes of one notifications POST (distribution sends a few KiB)
MAX_PENDING = 256  # copies waiting for their delay; more events are dropped (and counted as failed)
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}


class Replicator:
    def __init__(self, source: Registry, destinations: list[Registry], delay: float = 2.0,
                 listen: tuple[str, int] = ("127.0.0.1", 0)):
        self.source = RegistryClient(source, timeout=30)
        self.destinations = [RegistryClient(d, timeout=30) for d in destinations]
        self.delay = delay
        self.copied = 0
        self.failed = 0
        self.paused = threading.Event()  # set: events are received but not copied (a broken replicator)
        self._seen: dict[str, float] = {}
        self._pending = 0
        self._lock = threading.Lock()
        replicator = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = self.headers.get("Content-Length") or ""
                if not length.isdigit() or int(length) > MAX_ENVELOPE or self.headers.get("Transfer-Encoding"):
                    self.send_response(413 if length.isdigit() else 411)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    return
                body = self.rfile.read(int(length))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                replicator.on_envelope(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(listen, _Handler)
        self.httpd.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/events"

    def on_envelope(self, body: bytes) -> None:
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            return
        events = doc.get("events") if isinstance(doc, dict) else None
        for event in events if isinstance(events, list) else []:
            target = event.get("target") if isinstance(event, dict) else None
            if not isinstance(target, dict) or event.get("action") != "push" \
                    or target.get("mediaType") not in MANIFEST_TYPES | {OCI_INDEX, DOCKER_LIST}:
                continue
            repo, digest, tag = target.get("repository"), target.get("digest"), target.get("tag")
            if not isinstance(repo, str) or not isinstance(digest, str):
                continue
            tag = tag if isinstance(tag, str) and tag else None
            key = f"{repo}@{digest}:{tag}"
            with self._lock:
                if key in self._seen:  # the registry retries until it gets a 2xx: dedupe
                    continue
                if self._pending >= MAX_PENDING:  # one timer thread per waiting copy: keep their number bounded
                    self.failed += 1
                    log.warning("replication of %s@%s dropped: %d copies already waiting", repo[:100],
                                digest[:19], MAX_PENDING)
                    continue
                self._seen[key] = time.time()
                if len(self._seen) > 10000:
                    self._seen.pop(next(iter(self._seen)))
                self._pending += 1
            timer = threading.Timer(self.delay, self._copy, args=(repo, digest, tag))
            timer.daemon = True
            timer.start()

    def _copy(self, repo: str, digest: str, tag: str | None) -> None:
        try:
            self._copy_now(repo, digest, tag)
        finally:
            with self._lock:
                self._pending -= 1

    def _copy_now(self, repo: str, digest: str, tag: str | None) -> None:
        if self.paused.is_set():
            return
        try:
            manifest = self.source.get_manifest(repo, digest)
            doc = json.loads(manifest.body)
            blobs = [doc["config"]["digest"]] + [layer["digest"] for layer in doc.get("layers", [])]
            for dest in self.destinations:
                for blob in blobs:
                    data = self.source.read_blob(repo, blob)
                    dest.push_blob(repo, data, digest=blob)
                dest.put_manifest(repo, tag or digest, manifest.body, manifest.media_type or
                                  "application/vnd.oci.image.manifest.v1+json")
            self.copied += 1
        except Exception as exc:  # noqa: BLE001 - a replicator keeps going; the probes will see the gap
            self.failed += 1
            log.warning("replication of %s@%s failed: %s", repo, digest[:19], short_message(exc))

    def start(self) -> "Replicator":
        threading.Thread(target=self.httpd.serve_forever, name="replicator", daemon=True).start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.source.close()
        for d in self.destinations:
            d.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="copy images pushed to SOURCE to DEST after DELAY seconds")
    parser.add_argument("--source", required=True, help="source registry URL")
    parser.add_argument("--dest", action="append", required=True, help="destination registry URL (repeatable)")
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT for the notifications webhook")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s replicator: %(message)s")
    host, _, port = args.listen.rpartition(":")
    rep = Replicator(Registry("source", args.source, "source"),
                     [Registry(f"dest{i}", d, f"dest{i}") for i, d in enumerate(args.dest)],
                     delay=args.delay, listen=(host or "127.0.0.1", int(port))).start()
    print(rep.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    rep.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
