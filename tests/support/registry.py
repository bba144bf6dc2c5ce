"""Start and stop real ``docker-registry`` (distribution 2.8) processes for tests.

Each ``RegistryProcess`` gets its own free port on 127.0.0.1, its own storage directory and its own log
files (stdout = combined access log, stderr = logrus json or text). Several processes are several regions.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

REGISTRY_BIN = shutil.which("docker-registry") or "/usr/bin/docker-registry"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


@dataclass
class RegistryProcess:
    """One registry. Build with ``start_registry``; use ``url``, ``storage``, ``stop()``, ``restart()``."""

    name: str
    workdir: Path
    port: int
    config: dict[str, Any]
    scheme: str = "http"
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def storage(self) -> Path:
        return Path(self.config["storage"]["filesystem"]["rootdirectory"])

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.yml"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    @property
    def app_log(self) -> Path:
        return self.workdir / "app.log"

    def start(self, wait: bool = True) -> "RegistryProcess":
        self.config_path.write_text(yaml.safe_dump(self.config))
        out = open(self.access_log, "ab")
        err = open(self.app_log, "ab")
        env = dict(os.environ, **self.env)
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", str(self.config_path)], stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL, env=env)
        out.close()
        err.close()
        if wait:
            try:
                wait_port(self.port)
            except TimeoutError:
                self.stop()
                raise RuntimeError(f"registry {self.name} did not start: {self.app_log.read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """SIGSTOP: the port stays open (the kernel accepts connections) but nothing answers."""
        assert self.proc
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)

    def storage_bytes(self) -> int:
        total = 0
        for root, _dirs, files in os.walk(self.storage):
            for f in files:
                try:
                    total += os.path.getsize(os.path.join(root, f))
                except OSError:
                    pass
        return total

    def garbage_collect(self) -> str:
        """Run ``docker-registry garbage-collect`` (the registry should be stopped or read-only meanwhile)."""
        res = subprocess.run([REGISTRY_BIN, "garbage-collect", "--delete-untagged", str(self.config_path)],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"garbage-collect failed: {res.stderr[-2000:]}")
        return res.stdout


def registry_config(workdir: Path, port: int, *, name: str = "r1", formatter: str = "json",
                    htpasswd: Path | None = None, token: dict | None = None,
                    tls: tuple[Path, Path] | None = None, notify_url: str | None = None,
                    notify_headers: dict[str, list[str]] | None = None,
                    delete: bool = True, proxy_remote: str | None = None) -> dict[str, Any]:
    storage = workdir / "data"
    storage.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "formatter": formatter, "fields": {"service": "registry", "region": name},
                "accesslog": {"disabled": False}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": delete},
                    "maintenance": {"uploadpurging": {"enabled": False}}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": f"regslo-test-secret-{name}"},
    }
    if htpasswd:
        cfg["auth"] = {"htpasswd": {"realm": "regslo-test", "path": str(htpasswd)}}
    if token:
        cfg["auth"] = {"token": token}
    if tls:
        cfg["http"]["tls"] = {"certificate": str(tls[0]), "key": str(tls[1])}
    if notify_url:
        cfg["notifications"] = {"events": {"includereferences": True}, "endpoints": [
            {"name": "regslo", "url": notify_url, "timeout": "1s", "threshold": 5, "backoff": "1s",
             **({"headers": notify_headers} if notify_headers else {})}]}
    if proxy_remote:
        cfg["proxy"] = {"remoteurl": proxy_remote}
    return cfg


def start_registry(base: Path, name: str = "r1", **kwargs: Any) -> RegistryProcess:
    workdir = base / name
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cfg = registry_config(workdir, port, name=name, **kwargs)
    scheme = "https" if kwargs.get("tls") else "http"
    return RegistryProcess(name=name, workdir=workdir, port=port, config=cfg, scheme=scheme).start()


def make_htpasswd(path: Path, user: str, password: str) -> Path:
    subprocess.run(["htpasswd", "-Bbc", str(path), user, password], check=True, capture_output=True)
    return path


def wait_ready(url: str, timeout: float = 10.0, verify: Any = True) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/v2/", timeout=1.0, verify=verify)
            return
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.05)
    raise TimeoutError(f"{url} not ready: {last}")
