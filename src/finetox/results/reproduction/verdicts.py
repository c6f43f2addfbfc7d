"""The reproduction table of verdicts: for every verdict the paper states whose pair the study
compared, the paper's credible / not credible beside ours under the paper's rule (BEST's HDI of
the change excludes 0, and which way) and under the HDI + ROPE rule, and whether they agree; the
paired view beside them."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from finetox.pairs import pair_name
from finetox.results.inputs import ComparisonFile
from finetox.results.reproduction.matching import arms, listed
from finetox.results.reproduction.paper import DIRECTIONS
from finetox.subsets import subset_label

# A paper 'not credible' (the HDI includes 0) agrees with a ROPE verdict that claims no change
NOT_CREDIBLE_VERDICTS = ("equivalent", "undecided")
VIEW_FIELDS = ("change", "hdi_low", "hdi_high", "credible", "direction", "agrees", "verdict",
               "rope_agrees")  # fmt: skip
VERDICTS_COLUMNS = [
    "figure", "a", "b", "arm", "pair", "model_a", "model_b", "subset", "paper_credible",
    "paper_direction", "best_fitted",
    *(f"best_{field}" for field in VIEW_FIELDS),
    *(f"paired_{field}" for field in VIEW_FIELDS),
    "hdi_prob", "rope_pp", "rope_best", "source_sentence",
]  # fmt: skip
# the comparison file's columns of each view: (change, HDI low, HDI high, paper's rule, verdict)
VIEW_SOURCES = {
    "best": ("best_change", "best_hdi_low", "best_hdi_high", "best_paper_credible",
             "best_verdict"),
    "paired": ("paired_change_pp", "paired_hdi_low_pp", "paired_hdi_high_pp",
               "paired_paper_credible", "paired_verdict"),
}  # fmt: skip


def _direction(low: float, high: float) -> str:
    """The paper's rule on an HDI of the change B - A: which way it is credible, or ''."""
    if low > 0:
        return "b more toxic"
    if high < 0:
        return "b less toxic"
    return ""


def _view(row: pd.Series, view: str, paper_credible: bool, paper_direction: str) -> dict:
    change, low, high, credible_column, verdict_column = VIEW_SOURCES[view]
    values = [float(row[column]) for column in (change, low, high)]
    fitted = all(math.isfinite(v) for v in values)
    verdict = str(row[verdict_column])
    credible = bool(row[credible_column]) if fitted else None
    direction = _direction(values[1], values[2]) if fitted else None
    if fitted:
        agrees = credible == paper_credible and (not credible or direction == paper_direction)
        wanted = (DIRECTIONS[paper_direction],) if paper_credible else NOT_CREDIBLE_VERDICTS
        rope_agrees = verdict in wanted
    else:
        agrees = rope_agrees = None
    return {
        f"{view}_change": values[0],
        f"{view}_hdi_low": values[1],
        f"{view}_hdi_high": values[2],
        f"{view}_credible": credible,
        f"{view}_direction": direction,
        f"{view}_agrees": agrees,
        f"{view}_verdict": verdict,
        f"{view}_rope_agrees": rope_agrees,
    }


def reproduction_verdicts(
    paper: pd.DataFrame,
    comparisons: Mapping[str, ComparisonFile],
    labels: Mapping[str, str],
) -> tuple[pd.DataFrame, list[str]]:
    """One row per paper verdict and arm whose pair the study compared (`comparisons`: pair name
    -> its comparison file; `labels`: model -> display name), and the notes on what was left
    out."""
    rows = []
    not_compared: list[str] = []
    no_subset: list[str] = []
    for row in paper.itertuples(index=False):
        ran = [(arm, b, pair_name(row.a, b)) for arm, b in arms(row.b)]
        ran = [(arm, b, pair) for arm, b, pair in ran if pair in comparisons]
        if not ran:
            not_compared.append(f"{pair_name(row.a, row.b)} ({subset_label(row.subset)})")
        for arm, b, pair in ran:
            file = comparisons[pair]
            if row.subset not in file.frame.index:
                no_subset.append(f"{pair} ({subset_label(row.subset)})")
                continue
            found = file.frame.loc[row.subset]
            record = {
                "figure": row.figure, "a": row.a, "b": row.b, "arm": arm, "pair": pair,
                "model_a": labels.get(row.a, row.a), "model_b": labels.get(b, b),
                "subset": row.subset, "paper_credible": row.paper_credible,
                "paper_direction": row.paper_direction, "best_fitted": bool(found["best_fitted"]),
                "hdi_prob": file.hdi_prob, "rope_pp": file.rope_pp, "rope_best": file.rope_best,
                "source_sentence": row.source_sentence,
            }  # fmt: skip
            for view in VIEW_SOURCES:
                record |= _view(found, view, row.paper_credible, row.paper_direction)
            rows.append(record)
    frame = pd.DataFrame(rows, columns=VERDICTS_COLUMNS)
    frame = frame.astype(
        {"figure": "Int64", **{f"{v}_{f}": "boolean" for v in VIEW_SOURCES
                               for f in ("credible", "agrees", "rope_agrees")}}
    )  # fmt: skip
    notes = []
    if frame.empty:
        notes.append(
            f"No pair of the paper was compared: none of the pairs of its {len(paper)} verdicts "
            f"is a comparison of this study with raw prompts (the paper's verdicts name them by "
            f"the slugs of config/config.yaml)."
        )
    elif not_compared:
        notes.append(
            f"Left out, pairs this study did not compare with raw prompts: {listed(not_compared)}."
        )
    if no_subset:
        notes.append(f"Left out, subsets missing from the comparison file: {listed(no_subset)}.")
    return frame, notes
