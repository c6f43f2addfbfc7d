"""Comparing two scores files: both read and checked, the views of finetox.compare.run for one
classifier's scores or for each of several (the primary first), and the outputs written.

- The table (CSV): a `classifier` column first, one block of rows (every subset, then total) per
  classifier, the primary's block first.
- The JSON: the primary's comparison at the top level (what the gate and `finetox card` read; its
  gate names the classifier it used), and, when several classifiers were compared,
  `by_classifier`: classifier -> {"classifier", "gate", "subsets"} in the top level's shapes.
- The posterior (NetCDF) and the flipped prompts (CSV): the primary's only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from finetox.compare.best import BestSampler
from finetox.compare.classifiers import check_scored_alike, classifier_record, shared_classifier
from finetox.compare.gate import GATE_VIEWS, SAMPLED_VIEWS, gate
from finetox.compare.pairing import CompareError
from finetox.compare.posterior import write_posterior
from finetox.compare.result_json import result_json
from finetox.compare.run import ComparisonResult, compare_scores
from finetox.compare.sampled import check_same_decoding, collapse
from finetox.compare.settings import Settings
from finetox.io import check_table_path, check_writable, write_json, write_table
from finetox.scores_file import classifier_column, read_scores, score_classifiers

log = logging.getLogger("finetox.compare")

CLASSIFIER = "classifier"  # the table's column naming the classifier of each row


@dataclass(frozen=True)
class Outputs:
    """Where compare_file writes; None: not written (the command line's table too, unless
    --out names it: the terminal table is its answer)."""

    table: str | os.PathLike | None = None
    posterior: str | os.PathLike | None = None
    flips: str | os.PathLike | None = None
    json: str | os.PathLike | None = None

    def check(self) -> None:
        """Every output can be written: a table format the tables' suffixes name, in a folder
        this process can write into (the table accepts Parquet, JSONL, JSON or CSV)."""
        for table in (self.table, self.flips):
            if table:
                check_table_path(table)
        named = (
            (self.table, "comparison table"), (self.posterior, "posterior"),
            (self.flips, "flipped prompts"), (self.json, "comparison JSON"),
        )  # fmt: skip
        for path, what in named:
            if path:
                check_writable(path, what)


@dataclass
class Compared:
    """One classifier's comparison: its name, the views and the result as JSON data."""

    name: str
    result: ComparisonResult
    data: dict[str, Any]


def score_columns(
    a: str | os.PathLike,
    b: str | os.PathLike,
    score_column: str | None,
    classifier: str | None,
    classifiers: Sequence[str] | None,
) -> list[str | None]:
    """The score column of each comparison, the primary's first (None: the file's default)."""
    if score_column and (classifier or classifiers):
        raise CompareError(
            "--score-column and --classifier both choose the scores; name the classifier alone "
            f"(--classifier {score_column.removeprefix('score_')}) or the column alone"
        )
    if classifier and classifiers:
        raise CompareError("--classifier and --every-classifier: choose one")
    names = [classifier] if classifier else list(classifiers or [])
    if not names:
        return [score_column]
    for path in (a, b):
        for name in names:
            classifier_column(path, name)  # an error naming the file and what it holds
    return [f"score_{name}" for name in dict.fromkeys(names)]


