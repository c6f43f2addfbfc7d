"""Scoring texts: the fast path (`score_texts`) and the reference it equals (`pipeline_scores`)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from finetox.batching import halving_on_oom
from finetox.io import InputError, UserError
from finetox.loading import hub_kwargs
from finetox.logs import progress_interval
from finetox.scoring.classifier import Classifier, toxic_label_index

log = logging.getLogger("finetox.scoring")

# Padded tokens per batch when the config says auto: a GPU wants large batches; on a CPU,
# batches beyond a few thousand tokens run slower (measured with benchmarks/scoring.py).
AUTO_BATCH_TOKENS = {"cuda": 16384, "cpu": 4096}


class ScoringError(UserError):
    """Scores that must not be written (not finite)."""


def length_sorted_batches(
    lengths: Sequence[int], max_batch_tokens: int, max_batch_size: int | None = None
) -> list[np.ndarray]:
    """Indices of the texts in batches of equal token length, longest first (so a batch too
    large for memory fails at once), each within `max_batch_tokens` tokens.

    Equal lengths need no padding: no compute goes to padding and no attention mask changes a
    text's arithmetic, so a score differs from the per-text pipeline's only by the float32
    rounding of differently shaped matrix products. Generations share few lengths (at most the
    model's maximum), so the batches stay large.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        length = int(lengths[order[start]])
        size = max(1, max_batch_tokens // max(1, length))
        if max_batch_size:
            size = min(size, max_batch_size)
        same = start + int(np.searchsorted(-lengths[order[start:]], -length, side="right"))
        stop = min(start + size, same)
        batches.append(order[start:stop])
        start = stop
    return batches


def batch_token_budget(max_batch_tokens: int | str, on: torch.device) -> int:
    if max_batch_tokens == "auto":
        return AUTO_BATCH_TOKENS.get(on.type, AUTO_BATCH_TOKENS["cuda"])
    return int(max_batch_tokens)


def _check_texts(texts: Sequence[Any]) -> None:
    bad = [index for index, text in enumerate(texts) if not isinstance(text, str)]
    if bad:
        raise InputError(
            f"{len(bad)} text(s) are not strings (first at position {bad[0]}: {texts[bad[0]]!r})"
        )


def _probabilities(classifier: Classifier, features: list[dict[str, list[int]]]) -> np.ndarray:
    inputs = classifier.tokenizer.pad(features, return_tensors="pt").to(classifier.device)
    logits = classifier.model(**inputs).logits.float()
    if classifier.activation == "sigmoid":
        probabilities = torch.sigmoid(logits)
    else:
        probabilities = torch.softmax(logits, dim=-1)
    columns = list(classifier.columns)
    return probabilities[:, columns].cpu().numpy().astype(np.float64)


def score_texts(
    classifier: Classifier,
    texts: Sequence[str],
    *,
    batch_size: int | str = "auto",
    max_batch_tokens: int | str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Scores of `texts` in their order (the toxic label's probability, or the largest of the
    toxic labels'); the arguments are score_labels'."""
    probabilities = score_labels(
        classifier,
        texts,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        progress=progress,
    )
    return classifier.toxic_score(probabilities)


def score_labels(
    classifier: Classifier,
    texts: Sequence[str],
    *,
    batch_size: int | str = "auto",
    max_batch_tokens: int | str = "auto",
    progress: bool = True,
) -> np.ndarray:
    """Probabilities of `classifier.columns` (labels) per text, texts in their order, one row
    each. max_batch_tokens: tokens per batch (auto: by device).
    batch_size: an int caps texts per batch; auto lets the token budget alone decide and halves
    it on out-of-memory. Raises on a non-finite score."""
    from tqdm.auto import tqdm

    texts = list(texts)
    _check_texts(texts)
    encoded = classifier.tokenizer(texts, truncation=True, max_length=classifier.max_length)
    features = [{key: encoded[key][i] for key in encoded} for i in range(len(texts))]
    lengths = np.array([len(feature["input_ids"]) for feature in features], dtype=np.int64)
    cap = None if batch_size == "auto" else int(batch_size)
    budget = batch_token_budget(max_batch_tokens, classifier.device)
    scores = np.full((len(texts), len(classifier.columns)), np.nan)
    done = np.zeros(len(texts), dtype=bool)

    bar = tqdm(
        total=len(texts),
        desc=f"scoring {classifier.spec.name}",
        unit="text",
        mininterval=progress_interval(),
        disable=not progress,
    )

    def score_remaining(budget: int) -> None:
        """Every text not yet scored, in batches within `budget` tokens."""
        remaining = np.flatnonzero(~done)
        for part in length_sorted_batches(lengths[remaining], budget, cap):
            batch = remaining[part]
            scores[batch] = _probabilities(classifier, [features[i] for i in batch])
            done[batch] = True
            bar.update(len(batch))

    with bar, torch.inference_mode():
        if cap is None:
            halving_on_oom(score_remaining, budget, log=log, what="tokens per batch")
        else:  # a fixed batch size is the user's choice: an out-of-memory error stops the job
            score_remaining(budget)
    _check_finite(scores, classifier)
    return scores


def _check_finite(scores: np.ndarray, classifier: Any) -> None:
    """Every score finite (a row per text, one or more columns), or ScoringError."""
    finite = np.isfinite(scores)
    bad = np.flatnonzero(~finite.all(axis=1) if finite.ndim > 1 else ~finite)
    if len(bad):
        hint = (
            " (the classifier ran in float16; try scoring.dtype: float32)"
            if next(classifier.model.parameters()).dtype == torch.float16
            else ""
        )
        raise ScoringError(
            f"classifier {classifier.spec.name}: {len(bad)} score(s) are not finite, first for "
            f"the text at position {bad[0]}{hint}; nothing was written"
        )


def reference_pipeline(source: str, *, revision: str | None = None):
    """The pipeline the `evaluate` toxicity measurement builds (measurements/toxicity in
    huggingface/evaluate): text-classification, top_k=2, truncation.

    The `evaluate` package is not a dependency: `evaluate.load("toxicity")` fetches the
    measurement's script from the Hugging Face hub at load time (the package does not ship it),
    so it cannot run offline. This function and `pipeline_scores` repeat its pipeline instead
    (the script, which calls it on the list of texts, matches them under transformers 5:
    docs/stages.md, score)."""
    from transformers import pipeline

    return pipeline(
        "text-classification", model=source, top_k=2, truncation=True, **hub_kwargs(revision)
    )


def pipeline_scores(
    classifier: Any, texts: Iterable[str], label: str = "hate", *, revision: str | None = None
) -> list[float]:
    """The reference: the measurement's pipeline, one call per text (as the pipeline runs a
    list of texts without a batch size). `classifier` is a reference_pipeline or a hub id /
    folder to build one from. A missing label raises, naming the classifier's labels."""
    if isinstance(classifier, (str, os.PathLike)):
        classifier = reference_pipeline(str(classifier), revision=revision)
    source = classifier.model.name_or_path
    toxic_label_index(classifier.model.config.id2label, label, source)  # raises, naming the labels
    scores = []
    for text in texts:
        results = classifier(str(text))
        if results and isinstance(results[0], list):
            # transformers 5 nests a single text's results in one more list (the measurement's
            # 2022 version, which called the pipeline per text, fails on it)
            results = results[0]
        scores.append([r["score"] for r in results if r["label"] == label][0])
    return scores
