"""The scoring part: finetox.scoring.score_texts (float16 on a GPU) against the evaluate-style
per-text pipeline loop on the same generation-like texts."""

from __future__ import annotations

import time

import numpy as np

from .measure import dtype_name, free_memory, peak_gib, reset_peak, sync
from .models import build_classifier
from .siblings import sibling_benchmark
from .suite import Suite

LABEL = "hate"


def measure_scoring(suite: Suite) -> None:
    from finetox.scoring import ClassifierSpec

    entry = suite.result["scoring"]
    folder = suite.work / "roberta-base"
    entry["model"] = build_classifier(folder, suite.smoke)
    generations = sibling_benchmark("scoring").synthetic_generations(suite.sizes.texts, seed=2)
    texts = generations["generation"].tolist()
    entry["texts"] = len(texts)
    spec = ClassifierSpec(name="bench", source=str(folder), label=LABEL)
    ours = measure_finetox_scoring(suite, spec, texts)
    n = min(suite.sizes.reference_texts, len(texts))
    reference = measure_per_text_loop(entry, folder, texts[:n])
    entry["ratio"] = entry["texts_per_s"] / entry["per_text_loop_texts_per_s"]
    entry["max_abs_diff"] = float(np.abs(ours[:n] - reference).max())
    entry["score_sd"] = float(reference.std())
    if entry["dtype"] == "float32":
        entry["max_abs_diff_float32"] = entry["max_abs_diff"]
    else:  # float16 differs by about 1e-3; float32 must agree to about 1e-5
        entry["max_abs_diff_float32"] = float(
            np.abs(float32_scores(spec, texts[:n]) - reference).max()
        )
    free_memory()


def measure_finetox_scoring(suite: Suite, spec, texts: list[str]) -> np.ndarray:
    from finetox.scoring import load_classifier, score_texts

    entry = suite.result["scoring"]
    started = time.perf_counter()
    classifier = load_classifier(spec)
    entry["load_s"] = time.perf_counter() - started
    entry["dtype"] = dtype_name(next(classifier.model.parameters()).dtype)
    score_texts(classifier, texts[:16], progress=False)  # warm-up
    reset_peak()
    sync()
    started = time.perf_counter()
    scores = score_texts(classifier, texts, progress=False)
    sync()
    entry["wall_s"] = time.perf_counter() - started
    entry["texts_per_s"] = len(texts) / entry["wall_s"]
    entry["peak_gpu_mem_gib"] = peak_gib()
    suite.skip_without_cuda(entry, "peak_gpu_mem_gib", where="scoring")
    return scores


def measure_per_text_loop(entry: dict, folder, texts: list[str]) -> np.ndarray:
    """The evaluate measurement's loop: a text-classification pipeline called per text."""
    from finetox.scoring import pipeline_scores, reference_pipeline

    pipe = reference_pipeline(str(folder))
    entry["per_text_loop_device"] = str(pipe.device)
    entry["per_text_loop_dtype"] = dtype_name(pipe.model.dtype)
    pipeline_scores(pipe, texts[:4], LABEL)  # warm-up
    sync()
    started = time.perf_counter()
    scores = np.asarray(pipeline_scores(pipe, texts, LABEL))
    sync()
    entry["per_text_loop_texts"] = len(texts)
    entry["per_text_loop_wall_s"] = time.perf_counter() - started
    entry["per_text_loop_texts_per_s"] = len(texts) / entry["per_text_loop_wall_s"]
    return scores


def float32_scores(spec, texts: list[str]) -> np.ndarray:
    from finetox.scoring import load_classifier, score_texts

    classifier = load_classifier(spec, dtype="float32")
    return score_texts(classifier, texts, progress=False)
