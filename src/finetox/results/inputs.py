"""The results stage's inputs: every model's score file (as percents) and every pair's comparison
file, checked for completeness; a comparison file carries the HDI mass of its intervals."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import InputError, read_table
from finetox.results.counts import model_percents
from finetox.results.layout import table_pairs

log = logging.getLogger("finetox.results")

COMPARISON_COLUMNS = [
    "subset",
    "diff_mean",
    "diff_hdi_low",
    "diff_hdi_high",
    "credible",
    "rate_diff_mean",
    "rate_diff_hdi_low",
    "rate_diff_hdi_high",
]


@dataclass(frozen=True)
class ComparisonFile:
    """One pair's comparison file: its rows indexed by subset, and the HDI mass they were made with."""

    path: str
    frame: pd.DataFrame
    hdi_prob: float


@dataclass(frozen=True)
class Inputs:
    percents: dict[str, pd.DataFrame]  # model -> counts and percents (finetox.results.counts)
    comparisons: dict[str, ComparisonFile]  # pair name -> its comparison file

    def frames(self, table: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
        """The comparison frames of a table's pairs."""
        return {pair["name"]: self.comparisons[pair["name"]].frame for pair in table_pairs(table)}

    def hdi_prob(self, table: Mapping[str, Any]) -> float:
        """The HDI mass of a table's intervals: one value across its comparison files."""
        files = [self.comparisons[pair["name"]] for pair in table_pairs(table)]
        if len({file.hdi_prob for file in files}) > 1:
            found = ", ".join(f"{file.path}: {file.hdi_prob:g}" for file in files)
            raise InputError(
                f"the comparison files of {table['name']} disagree on hdi_prob ({found}); "
                "compare their pairs again with one hdi_prob"
            )
        return files[0].hdi_prob


def read_comparison(path: str | os.PathLike) -> ComparisonFile:
    """A comparison file, indexed by subset, with `credible` and `rate_credible` as booleans."""
    frame = read_table(path, columns=COMPARISON_COLUMNS)
    frame["subset"] = frame["subset"].astype(str)
    if frame["subset"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["subset"].duplicated(), "subset"]))
        raise InputError(f"{path}: subset(s) {dupes} appear more than once")
    frame = frame.set_index("subset")
    frame["credible"] = _as_bool(frame["credible"], "credible", path)
    if "rate_credible" in frame:
        frame["rate_credible"] = _as_bool(frame["rate_credible"], "rate_credible", path)
    else:
        # the rate verdict is read the same way as BEST's: its HDI excludes zero
        frame["rate_credible"] = (frame["rate_diff_hdi_low"] > 0) | (
            frame["rate_diff_hdi_high"] < 0
        )
    return ComparisonFile(path=str(path), frame=frame, hdi_prob=_hdi_prob(frame, path))


def _hdi_prob(frame: pd.DataFrame, path: str | os.PathLike) -> float:
    if "hdi_prob" not in frame:
        raise InputError(
            f"{path}: no 'hdi_prob' column (the HDI mass of its intervals); compare the pair again"
        )
    values = pd.to_numeric(frame["hdi_prob"], errors="coerce")
    if values.isna().any() or values.nunique() != 1 or not 0 < values.iloc[0] < 1:
        raise InputError(
            f"{path}: column 'hdi_prob' must hold one value in (0, 1) on every row; "
            f"found {sorted(set(frame['hdi_prob'].astype(str)))}"
        )
    return float(values.iloc[0])


def _as_bool(values: pd.Series, column: str, path: str | os.PathLike) -> pd.Series:
    if values.dtype == bool:
        return values
    mapped = values.astype(str).str.strip().str.lower().map({"true": True, "false": False})
    if mapped.isna().any():
        raise InputError(f"{path}: column {column!r} must be True or False")
    return mapped.astype(bool)


def files_by_stem(paths: Iterable[str | os.PathLike], suffix: str) -> dict[str, str]:
    """Model or pair name -> file, from the file names the workflow gives them."""
    return {Path(p).name.removesuffix(suffix): str(p) for p in paths}


def load_inputs(
    layout: Mapping[str, Any],
    score_files: Iterable[str | os.PathLike],
    comparison_files: Iterable[str | os.PathLike] = (),
) -> Inputs:
    """Percent tables of every model and the comparison file of every pair, checked for
    completeness."""
    scores = files_by_stem(score_files, ".parquet")
    missing = [m for m in layout["models"] if m not in scores]
    if missing:
        raise InputError(f"no score file for model(s) {missing}")
    classifiers = [c["name"] for c in layout["classifiers"]]
    percents = model_percents({m: scores[m] for m in layout["models"]}, classifiers)
    by_pair = files_by_stem(comparison_files, ".csv")
    names = [pair["name"] for pair in layout["pairs"]]
    missing = [name for name in names if name not in by_pair]
    if missing:
        raise InputError(f"no comparison file for pair(s) {missing}")
    return Inputs(percents, {name: read_comparison(by_pair[name]) for name in names})


def check_rates_agree(
    pairs: Iterable[Mapping[str, Any]],
    comparisons: Mapping[str, ComparisonFile],
    percents: Mapping[str, pd.DataFrame],
) -> None:
    """Warn when a comparison file's rates disagree with the score files (a stale comparison)."""
    for pair in pairs:
        frame = comparisons[pair["name"]].frame
        for model, key in ((pair["a"], "rate_a"), (pair["b"], "rate_b")):
            if key not in frame or model not in percents:
                continue
            counts = percents[model]
            for subset in frame.index.intersection(counts.index):
                expected = counts.at[subset, "toxic"] / counts.at[subset, "n"]
                if abs(float(frame.at[subset, key]) - expected) > 1e-6:
                    log.warning(
                        "%s: %s of %s in %s is %.4f but its score file gives %.4f",
                        pair["name"], key, model, subset, float(frame.at[subset, key]), expected,
                    )  # fmt: skip
