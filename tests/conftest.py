"""Shared test fixtures: repository paths, the real data samples, GPU skipping."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Real samples of RTP, CEB and Dolly, beside the checkout (../shared/data) in CI and here.
SHARED_DATA = Path(os.environ.get("FINETOX_SHARED_DATA", REPO.parent / "shared" / "data"))
# the demo run's Snakemake output, beside its copy of the checkout (demo_run)
DEMO_RUN_OUTPUT = "snakemake-output.txt"


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
def demo_run(tmp_path_factory) -> Path:
    """The whole demo run once, locally (`snakemake --cores 2 --configfile config/demo.yaml`), in
    a temporary copy of the checkout; its root. Shared by every test that needs finished demo
    outputs: read it, or copy it (shutil.copytree keeps mtimes) before changing anything.
    Snakemake's own output (stdout, then stderr) lies beside the copy: DEMO_RUN_OUTPUT."""
    from tests.workflow_runs import copy_checkout, failure, snakemake

    root = copy_checkout(tmp_path_factory.mktemp("demo-run") / "finetox")
    result = snakemake(root, "--cores", "2", "--configfile", "config/demo.yaml")
    (root.parent / DEMO_RUN_OUTPUT).write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        pytest.fail(f"the demo run failed in {root}: {failure(result)}", pytrace=False)
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"the real data samples are missing: {SHARED_DATA} (set FINETOX_SHARED_DATA)")
    return SHARED_DATA


@contextlib.contextmanager
def single_thread():
    """Tiny models run fastest on one thread, above all on a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_thread():
    """single_thread for a whole module: `pytestmark = pytest.mark.usefixtures("one_thread")`."""
    with single_thread():
        yield
