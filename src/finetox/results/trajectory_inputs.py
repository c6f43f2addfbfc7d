"""What the trajectory and forgetting outputs read: each model's toxic counts (primary classifier,
checked against the config's), the instruct-vs-point comparison files, and each adapter's step."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from finetox.io import InputError
from finetox.results.forgetting import Rate
from finetox.results.inputs import ComparisonFile, files_by_stem, read_comparison
from finetox.results.intervals import rate_hdi
from finetox.results.trajectory_layout import trajectory_models, trajectory_pairs
from finetox.scores_file import toxic_counts
from finetox.training_record import read_training_record


@dataclass(frozen=True)
class TrajectoryInputs:
    counts: dict[str, pd.DataFrame]  # model -> n and toxic by subset and total
    comparisons: dict[str, ComparisonFile]  # instruct-vs-point pair -> its comparison file
    steps: dict[str, int]  # adapter folder -> the optimizer step it was taken at


def load_trajectory_inputs(
    layout: Mapping[str, Any],
    scores: Iterable[str | os.PathLike],
    comparisons: Iterable[str | os.PathLike],
    adapters: Iterable[str | os.PathLike],
) -> TrajectoryInputs:
    """The inputs, checked: a score file whose flags are another classifier's than the config's
    primary one (`layout["classifiers"]`, primary first) is an error, as for Tables 1-3."""
    by_model = files_by_stem(scores, ".parquet")
    by_pair = files_by_stem(comparisons, ".csv")
    missing = [m for m in trajectory_models(layout) if m not in by_model]
    missing += [p for p in trajectory_pairs(layout) if p not in by_pair]
    if missing:
        raise InputError(f"the trajectory outputs need files for: {', '.join(missing)}")
    classifiers = layout["classifiers"]
    return TrajectoryInputs(
        counts={m: toxic_counts(by_model[m], classifiers) for m in trajectory_models(layout)},
        comparisons={
            p: read_comparison(by_pair[p], classifiers[0]) for p in trajectory_pairs(layout)
        },
        steps={str(adapter): _step(adapter) for adapter in adapters},
    )


def _step(adapter: str | os.PathLike) -> int:
    step = read_training_record(adapter).get("global_step")
    if not isinstance(step, int) or step < 1:
        raise InputError(f"{adapter}: its training record names no optimizer step (global_step)")
    return step


def rate_of(counts: pd.DataFrame, subset: str) -> Rate:
    return Rate(int(counts.at[subset, "toxic"]), int(counts.at[subset, "n"]))


def rate_interval(rate: Rate, hdi_prob: float) -> tuple[float, float, float]:
    """% toxic and the exact HDI of the rate's Beta(1 + k, 1 + n - k) posterior, in percent."""
    low, high = rate_hdi(rate.k, rate.n, hdi_prob)
    return 100 * rate.k / rate.n, 100 * low, 100 * high
