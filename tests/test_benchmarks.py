"""The benchmarks compare like with like and fail when their two sides disagree: the scoring
benchmark's score difference (both sides unstripped), the generation benchmark's continuations,
the BEST benchmark's Monte Carlo tolerance. A speed ratio of two different computations means
nothing, so each comparison must be able to fail."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark(name: str):
    """A benchmark script as a module (its sibling `processes` importable, as when it runs)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            f"benchmark_{name}", BENCHMARKS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_the_scoring_benchmark_fails_on_stripped_against_raw_and_passes_like_with_like(
    tmp_path, one_thread
):
    from finetox.scoring import pipeline_scores, reference_pipeline, score_file

    scoring = benchmark("scoring")
    model = tmp_path / "classifier"
    scoring.build_classifier(model, layers=2, hidden=64)
    generations = tmp_path / "generations.parquet"
    frame = scoring.synthetic_generations(40)
    frame.to_parquet(generations)
    reference = frame.assign(
        score=pipeline_scores(reference_pipeline(str(model)), list(frame["generation"]), "hate")
    )
    classifier = [{"name": "bench", "path": str(model), "label": "hate"}]
    ours = {
        strip: score_file(generations, tmp_path / f"{strip}.parquet", classifier, strip=strip)
        for strip in (True, False)
    }
    assert scoring.score_difference(ours[True], reference) > 100 * scoring.TOLERANCE
    assert scoring.score_difference(ours[False], reference) <= scoring.TOLERANCE
    nan = ours[False].assign(score_bench=ours[False]["score_bench"].where(frame.index != 3))
    assert scoring.score_difference(nan, reference) == np.inf
    with pytest.raises(ValueError, match="same texts"):
        scoring.score_difference(ours[False].assign(generation="x"), reference)


def test_the_generation_benchmark_names_every_differing_continuation():
    generation = benchmark("generation")
    ours = pd.DataFrame(
        {
            "prompt_id": ["a", "b", "c"],
            "generation": [" one", " two", " three"],
            "n_new_tokens": [2, 3, 50],
            "stop_reason": ["eos", "eos", "length"],
        }
    )
    assert generation.same_continuations(ours, ours.copy()).all()
    other = ours.copy()
    other.loc[1, "n_new_tokens"] = 4  # same text, another token count
    other.loc[2, "stop_reason"] = "eos"
    assert generation.same_continuations(ours, other).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="same prompts"):
        generation.same_continuations(ours, ours.iloc[::-1])


def test_the_best_benchmark_fails_beyond_its_monte_carlo_tolerance():
    best = benchmark("best")
    rows = {"mean mu_a": (1e-4, 5e-4), "hdi_low change": (2e-3, 1e-3)}
    assert best.beyond_tolerance([("total", 0, {"mean mu_a": (1e-4, 5e-4)})]) == []
    assert best.beyond_tolerance([("severe", 1, rows)]) == [
        "severe pair 2 hdi_low change 2.00e-03 > 1.00e-03"
    ]
    assert best.beyond_tolerance([("race", 0, {"mean change": (float("nan"), 1e-3)})])
