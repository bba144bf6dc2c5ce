"""Shared fixtures: real registries on free loopback ports, stopped after each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.registry import RegistryProcess, start_registry

# Logs, notification events and configs captured from a real distribution 2.8 registry (see tests/data/README.md).
SAMPLES = Path(__file__).resolve().parent / "data" / "distribution-2.8"


def require(binary: str) -> str:
    """Return the binary's path or fail the test: CI installs every tool the tests use."""
    path = shutil.which(binary)
    if not path:
        pytest.fail(f"{binary} is not installed; run .ci/run (it installs the test dependencies)")
    return path


@pytest.fixture
def registries(tmp_path):
    """Factory: ``registries("us", "eu", htpasswd=...)`` starts one process per name, all stopped at teardown."""
    started: list[RegistryProcess] = []

    def make(*names: str, **kwargs) -> list[RegistryProcess]:
        require("docker-registry")
        out = []
        for name in names:
            reg = start_registry(tmp_path / "registries", name, **kwargs)
            started.append(reg)
            out.append(reg)
        return out

    yield make
    for reg in started:
        reg.stop()


@pytest.fixture
def registry(registries) -> RegistryProcess:
    return registries("r1")[0]


@pytest.fixture
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"samples not found at {SAMPLES}: the repository checkout is incomplete")
    return SAMPLES


@pytest.fixture
def hostile():
    """Factory: ``hostile()`` (or ``hostile(tls=(cert, key))``) starts a scriptable misbehaving HTTP server
    (tests/support/hostile.py); all are stopped at teardown."""
    from tests.support.hostile import HostileServer

    started = []

    def make(**kwargs):
        srv = HostileServer(**kwargs).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()
