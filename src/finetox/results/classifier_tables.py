"""Sensitivity to the classifier (a study that lists two or more classifiers; the first is the
primary of Tables 1-3), as data frames:

- classifier_rates: % toxic of every model by classifier, in total and per subset;
- classifier_verdicts: each comparison's paired verdict (HDI + ROPE on the change in the paired
  toxic rate, B - A) under each classifier, per subset, and `robust`: "robust" when every
  classifier gives the primary's verdict, else the classifiers whose verdict differs;
- classifier_agreement: per pair of classifiers and subset, Cohen's kappa of their toxic flags
  over every generation of every model (scikit-learn's `cohen_kappa_score`), the share of
  generations both flag and the share each flags.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import pandas as pd

from finetox.results.inputs import ComparisonFile
from finetox.results.tables import _family_label, _ordered_models, _percent_columns, _percent_row
from finetox.subsets import TOTAL, subset_order

ROBUST = "robust"
VERDICT_KEYS = ["pair", "kind", "model_a", "model_b", "subset"]


def classifier_names(layout: Mapping[str, Any]) -> list[str]:
    return [classifier["name"] for classifier in layout["classifiers"]]


def classifier_rates_table(
    layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Family, Model, (Prompt format,) Classifier, Total and one column per subset (% toxic):
    one row per model and classifier, the primary first within each model."""
    columns = _percent_columns(layout)
    several_formats = len(layout["formats"]) > 1
    rows = []
    for model in _ordered_models(layout):
        spec = layout["models"][model]
        for name in classifier_names(layout):
            head = [_family_label(layout, spec["family"]), spec["label"]]
            head += [spec["prompt_format"]] if several_formats else []
            rows.append([*head, name, *_percent_row(percents[model], f"pct_{name}", columns)])
    heads = ["Family", "Model", *(["Prompt format"] if several_formats else []), "Classifier"]
    return pd.DataFrame(rows, columns=[*heads, *(label for _, label in columns)])


def robustness(verdicts: Sequence[str], names: Sequence[str]) -> str:
    """ "robust" when every classifier's verdict is the primary's (the first), else the
    classifiers whose verdict differs from it, comma-separated."""
    differ = [
        name for name, found in zip(names[1:], verdicts[1:], strict=True) if found != verdicts[0]
    ]
    return ROBUST if not differ else ", ".join(differ)


def classifier_verdicts_table(
    layout: Mapping[str, Any], comparisons: Mapping[str, Mapping[str, ComparisonFile]]
) -> pd.DataFrame:
    """One row per comparison (config order) and subset (total first, then the paper's order):
    its pair, kind, models, the paired verdict under each classifier (a column per classifier,
    the primary first) and `robust`."""
    names = classifier_names(layout)
    rows = []
    for pair in layout["pairs"]:
        files = comparisons[pair["name"]]
        primary = files[names[0]].frame
        subsets = [TOTAL, *(s for s in subset_order(primary.index) if s != TOTAL)]
        for subset in subsets:
            verdicts = [_verdict(files[name], subset) for name in names]
            rows.append(
                [pair["name"], pair["kind"], pair["a"], pair["b"], subset, *verdicts,
                 robustness(verdicts, names)]
            )  # fmt: skip
    return pd.DataFrame(rows, columns=[*VERDICT_KEYS, *names, "robust"])


def _verdict(file: ComparisonFile, subset: str) -> str:
    return str(file.frame.at[subset, "paired_verdict"]) if subset in file.frame.index else ""


def classifier_agreement_table(flags: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Per pair of classifiers (config order) and subset (total first): `n` generations, Cohen's
    kappa of their flags (NaN where undefined: both flag all or none alike), and the % of
    generations both flag, and each flags. `flags`: one row per generation of every model, with
    `subset` and a boolean `toxic_<name>` per classifier."""
    from sklearn.metrics import cohen_kappa_score

    subsets = [TOTAL, *(s for s in subset_order(flags["subset"]) if s != TOTAL)]
    rows = []
    for first, second in combinations(names, 2):
        for subset in subsets:
            part = flags if subset == TOTAL else flags[flags["subset"] == subset]
            x, y = part[f"toxic_{first}"].to_numpy(bool), part[f"toxic_{second}"].to_numpy(bool)
            with warnings.catch_warnings():  # undefined kappa warns, and is NaN, said in the note
                warnings.simplefilter("ignore")
                kappa = float(cohen_kappa_score(x, y))
            rows.append({
                "classifier_a": first, "classifier_b": second, "subset": subset, "n": len(part),
                "kappa": kappa, "pct_both": 100 * float((x & y).mean()),
                "pct_a": 100 * float(x.mean()), "pct_b": 100 * float(y.mean()),
            })  # fmt: skip
    return pd.DataFrame(rows)
