"""Run ``regslo run`` as a real process and talk to it with raw sockets (clients that misbehave on purpose)."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.registry import free_port

CT = "application/vnd.docker.distribution.events.v1+json"


@dataclass
class Running:
    proc: subprocess.Popen
    port: int
    scheme: str = "http"
    host: str = "127.0.0.1"
    stderr_text: str = ""

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status_field(self, name: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1])
        raise KeyError(name)

    def threads(self) -> int:
        return self.status_field("Threads")

    def peak_rss_mib(self) -> float:
        return self.status_field("VmHWM") / 1024

    def samples(self, **client) -> dict[tuple[str, tuple], float]:
        text = httpx.get(f"{self.base}/metrics", timeout=10, **client).text
        return parse_samples(text)


def parse_samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def write_config(path: Path, logs: dict | None = None, registries: list[dict] | None = None, **extra) -> Path:
    """A config whose one registry is a closed port (pings fail at once) unless ``registries`` is given."""
    doc: dict = {"registries": registries or [{"name": "r1", "url": f"http://127.0.0.1:{free_port()}"}],
                 "probes": {"interval": "60s", "timeout": "2s", "enabled": ["ping"]}}
    if logs is not None:
        doc["logs"] = logs
    doc.update(extra)
    path.write_text(json.dumps(doc))
    return path


@contextmanager
def regslo_run(config: Path, *flags: str, port: int | None = None, host: str = "127.0.0.1", scheme: str = "http",
               env: dict | None = None, wait_path: str = "/-/healthy", client: dict | None = None
               ) -> Iterator[Running]:
    """``regslo run`` on a free port until the block ends; then SIGTERM, and its stderr is in ``stderr_text``."""
    port = port or free_port()
    listen = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "regslo", "run", "-c", str(config), "--web.listen-address",
                             listen, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})), cwd=str(config.parent))
    running = Running(proc, port, scheme, host)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"regslo exited {proc.returncode}: {proc.stderr.read()[-3000:]}")
            try:
                httpx.get(f"{running.base}{wait_path}", timeout=2, **(client or {}))
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield running
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            _, running.stderr_text = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, running.stderr_text = proc.communicate()


def raw_request(port: int, data: bytes, timeout: float = 10, host: str = "127.0.0.1") -> bytes:
    """Send ``data`` on a fresh connection; return everything the server sends until it closes or goes quiet."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (socket.timeout, ConnectionResetError):
            pass
        return b"".join(chunks)


def status_of(answer: bytes) -> int:
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 else 0


def closed_by_peer(s: socket.socket, within: float) -> bool:
    """True if the server closes ``s`` (after at most one answer) within ``within`` seconds."""
    s.settimeout(within)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            if s.recv(65536) == b"":
                return True
    except (socket.timeout, BlockingIOError):
        return False
    except OSError:
        return True
    return False


def tls_client(ca_file: Path, cert: tuple[Path, Path] | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca_file))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    return ctx
