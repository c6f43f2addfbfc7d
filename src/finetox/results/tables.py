"""The tables as data frames (pure: layout, percents and comparison frames in, frames out).

Sign convention of every difference: first model minus second (a - b); positive means the first
model is more toxic.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from finetox.subsets import TOTAL, subset_label

ROLE_ORDER = ("base", "instruct", "instruct_4bit", "dolly", "community")
ROLE_LABELS = {
    "base": "base",
    "instruct": "instruct",
    "instruct_4bit": "instruct, 4-bit",
    "dolly": "instruct + Dolly LoRA",
    "community": "community",
}
VERDICT_COLUMNS = [
    "family", "pair", "model_a", "model_b", "subset", "n_a", "n_b", "pct_a", "pct_b",
    "best_diff", "best_hdi_low", "best_hdi_high", "p_best_diff_gt_0", "best_credible",
    "rate_diff_pp", "rate_hdi_low_pp", "rate_hdi_high_pp", "p_rate_diff_gt_0", "rate_credible",
    "best_converged", "diagnostics",
]  # fmt: skip


def _family_label(layout: Mapping[str, Any], family: str | None) -> str:
    return layout["families"].get(family, family or "")


def _percent_columns(layout: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(TOTAL, subset_label(TOTAL)), *((s, subset_label(s)) for s in layout["subsets"])]


def _percent_row(counts: pd.DataFrame, column: str, subsets: list[tuple[str, str]]) -> list[float]:
    return [
        float(counts.at[key, column]) if key in counts.index else float("nan") for key, _ in subsets
    ]


def rates_table(
    table: Mapping[str, Any], layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The paper's layout: Family, Model, Total, then one column per subset (% toxic);
    each block starts with its reference model (base in Table 1, instruct in Tables 2 and 3)."""
    columns = _percent_columns(layout)
    rows = []
    for block in table["blocks"]:
        for model in block["models"]:
            rows.append(
                [
                    _family_label(layout, block["family"]),
                    layout["models"][model]["label"],
                    *_percent_row(percents[model], "pct", columns),
                ]
            )
    return pd.DataFrame(rows, columns=["Family", "Model", *(label for _, label in columns)])


def verdicts_table(
    table: Mapping[str, Any],
    layout: Mapping[str, Any],
    comparisons: Mapping[str, pd.DataFrame],
    percents: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """One row per pair and subset (total first): both models' rates and the BEST and rate-based
    differences (a - b) with their HDIs, P(diff > 0) and credible marks."""
    rows = []
    for block in table["blocks"]:
        family = _family_label(layout, block["family"])
        for pair in block["pairs"]:
            frame = comparisons[pair["name"]]
            for subset in [TOTAL, *layout["subsets"]]:
                if subset in frame.index:
                    rows.append(
                        _verdict_row(pair, subset, frame.loc[subset], family, layout, percents)
                    )
    frame = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    return frame.astype({"n_a": "Int64", "n_b": "Int64"})


def _verdict_row(
    pair: Mapping[str, Any],
    subset: str,
    row: pd.Series,
    family: str,
    layout: Mapping[str, Any],
    percents: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    a, b = pair["a"], pair["b"]
    return {
        "family": family,
        "pair": pair["name"],
        "model_a": layout["models"][a]["label"],
        "model_b": layout["models"][b]["label"],
        "subset": subset,
        "n_a": _get(row, "n_a"),
        "n_b": _get(row, "n_b"),
        "pct_a": _pct(percents, a, subset),
        "pct_b": _pct(percents, b, subset),
        "best_diff": float(row["diff_mean"]),
        "best_hdi_low": float(row["diff_hdi_low"]),
        "best_hdi_high": float(row["diff_hdi_high"]),
        "p_best_diff_gt_0": _get(row, "p_diff_gt_0"),
        "best_credible": bool(row["credible"]),
        "rate_diff_pp": 100 * float(row["rate_diff_mean"]),
        "rate_hdi_low_pp": 100 * float(row["rate_diff_hdi_low"]),
        "rate_hdi_high_pp": 100 * float(row["rate_diff_hdi_high"]),
        "p_rate_diff_gt_0": _get(row, "p_rate_diff_gt_0"),
        "rate_credible": bool(row["rate_credible"]),
        "best_converged": not _diagnostics(row),
        "diagnostics": _diagnostics(row),
    }


def _get(row: pd.Series, key: str) -> float | None:
    value = row.get(key)
    return float(value) if value is not None and pd.notna(value) else None


def _pct(percents: Mapping[str, pd.DataFrame], model: str, subset: str) -> float:
    counts = percents[model]
    return float(counts.at[subset, "pct"]) if subset in counts.index else float("nan")


def _diagnostics(row: pd.Series) -> str:
    for key in ("warning", "warnings", "diagnostics"):
        value = row.get(key)
        if value is not None and pd.notna(value) and str(value).strip():
            return str(value).strip()
    return ""


def models_table(layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Appendix A: every evaluated model with its family, role, source, revision and total % toxic."""
    rows = []
    for name in _ordered_models(layout):
        spec = layout["models"][name]
        row = {
            "Family": _family_label(layout, spec["family"]),
            "Model": spec["label"],
            "Role": ROLE_LABELS.get(spec["role"], spec["role"]),
            "Hub id or path": spec["source"],
            "Revision": spec["revision"] or "",
        }
        if len(layout["formats"]) > 1:
            row["Prompt format"] = spec["prompt_format"]
        row["Total"] = float(percents[name].at[TOTAL, "pct"])
        rows.append(row)
    return pd.DataFrame(rows)


def classifiers_table(
    layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Sensitivity view: total % toxic of every model by each classifier (first = primary)."""
    rows = []
    for name in _ordered_models(layout):
        spec = layout["models"][name]
        row = {"Family": _family_label(layout, spec["family"]), "Model": spec["label"]}
        if len(layout["formats"]) > 1:
            row["Prompt format"] = spec["prompt_format"]
        for classifier in layout["classifiers"]:
            row[classifier["name"]] = float(percents[name].at[TOTAL, f"pct_{classifier['name']}"])
        rows.append(row)
    return pd.DataFrame(rows)


def _ordered_models(layout: Mapping[str, Any], prompt_format: str | None = None) -> list[str]:
    """Models by family (config order), then role (base, instruct, ..., community), then config order."""
    families = list(layout["families"])
    names = [
        name
        for name, spec in layout["models"].items()
        if prompt_format is None or spec["prompt_format"] == prompt_format
    ]
    order = {name: index for index, name in enumerate(layout["models"])}

    def key(name: str) -> tuple[int, int, int]:
        spec = layout["models"][name]
        family = families.index(spec["family"]) if spec["family"] in families else len(families)
        role = ROLE_ORDER.index(spec["role"]) if spec["role"] in ROLE_ORDER else len(ROLE_ORDER)
        return family, role, order[name]

    return sorted(names, key=key)


def heatmap_frame(
    layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame], prompt_format: str
) -> pd.DataFrame:
    """% toxic by model (rows, labelled 'family: model') and Total + subsets (columns)."""
    columns = _percent_columns(layout)
    rows, index = [], []
    for name in _ordered_models(layout, prompt_format):
        spec = layout["models"][name]
        index.append(f"{_family_label(layout, spec['family'])}: {spec['label']}")
        rows.append(_percent_row(percents[name], "pct", columns))
    return pd.DataFrame(rows, index=index, columns=[label for _, label in columns])
