"""Fixtures for the SLO integration tests: the example config rendered once into a temporary directory."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from regslo.config import load_config
from regslo.outputs.generate import render, write
from tests.support.registry import free_port, wait_port

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "regslo.yml"


@pytest.fixture(scope="session")
def example_config():
    return load_config(EXAMPLE, check_secrets=False)


@pytest.fixture(scope="session")
def example_files(example_config) -> dict[str, str]:
    return render(example_config)


@pytest.fixture(scope="session")
def generated(tmp_path_factory, example_files) -> Path:
    out = tmp_path_factory.mktemp("generated")
    write(example_files, out)
    return out


@contextmanager
def serve(argv: list[str], listen_flag: str = "--web.listen-address") -> Iterator[str]:
    """Run a server binary on a free 127.0.0.1 port; yield its base URL; stop it (kill after 10 s)."""
    port = free_port()
    proc = subprocess.Popen([*argv, f"{listen_flag}=127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
