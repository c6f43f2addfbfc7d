"""The tables' captions and the notes under them (the report's own captions are
workflow/report/*.rst)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from finetox.subsets import TOTAL, subset_label

SIGN_NOTE = (
    "Differences are first model minus second: positive means the first model is more toxic."
)
MODELS_CAPTION = "Appendix A: evaluated models"
CLASSIFIERS_CAPTION = "Appendix B: total % toxic by classifier (sensitivity)"
CLASSIFIERS_NOTE = (
    "The first classifier is the primary one of the tables; each uses its own threshold."
)


def verdicts_caption(table: Mapping[str, Any]) -> str:
    return f"{table['title']}: verdicts"


def rates_note(
    layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame], blocks: bool = False
) -> str:
    """What the percentages are; `blocks`: the table has reference rows, and says so."""
    primary = layout["classifiers"][0]
    sizes = _subset_sizes(percents)
    sized = ", ".join(f"{subset_label(s)} {sizes[s]}" for s in layout["subsets"] if s in sizes)
    text = (
        f"% of generations flagged toxic by {primary['name']} (threshold {primary['threshold']}), "
        f"per prompt subset and in total; prompts per subset: {sized}."
    )
    if blocks:
        text += " The first row of each family block is the reference model of the comparison."
    return text


def _subset_sizes(percents: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    for counts in percents.values():
        return {str(k): int(v) for k, v in counts["n"].items() if k != TOTAL}
    return {}


def verdicts_note(hdi_prob: float) -> str:
    """How to read a verdicts table whose intervals hold `hdi_prob` of the posterior."""
    return (
        f"BEST: difference of posterior mean toxicity scores (Student-t model); rate: difference of "
        f"toxic rates in percentage points (Beta-Binomial). Brackets: {hdi_prob:.0%} highest-density "
        f"interval; * credible (the interval excludes 0); ? the BEST fit missed its convergence "
        f"thresholds (see Diagnostics), so its interval and verdict are unreliable; 'not fitted': "
        f"BEST had no proper posterior on these scores (see Diagnostics), read the rates. {SIGN_NOTE}"
    )
