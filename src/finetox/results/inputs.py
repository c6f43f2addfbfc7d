"""The results stage's inputs: every model's score file (as percents) and every pair's comparison
file, checked for completeness; a comparison file carries the HDI mass of its intervals and the
ROPE half-widths of its verdicts, and every change in it is B - A (tuned minus original)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import InputError, read_table
from finetox.results.counts import model_percents
from finetox.results.layout import table_pairs
from finetox.verdicts import NOT_FITTED, VERDICTS, verdict

log = logging.getLogger("finetox.results")

# The views of a comparison file (issue 13): prefix -> (change, HDI low, HDI high) columns.
VIEWS = {
    "paired": ("paired_change_pp", "paired_hdi_low_pp", "paired_hdi_high_pp"),
    "rate": ("rate_change_pp", "rate_hdi_low_pp", "rate_hdi_high_pp"),
    "best": ("best_change", "best_hdi_low", "best_hdi_high"),
}
CLASSIFIER = "classifier"  # the column naming each row's classifier (finetox.compare.files)
BOOL_COLUMNS = ["best_fitted", *(f"{view}_paper_credible" for view in VIEWS)]
VERDICT_COLUMNS = [f"{view}_verdict" for view in VIEWS]
# the settings every row of a file repeats: name -> (lowest allowed, highest allowed, exclusive)
SETTINGS = {
    "hdi_prob": (0.0, 1.0, True),
    "rope_pp": (0.0, 100.0, False),
    "rope_best": (0.0, 1.0, False),
}
COMPARISON_COLUMNS = [
    "subset",
    *(column for columns in VIEWS.values() for column in columns),
    *VERDICT_COLUMNS,
    *BOOL_COLUMNS,
    *SETTINGS,
]


@dataclass(frozen=True)
class ComparisonFile:
    """One pair's comparison file: its rows indexed by subset, the HDI mass they were made with
    and the ROPE half-widths of their verdicts (rate views in percentage points, BEST in score
    units)."""

    path: str
    frame: pd.DataFrame
    hdi_prob: float
    rope_pp: float
    rope_best: float


@dataclass(frozen=True)
class Settings:
    """What the intervals and verdicts of one table were made with (one value across its files)."""

    hdi_prob: float
    rope_pp: float
    rope_best: float


@dataclass(frozen=True)
class Inputs:
    percents: dict[str, pd.DataFrame]  # model -> counts and percents (finetox.results.counts)
    comparisons: dict[str, ComparisonFile]  # pair name -> its comparison file
    score_files: dict[str, str]  # model -> its score file
    # pair name -> classifier -> its rows (a study with two or more classifiers; else {})
    by_classifier: dict[str, dict[str, ComparisonFile]] = field(default_factory=dict)

    def frames(self, table: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
        """The comparison frames of a table's pairs."""
        return {pair["name"]: self.comparisons[pair["name"]].frame for pair in table_pairs(table)}

    def settings(self, table: Mapping[str, Any]) -> Settings:
        """The HDI mass and ROPE half-widths of a table: one value each across its files."""
        files = [self.comparisons[pair["name"]] for pair in table_pairs(table)]
        values = {}
        for key in SETTINGS:
            found = {getattr(file, key) for file in files}
            if len(found) > 1:
                listed = ", ".join(f"{file.path}: {getattr(file, key):g}" for file in files)
                raise InputError(
                    f"the comparison files of {table['name']} disagree on {key} ({listed}); "
                    f"compare their pairs again with one {key}"
                )
            values[key] = found.pop()
        return Settings(**values)

    def hdi_prob(self, table: Mapping[str, Any]) -> float:
        """The HDI mass of a table's intervals: one value across its comparison files."""
        return self.settings(table).hdi_prob


def read_comparison(path: str | os.PathLike, classifier: str) -> ComparisonFile:
    """One classifier's rows of a comparison file (the primary's for Tables 1-3), indexed by
    subset, its flags as booleans and its verdicts checked. A file without a `classifier` column
    (written before comparisons were per classifier) holds one classifier's rows: taken as
    `classifier`'s."""
    return read_comparisons(path, [classifier])[classifier]


