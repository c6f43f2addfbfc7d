"""The reproduction tables' display: the strings each cell shows (the files and their formats are
finetox.results.render's)."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from finetox.results.render import fmt_pct
from finetox.subsets import subset_label
from finetox.verdicts import NOT_FITTED, in_words

PAPER_WORDS = {"b more toxic": "credible: B more toxic", "b less toxic": "credible: B less toxic"}


def _paper_words(credible: Any, direction: Any) -> str | None:
    if credible is None or credible is pd.NA:
        return None
    return PAPER_WORDS[direction] if credible else "not credible"


def _yes_no(value: Any) -> str | None:
    return None if value is None or value is pd.NA else ("yes" if value else "no")


def _interval(change: float, low: float, high: float, digits: int) -> str:
    if not all(math.isfinite(v) for v in (change, low, high)):
        return NOT_FITTED
    return f"{change:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def _signed_interval(low: float, high: float) -> str:
    # + 0.0 turns a -0.0 (an end a hair below zero) into 0.0, not "-0.0"
    low, high = (round(end, 1) + 0.0 for end in (low, high))
    return f"[{low:+.1f}, {high:+.1f}]"


def reproduction_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    rows = [
        [
            str(row.table), row.family, row.model_paper, row.arm or None, subset_label(row.subset),
            fmt_pct(row.paper_pct), fmt_pct(row.ours_pct), f"{row.diff_pp:+.1f}",
            f"[{row.hdi_low_pct:.1f}, {row.hdi_high_pct:.1f}]",
            _signed_interval(row.difference_hdi_low_pp, row.difference_hdi_high_pp),
            _yes_no(row.consistent),
        ]
        for row in frame.itertuples(index=False)
    ]  # fmt: skip
    columns = [
        "Paper's table", "Family", "Model (paper)", "Arm", "Subset", "Paper %", "Ours %",
        "Difference, pp", f"Ours, {hdi_prob:.0%} HDI, %", f"Difference, {hdi_prob:.0%} HDI, pp",
        "Consistent",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def verdicts_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    hdi = f"{hdi_prob:.0%} HDI"
    rows = []
    for row in frame.itertuples(index=False):
        best_rope = in_words(row.best_verdict, row.rope_best, "")
        paired_rope = in_words(row.paired_verdict, row.rope_pp, " pp")
        rows.append(
            [
                f"Figure {row.figure}", row.model_a, row.model_b, row.arm or None,
                subset_label(row.subset), _paper_words(row.paper_credible, row.paper_direction),
                _interval(row.best_change, row.best_hdi_low, row.best_hdi_high, 3),
                _paper_words(row.best_credible, row.best_direction) or NOT_FITTED,
                _yes_no(row.best_agrees), best_rope, _yes_no(row.best_rope_agrees),
                _interval(row.paired_change, row.paired_hdi_low, row.paired_hdi_high, 1),
                _paper_words(row.paired_credible, row.paired_direction) or NOT_FITTED,
                paired_rope,
            ]
        )  # fmt: skip
    columns = [
        "Paper's figure", "Original (A)", "Tuned (B)", "Arm", "Subset", "Paper",
        f"BEST change B − A [{hdi}]", "Ours, paper's rule (BEST)", "Agrees",
        "Ours, ROPE rule (BEST)", "Agrees (ROPE)", f"Paired change B − A, pp [{hdi}]",
        "Paired, paper's rule", "Paired, ROPE rule",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
