"""The tables as data frames (pure: layout, percents and comparison frames in, frames out).

Direction of every change: B - A, the tuned (second) model minus the original (first, the
reference); positive means more toxic after tuning. The figures turn it round to the paper's
sign themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from finetox.subsets import TOTAL, subset_label

ROLE_ORDER = ("base", "instruct", "instruct_4bit", "dolly", "dolly_published", "community")
ROLE_LABELS = {
    "base": "base",
    "instruct": "instruct",
    "instruct_4bit": "instruct, 4-bit",
    "dolly": "instruct + Dolly LoRA",
    "dolly_published": "instruct + Dolly LoRA, the authors' published model",
    "community": "community",
}
VIEW_FIELDS = ("change", "hdi_low", "hdi_high", "p_increase", "p_equivalent", "verdict",
               "paper_credible")  # fmt: skip
# the comparison file's column of each field of a view (the rate views count in percentage points)
VIEW_SOURCES = {
    view: {
        field: f"{view}_{field}" + ("_pp" if unit == "pp" and field in VIEW_FIELDS[:3] else "")
        for field in VIEW_FIELDS
    }
    for view, unit in (("paired", "pp"), ("rate", "pp"), ("best", "score"))
}
PAIRED_COUNTS = ("both", "only_a", "only_b", "neither")
VERDICT_COLUMNS = [
    "family", "pair", "model_a", "model_b", "subset", "n_a", "n_b", "n_pairs", "pct_a", "pct_b",
    *PAIRED_COUNTS,
    *(source for view in VIEW_SOURCES.values() for source in view.values()),
    "best_fitted", "best_converged", "diagnostics", "hdi_prob", "rope_pp", "rope_best",
]  # fmt: skip
INT_COLUMNS = ["n_a", "n_b", "n_pairs", *PAIRED_COUNTS]


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
    """One row per pair and subset (total first): both models' rates, the paired counts, and the
    three views of the change B - A (paired and rate in percentage points, BEST in score units),
    each with its HDI, P(increase), P(equivalent), HDI+ROPE verdict and the paper's rule."""
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
    return frame.astype({column: "Int64" for column in INT_COLUMNS})


def _verdict_row(
    pair: Mapping[str, Any],
    subset: str,
    row: pd.Series,
    family: str,
    layout: Mapping[str, Any],
    percents: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    a, b = pair["a"], pair["b"]
    record = {
        "family": family,
        "pair": pair["name"],
        "model_a": layout["models"][a]["label"],
        "model_b": layout["models"][b]["label"],
        "subset": subset,
        "pct_a": _pct(percents, a, subset),
        "pct_b": _pct(percents, b, subset),
    }
    for key in INT_COLUMNS:
        record[key] = _get(row, key)
    for view in VIEW_SOURCES.values():
        for field, source in view.items():
            if field == "verdict":
                record[source] = str(row[source])
            elif field == "paper_credible":
                record[source] = bool(row[source])
            else:
                record[source] = _get(row, source)
    diagnostics = _diagnostics(row)
    record["best_fitted"] = bool(row["best_fitted"])
    record["best_converged"] = record["best_fitted"] and not diagnostics
    record["diagnostics"] = diagnostics
    for key in ("hdi_prob", "rope_pp", "rope_best"):
        record[key] = float(row[key])
    return record


def paired_marks(
    table: Mapping[str, Any], layout: Mapping[str, Any], comparisons: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """The paired verdict of each row of `rates_table` against its block's reference model, per
    Total and subset column (same shape and columns as rates_table; None on reference rows)."""
    columns = _percent_columns(layout)
    rows = []
    for block in table["blocks"]:
        by_model = {pair["b"]: comparisons[pair["name"]] for pair in block["pairs"]}
        for model in block["models"]:
            frame = by_model.get(model) if model != block["reference"] else None
            marks = [
                str(frame.at[key, "paired_verdict"])
                if frame is not None and key in frame.index
                else None
                for key, _ in columns
            ]
            rows.append([None, None, *marks])
    return pd.DataFrame(rows, columns=["Family", "Model", *(label for _, label in columns)])


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


def models_table(
    layout: Mapping[str, Any],
    percents: Mapping[str, pd.DataFrame],
    commits: Mapping[str, str | None] | None = None,
    found_as: Mapping[str, str | None] | None = None,
) -> pd.DataFrame:
    """Appendix A: every evaluated model with its family, role, source, revision, the commit or
    content hash its generations were made with (`commits`, from the score files' metadata;
    blank where a file does not say) and total % toxic; where a hub repository was found under
    a new name (`found_as`: renamed since the config was written), a column with that name."""
    commits, found_as = commits or {}, found_as or {}
    rows = []
    for name in _ordered_models(layout):
        spec = layout["models"][name]
        row = {
            "Family": _family_label(layout, spec["family"]),
            "Model": spec["label"],
            "Role": ROLE_LABELS.get(spec["role"], spec["role"]),
            "Hub id or path": spec["source"],
            "Revision": spec["revision"] or "",
            "Commit or content hash": commits.get(name) or "",
        }
        if any(found_as.values()):
            row["Found on the hub as"] = found_as.get(name) or ""
        if len(layout["formats"]) > 1:
            row["Prompt format"] = spec["prompt_format"]
        row["Total"] = float(percents[name].at[TOTAL, "pct"])
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
