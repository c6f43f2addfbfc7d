"""Execution: the profiles name real options and real rules; every job says what it needs (GPU
jobs a GPU, memory and time sized per model; CPU jobs threads and memory)."""

from __future__ import annotations

import re
import subprocess
from functools import cache

import pytest
import yaml

from tests.conftest import REPO
from tests.workflow_runs import BIN, failure, jobs_of, snakemake

PROFILES = sorted((REPO / "profiles").glob("*/config.yaml"))
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
GPU_RULES = {"tune", "tune_point", "generate", "score"}


@cache
def snakemake_options() -> set[str]:
    help_text = subprocess.run(
        [str(BIN / "snakemake"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    return set(re.findall(r"(?<![\w-])--([a-z][\w-]*)", help_text))


def profile(name: str) -> dict:
    return yaml.safe_load((REPO / "profiles" / name / "config.yaml").read_text())


def rule_blocks() -> dict[str, str]:
    """Rule name -> its text, from the rule files."""
    blocks = {}
    for smk in RULE_FILES:
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            blocks[name] = body
    return blocks


def local_rules() -> set[str]:
    names = set()
    for smk in RULE_FILES:
        for block in re.findall(r"^localrules:\n((?:[ \t]+.*\n)+)", smk.read_text(), re.M):
            names.update(re.findall(r"(\w+),?", block))
    return names


def declared_resources(body: str) -> dict[str, str]:
    section = re.search(r"^    resources:\n((?:        .*\n)+)", body, re.M)
    if not section:
        return {}
    return dict(re.findall(r"^        (\w+)=(.+?),?$", section.group(1), re.M))


@pytest.mark.parametrize("path", PROFILES, ids=lambda path: path.parent.name)
def test_profile_keys_are_snakemake_options(path):
    unknown = sorted(set(yaml.safe_load(path.read_text())) - snakemake_options())
    assert not unknown, f"{path}: not snakemake options: {unknown}"


def test_profiles_are_the_three_documented_ones():
    assert [path.parent.name for path in PROFILES] == ["slurm", "slurm-test", "workstation"]


def test_workstation_counts_gpus_and_the_slurm_profiles_submit_to_slurm():
    workstation = profile("workstation")
    assert workstation["resources"]["gpu"] >= 1 and "executor" not in workstation
    for name in ("slurm", "slurm-test"):
        assert profile(name)["executor"] == "slurm"
        assert "slurm_partition" in profile(name)["default-resources"]


def test_slurm_profile_sends_exactly_the_gpu_rules_to_the_gpu_partition():
    slurm = profile("slurm")
    assert {"slurm_account", "slurm_partition", "mem_mb", "runtime"} <= set(
        slurm["default-resources"]
    )
    set_resources = slurm["set-resources"]
    assert set(set_resources) == GPU_RULES
    assert set(set_resources) <= set(rule_blocks()), "set-resources names a rule that is gone"
    for rule, resources in set_resources.items():
        assert resources["gpu"] == 1 and resources["slurm_partition"] == "YOUR_GPU_PARTITION", rule
        assert "slurm_extra" not in resources, "the plugin rejects --gres/--gpus in slurm_extra"


def test_every_rule_declares_its_resources():
    blocks = rule_blocks()
    assert set(blocks) >= GPU_RULES, f"GPU rules missing: {sorted(GPU_RULES - set(blocks))}"
    problems = []
    for name, body in blocks.items():
        if not re.search(r"^    (script|shell|run):", body, re.M):
            continue  # target rules run nothing
        resources = declared_resources(body)
        wanted = {"mem_mb", "runtime"} | ({"gpu"} if name in GPU_RULES else set())
        if missing := wanted - set(resources):
            problems.append(f"{name}: no {', '.join(sorted(missing))}")
        if name in GPU_RULES and resources.get("gpu") != "1":
            problems.append(f"{name}: gpu={resources.get('gpu')}, want 1")
        if name not in GPU_RULES and "gpu" in resources:
            problems.append(f"{name}: asks for a GPU but is not in GPU_RULES (profiles/slurm)")
        if name not in local_rules() and not re.search(r"^    threads:", body, re.M):
            problems.append(f"{name}: no threads")
        if "gres" in body:
            problems.append(f"{name}: gres (use the gpu resource)")
    assert not problems, "\n".join(problems)


def test_model_jobs_of_the_study_are_sized_by_their_models():
    result = snakemake(REPO, "--dry-run", "--cores", "4")
    assert result.returncode == 0, failure(result)
    jobs = jobs_of(result.stdout + result.stderr)

    def resources(rule: str, output: str) -> dict[str, str]:
        line = next(
            job for job in jobs.values() if job.rule == rule and output in job.outputs[0]
        ).resources
        return dict(item.split("=", 1) for item in line.split(", "))

    big = resources("generate", "results/generations/llama3.1-8b.parquet")
    small = resources("generate", "results/generations/gemma-2b.parquet")
    assert big["gpu"] == small["gpu"] == "1"
    assert int(big["mem_mb"]) > int(small["mem_mb"]) and int(big["runtime"]) > int(small["runtime"])
    tuning = resources("tune", "results/tuned/llama3.1-8b-instruct-dolly")
    assert tuning["gpu"] == "1" and int(tuning["runtime"]) > int(big["runtime"])
    gpu_jobs = {job.rule for job in jobs.values() if job.gpu}
    assert gpu_jobs == GPU_RULES - {"tune_point"}  # the paper's study follows no trajectory
