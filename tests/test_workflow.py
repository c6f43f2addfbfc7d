"""The workflow as a user meets it: lint, formatting, dry-run plans, bad configs, the prompt stage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from finetox.io import file_sha256
from tests.conftest import REPO

BIN = Path(sys.executable).parent
SNAKEMAKE = str(BIN / "snakemake")

# Per-model and per-pair stages of the paper's study (config/config.yaml): 28 models (4 base,
# 6 instruct, 12 community, 6 Dolly), 6 adapters, 22 comparisons. Aggregates run once.
PAPER_JOBS = {
    "build_prompt_set": 1,
    "tune": 6,
    "generate": 28,
    "score": 28,
    "compare": 22,
}
# The demo's generation.sampled adds a sampled run of its 5 models (the trajectory's 3 points
# get none) and of its 4 pairs (the points' 3 comparisons: none), and the sampled tables' job.
DEMO_JOBS = {
    "build_prompt_set": 1,
    "build_demo_classifier": 1,
    "build_demo_multilabel": 1,  # the sigmoid classifier
    "build_demo_guard": 1,  # the guard judge
    "build_demo_lms": 1,
    "tune": 1,
    "tune_point": 3,  # the trajectory: steps 5, 10 and 20 of the Dolly run
    "generate": 8 + 5,
    "score": 8 + 5,
    "compare": 7 + 4,
    "write_trajectory": 1,
    "write_sampled_table": 1,
}


def snakemake(*args: str, cwd: Path = REPO, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run (the lines up to the first blank one after it)."""
    lines = output.split("Job stats:", 1)[1].strip("\n").splitlines()
    counts = {}
    for line in lines[2:]:  # the header and its rule
        if not line.strip():
            break
        rule, count = line.split()
        if rule != "total":
            counts[rule] = int(count)
    return counts


def test_lint_is_clean():
    result = snakemake("--lint")
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_lint_is_clean_for_the_demo():
    result = snakemake("--lint", "--configfile", "config/demo.yaml")
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_snakefmt_and_ruff_are_clean():
    for command in (
        [str(BIN / "snakefmt"), "--check", "."],
        [str(BIN / "ruff"), "check", "."],
        [str(BIN / "ruff"), "format", "--check", "src", "tests", "scripts", "benchmarks"],
    ):
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}{result.stderr}"


def test_paper_study_is_planned_from_the_config_alone():
    counts = job_counts(snakemake("-n", "--forceall").stdout)
    for rule, expected in PAPER_JOBS.items():
        assert counts.get(rule) == expected, (rule, counts)
    aggregates = {rule: n for rule, n in counts.items() if rule not in PAPER_JOBS}
    assert all(n == 1 for n in aggregates.values()), aggregates
    assert not any(rule.startswith("build_demo") for rule in counts), counts


def test_a_trajectory_of_four_points_is_planned_for_the_paper(tmp_path):
    """points: 4 = three points before each family's final adapter: per family a point job, and
    generate, score and compare for each point; the tuning jobs are the same six."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["tune"]["trajectory"] = {"points": 4}
    path = tmp_path / "trajectory.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    counts = job_counts(snakemake("-n", "--forceall", "--configfile", str(path)).stdout)
    expected = {
        **PAPER_JOBS,
        "tune_point": 18,
        "generate": 28 + 18,
        "score": 28 + 18,
        "compare": 22 + 18,
        "write_trajectory": 1,
    }
    for rule, count in expected.items():
        assert counts.get(rule) == count, (rule, counts)


def test_demo_is_planned():
    counts = job_counts(snakemake("-n", "--forceall", "--configfile", "config/demo.yaml").stdout)
    for rule, expected in DEMO_JOBS.items():
        assert counts.get(rule) == expected, (rule, counts)


def test_bad_config_stops_before_any_job(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "prompts:\n  subsets: {sever: 10}\n"
        "families:\n  g:\n    instruct: {slug: g-it, id: 'google/gemma-2b-it '}\n"
        "    community:\n      - {slug: g-it, id: a/b}\n"
    )
    result = snakemake("-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("config error: ")]
    assert lines == [
        "config error: prompts.subsets.sever: unknown key; did you mean 'severe'?",
        "config error: families.g.instruct.id: 'google/gemma-2b-it ' has leading or trailing whitespace",
        "config error: families.g.community[0].slug: 'g-it' is already used by families.g.instruct.slug",
    ]
    assert "Job stats" not in result.stdout
    assert "Traceback" not in result.stderr


def test_demo_prompt_stage_runs(tmp_path):
    (tmp_path / "resources").symlink_to(REPO / "resources")
    target = "results/demo/prompts/prompt_set.parquet"
    snakemake(
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(tmp_path),
        "--configfile", str(REPO / "config" / "demo.yaml"),
        "--cores", "1",
        target,
    )  # fmt: skip
    manifest = json.loads((tmp_path / "results/demo/prompts/manifest.json").read_text())
    assert manifest["total"] == 180  # the paper's six subsets' 160 and the BOLD-schema source's 20
    severe = manifest["subsets"]["severe"]
    assert (severe["asked"], severe["selected"], severe["shortfall"]) == (40, 40, 0)
    assert severe["available"] > 40
    for subset in ("bold_gender", "bold_race"):
        assert manifest["subsets"][subset] == {"asked": 10, "available": 12, "selected": 10,
                                               "shortfall": 0}  # fmt: skip
    assert manifest["sources"]["extra"]["bold"]["sha256"] == file_sha256(
        REPO / "resources/demo/bold.jsonl"
    )
    log = (tmp_path / "results/demo/logs/build_prompt_set.log").read_text()
    assert "prompt set: 180 prompts" in log
    # nothing to do on a second run: the result stays as it is
    mtime = (tmp_path / target).stat().st_mtime_ns
    again = snakemake(
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(tmp_path),
        "--configfile", str(REPO / "config" / "demo.yaml"),
        "--cores", "1",
        target,
    )  # fmt: skip
    assert "Nothing to be done" in again.stdout + again.stderr
    assert (tmp_path / target).stat().st_mtime_ns == mtime


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_check_config_cli(name):
    result = subprocess.run(
        [str(BIN / "finetox"), "check-config", f"config/{name}"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert f"config/{name}: valid" in result.stdout
