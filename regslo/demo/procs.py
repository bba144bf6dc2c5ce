"""Child processes of the demo: each in its own process group, always stopped as a whole group.

A child runs in a new session (``start_new_session``), so a Ctrl-C in the terminal reaches only the demo,
which then stops the children in order (regslo first, while the registries still answer its clean-up).
``stop()`` signals the whole group (SIGCONT first, in case it was frozen, then SIGTERM, then SIGKILL),
so helpers a child may have started go too.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


class PortTaken(Exception):
    """A port the demo needs is in use; the message says which and how to choose another."""


def check_port(port: int, what: str, flag: str, host: str = "127.0.0.1") -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            reason = "is taken" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
            raise PortTaken(f"port {port} for {what} {reason} on {host}: stop what listens there "
                            f"(ss -ltnp 'sport = :{port}') or pass {flag} PORT or --port-offset N") from None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, child: "Child | None" = None) -> None:
    """Wait until ``url`` answers 200, failing early (with the child's log tail) when the child exits."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if child is not None and not child.alive():
            raise RuntimeError(f"{child.name} exited with code {child.proc.returncode if child.proc else '?'}:\n"
                               f"{child.log_tail()}")
        try:
            resp = httpx.get(url, timeout=1.0)
            if resp.status_code == 200:
                return
            last = f"HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    tail = f"\n{child.log_tail()}" if child is not None else ""
    raise RuntimeError(f"{url} not ready after {timeout:g}s ({last}){tail}")


@dataclass
class Child:
    """One external program. ``stdout``/``stderr`` go to files (``stderr`` defaults to ``stdout``)."""

    name: str
    argv: list[str]
    stdout: Path
    stderr: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def start(self) -> "Child":
        self.stdout.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.stdout, "ab")
        err = open(self.stderr, "ab") if self.stderr else None
        try:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err or subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         env=dict(os.environ, **self.env))
        finally:
            out.close()
            if err:
                err.close()
        (self.stdout.parent / f"{self.name}.pid").write_text(f"{self.proc.pid}\n")
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)  # the group id is the child's pid (new session)
        except ProcessLookupError:
            pass

    def freeze(self) -> None:
        """SIGSTOP: the port stays open, connections are accepted by the kernel, nothing answers."""
        self._signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_group(signal.SIGCONT)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        self._signal_group(signal.SIGCONT)
        self._signal_group(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        # the leader is gone or stuck; whatever is left of the group goes now
        self._signal_group(signal.SIGKILL)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.proc = None

    def log_tail(self, chars: int = 1500) -> str:
        parts = []
        for path in filter(None, (self.stdout, self.stderr)):
            try:
                parts.append(path.read_text(errors="replace")[-chars:])
            except OSError:
                pass
        return "\n".join(parts).strip()