def compare_file(
    a: str | os.PathLike,
    b: str | os.PathLike,
    outputs: Outputs,
    *,
    settings: Settings,
    gate_view: str = "paired",
    score_column: str | None = None,
    classifier: str | None = None,
    classifiers: Sequence[str] | None = None,
    threshold: float | None = None,
    allow_unpaired: bool = False,
    best: bool = True,
    pair: Mapping[str, Any] | None = None,
    cores: int | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read two score files, compare them (one classifier's scores: `score_column` or
    `classifier`, else the files' primary; or each of `classifiers`, the first the primary),
    write the outputs; returns the table (a `classifier` column first) and the result as JSON
    data (the first classifier's, with `by_classifier` when there are several)."""
    if gate_view not in GATE_VIEWS:
        raise CompareError(f"gate view {gate_view!r}: use one of {', '.join(GATE_VIEWS)}")
    columns = score_columns(a, b, score_column, classifier, classifiers)
    outputs.check()  # before the files are read or a model is fitted
    sampler = BestSampler(settings, cores) if best else None
    runs = [
        _compare_one(a, b, column, settings=settings, gate_view=gate_view, threshold=threshold,
                     allow_unpaired=allow_unpaired, sampler=sampler, pair=pair,
                     explicit=column is not None and classifier is None and not classifiers)
        for column in columns
    ]  # fmt: skip
    table = pd.concat(
        [run.result.table.assign(**{CLASSIFIER: run.name}) for run in runs], ignore_index=True
    )
    table = table[[CLASSIFIER, *runs[0].result.table.columns]]
    data = runs[0].data
    if len(runs) > 1:
        data["by_classifier"] = {
            run.name: {key: run.data.get(key) for key in ("classifier", "gate", "subsets")}
            for run in runs
        }
    _write(runs[0].result, table, data, outputs)
    return table, data


def _compare_one(
    a, b, column, *, settings, gate_view, threshold, allow_unpaired, sampler, pair, explicit
) -> Compared:
    scores_a = read_scores(a, column, threshold)
    scores_b = read_scores(b, column, threshold)
    check_scored_alike(scores_a, scores_b, explicit_column=explicit)
    sampled = check_same_decoding(scores_a, scores_b)  # before anything is fitted
    if gate_view in SAMPLED_VIEWS and sampled is None:
        raise CompareError(f"gate view {gate_view}: {a} and {b} are greedy runs; it needs "
                           "sampled runs (finetox generate --samples K)")  # fmt: skip
    n_rows = (len(scores_a.frame), len(scores_b.frame))
    if sampled is not None:
        scores_a, scores_b = collapse(scores_a), collapse(scores_b)
        log.info("sampled runs (%s): each prompt's highest score and whether any of its %d "
                 "samples is toxic", ", ".join(f"{key} {value}" for key, value in
                 sampled.items() if key != "decoding"), sampled["k"])  # fmt: skip
    record_a, record_b = classifier_record(scores_a), classifier_record(scores_b)
    name = record_a["name"] or scores_a.column
    log.info(
        "classifier %s: A (original) %s (%s; toxic: %s) vs B (tuned) %s (%s; toxic: %s)%s",
        name, a, scores_a.column, scores_a.toxic_from, b, scores_b.column, scores_b.toxic_from,
        f", pair {pair['name']} ({pair.get('kind')})" if pair else "",
    )  # fmt: skip
    result = compare_scores(
        scores_a, scores_b, settings, allow_unpaired=allow_unpaired, sampler=sampler,
        best=sampler is not None, k=None if sampled is None else sampled["k"],
    )  # fmt: skip
    if pair:
        for group in result.posterior.groups():
            result.posterior[group].attrs["pair"] = json.dumps(dict(pair))
    data = result_json(
        result.table,
        a={"path": str(a), "n": len(scores_a.frame),
           "classifier": record_a, **({"samples": n_rows[0]} if sampled else {})},
        b={"path": str(b), "n": len(scores_b.frame),
           "classifier": record_b, **({"samples": n_rows[1]} if sampled else {})},
        settings={
            "hdi_prob": settings.hdi_prob, "rope_pp": settings.rope.rate_pp,
            "rope_best": settings.rope.best, "gate_view": gate_view,
            **({"rope_emt": settings.rope.emt, "decoding": sampled} if sampled else {}),
        },
        gate={**gate(result.table, gate_view), "classifier": name},
        classifier=shared_classifier(scores_a, scores_b),
        pair=dict(pair) if pair else None,
    )  # fmt: skip
    return Compared(name, result, data)


def every_classifier(a: str | os.PathLike) -> list[str]:
    """The classifiers of A's scores file, primary first (B must hold each: compare_file checks)."""
    return score_classifiers(a)


def _write(
    primary: ComparisonResult, table: pd.DataFrame, data: dict[str, Any], outputs: Outputs
) -> None:
    # the table last: a finished table always has the other outputs beside it
    if outputs.posterior:
        write_posterior(primary.posterior, outputs.posterior)
    if outputs.flips:
        write_table(primary.flips, outputs.flips)
    if outputs.json:
        write_json(data, outputs.json)
    if outputs.table:
        write_table(table, outputs.table)
