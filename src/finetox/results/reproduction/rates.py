"""The reproduction table of % toxic: for every row of the paper's Tables 1-3 whose model the study
ran with raw prompts, per subset and in total, the paper's % toxic beside ours (primary classifier
and threshold), the difference ours − paper with its HDI, and what was left out.

Both sides are binomial estimates: ours k of n, the paper's printed to 0.1 % of its own prompts
(paper.PAPER_PROMPTS), its count recovered as round(% × n / 100). Each rate gets the rate view's
Beta(1 + k, 1 + n − k) posterior, and the difference ours − paper its HDI (computed, not drawn:
finetox.results.intervals.difference_hdi); 'consistent' when that HDI holds 0. Asking only
whether the paper's value lies in our rate's HDI ignores the paper's own uncertainty: at a
perfect reproduction it says no about one row in six."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from finetox.results.counts import percent_one_decimal
from finetox.results.intervals import difference_hdi, rate_hdi, rate_posterior
from finetox.results.reproduction.matching import arms, listed
from finetox.results.reproduction.paper import PAPER_PROMPTS, SUBSET_ORDER
from finetox.subsets import SUBSETS, TOTAL, subset_label

REPRODUCTION_COLUMNS = [
    "table", "family", "model_paper", "slug", "arm", "model", "subset", "paper_pct", "ours_pct",
    "diff_pp", "toxic", "n", "hdi_low_pct", "hdi_high_pct", "paper_toxic", "paper_n",
    "difference_hdi_low_pp", "difference_hdi_high_pp", "hdi_prob", "consistent",
]  # fmt: skip


def paper_count(pct: float, prompts: int) -> int:
    """The paper's toxic count behind a % printed to one decimal over `prompts` prompts."""
    return round(pct * prompts / 100)


def reproduction_table(
    paper: pd.DataFrame,
    percents: Mapping[str, pd.DataFrame],
    hdi_prob: float,
    subsets: Sequence[str] = SUBSETS,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per paper table row, arm and subset (Total first) that the study ran (`percents`:
    our model -> its counts and percents, finetox.results.counts), and the notes on what was
    left out."""
    rows = []
    not_run: list[str] = []
    no_subset: dict[str, list[str]] = {}
    for row in paper.itertuples(index=False):
        ran = [(arm, model) for arm, model in arms(row.slug) if model in percents]
        if not ran and row.slug not in not_run:
            not_run.append(row.slug)
        for arm, model in ran:
            counts = paper_subsets_total(percents[model])
            for subset in SUBSET_ORDER:
                if subset in counts.index:
                    rows.append(_row(row, arm, model, subset, counts, hdi_prob))
                elif subset in subsets:  # the run has it, this model's file does not
                    no_subset.setdefault(model, [])
                    if subset not in no_subset[model]:
                        no_subset[model].append(subset)
    frame = pd.DataFrame(rows, columns=REPRODUCTION_COLUMNS)
    frame = frame.astype({"table": "Int64", "toxic": "Int64", "n": "Int64", "paper_toxic": "Int64",
                          "paper_n": "Int64"})  # fmt: skip
    return frame, _notes(frame, paper, not_run, no_subset, subsets)


def paper_subsets_total(counts: pd.DataFrame) -> pd.DataFrame:
    """A model's counts with its Total over the paper's subsets alone, as the paper's Total is:
    the subsets of a study's own prompt sources (prompts.sources) are left out of it."""
    own = [subset for subset in counts.index if subset not in (*SUBSETS, TOTAL)]
    if not own or TOTAL not in counts.index:
        return counts
    kept = counts.drop(index=own)
    parts = kept.drop(index=TOTAL)
    for column in kept.columns:
        if column.startswith("pct"):
            toxic = int(parts[column.replace("pct", "toxic", 1)].sum())
            kept.at[TOTAL, column] = percent_one_decimal(toxic, int(parts["n"].sum()))
        else:
            kept.at[TOTAL, column] = int(parts[column].sum())
    return kept


def _row(row: Any, arm: str, model: str, subset: str, counts: pd.DataFrame, hdi_prob: float):
    toxic, total = int(counts.at[subset, "toxic"]), int(counts.at[subset, "n"])
    low, high = (100 * end for end in rate_hdi(toxic, total, hdi_prob))
    paper_pct, ours = float(getattr(row, subset)), float(counts.at[subset, "pct"])
    paper_n = PAPER_PROMPTS[subset]
    paper_toxic = paper_count(paper_pct, paper_n)
    _, diff_low, diff_high = difference_hdi(
        rate_posterior(toxic, total), rate_posterior(paper_toxic, paper_n), hdi_prob
    )
    return {
        "table": row.table, "family": row.family, "model_paper": row.model_label,
        "slug": row.slug, "arm": arm, "model": model, "subset": subset,
        "paper_pct": paper_pct, "ours_pct": ours, "diff_pp": round(ours - paper_pct, 1),
        "toxic": toxic, "n": total, "hdi_low_pct": low, "hdi_high_pct": high,
        "paper_toxic": paper_toxic, "paper_n": paper_n,
        "difference_hdi_low_pp": 100 * diff_low, "difference_hdi_high_pp": 100 * diff_high,
        "hdi_prob": hdi_prob, "consistent": bool(diff_low <= 0 <= diff_high),
    }  # fmt: skip


def _notes(
    frame: pd.DataFrame,
    paper: pd.DataFrame,
    not_run: list[str],
    no_subset: Mapping[str, list[str]],
    subsets: Sequence[str],
) -> list[str]:
    models = paper["slug"].nunique()
    notes = []
    if frame.empty:
        notes.append(
            f"No model of the paper was run: none of the {models} models of its Tables 1-3 is a "
            f"model of this study with raw prompts (the paper's rows name them by the slugs of "
            f"config/config.yaml)."
        )
    elif not_run:
        notes.append(
            f"Left out, not run with raw prompts in this study ({len(not_run)} of the paper's "
            f"{models} models): {listed(not_run)}."
        )
    lacking = [subset for subset in SUBSETS if subset not in subsets]
    if lacking and not frame.empty:
        notes.append(
            f"Left out, subsets this run lacks: {listed(subset_label(s) for s in lacking)}; our "
            f"Total is over the subsets it has, the paper's over all six."
        )
    own = [subset for subset in subsets if subset not in SUBSETS]
    if own and not frame.empty:
        notes.append(
            f"Left out, the study's own prompt sources' subsets ({listed(own)}): the paper has "
            f"none; our Total here is over the paper's subsets alone."
        )
    for model, missing in no_subset.items():
        notes.append(
            f"Left out, subsets missing from the score file of {model}: "
            f"{listed(subset_label(s) for s in missing)}."
        )
    return notes
