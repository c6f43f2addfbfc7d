"""The tuning stage in the workflow: one job per Dolly model, its resources, the 4-bit control."""

from __future__ import annotations

import re

import yaml

from finetox.config import load_study
from tests.conftest import REPO
from tests.test_workflow import job_counts, snakemake

PAPER_DOLLY = [
    "llama2-7b-chat-dolly",
    "llama3.1-8b-instruct-dolly",
    "gemma-2b-it-dolly",
    "gemma-2-2b-it-dolly",
    "phi3-mini-4k-instruct-dolly",
    "phi3.5-mini-instruct-dolly",
]


def jobs_of(rule: str, output: str) -> list[str]:
    """The dry run's job blocks of one rule."""
    blocks = re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", output)
    return [b for b in blocks if re.search(rf"^(?:local)?rule {rule}:", b, re.M)]


def test_one_tuning_job_per_instruct_model():
    result = snakemake("-n", "--forceall", "results/tuned/" + PAPER_DOLLY[0], *[
        f"results/tuned/{slug}" for slug in PAPER_DOLLY[1:]
    ])  # fmt: skip
    output = result.stdout + result.stderr
    assert job_counts(output)["tune"] == 6
    jobs = jobs_of("tune", output)
    outputs = sorted(re.search(r"output: (\S+)", job).group(1) for job in jobs)
    assert outputs == sorted(f"results/tuned/{slug}" for slug in PAPER_DOLLY)
    for job in jobs:
        assert "gpu=1" in job
        # hub models and hub data: nothing local to wait for
        assert "input:" not in job
    gemma = next(job for job in jobs if "gemma-2b-it-dolly" in job)
    mem = int(re.search(r"mem_mb=(\d+)", gemma).group(1))
    assert mem == int(2.5 * 2 * 1024 + 4096)  # sized from the instruct model's params_b


def test_the_demo_tunes_its_local_instruct_model_on_local_data():
    output = snakemake(
        "results/demo/generations/tiny-instruct-dolly.parquet",
        "-n", "--forceall", "--configfile", "config/demo.yaml",
    ).stdout  # fmt: skip
    (job,) = jobs_of("tune", output)
    assert "output: results/demo/tuned/tiny-instruct-dolly" in job
    assert "input: results/demo/models/instruct, resources/demo/dolly.jsonl" in job
    (generate,) = jobs_of("generate", output)
    generate_inputs = re.search(r"input: (.*)", generate).group(1)
    assert "results/demo/tuned/tiny-instruct-dolly" in generate_inputs


def quant_control_config(tmp_path) -> str:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["families"]["gemma-2b"]["quant_control"] = True
    path = tmp_path / "quant.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_quant_control_adds_the_4bit_instruct_model_and_no_tuning_job(tmp_path):
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["families"]["gemma-2b"]["quant_control"] = True
    study = load_study(config, workdir=REPO)
    control = study.model("gemma-2b-it-4bit")
    assert (control.role, control.load_in_4bit, control.adapter) == ("instruct_4bit", True, None)
    assert control.settings()["load_in_4bit"] is True
    assert control.source == study.model("gemma-2b-it").source
    assert "gemma-2b-it__vs__gemma-2b-it-4bit" in [c.name for c in study.comparisons]
    assert list(study.tuned_sources()) == PAPER_DOLLY  # the control is not tuned
    dolly = study.model("gemma-2b-it-dolly")
    assert (dolly.load_in_4bit, dolly.adapter) == ("as_trained", "gemma-2b-it-dolly")

    with_control = job_counts(
        snakemake("-n", "--forceall", "--configfile", quant_control_config(tmp_path)).stdout
    )
    without = job_counts(snakemake("-n", "--forceall").stdout)
    assert with_control["tune"] == without["tune"] == 6
    for rule in ("generate", "score", "compare"):
        if rule in without:  # planned once the stage's rules exist
            assert with_control[rule] == without[rule] + 1, rule
