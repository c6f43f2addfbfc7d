"""The whole study's GPU hours from the measured rates (config/config.yaml: 28 models, 6 tune
runs, 28 x 2,400 texts per classifier scored), and the issue's targets judged."""

from __future__ import annotations

import math
from typing import Any

from .shapes import SHAPES
from .sizes import DOLLY_RECORDS, GEMMA, LLAMA, STUDY_PROMPTS
from .suite import REPO, Suite

STUDY_CONFIG = REPO / "config" / "config.yaml"
PAPER_SEQUENCES_PER_STEP = 16  # batch 2 x gradient accumulation 8
DEFAULT_PARAMS_B = 8.0  # a model the config lists without its size
TARGETS = {
    "generation_8b_s": ("<=", 60.0),
    "scoring_ratio": (">=", 20.0),
    "study_gpu_hours": ("<=", 2.0),
}
METHOD = (
    "generation and loading linear in parameters through the measured shapes (8.0B, 2.6B); Dolly "
    "models at the measured 4-bit-with-adapter cost per prompt; tuning steps scaled by parameters "
    "from the tuned shape"
)


def per_params(measured: dict[float, dict], key: str, params: float) -> float:
    """`key` at `params` billion parameters: linear through the measured shapes (proportional
    with one), never under a quarter of the smaller measurement."""
    points = sorted((p, m[key]) for p, m in measured.items())
    if len(points) == 1:
        (p0, v0) = points[0]
        return v0 * params / p0
    (p0, v0), (p1, v1) = points[0], points[-1]
    value = v0 + (v1 - v0) * (params - p0) / (p1 - p0)
    return max(value, 0.25 * min(v0, v1))


def generation_rows(study, measured: dict[float, dict], tuning: dict) -> list[dict[str, Any]]:
    """Each model's generation and loading seconds; Dolly models (a 4-bit base with an adapter)
    at the measured cost of such a model."""
    tuned_params = SHAPES[tuning["model"]].params_b if tuning.get("model") else None
    adapter = tuning.get("generation_4bit_adapter")
    rows = []
    for spec in study.models.values():
        params = spec.params_b or DEFAULT_PARAMS_B
        generate_s = per_params(measured, "wall_s_for_2400_prompts", params)
        load_s = per_params(measured, "load_s", params)
        if spec.role == "dolly" and adapter and tuned_params:
            bf16 = per_params(measured, "wall_s_for_2400_prompts", tuned_params) / STUDY_PROMPTS
            generate_s *= adapter["s_per_prompt"] / bf16
            load_s = tuning["reload_s"] * params / tuned_params
        rows.append({"model": spec.name, "role": spec.role, "params_b": params,
                     "generate_s": generate_s, "load_s": load_s})  # fmt: skip
    return rows


def tuning_seconds(study, tuning: dict, steps: int) -> float:
    tuned_params = SHAPES[tuning["model"]].params_b
    load_s = tuning.get("timings", {}).get("load_s", 0.0)
    run_s = steps / tuning["steps_per_s"] + load_s
    return sum(
        run_s * (spec.params_b or DEFAULT_PARAMS_B) / tuned_params
        for spec in study.tuned_sources().values()
    )


def scoring_seconds(study, scoring: dict) -> float:
    per_model = STUDY_PROMPTS / scoring["texts_per_s"] + scoring.get("load_s", 0.0)
    return per_model * len(study.models) * len(study.config["scoring"]["classifiers"])


def estimate_study(suite: Suite) -> None:
    from finetox.config import load_study_file

    study = load_study_file(STUDY_CONFIG)
    entry = suite.result["estimate"]
    entry["basis"] = (
        "toy sizes on a CPU: the arithmetic only, not an estimate of the study"
        if suite.smoke
        else "the rates measured above; model downloads from the hub not counted"
    )
    estimate, skipped = study_estimate(study, suite.result)
    for key, reason in skipped.items():
        suite.skip(entry, key, where="estimate", reason=reason)
    entry.update(estimate)


def study_estimate(study, result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The GPU hours of `study` at the rates of a suite's result (its generation, tuning and
    scoring sections, as gpu_suite.json holds them): (the estimate, {key: why it is missing}).
    `finetox preflight --rates gpu_suite.json` applies it to any config."""
    models = result["generation"]["models"]
    measured = {
        SHAPES[name].params_b: models[name]
        for name in (LLAMA, GEMMA)
        if "wall_s_for_2400_prompts" in models.get(name, {})
    }
    if not measured:
        return {}, {"gpu_hours": "no generation was measured"}
    tuning, scoring = result["tuning"], result["scoring"]
    skipped = {}
    rows = generation_rows(study, measured, tuning)
    generation_s = sum(r["generate_s"] + r["load_s"] for r in rows)
    steps = math.ceil(DOLLY_RECORDS / PAPER_SEQUENCES_PER_STEP)
    tune_s = score_s = 0.0
    if tuning.get("steps_per_s") and tuning.get("model"):
        tune_s = tuning_seconds(study, tuning, steps)
    else:
        skipped["tuning_h"] = "the tuning was not measured"
    if scoring.get("texts_per_s"):
        score_s = scoring_seconds(study, scoring)
    else:
        skipped["scoring_h"] = "the scoring was not measured"
    estimate = {
        "models": len(study.models),
        "tune_runs": len(study.tuned_sources()),
        "tune_steps_per_run": steps,
        "generation_h": generation_s / 3600,
        "tuning_h": tune_s / 3600,
        "scoring_h": score_s / 3600,
        "gpu_hours": (generation_s + tune_s + score_s) / 3600,
        "per_model": rows,
        "method": METHOD,
    }
    return estimate, skipped


def judge_targets(suite: Suite) -> None:
    """Each target with its value; met or not only at the paper's sizes (null in smoke mode)."""
    result, entry = suite.result, suite.result["targets"]
    values = {
        "generation_8b_s": result["generation"]["models"]
        .get(LLAMA, {})
        .get("wall_s_for_2400_prompts"),
        "scoring_ratio": result["scoring"].get("ratio"),
        "study_gpu_hours": result["estimate"].get("gpu_hours"),
    }
    for key, value in values.items():
        sense, target = TARGETS[key]
        met = None
        if value is not None and not suite.smoke:
            met = value <= target if sense == "<=" else value >= target
        entry[key] = {"target": f"{sense} {target:g}", "value": value, "met": met}
    if suite.smoke:
        entry["note"] = "smoke mode: toy sizes, so no target is judged"
