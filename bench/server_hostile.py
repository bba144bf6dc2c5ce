"""Hostile clients against regslo's own port: memory, threads, latency and the tag-memory delete cost.

    python3 bench/server_hostile.py [--code DIR] [--body-mb 400] [--half-sent 300] [--slow 200] [--deletes 2000]

Starts ``regslo run`` (from ``--code``, default this checkout, so an older tree can be measured the same way)
with a notifications webhook and one registry on a closed port (its probes fail fast), then measures:

1. RSS before and after a POST with ``Content-Length: -1`` followed by ``--body-mb`` MB;
2. the process's thread count with ``--half-sent`` requests whose heads never end, at once and 15 s later;
3. /metrics and /-/healthy latency while ``--slow`` connections trickle a byte a second;
4. the time the webhook takes for ``--deletes`` delete events against a full tag memory (10,000 tags),
   and for the same number against a memory of 1,000 tags: their ratio shows whether a delete scans.

Prints one line per figure. Nothing is asserted; tests/integration/server holds the pass/fail checks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CT = "application/vnd.docker.distribution.events.v1+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its peak so far (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def start(code: Path, workdir: Path, tag_memory: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cfg = workdir / f"regslo-{tag_memory}.yml"
    cfg.write_text(json.dumps({
        "registries": [{"name": "r1", "url": f"http://127.0.0.1:{free_port()}"}],
        "probes": {"interval": "60s", "timeout": "2s", "enabled": ["ping"]},
        "logs": {"tag_memory": tag_memory, "sources": [{"format": "notifications", "registry": "r1"}]},
    }))
    env = dict(os.environ, PYTHONPATH=str(code))
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(cfg), "--web.listen-address",
                             f"127.0.0.1:{port}", "--log-level", "error"], env=env, cwd=str(code),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/healthy", timeout=1).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("regslo did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def negative_length(port: int, pid: int, megabytes: int) -> None:
    before = rss_mib(pid)
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /notifications/r1 HTTP/1.1\r\nHost: x\r\nContent-Type: " + CT.encode()
              + b"\r\nContent-Length: -1\r\n\r\n")
    chunk = b"[" * (1024 * 1024)
    sent = 0
    t0 = time.monotonic()
    try:
        for _ in range(megabytes):
            s.sendall(chunk)
            sent += 1
        s.shutdown(socket.SHUT_WR)
        s.settimeout(60)
        answer = s.recv(200).split(b"\r\n")[0]
    except OSError as exc:
        answer = f"connection closed by regslo after {sent} MB ({type(exc).__name__})".encode()
    s.close()
    time.sleep(0.5)
    print(f"content-length -1, {megabytes} MB body: RSS {before:.0f} MiB before, peak {rss_mib(pid, 'VmHWM'):.0f} MiB, "
          f"{time.monotonic() - t0:.1f}s, answer: {answer.decode(errors='replace')}")


def still_open(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(4096) == b"" and False  # b"": closed; data: answered (408) and closed after
    except BlockingIOError:
        return True  # nothing to read and not closed
    except OSError:
        return False


def half_sent(port: int, pid: int, n: int) -> None:
    base = threads(pid)
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    time.sleep(2)
    at_once = threads(pid)
    time.sleep(13)
    later = threads(pid)
    open_left = sum(still_open(s) for s in socks)
    for s in socks:
        s.close()
    print(f"{n} half-sent requests: threads {base} idle -> {at_once} after 2 s -> {later} after 15 s; "
          f"{open_left} of {n} connections still open after 15 s")


def slow_clients(port: int, n: int) -> None:
    stop_flag = threading.Event()
    socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]

    def trickle() -> None:
        head = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100
        for i in range(len(head)):
            if stop_flag.is_set():
                return
            for s in socks:
                try:
                    s.send(head[i:i + 1])
                except OSError:
                    pass
            time.sleep(1)

    t = threading.Thread(target=trickle, daemon=True)
    t.start()
    time.sleep(2)
    worst = 0.0
    for _ in range(10):
        for path in ("/metrics", "/-/healthy"):
            t0 = time.monotonic()
            try:
                httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30)
                worst = max(worst, time.monotonic() - t0)
            except httpx.HTTPError:
                worst = max(worst, 30.0)
        time.sleep(0.3)
    stop_flag.set()
    for s in socks:
        s.close()
    print(f"{n} slow connections: slowest /metrics or /-/healthy answer {worst * 1000:.0f} ms (20 requests)")


def post(port: int, events: list[dict]) -> None:
    r = httpx.post(f"http://127.0.0.1:{port}/notifications/r1", content=json.dumps({"events": events}),
                   headers={"Content-Type": CT}, timeout=120)
    r.raise_for_status()


def deletes(code: Path, workdir: Path, n: int) -> None:
    proc, port = start(code, workdir, 10_000)
    try:
        media = "application/vnd.oci.image.manifest.v1+json"
        pushes = [{"id": f"p{i}", "action": "push", "target": {"repository": "repo", "tag": f"t{i}",
                   "digest": f"sha256:{i:064x}", "mediaType": media}} for i in range(10_000)]
        for i in range(0, len(pushes), 500):
            post(port, pushes[i:i + 500])
        timings = {}
        for action in ("pull", "delete"):  # same envelopes; only a delete touches the tag memory
            events = [{"id": f"{action}{i}", "action": action, "target": {"repository": "other",
                       "digest": f"sha256:{i:064x}", "mediaType": media}} for i in range(n)]
            t0 = time.monotonic()
            for i in range(0, n, 100):
                post(port, events[i:i + 100])
            timings[action] = time.monotonic() - t0
    finally:
        stop(proc)
    print(f"{n} events against 10,000 remembered tags: pulls {timings['pull']:.2f}s, deletes "
          f"{timings['delete']:.2f}s (the deletes' own cost: {timings['delete'] - timings['pull']:.2f}s, "
          f"ratio {timings['delete'] / max(timings['pull'], 1e-9):.2f})")


def tag_memory_in_process(code: Path, n: int) -> None:
    """The same deletes straight against TagMemory (no HTTP), in a child running ``code``."""
    script = f"""
import time
from regslo.sources.logs.formats.notifications import TagMemory
for size in (1_000, 10_000):
    tags = TagMemory(size)
    for i in range(size):
        tags.push("r1", "repo", f"t{{i}}", f"sha256:{{i:064x}}")
    t0 = time.perf_counter()
    for i in range({n}):
        tags.delete("r1", "other", f"sha256:{{i:064x}}")
    print(f"  {n} TagMemory.delete with {{size:,}} tags remembered: {{(time.perf_counter() - t0) * 1000:.1f}} ms")
"""
    subprocess.run([sys.executable, "-c", script], env=dict(os.environ, PYTHONPATH=str(code)), cwd=str(code),
                   check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, default=ROOT)
    ap.add_argument("--body-mb", type=int, default=400)
    ap.add_argument("--half-sent", type=int, default=300)
    ap.add_argument("--slow", type=int, default=200)
    ap.add_argument("--deletes", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, port = start(args.code, work, 10_000)
        try:
            negative_length(port, proc.pid, args.body_mb)
        finally:
            stop(proc)
        proc, port = start(args.code, work, 10_000)
        try:
            half_sent(port, proc.pid, args.half_sent)
            slow_clients(port, args.slow)
        finally:
            stop(proc)
        deletes(args.code, work, args.deletes)
        tag_memory_in_process(args.code, args.deletes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
