"""Shared fixtures: the repository root, People's Daily as word lists (read through the data
cache, SEQLAB_DATA or ~/.cache/seqlab) and a float64 default dtype for one test; and the off-screen
matplotlib backend for this process."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def pd_words():
    """People's Daily as Traditional word lists (cached under SEQLAB_DATA after the first load)."""
    from seqlab.data import peoples_daily_words

    return peoples_daily_words()


@pytest.fixture
def float64():
    """Run a test in float64 (comparisons against torch's modules at tight tolerances), then restore."""
    import torch

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def pytest_configure(config):
    # Draw off-screen in this process only: an MPLBACKEND variable would leak into the notebook
    # kernels of the book build and replace their inline backend (no plots on the site).
    import matplotlib

    matplotlib.use("Agg")
