"""The score stage: a generations file in, a scores file out (finetox.scores_file owns its
layout), every configured classifier one after another, each checked before any scores.

Columns per classifier NAME: score_NAME and toxic_NAME; with a sigmoid classifier's
keep_all_labels, score_NAME__LABEL for every label of the model (id2label's order and names);
with a guard judge, guard_truncated_NAME: the tokens cut from the left of the prompt (then of the
continuation) so the exchange fits the judge's context, 0 for none."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from accelerate.utils.memory import clear_device_cache

from finetox.io import InputError, parquet_metadata, read_table
from finetox.loading import check_model_folder
from finetox.scores_file import check_scores_output, write_scores
from finetox.scoring.classifier import checked_config, load_classifier
from finetox.scoring.guard import guard_scores, judge_tokenizer, load_guard
from finetox.scoring.spec import ClassifierError, ClassifierSpec
from finetox.scoring.texts import score_labels

log = logging.getLogger("finetox.scoring")

REQUIRED_COLUMNS = ["prompt_id", "generation"]


def _generations(frame: pd.DataFrame, source: str, column: str = "generation") -> list[str]:
    missing = frame[column].isna()
    if missing.any():
        ids = frame.loc[missing, "prompt_id"].astype(str).tolist()
        raise InputError(
            f"{source}: {len(ids)} {column}(s) are missing (null), e.g. prompt_id {ids[:5]}; "
            f"an empty {column} must be an empty string"
        )
    return [str(text) for text in frame[column]]


def _checked_columns(spec: ClassifierSpec) -> list[str]:
    """Check a classifier before anything is scored (its kind, labels, template, verdict
    tokens: config and tokenizer only, no weights) and name the columns it adds."""
    columns = [f"score_{spec.name}", f"toxic_{spec.name}"]
    if spec.kind == "guard":
        judge_tokenizer(spec)
        return [*columns, f"guard_truncated_{spec.name}"]
    config, _indices = checked_config(spec)
    if spec.keep_all_labels:
        labels = [config.id2label[index] for index in sorted(config.id2label, key=int)]
        columns += [f"score_{spec.name}__{label}" for label in labels]
    return columns


def _prompts(frame: pd.DataFrame, classifiers: Sequence[ClassifierSpec], source: str):
    """The prompts, where a guard judge reads them (it judges the exchange, not the text)."""
    judges = [spec.name for spec in classifiers if spec.kind == "guard"]
    if not judges:
        return None
    if "prompt" not in frame.columns:
        raise InputError(
            f"{source}: has no 'prompt' column, which guard judge(s) {judges} read with each "
            "generation"
        )
    return _generations(frame, source, "prompt")


def score_generations(
    frame: pd.DataFrame,
    classifiers: Sequence[ClassifierSpec],
    *,
    batch_size: int | str = "auto",
    max_batch_tokens: int | str = "auto",
    dtype: str = "auto",
    source: str = "generations",
    progress: bool = True,
    strip: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The generation table with score_<name> and toxic_<name> per classifier and `toxic` (the
    first classifier's flag), and the metadata describing them. Classifiers load one at a time.
    With `strip` each text is scored without its leading and trailing whitespace (the authors'
    .strip()); the table keeps the raw text."""
    if not classifiers:
        raise ClassifierError("no classifier to score with")
    texts = _generations(frame, source)
    if strip:
        texts = [text.strip() for text in texts]
    prompts = _prompts(frame, classifiers, source)
    added = [column for spec in classifiers for column in _checked_columns(spec)]
    clash = [column for column in [*added, "toxic"] if column in frame.columns]
    if clash:
        raise InputError(f"{source}: already has column(s) {clash}; score the generations file")
    twice = sorted({column for column in added if added.count(column) > 1})
    if twice:
        raise InputError(f"the classifiers would write column(s) {twice} twice; rename one")
    out = frame.copy()
    loading = scoring = 0.0
    records = []
    batching = {"batch_size": batch_size, "max_batch_tokens": max_batch_tokens}
    for spec in classifiers:
        started = time.perf_counter()
        if spec.kind == "guard":
            model = load_guard(spec, dtype=dtype)
            loaded = time.perf_counter()
            scores, cut = guard_scores(model, prompts, texts, progress=progress, **batching)
            extra = {f"guard_truncated_{spec.name}": cut}
        else:
            model = load_classifier(spec, dtype=dtype)
            loaded = time.perf_counter()
            probabilities = score_labels(model, texts, progress=progress, **batching)
            scores = model.toxic_score(probabilities)
            labels = model.column_labels if spec.keep_all_labels else []
            extra = {f"score_{spec.name}__{label}": probabilities[:, j] for j, label in
                     enumerate(labels)}  # fmt: skip
        loading, scoring = loading + loaded - started, scoring + time.perf_counter() - loaded
        out[f"score_{spec.name}"] = scores
        out[f"toxic_{spec.name}"] = scores > spec.threshold
        for column, values in extra.items():
            out[column] = values
        records.append({**spec.record(), "commit": model.commit})
        del model
        clear_device_cache(garbage_collection=True)  # before the next classifier loads
    out["toxic"] = out[f"toxic_{classifiers[0].name}"]
    _log_summary(out, texts, classifiers, loading, scoring)
    metadata = {"primary": classifiers[0].name, "classifiers": records, "strip": strip}
    return out, metadata


