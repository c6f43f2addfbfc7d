"""preflight --rates: the GPU suite's estimate model (benchmarks/gpu_suite/estimate.py) applied
to a config, from a gpu_suite.json's rates; and its bad input named."""

from __future__ import annotations

import json

import pytest

from finetox.config import load_study_file
from finetox.errors import InputError
from finetox.hub.preflight_report import gpu_hours
from tests.conftest import REPO

RATES = {
    "generation": {"models": {
        "llama-3.1-8b": {"wall_s_for_2400_prompts": 60.0, "load_s": 10.0},
        "gemma-2-2b": {"wall_s_for_2400_prompts": 24.0, "load_s": 4.0},
    }},
    "tuning": {"model": "llama-3.1-8b", "steps_per_s": 1.0, "reload_s": 12.0,
               "generation_4bit_adapter": {"s_per_prompt": 0.05}, "timings": {"load_s": 30.0}},
    "scoring": {"texts_per_s": 1000.0, "load_s": 2.0},
}  # fmt: skip


def test_the_suite_estimate_of_the_paper_config(tmp_path):
    rates = tmp_path / "gpu_suite.json"
    rates.write_text(json.dumps(RATES))
    study = load_study_file(REPO / "config" / "config.yaml")
    values, missing = gpu_hours(study, rates)
    assert missing == {}
    assert (values["models"], values["tune_runs"], values["tune_steps_per_run"]) == (28, 6, 939)
    # scoring: 28 models x (2,400 texts at 1,000/s + 2 s loading), one classifier
    assert values["scoring_h"] == pytest.approx(28 * (2.4 + 2.0) / 3600)
    # tuning: 939 steps at 1/s plus 30 s loading, scaled by each instruct model's parameters
    params = [6.7, 8.0, 2.5, 2.6, 3.8, 3.8]
    assert values["tuning_h"] == pytest.approx(sum((939 + 30) * p / 8.0 for p in params) / 3600)
    total = values["generation_h"] + values["tuning_h"] + values["scoring_h"]
    assert values["gpu_hours"] == pytest.approx(total) and 0 < values["generation_h"] < total


def test_rates_without_a_section_are_named(tmp_path):
    rates = tmp_path / "gpu_suite.json"
    rates.write_text(json.dumps({"generation": RATES["generation"]}))
    study = load_study_file(REPO / "config" / "config.yaml")
    with pytest.raises(InputError, match=r"--rates .*gpu_suite.json.*: not a gpu_suite.json"):
        gpu_hours(study, rates)
