"""Percent toxic per model and subset, from the score files' flags (counted by
finetox.scores_file), rounded half up to one decimal in exact integer arithmetic."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import pandas as pd

from finetox.scores_file import toxic_counts


def percent_one_decimal(toxic: int, total: int) -> float:
    """100 * toxic / total rounded half up to one decimal, in exact integer arithmetic."""
    if total <= 0:
        return float("nan")
    tenths = (2000 * toxic + total) // (2 * total)
    return tenths / 10


def model_percents(
    score_files: Mapping[str, str | os.PathLike], classifiers: Sequence[str]
) -> dict[str, pd.DataFrame]:
    """Model name -> its counts (`n`, `toxic`, `toxic_<classifier>`, by subset and 'total') with
    `pct` (primary classifier) and `pct_<classifier>` columns; the first classifier is primary."""
    percents = {}
    for model, path in score_files.items():
        counts = toxic_counts(path, classifiers)
        for column in ["toxic", *(f"toxic_{name}" for name in classifiers)]:
            target = column.replace("toxic", "pct", 1)
            counts[target] = [
                percent_one_decimal(k, n) for k, n in zip(counts[column], counts["n"], strict=True)
            ]
        percents[model] = counts
    return percents
