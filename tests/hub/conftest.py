"""Fixtures of the hub stand-in: the repositories (built once, cached by what they are built
from), the server (started for the session on a free port of 127.0.0.1), and Python processes
whose HF_ENDPOINT points at it (HubPython)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED_DATA
from tests.hub.repos import build_hub, source_digest
from tests.hub.server import StandIn

# what a hub client reads from the environment and must not inherit from the test process
_HUB_VARIABLES = ("HF_", "HUGGING_FACE_", "TRANSFORMERS_", "HF_DATASETS_", "HUGGINGFACE_")


def hub_env(endpoint: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a process that talks to the stand-in: HF_ENDPOINT (127.0.0.1, so
    datasets' call to datasets-server.<host> fails at once, as it may), its own HF_HOME, no Xet,
    no telemetry, no progress bars, and no token unless `extra` sets one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_HUB_VARIABLES)}
    env.update(
        HF_ENDPOINT=endpoint,
        HF_HOME=str(home),
        HF_HUB_DISABLE_XET="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_IMPLICIT_TOKEN="1",
        HF_DATASETS_DISABLE_PROGRESS_BARS="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO)]),
    )
    env.update(extra)
    return env


class HubPython:
    """A worker process (tests/hub/worker.py) started with `env`; `run` sends it a snippet."""

    def __init__(self, env: dict[str, str], log: Path):
        self.log = log
        self._stderr = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "tests.hub.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=REPO,
            text=True,
        )

    def run(self, code: str, timeout: float = 300) -> dict:
        self.process.stdin.write(json.dumps({"code": textwrap.dedent(code)}) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise AssertionError(
                f"the hub worker gave no answer in {timeout} s; its stderr ({self.log}) ends: "
                + self.log.read_text()[-3000:]
            )
        return json.loads(line)

    def value(self, code: str, timeout: float = 300):
        """The snippet's `result`; a failing snippet fails the test with its traceback."""
        answer = self.run(code, timeout)
        if not answer["ok"]:
            raise AssertionError(f"the snippet raised {answer['error']}:\n{answer['traceback']}")
        return answer["result"]

    def error(self, code: str, timeout: float = 300) -> dict:
        """The error the snippet raised; a snippet that succeeds fails the test."""
        answer = self.run(code, timeout)
        if answer["ok"]:
            raise AssertionError(f"the snippet succeeded, returning {answer['result']!r}")
        return answer

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


@pytest.fixture(scope="session")
def hub_root(request, tmp_path_factory) -> Path:
    """The stand-in's repositories, built once for what they are built from (the builders'
    sources, config.yaml, ../shared/data, library versions) and kept in pytest's cache."""
    shared = SHARED_DATA if SHARED_DATA.exists() else None
    key = source_digest(shared)
    try:
        cache = Path(request.config.cache.mkdir("finetox-hub"))
    except AttributeError:  # the cache plugin is off: build for this session only
        cache = tmp_path_factory.mktemp("finetox-hub")
    root = cache / key
    if not (root / "manifest.json").exists():
        for stale in cache.iterdir():  # builds from older sources
            shutil.rmtree(stale, ignore_errors=True)
        building = Path(tempfile.mkdtemp(prefix=".building-", dir=cache))
        build_hub(building / "hub", shared)
        os.replace(building / "hub", root)
        shutil.rmtree(building, ignore_errors=True)
    return root


@pytest.fixture(scope="session")
def hub(hub_root):
    standin = StandIn(hub_root)
    yield standin
    standin.stop()


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf-home")


@pytest.fixture(scope="session")
def hub_python(hub, hub_home, tmp_path_factory):
    """A worker whose HF_ENDPOINT is the stand-in, with the session's HF_HOME and no token."""
    worker = HubPython(hub_env(hub.url, hub_home), tmp_path_factory.mktemp("worker") / "stderr")
    yield worker
    worker.close()
