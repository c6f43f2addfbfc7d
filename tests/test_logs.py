"""Clean logs: a clean demo run prints no line that looks like a failure, and the library notices
finetox.logs silences are silenced by their exact message only."""

from __future__ import annotations

import logging
import os
import re
import sys
import warnings

import pytest

from finetox.logs import LIBRARY_WARNINGS, quiet_libraries
from tests.conftest import DEMO_RUN_OUTPUT

LOOKS_FAILED = re.compile(r"error|traceback|failed", re.IGNORECASE)
# the notices the issue named, which do not all say "error" or "failed"
NOTICES = re.compile(r"not installed|pip install|FutureWarning|DeprecationWarning")


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def records():
    handler = Records()
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO
    yield handler.messages
    root.removeHandler(handler)
    root.level = level


def test_library_log_notices_are_dropped_by_their_message_only(records):
    quiet_libraries()
    bnb = logging.getLogger("bitsandbytes.backends.cpu.ops")
    # as bitsandbytes 0.50 logs it at import, on a CPU with AVX512-BF16 and without `kernels`
    bnb.warning(
        "Failed to load CPU gemm_4bit_forward from kernels-community: %s. Please make sure you "
        "already `pip install kernels` and the kernels >= 0.11.1",
        ModuleNotFoundError("No module named 'kernels'"),
    )
    bnb.warning("another bitsandbytes warning")
    preview = logging.getLogger("arviz.preview")
    for package in ("arviz_base", "arviz_stats", "arviz_plots"):
        preview.info("%s not installed", package)
    preview.info("arviz_base available, exposing its functions as part of arviz.preview")
    preview.warning("Unable to import arviz_stats")
    assert records == ["another bitsandbytes warning", "Unable to import arviz_stats"]


@pytest.mark.parametrize(
    ("category", "message", "module"),
    [
        (FutureWarning, "\nArviZ is undergoing a major refactor to improve flexibility", "arviz"),
        (UserWarning, "PyTensor could not link to a BLAS installation.", "pytensor.link.c.cmodule"),
        (
            FutureWarning,
            "`is_gradient_checkpointing` is deprecated and will be removed in v6. Use "
            "`is_activation_checkpointing` instead.",
            "transformers.modeling_utils",
        ),
        (
            DeprecationWarning,
            "`torch.jit.script_method` is deprecated. Please switch to `torch.compile` or "
            "`torch.export`.",
            "torch.jit._script",
        ),
    ],
    ids=["arviz-refactor", "pytensor-blas", "is_gradient_checkpointing", "torch.jit"],
)
def test_library_warnings_are_ignored_where_the_library_issues_them(category, message, module):
    assert any(category is c and re.match(m, message, re.I) for c, m, _ in LIBRARY_WARNINGS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_libraries()
        warnings.warn_explicit(message, category, f"{module}.py", 1, module=module, registry={})
        assert caught == []
        # the same words from our own code still show
        warnings.warn_explicit(message, category, "ours.py", 1, module="finetox.x", registry={})
        assert [str(w.message) for w in caught] == [message]


@pytest.mark.slow
def test_a_clean_demo_run_logs_no_line_that_looks_like_a_failure(demo_run):
    """Every log of the demo (the jobs' logs, Snakemake's log file and its terminal output)."""
    logs = sorted(demo_run.rglob("*.log")) + [demo_run.parent / DEMO_RUN_OUTPUT]
    job_logs = [log for log in logs if ".snakemake" not in log.parts and log.suffix == ".log"]
    assert len(job_logs) >= 20, job_logs  # one per job of the demo
    bad = [
        f"{log.relative_to(demo_run.parent)}:{number}: {line.strip()[:240]}"
        for log in logs
        for number, line in enumerate(log.read_text(errors="replace").splitlines(), 1)
        if LOOKS_FAILED.search(line) or NOTICES.search(line)
    ]
    assert not bad, "lines that look like a failure:\n" + "\n".join(bad)


# A hook that makes bitsandbytes believe the CPU has AVX512-BF16, as a fresh machine's CPU did:
# it then looks for the optional `kernels` package at import and logs its notice.
AVX512_BF16 = """
import importlib.abc, importlib.machinery, sys

class AVX512BF16(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "bitsandbytes.functional":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            module.has_avx512bf16 = lambda: True

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, AVX512BF16())
"""


def test_setup_checks_its_imports_without_the_bitsandbytes_notice(tmp_path, repo):
    import shlex
    import subprocess

    (tmp_path / "sitecustomize.py").write_text(AVX512_BF16)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(repo / "src")])}
    (line,) = [
        line
        for line in (repo / "setup.sh").read_text().splitlines()
        if line.startswith(".venv/bin/python ") and "import finetox" in line
    ]
    check = [sys.executable, *shlex.split(line)[1:]]
    bare = subprocess.run([sys.executable, "-c", "import bitsandbytes"], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert "Failed to load CPU gemm_4bit_forward from kernels-community" in bare.stderr
    done = subprocess.run(check, env=env, capture_output=True, text=True, cwd=repo)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