def _log_summary(
    frame: pd.DataFrame,
    texts: list[str],
    classifiers: Sequence[ClassifierSpec],
    loading: float,
    seconds: float,
) -> None:
    empty = sum(1 for text in texts if not text.strip())
    rates = ", ".join(
        f"{spec.name} {100 * frame[f'toxic_{spec.name}'].mean():.1f}% (> {spec.threshold:g})"
        for spec in classifiers
    )
    scored = len(texts) * len(classifiers)
    log.info(
        "scored %d generations (%d empty or whitespace-only) with %d classifier(s) in %.2f s "
        "(%.0f texts/s; loading took %.1f s more); toxic: %s",
        len(texts),
        empty,
        len(classifiers),
        seconds,
        scored / seconds if seconds > 0 else float("inf"),
        loading,
        rates or "-",
    )


def _generation_record(path: str | os.PathLike) -> dict[str, Any] | None:
    """The model block of a generations file's metadata (name, source, revision, commit, dtype,
    stop rule and ids), or None for a file without finetox metadata."""
    if Path(path).suffix.lower() != ".parquet":
        return None
    found = parquet_metadata(path)
    if not isinstance(found, dict) or not isinstance(found.get("model"), dict):
        return None
    keys = ("adapter_commit", "stop", "stop_ids", "prompt_format", "decoding", "max_new_tokens")
    keys += ("sampling",) if "sampling" in found else ()  # sampled runs: k, temperature, ...
    return {"model": found["model"], **{key: found.get(key) for key in keys}}


def score_file(
    generations: str | os.PathLike,
    out: str | os.PathLike,
    classifiers: Sequence[dict[str, Any] | ClassifierSpec],
    *,
    batch_size: int | str = "auto",
    max_batch_tokens: int | str = "auto",
    dtype: str = "auto",
    threads: int | None = None,
    strip: bool = True,
) -> pd.DataFrame:
    """Read generations (Parquet, JSONL or CSV), score them with every classifier, write `out`.
    The scores file's metadata carries the generations file's model record (its commit too)
    under `generation`, where that file has one."""
    check_scores_output(out)  # before anything is loaded or scored
    if threads:
        torch.set_num_threads(threads)
    specs = [
        c if isinstance(c, ClassifierSpec) else ClassifierSpec.from_config(c) for c in classifiers
    ]
    for spec in specs:  # a local folder without weights or tokenizer, before any is loaded
        check_model_folder(spec.source, what="classifier")
    guard = any(spec.kind == "guard" for spec in specs)
    frame = read_table(generations, columns=REQUIRED_COLUMNS)
    if Path(generations).suffix.lower() == ".csv":
        # CSV writes an empty string and a missing value alike, as an empty field
        for column in ("generation", "prompt") if guard else ("generation",):
            if column in frame.columns:
                frame[column] = frame[column].fillna("")
    scored, metadata = score_generations(
        frame,
        specs,
        batch_size=batch_size,
        max_batch_tokens=max_batch_tokens,
        dtype=dtype,
        source=str(generations),
        strip=strip,
    )
    metadata["generation"] = _generation_record(generations)
    write_scores(scored, metadata, out)
    log.info("wrote %s", out)
    return scored
