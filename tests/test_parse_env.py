"""The Snakefile parses and plans in an environment that has only snakemake, as a user of
`--sdm conda` or snakedeploy has before any job's environment exists: finetox is found in the
checkout (src/), and what it imports while parsing needs only the standard library and
snakemake's own dependencies (PyYAML, jsonschema), never pandas, numpy, torch or transformers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_workflow import DEMO_JOBS, PAPER_JOBS
from tests.workflow_runs import copy_checkout, failure, planned

pytestmark = pytest.mark.slow

HEAVY = ("pandas", "numpy", "torch", "transformers", "matplotlib", "pyarrow")


def snakemake_pin() -> str:
    """The snakemake requirement of pyproject.toml (snakemake==X.Y.Z)."""
    text = (REPO / "pyproject.toml").read_text()
    return re.search(r'"(snakemake==[^"]+)"', text).group(1)


@pytest.fixture(scope="session")
def snakemake_only(tmp_path_factory) -> Path:
    """A virtual environment with only snakemake (and its dependencies) from PyPI, once per
    session; its bin folder."""
    venv = tmp_path_factory.mktemp("snakemake-only") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", snakemake_pin()],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        pytest.fail(f"pip install {snakemake_pin()} failed: {failure(install)}", pytrace=False)
    return venv / "bin"


def run_in(bin_dir: Path, root: Path, *args: str) -> subprocess.CompletedProcess:
    """A command of that environment in `root`, with nothing of ours on the paths."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin"
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    return copy_checkout(tmp_path_factory.mktemp("parse-env") / "finetox")


def test_the_environment_has_snakemake_and_none_of_our_heavy_modules(snakemake_only, checkout):
    for module in ("finetox", *HEAVY):
        result = run_in(snakemake_only, checkout, "python", "-c", f"import {module}")
        assert result.returncode != 0, f"{module} is importable in the snakemake-only venv"
    assert run_in(snakemake_only, checkout, "snakemake", "--version").returncode == 0


@pytest.mark.parametrize(
    ("args", "jobs"),
    [(("--configfile=config/demo.yaml",), DEMO_JOBS), ((), PAPER_JOBS)],
    ids=["demo", "paper"],
)
def test_the_workflow_plans_with_only_snakemake(snakemake_only, checkout, args, jobs):
    result = run_in(snakemake_only, checkout, "snakemake", "-n", *args)
    assert result.returncode == 0, failure(result)
    counts = planned(result.stdout + result.stderr)
    assert {rule: counts[rule] for rule in jobs} == jobs, counts
    assert counts["write_tables"] == counts["plot_figures"] == counts["reproduce"] == 1