def read_comparisons(
    path: str | os.PathLike, classifiers: Iterable[str]
) -> dict[str, ComparisonFile]:
    """classifier -> its rows of a comparison file, for each of `classifiers`; a classifier
    the file lacks is an error naming the file and those it holds."""
    frame = read_table(path)
    classifiers = list(classifiers)
    if CLASSIFIER not in frame.columns:
        if len(classifiers) > 1:
            raise InputError(
                f"{path}: no {CLASSIFIER!r} column (one classifier's rows), but the config "
                f"lists classifiers {classifiers}; compare the pair again"
            )
        return {name: _comparison(path, frame.copy()) for name in classifiers[:1]}
    held = list(dict.fromkeys(frame[CLASSIFIER].astype(str)))
    missing = [name for name in classifiers if name not in held]
    if missing:
        raise InputError(
            f"{path}: no rows of classifier(s) {missing}; it holds {held}; compare the pair "
            "again (every configured classifier is compared)"
        )
    return {
        name: _comparison(
            path, frame[frame[CLASSIFIER].astype(str) == name].drop(columns=CLASSIFIER)
        )
        for name in classifiers
    }


def _comparison(path: str | os.PathLike, frame: pd.DataFrame) -> ComparisonFile:
    missing = [column for column in COMPARISON_COLUMNS if column not in frame.columns]
    if missing:
        older = (
            " (an older comparison file: its differences were A - B)"
            if "diff_mean" in frame
            else ""
        )
        raise InputError(f"{path}: missing column(s) {missing}{older}; compare the pair again")
    frame["subset"] = frame["subset"].astype(str)
    if frame["subset"].duplicated().any():
        dupes = sorted(set(frame.loc[frame["subset"].duplicated(), "subset"]))
        raise InputError(f"{path}: subset(s) {dupes} appear more than once")
    frame = frame.set_index("subset")
    for column in BOOL_COLUMNS:
        frame[column] = _as_bool(frame[column], column, path)
    for column in VERDICT_COLUMNS:
        frame[column] = frame[column].fillna(NOT_FITTED).astype(str).str.strip()
        unknown = sorted(set(frame[column]) - {*VERDICTS, NOT_FITTED})
        if unknown:
            raise InputError(
                f"{path}: column {column!r} holds {unknown}; "
                f"expected one of {[*VERDICTS, NOT_FITTED]}"
            )
    settings = {key: _setting(frame, key, path) for key in SETTINGS}
    _check_verdicts(frame, settings, path)
    return ComparisonFile(path=str(path), frame=frame, **settings)


def _check_verdicts(
    frame: pd.DataFrame, settings: Mapping[str, float], path: str | os.PathLike
) -> None:
    """Warn where a verdict is not what its HDI and ROPE give (a hand-edited or stale file)."""
    for view, (_, low, high) in VIEWS.items():
        rope = settings["rope_best" if view == "best" else "rope_pp"]
        for subset, row in frame.iterrows():
            expected = verdict(float(row[low]), float(row[high]), rope)
            if row[f"{view}_verdict"] != expected:
                log.warning(
                    "%s: %s verdict of %s is %r, but its HDI [%g, %g] and ROPE ±%g give %r",
                    path, view, subset, row[f"{view}_verdict"], row[low], row[high], rope, expected,
                )  # fmt: skip


def _setting(frame: pd.DataFrame, key: str, path: str | os.PathLike) -> float:
    """A setting every row repeats (hdi_prob, rope_pp, rope_best): one value, in range."""
    low, high, exclusive = SETTINGS[key]
    values = pd.to_numeric(frame[key], errors="coerce")
    value = values.iloc[0] if len(values) else float("nan")
    in_range = low < value < high if exclusive else low <= value <= high
    if values.isna().any() or values.nunique() != 1 or not in_range:
        bounds = f"({low:g}, {high:g})" if exclusive else f"[{low:g}, {high:g}]"
        raise InputError(
            f"{path}: column {key!r} must hold one value in {bounds} on every row; "
            f"found {sorted(set(frame[key].astype(str)))}"
        )
    return float(value)


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
    # the primary's rows for Tables 1-3; every classifier's for the sensitivity tables
    read = classifiers if len(classifiers) > 1 else classifiers[:1]
    by_classifier = {name: read_comparisons(by_pair[name], read) for name in names}
    return Inputs(
        percents,
        {name: files[classifiers[0]] for name, files in by_classifier.items()},
        {m: scores[m] for m in layout["models"]},
        by_classifier if len(classifiers) > 1 else {},
    )


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
