"""Running the workflow in a temporary copy of the checkout, and comparing what two runs wrote."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# config/demo.yaml's results_dir: every output of a demo run, its logs included, lies below it
DEMO_RESULTS = "results/demo"
# never copied: the environment and what a run writes, at the top of the checkout (src/finetox
# has a results package of its own), and caches anywhere
NOT_COPIED_AT_TOP = (".git", ".venv", "results", "logs", ".snakemake")
NOT_COPIED = (".pytest_cache", ".ruff_cache", "__pycache__")
# written by a run, but not data: timings, figures, the report, run logs
NOT_COMPARED_DIRS = ("benchmarks",)
# the tuning runs' checkpoints (kept for their trajectory points): resumable work, with pickled
# optimizer and RNG states, not results; the adapters made from them are compared
NOT_COMPARED_PARTS = (".checkpoints",)
NOT_COMPARED_SUFFIXES = (".png", ".pdf", ".svg", ".html", ".log")


def checkout_files(repo: Path = REPO) -> list[str]:
    """The files git sees in the working tree: tracked and new ones, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name]


def _not_copied(repo: Path):
    caches = shutil.ignore_patterns(*NOT_COPIED)

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = set(NOT_COPIED_AT_TOP) if Path(folder) == repo else set()
        return top.intersection(names) | set(caches(folder, names))

    return ignore


def copy_checkout(dest: Path, repo: Path = REPO) -> Path:
    """A copy of the checkout as CI would see it, without results, logs or the environment."""
    try:
        names = checkout_files(repo)
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: copy the tree
        shutil.copytree(repo, dest, symlinks=True, ignore=_not_copied(repo))
        return dest
    for name in names:
        source, target = repo / name, dest / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the working tree, not yet in git
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            target.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, target)
    return dest


def snakemake(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 3600
) -> subprocess.CompletedProcess:
    """Snakemake of this environment, in `root`; the caller checks the return code."""
    env = dict(env or os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        [str(BIN / "snakemake"), *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def failure(result: subprocess.CompletedProcess, lines: int = 80) -> str:
    output = (result.stdout + result.stderr).strip().splitlines()
    return f"exit {result.returncode}; last lines:\n" + "\n".join(output[-lines:])


RULE_BLOCK = re.compile(r"^(local)?rule (\w+):\n((?:    .*\n)+)", re.MULTILINE)
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\d+) ", re.MULTILINE)


@dataclass
class Job:
    rule: str
    local: bool
    gpu: bool
    outputs: list[str] = field(default_factory=list)
    resources: str = ""
    reason: str = ""
    slurm_id: int | None = None


def jobs_of(output: str) -> dict[int, Job]:
    """Snakemake job id -> what a run's or a dry run's output says about the job."""
    jobs = {}
    for local, rule, body in RULE_BLOCK.findall(output):
        jobid = int(re.search(r"^    jobid: (\d+)$", body, re.MULTILINE).group(1))
        resources = re.search(r"^    resources: (.*)$", body, re.MULTILINE)
        outputs = re.search(r"^    output: (.*)$", body, re.MULTILINE)
        reason = re.search(r"^    reason: (.*)$", body, re.MULTILINE)
        jobs[jobid] = Job(
            rule=rule,
            local=bool(local),
            gpu=bool(resources and re.search(r"\bgpu=[1-9]", resources.group(1))),
            outputs=outputs.group(1).split(", ") if outputs else [],
            resources=resources.group(1) if resources else "",
            reason=reason.group(1) if reason else "",
        )
    for jobid, slurm_id in SUBMITTED.findall(output):
        jobs[int(jobid)].slurm_id = int(slurm_id)
    return jobs


def planned(output: str) -> Counter:
    """The first 'Job stats' table of a run's output: rule -> number of jobs."""
    table = output.split("Job stats:", 1)[1].split("\n\n", 1)[0]
    counts = Counter()
    for line in table.splitlines():
        match = re.match(r"^(\S+)\s+(\d+)$", line.strip())
        if match and match.group(1) != "total":
            counts[match.group(1)] = int(match.group(2))
    return counts


def data_files(results: Path) -> list[str]:
    """Data outputs under results/, relative paths: no timings, figures, report or logs."""
    files = []
    for path in sorted(results.rglob("*")):
        relative = path.relative_to(results)
        if not path.is_file() or relative.parts[0] in NOT_COMPARED_DIRS:
            continue
        if any(part in NOT_COMPARED_PARTS for part in relative.parts):
            continue
        if path.suffix in NOT_COMPARED_SUFFIXES:
            continue
        files.append(relative.as_posix())
    return files


# in JSON records: when and how fast a job ran, not what it made
RUN_KEYS = re.compile(r"^created$|_s$|seconds|runtime|per_second")
# peft writes this set in hash order, which differs between processes
UNORDERED_KEYS = {"target_modules"}


def comparable(value):
    """A JSON value without its run timings, sets in a fixed order."""
    if isinstance(value, dict):
        return {
            key: sorted(item)
            if key in UNORDERED_KEYS and isinstance(item, list)
            else comparable(item)
            for key, item in value.items()
            if not RUN_KEYS.search(key)
        }
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def difference(a: Path, b: Path) -> str | None:
    """None when the two files hold the same data, else what differs."""
    if a.read_bytes() == b.read_bytes():
        return None
    if a.suffix == ".parquet":
        import pandas as pd
        import pyarrow.parquet as pq

        left, right = pd.read_parquet(a), pd.read_parquet(b)
        try:
            pd.testing.assert_frame_equal(left, right)
        except AssertionError as error:
            return f"frames differ: {error}"
        if pq.read_schema(a).metadata != pq.read_schema(b).metadata:
            return "frames equal, Parquet metadata differs"
        return None
    if a.suffix in (".csv", ".tsv"):
        import pandas as pd

        sep = "\t" if a.suffix == ".tsv" else ","
        try:
            pd.testing.assert_frame_equal(pd.read_csv(a, sep=sep), pd.read_csv(b, sep=sep))
        except AssertionError as error:
            return f"tables differ: {error}"
        return None
    if a.suffix == ".json":
        left, right = (comparable(json.loads(path.read_text())) for path in (a, b))
        return None if left == right else "JSON differs"
    if a.suffix == ".nc":
        import xarray as xr

        with xr.open_datatree(a) as left, xr.open_datatree(b) as right:
            return None if left.identical(right) else "netCDF groups differ"
    if a.suffix == ".safetensors":
        from safetensors.torch import load_file

        left, right = load_file(a), load_file(b)
        if left.keys() != right.keys():
            return "tensor names differ"
        unequal = [name for name in left if not left[name].equal(right[name])]
        return f"tensors differ: {', '.join(unequal[:5])}" if unequal else None
    return "bytes differ"
