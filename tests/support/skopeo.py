"""``skopeo sync`` as a replicator for tests: copy a repository from one registry to another every N seconds.

This is what many operators run (a cron job or a loop around skopeo) when their registry has no replication
of its own. The loop runs in a thread; each round is one real ``skopeo sync`` process (plain HTTP on
127.0.0.1, so TLS verification is off).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass, field

SKOPEO = shutil.which("skopeo") or "/usr/bin/skopeo"


@dataclass
class SkopeoSync:
    source: str  # host:port of the source registry
    destination: str  # host:port of the destination registry
    repository: str  # e.g. regslo/probe (copied to the same name on the destination)
    every: float = 2.0
    extra: tuple[str, ...] = ()  # e.g. ("--format", "v2s2") to make skopeo rewrite manifests
    rounds: int = 0
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def argv(self) -> list[str]:
        namespace = self.repository.rsplit("/", 1)[0] if "/" in self.repository else ""
        dest = f"{self.destination}/{namespace}".rstrip("/")
        return [SKOPEO, "sync", "--src", "docker", "--dest", "docker", "--src-tls-verify=false",
                "--dest-tls-verify=false", "--keep-going", *self.extra, f"{self.source}/{self.repository}", dest]

    def once(self) -> None:
        res = subprocess.run(self.argv(), capture_output=True, text=True, timeout=60)
        self.rounds += 1
        if res.returncode != 0:
            self.failures.append(res.stderr[-500:])
            del self.failures[:-10]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.once()
            except subprocess.TimeoutExpired:
                self.failures.append("skopeo sync timed out")
            self._stop.wait(self.every)

    def start(self) -> "SkopeoSync":
        self._thread = threading.Thread(target=self._run, name="skopeo-sync", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(70)
