"""The classifier sensitivity tables (finetox.results.classifier_tables) with their display
strings, captions and notes, ready for finetox.results.write to write in every table format."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import pandas as pd

from finetox.pairs import KINDS
from finetox.results.classifier_tables import (
    ROBUST,
    classifier_agreement_table,
    classifier_names,
    classifier_rates_table,
    classifier_verdicts_table,
)
from finetox.results.inputs import Inputs
from finetox.results.render import fmt_pct, percents_display
from finetox.results.tables import _ordered_models
from finetox.scores_file import classifier_flags
from finetox.subsets import TOTAL, subset_label

log = logging.getLogger("finetox.results")

RATES_CAPTION = "Sensitivity to the classifier: % toxic generations by model and classifier"
VERDICTS_CAPTION = "Sensitivity to the classifier: each comparison's paired verdict by classifier"
AGREEMENT_CAPTION = "Sensitivity to the classifier: agreement of the classifiers' toxic flags"


class TableOutput(NamedTuple):
    name: str  # file stem
    data: pd.DataFrame  # the numbers (CSV)
    shown: pd.DataFrame  # display strings (Markdown, LaTeX, HTML)
    caption: str
    note: str


def thresholds(layout: Mapping[str, Any]) -> str:
    return ", ".join(f"{c['name']} > {c['threshold']:g}" for c in layout["classifiers"])


def classifier_outputs(layout: Mapping[str, Any], inputs: Inputs) -> list[TableOutput]:
    """The three tables of a study with two or more classifiers (none with one)."""
    names, stems = classifier_names(layout), layout["classifier_tables"]
    if not stems:
        return []
    primary = f"The first classifier, {names[0]}, is the primary one of Tables 1-3."
    rates = classifier_rates_table(layout, inputs.percents)
    percent_columns = list(rates.columns[rates.columns.get_loc("Classifier") + 1 :])
    verdicts = classifier_verdicts_table(layout, inputs.by_classifier)
    flags = pd.concat(
        [classifier_flags(inputs.score_files[m], names) for m in _ordered_models(layout)],
        ignore_index=True,
    )
    agreement = classifier_agreement_table(flags, names)
    _log(verdicts, agreement)
    return [
        TableOutput(stems["rates"], rates, percents_display(rates, percent_columns), RATES_CAPTION,
                    f"{primary} A generation is toxic when its score is above the classifier's "
                    f"threshold ({thresholds(layout)})."),
        TableOutput(stems["verdicts"], verdicts, verdicts_display(verdicts, layout, names),
                    VERDICTS_CAPTION, verdicts_note(primary)),
        TableOutput(stems["agreement"], agreement, agreement_display(agreement), AGREEMENT_CAPTION,
                    agreement_note(len(layout["models"]), thresholds(layout))),
    ]  # fmt: skip


def verdicts_note(primary: str) -> str:
    return (
        f"{primary} Each verdict is the paired view's (the change B - A in the share of prompts "
        "whose generation is toxic, tuned minus original), by the HDI + ROPE rule with the "
        "comparison's HDI mass and ROPE: increase = more toxic after tuning, decrease = less "
        "toxic, equivalent = within the ROPE, undecided = the interval reaches past a ROPE "
        "edge. Robust: every classifier gives the primary's verdict; otherwise the column names "
        "the classifiers whose verdict differs."
    )


def agreement_note(models: int, thresholds: str) -> str:
    return (
        f"Over every generation of the {models} models (n per subset), each classifier's toxic "
        f"flags at its own threshold ({thresholds}): Cohen's kappa (scikit-learn "
        "cohen_kappa_score; 1 = the same flags, 0 = agreement no better than chance; blank where "
        "undefined: both flag all or none alike), the % of generations both classifiers flag, "
        "and the % each flags."
    )


def verdicts_display(
    frame: pd.DataFrame, layout: Mapping[str, Any], names: list[str]
) -> pd.DataFrame:
    models = layout["models"]
    return pd.DataFrame(
        {
            "Comparison": [KINDS[kind].title.split(": ", 1)[-1] for kind in frame["kind"]],
            "Original (A)": [models[a]["label"] for a in frame["model_a"]],
            "Tuned (B)": [models[b]["label"] for b in frame["model_b"]],
            "Subset": [subset_label(s) for s in frame["subset"]],
            **{name: frame[name] for name in names},
            "Robust": [r if r == ROBUST else f"differs: {r}" for r in frame["robust"]],
        }
    )


def agreement_display(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Classifier A": frame["classifier_a"],
            "Classifier B": frame["classifier_b"],
            "Subset": [subset_label(s) for s in frame["subset"]],
            "n": frame["n"].astype(int).astype(str),
            "Cohen's kappa": [None if pd.isna(k) else f"{k:.3f}" for k in frame["kappa"]],
            "% both flag": [fmt_pct(v) for v in frame["pct_both"]],
            "% A flags": [fmt_pct(v) for v in frame["pct_a"]],
            "% B flags": [fmt_pct(v) for v in frame["pct_b"]],
        }
    ).astype(object)


def _log(verdicts: pd.DataFrame, agreement: pd.DataFrame) -> None:
    total = verdicts[verdicts["subset"] == TOTAL]
    robust = int((total["robust"] == ROBUST).sum())
    log.info("classifier verdicts: %d of %d comparisons robust in total", robust, len(total))
    for row in agreement[agreement["subset"] == TOTAL].itertuples():
        log.info(
            "classifiers %s and %s: kappa %.3f over %d generations, %.1f%% both flag",
            row.classifier_a, row.classifier_b, row.kappa, row.n, row.pct_both,
        )  # fmt: skip
