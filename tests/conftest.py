"""Shared test fixtures: repository paths, the real data samples, GPU skipping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Real samples of RTP, CEB and Dolly, beside the checkout (../shared/data) in CI and here.
SHARED_DATA = Path(os.environ.get("FINETOX_SHARED_DATA", REPO.parent / "shared" / "data"))


def pytest_collection_modifyitems(config, items):
    """GPU tests skip cleanly where CUDA is missing."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"the real data samples are missing: {SHARED_DATA} (set FINETOX_SHARED_DATA)")
    return SHARED_DATA
