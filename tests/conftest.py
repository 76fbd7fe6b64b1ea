"""Shared fixtures: paths into the project's own sample_data/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def sample() -> Path:
    """The project's sample_data/ directory."""
    return SAMPLE


@pytest.fixture(scope="session")
def nameserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``127.0.0.1:PORT`` of a real dnsmasq serving the test zone in tests/dnsserver.py."""
    from tests.dnsserver import dnsmasq

    try:
        server = dnsmasq(tmp_path_factory.mktemp("dns"))
        address = server.__enter__()
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("dnsmasq is not installed (make system-deps installs it)")
    try:
        yield address
    finally:
        server.__exit__(None, None, None)
