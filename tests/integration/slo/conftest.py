"""Fixtures for the SLO integration tests: the example config rendered once into a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from regslo.config import load_config
from regslo.outputs.generate import render, write

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
