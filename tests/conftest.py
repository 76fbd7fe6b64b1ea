"""Shared fixtures: paths into the project's own sample_data/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def sample() -> Path:
    """The project's sample_data/ directory."""
    return SAMPLE
