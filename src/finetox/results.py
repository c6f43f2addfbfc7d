"""Results: the paper's tables (1-3 and Appendix A), the verdicts beside them, a classifier
sensitivity view, and the layout that says which tables and figures a study has.

Aggregation only: reads finished per-model score files (`results/scores/{model}.parquet`) and
per-pair comparison files (`results/comparisons/{a}__vs__{b}.csv`), and writes each table as CSV,
Markdown, LaTeX and HTML (the HTML is what the Snakemake report shows). Percentages are of the
primary classifier's `toxic` flags, counted exactly and rounded half up to one decimal.

Sign convention of every difference: first model minus second (a - b); positive means the first
model is more toxic.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.config import COMPARISON_KINDS, FORMAT_SUFFIX, SUBSETS, Study
from finetox.io import InputError, atomic_path, parquet_metadata, read_table, write_table

log = logging.getLogger("finetox.results")

TABLES_DIR = "results/tables"
FIGURES_DIR = "results/figures"
TABLE_FORMATS = ("csv", "md", "tex", "html")
FIGURE_FORMATS = ("png", "pdf")
TOTAL = "total"

# Comparison kind -> (table stem, title). Stems keep their number when a kind is switched off.
TABLE_KINDS = {
    "base_vs_instruct": ("table1_base_vs_instruct", "Table 1: base vs instruct models"),
    "instruct_vs_dolly": (
        "table2_instruct_vs_dolly",
        "Table 2: instruct models vs the same models tuned with LoRA on Dolly",
    ),
    "instruct_vs_community": (
        "table3_instruct_vs_community",
        "Table 3: instruct models vs community fine-tunes",
    ),
    "instruct_vs_4bit": (
        "table4_instruct_vs_4bit",
        "Table 4: instruct models in 16-bit vs loaded in 4-bit (quantization control)",
    ),
    "extra": ("table5_extra_pairs", "Table 5: extra pairs"),
}
APPENDIX_MODELS = "appendix_a_models"
APPENDIX_CLASSIFIERS = "appendix_b_classifiers"
HEATMAP = "heatmap_toxic_rates"
ROLE_ORDER = ("base", "instruct", "instruct_4bit", "dolly", "community")
ROLE_LABELS = {
    "base": "base",
    "instruct": "instruct",
    "instruct_4bit": "instruct, 4-bit",
    "dolly": "instruct + Dolly LoRA",
    "community": "community",
}
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
SIGN_NOTE = (
    "Differences are first model minus second: positive means the first model is more toxic."
)


# ---------------------------------------------------------------------------------------------
# Layout: which tables and figures a study has (plain data, so a rule can pass it as params)


def subset_label(subset: str) -> str:
    return subset.capitalize()


def study_subsets(config: Mapping[str, Any]) -> list[str]:
    """Subsets the prompt set has, in the paper's column order."""
    sizes = config["prompts"]["subsets"]
    return [subset for subset in SUBSETS if sizes.get(subset)]


def _blocks(study: Study, comparisons: list) -> list[dict[str, Any]]:
    """One block per first model: that model (the reference row) and every model compared with it."""
    blocks: dict[str, dict[str, Any]] = {}
    for comparison in comparisons:
        block = blocks.setdefault(
            comparison.a,
            {
                "family": study.model(comparison.a).family,
                "reference": comparison.a,
                "models": [comparison.a],
                "pairs": [],
            },
        )
        block["models"].append(comparison.b)
        block["pairs"].append(comparison.name)
    return list(blocks.values())


def _figures_for(table: dict[str, Any], suffix: str) -> list[dict[str, Any]]:
    kind = table["kind"]
    if kind == "instruct_vs_community":
        return [
            {"name": f"figure3_instruct_vs_community{suffix}", "table": table["name"],
             "style": "subsets", "measure": "best"},
            {"name": f"figure4_instruct_vs_community_rates{suffix}", "table": table["name"],
             "style": "subsets", "measure": "rate"},
        ]  # fmt: skip
    number = {"base_vs_instruct": 1, "instruct_vs_dolly": 2}.get(kind)
    stem = f"figure{number}_{kind}" if number else f"figure_{kind}"
    return [{"name": stem + suffix, "table": table["name"], "style": "total", "measure": "both"}]


def results_layout(study: Study) -> dict[str, Any]:
    """Everything the table and figure writers need to know about the study, as plain data."""
    config = study.config
    formats = list(dict.fromkeys(spec.prompt_format for spec in study.models.values()))
    models = {
        name: {
            "label": spec.label,
            "family": spec.family,
            "role": spec.role,
            "source": spec.source,
            "local": spec.local,
            "revision": spec.revision,
            "prompt_format": spec.prompt_format,
        }
        for name, spec in study.models.items()
    }
    tables: list[dict[str, Any]] = []
    figures: list[dict[str, Any]] = []
    for kind in COMPARISON_KINDS:
        stem, title = TABLE_KINDS[kind]
        for fmt in formats:
            chosen = [c for c in study.comparisons if c.kind == kind and c.prompt_format == fmt]
            if not chosen:
                continue
            suffix = FORMAT_SUFFIX[fmt]
            table = {
                "name": stem + suffix,
                "kind": kind,
                "prompt_format": fmt,
                "title": title + (f" ({fmt} prompts)" if len(formats) > 1 else ""),
                "blocks": _blocks(study, chosen),
            }
            tables.append(table)
            figures.extend(_figures_for(table, suffix))
    for fmt in formats:
        figures.append(
            {"name": HEATMAP + FORMAT_SUFFIX[fmt], "style": "heatmap", "prompt_format": fmt}
        )
    return {
        "subsets": study_subsets(config),
        "families": {key: (spec.get("label") or key) for key, spec in config["families"].items()},
        "classifiers": [
            {"name": c["name"], "threshold": c.get("threshold", 0.5)}
            for c in config["scoring"]["classifiers"]
        ],
        "hdi_prob": config["estimation"]["hdi_prob"],
        "formats": formats,
        "models": models,
        "pairs": [c.name for c in study.comparisons],
        "tables": tables,
        "figures": figures,
    }


def table_names(layout: Mapping[str, Any]) -> list[str]:
    names = []
    for table in layout["tables"]:
        names += [table["name"], table["name"] + "_verdicts"]
    return [*names, APPENDIX_MODELS, APPENDIX_CLASSIFIERS]


def table_files(layout: Mapping[str, Any], tables_dir: str = TABLES_DIR) -> list[str]:
    return [f"{tables_dir}/{name}.{ext}" for name in table_names(layout) for ext in TABLE_FORMATS]


def figure_files(layout: Mapping[str, Any], figures_dir: str = FIGURES_DIR) -> list[str]:
    return [
        f"{figures_dir}/{figure['name']}.{ext}"
        for figure in layout["figures"]
        for ext in FIGURE_FORMATS
    ]


# ---------------------------------------------------------------------------------------------
# Reading per-model and per-pair outputs


def percent_one_decimal(toxic: int, total: int) -> float:
    """100 * toxic / total rounded half up to one decimal, in exact integer arithmetic."""
    if total <= 0:
        return float("nan")
    tenths = (2000 * toxic + total) // (2 * total)
    return tenths / 10


def score_metadata(path: str | Path) -> dict[str, Any]:
    """The scoring stage's Parquet metadata (primary classifier and the classifier list)."""
    return parquet_metadata(path) or {}


def _flags(frame: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    values = frame[column]
    if values.isna().any():
        raise InputError(
            f"{path}: column {column!r} has {int(values.isna().sum())} missing flag(s)"
        )
    if values.dtype == bool:
        return values
    if not values.isin([0, 1]).all():
        bad = int((~values.isin([0, 1])).sum())
        raise InputError(
            f"{path}: column {column!r} must hold true/false flags; {bad} row(s) do not"
        )
    return values.astype(bool)


def toxic_counts(path: str | Path, classifiers: Sequence[str] = ()) -> pd.DataFrame:
    """Per subset and in total: prompts `n` and toxic generations `toxic` (primary flag), plus
    `toxic_<name>` for each named classifier. Index: subsets in file order, then 'total'."""
    flag_columns = ["toxic", *(f"toxic_{name}" for name in classifiers)]
    frame = read_table(path, columns=["subset", *flag_columns])
    if frame.empty:
        raise InputError(f"{path}: no rows")
    flags = pd.DataFrame({c: _flags(frame, c, path) for c in flag_columns})
    flags["subset"] = frame["subset"].astype(str)
    grouped = flags.groupby("subset", sort=False)
    counts = grouped[flag_columns].sum().astype(int)
    counts.insert(0, "n", grouped.size().astype(int))
    counts.loc[TOTAL] = [len(flags), *(int(flags[c].sum()) for c in flag_columns)]
    return counts


def model_percents(
    score_files: Mapping[str, str | Path], layout: Mapping[str, Any]
) -> dict[str, pd.DataFrame]:
    """Model name -> its counts with `pct` (primary) and `pct_<classifier>` columns."""
    names = [c["name"] for c in layout["classifiers"]]
    percents = {}
    for model, path in score_files.items():
        primary = score_metadata(path).get("primary")
        if primary is not None and primary != names[0]:
            raise InputError(
                f"{path}: its 'toxic' column is {primary!r}'s, but the config's primary classifier "
                f"is {names[0]!r}; score the model again"
            )
        counts = toxic_counts(path, names)
        for column in ["toxic", *(f"toxic_{name}" for name in names)]:
            target = "pct" if column == "toxic" else "pct_" + column.removeprefix("toxic_")
            counts[target] = [
                percent_one_decimal(k, n) for k, n in zip(counts[column], counts["n"], strict=True)
            ]
        percents[model] = counts
    return percents


def read_comparison(path: str | Path) -> pd.DataFrame:
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
    return frame


def _as_bool(values: pd.Series, column: str, path: str | Path) -> pd.Series:
    if values.dtype == bool:
        return values
    mapped = values.astype(str).str.strip().str.lower().map({"true": True, "false": False})
    if mapped.isna().any():
        raise InputError(f"{path}: column {column!r} must be True or False")
    return mapped.astype(bool)


def files_by_stem(paths: Iterable[str | Path], suffix: str) -> dict[str, str]:
    """Model or pair name -> file, from the file names the workflow gives them."""
    return {Path(p).name.removesuffix(suffix): str(p) for p in paths}


# ---------------------------------------------------------------------------------------------
# Tables (pure: frames in, frames out)


def _family_label(layout: Mapping[str, Any], family: str | None) -> str:
    return layout["families"].get(family, family or "")


def _percent_columns(layout: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [(TOTAL, "Total"), *((s, subset_label(s)) for s in layout["subsets"])]


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
            spec = layout["models"][model]
            rows.append(
                [
                    _family_label(layout, block["family"]),
                    spec["label"],
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
    subsets = [TOTAL, *layout["subsets"]]
    for block in table["blocks"]:
        for pair in block["pairs"]:
            a, b = pair.split("__vs__")
            frame = comparisons[pair]
            for subset in subsets:
                if subset not in frame.index:
                    continue
                row = frame.loc[subset]
                rows.append(
                    {
                        "family": _family_label(layout, block["family"]),
                        "pair": pair,
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
                )
    frame = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    return frame.astype({"n_a": "Int64", "n_b": "Int64"})


VERDICT_COLUMNS = [
    "family", "pair", "model_a", "model_b", "subset", "n_a", "n_b", "pct_a", "pct_b",
    "best_diff", "best_hdi_low", "best_hdi_high", "p_best_diff_gt_0", "best_credible",
    "rate_diff_pp", "rate_hdi_low_pp", "rate_hdi_high_pp", "p_rate_diff_gt_0", "rate_credible",
    "best_converged", "diagnostics",
]  # fmt: skip


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


# ---------------------------------------------------------------------------------------------
# Rendering: display strings, Markdown, LaTeX, HTML

MISSING = {"md": "—", "tex": "--", "html": "—"}


def _fmt_pct(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.1f}"


def rates_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Percentages as text with one decimal; missing cells as None."""
    shown = frame.astype(object)
    for column in frame.columns[2:]:
        shown[column] = [_fmt_pct(v) for v in frame[column]]
    return shown


def _interval(
    mean: float, low: float, high: float, digits: int, credible: bool, reliable: bool = True
) -> str:
    if pd.isna(mean):
        return "not fitted"  # the estimation stage says why (Diagnostics)
    mark = (" *" if credible else "") + ("" if reliable else " ?")
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]{mark}"


def _probability(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.3f}"


def verdicts_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    hdi = f"{hdi_prob:.0%} HDI"
    rows = []
    for row in frame.itertuples(index=False):
        rows.append(
            {
                "Family": row.family,
                "First model": row.model_a,
                "Second model": row.model_b,
                "Subset": subset_label(row.subset),
                "% toxic (first, second)": f"{_fmt_pct(row.pct_a)}, {_fmt_pct(row.pct_b)}",
                f"BEST diff [{hdi}]": _interval(
                    row.best_diff,
                    row.best_hdi_low,
                    row.best_hdi_high,
                    3,
                    row.best_credible,
                    row.best_converged,
                ),
                "P(BEST diff > 0)": _probability(row.p_best_diff_gt_0),
                f"Rate diff, pp [{hdi}]": _interval(
                    row.rate_diff_pp,
                    row.rate_hdi_low_pp,
                    row.rate_hdi_high_pp,
                    1,
                    row.rate_credible,
                ),
                "P(rate diff > 0)": _probability(row.p_rate_diff_gt_0),
                "Diagnostics": row.diagnostics or "ok",
            }
        )
    return pd.DataFrame(rows, columns=_verdict_display_columns(hdi))


def _verdict_display_columns(hdi: str) -> list[str]:
    return [
        "Family", "First model", "Second model", "Subset", "% toxic (first, second)",
        f"BEST diff [{hdi}]", "P(BEST diff > 0)", f"Rate diff, pp [{hdi}]", "P(rate diff > 0)",
        "Diagnostics",
    ]  # fmt: skip


def _is_numeric_column(values: Iterable[Any]) -> bool:
    texts = [v for v in values if v is not None and pd.notna(v)]
    return bool(texts) and all(re.fullmatch(r"[-+]?\d+(\.\d+)?", str(v)) for v in texts)


def markdown_table(frame: pd.DataFrame, missing: str = MISSING["md"]) -> str:
    """A GitHub-flavoured pipe table; numbers right-aligned, '|' escaped, no number re-formatting."""

    def cell(value: Any) -> str:
        text = missing if value is None or (isinstance(value, float) and pd.isna(value)) else value
        return str(text).replace("|", "\\|").replace("\n", " ")

    header = [cell(c) for c in frame.columns]
    body = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    right = [_is_numeric_column(frame[c]) for c in frame.columns]

    def line(cells: list[str]) -> str:
        padded = [
            c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [("-" * (w - 1) + ":") if r else ("-" * w) for w, r in zip(widths, right, strict=True)]
    rule = [r if len(r) >= 3 else r.rjust(3, "-") for r in rule]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *map(line, body)]) + "\n"


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",  # not '¡' and '¿' in the default font encoding
}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(char, char) for char in text)


def latex_table(frame: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table environment; every cell and header escaped for LaTeX."""
    align = "".join("r" if _is_numeric_column(frame[c]) else "l" for c in frame.columns)
    shown = frame.astype(object).map(
        lambda v: MISSING["tex"] if v is None or pd.isna(v) else latex_escape(str(v))
    )
    shown.columns = [latex_escape(str(c)) for c in frame.columns]
    return shown.style.hide(axis="index").to_latex(
        hrules=True,
        caption=latex_escape(caption),
        label=label,
        position_float="centering",
        column_format=align,
    )


def html_table(frame: pd.DataFrame, caption: str, note: str = "") -> str:
    """A small stand-alone page for the Snakemake report."""
    shown = frame.astype(object).where(frame.notna(), MISSING["html"])
    table = shown.to_html(index=False, border=0, na_rep=MISSING["html"], classes="finetox")
    style = (
        "body{font-family:sans-serif;font-size:14px}"
        "table.finetox{border-collapse:collapse}"
        "table.finetox th,table.finetox td{padding:3px 8px;border-bottom:1px solid #ddd}"
        "table.finetox td{text-align:right}table.finetox td:nth-child(-n+2){text-align:left}"
    )
    note_html = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(caption)}</title>'
        f"<style>{style}</style></head>\n<body><p><b>{html.escape(caption)}</b></p>\n{table}\n"
        f"{note_html}</body></html>\n"
    )


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_all_formats(
    data: pd.DataFrame,
    shown: pd.DataFrame,
    stem: str | Path,
    caption: str,
    note: str = "",
) -> list[Path]:
    """`data` as CSV; `shown` (display strings) as Markdown, LaTeX and HTML, captioned."""
    stem = Path(stem)
    paths = {ext: stem.with_name(f"{stem.name}.{ext}") for ext in TABLE_FORMATS}
    write_table(data, paths["csv"])
    markdown = f"**{caption}**\n\n{markdown_table(shown)}"
    if note:
        markdown += f"\n{note}\n"
    write_text(markdown, paths["md"])
    label = "tab:" + re.sub(r"[^A-Za-z0-9]+", "-", stem.name)
    latex_caption = f"{caption}. {note}" if note else caption
    write_text(latex_table(shown, latex_caption, label), paths["tex"])
    write_text(html_table(shown, caption, note), paths["html"])
    return list(paths.values())


# ---------------------------------------------------------------------------------------------
# Captions


def rates_note(layout: Mapping[str, Any], percents: Mapping[str, pd.DataFrame], table=None) -> str:
    primary = layout["classifiers"][0]
    sizes = _subset_sizes(percents)
    sized = ", ".join(f"{subset_label(s)} {sizes[s]}" for s in layout["subsets"] if s in sizes)
    text = (
        f"% of generations flagged toxic by {primary['name']} (threshold {primary['threshold']}), "
        f"per prompt subset and in total; prompts per subset: {sized}."
    )
    if table is not None:
        text += " The first row of each family block is the reference model of the comparison."
    return text


def _subset_sizes(percents: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    for counts in percents.values():
        return {str(k): int(v) for k, v in counts["n"].items() if k != TOTAL}
    return {}


def verdicts_note(layout: Mapping[str, Any]) -> str:
    hdi = f"{layout['hdi_prob']:.0%}"
    return (
        f"BEST: difference of posterior mean toxicity scores (Student-t model); rate: difference of "
        f"toxic rates in percentage points (Beta-Binomial). Brackets: {hdi} highest-density "
        f"interval; * credible (the interval excludes 0); ? the BEST fit missed its convergence "
        f"thresholds (see Diagnostics), so its interval and verdict are unreliable; 'not fitted': "
        f"BEST had no proper posterior on these scores (see Diagnostics), read the rates. {SIGN_NOTE}"
    )


# ---------------------------------------------------------------------------------------------
# Files


def _check_rates_agree(
    comparisons: Mapping[str, pd.DataFrame], percents: Mapping[str, pd.DataFrame]
) -> None:
    """Warn when a comparison file's rates disagree with the score files (a stale comparison)."""
    for pair, frame in comparisons.items():
        a, b = pair.split("__vs__")
        for model, key in ((a, "rate_a"), (b, "rate_b")):
            if key not in frame or model not in percents:
                continue
            counts = percents[model]
            for subset in frame.index.intersection(counts.index):
                expected = counts.at[subset, "toxic"] / counts.at[subset, "n"]
                if abs(float(frame.at[subset, key]) - expected) > 1e-6:
                    log.warning(
                        "%s: %s of %s in %s is %.4f but its score file gives %.4f",
                        pair, key, model, subset, float(frame.at[subset, key]), expected,
                    )  # fmt: skip


def load_inputs(
    layout: Mapping[str, Any],
    score_files: Iterable[str | Path],
    comparison_files: Iterable[str | Path] = (),
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Percent tables of every model and comparison frames of every pair, checked for completeness."""
    scores = files_by_stem(score_files, ".parquet")
    missing = [m for m in layout["models"] if m not in scores]
    if missing:
        raise InputError(f"no score file for model(s) {missing}")
    percents = model_percents({m: scores[m] for m in layout["models"]}, layout)
    comparisons_by_pair = files_by_stem(comparison_files, ".csv")
    comparisons = {
        pair: read_comparison(comparisons_by_pair[pair])
        for pair in layout["pairs"]
        if pair in comparisons_by_pair
    }
    return percents, comparisons


def write_tables(
    layout: Mapping[str, Any],
    scores: Iterable[str | Path],
    comparisons: Iterable[str | Path],
    out_dir: str | Path = TABLES_DIR,
) -> list[Path]:
    """Every table of the layout, in every format, under `out_dir`."""
    percents, frames = load_inputs(layout, scores, comparisons)
    missing = [
        p for t in layout["tables"] for b in t["blocks"] for p in b["pairs"] if p not in frames
    ]
    if missing:
        raise InputError(f"no comparison file for pair(s) {missing}")
    out_dir = Path(out_dir)
    written: list[Path] = []
    for table in layout["tables"]:
        rates = rates_table(table, layout, percents)
        written += write_all_formats(
            rates, rates_display(rates), out_dir / table["name"], table["title"],
            rates_note(layout, percents, table),
        )  # fmt: skip
        verdicts = verdicts_table(table, layout, frames, percents)
        _check_rates_agree({p: frames[p] for b in table["blocks"] for p in b["pairs"]}, percents)
        written += write_all_formats(
            verdicts, verdicts_display(verdicts, layout["hdi_prob"]),
            out_dir / f"{table['name']}_verdicts", f"{table['title']}: verdicts",
            verdicts_note(layout),
        )  # fmt: skip
        _log_table(table["name"], rates, verdicts)
    models = models_table(layout, percents)
    shown = models.copy()
    shown["Total"] = [_fmt_pct(v) for v in models["Total"]]
    written += write_all_formats(
        models, shown, out_dir / APPENDIX_MODELS, "Appendix A: evaluated models",
        rates_note(layout, percents),
    )  # fmt: skip
    sensitivity = classifiers_table(layout, percents)
    shown = sensitivity.copy()
    for classifier in layout["classifiers"]:
        shown[classifier["name"]] = [_fmt_pct(v) for v in sensitivity[classifier["name"]]]
    written += write_all_formats(
        sensitivity, shown, out_dir / APPENDIX_CLASSIFIERS,
        "Appendix B: total % toxic by classifier (sensitivity)",
        "The first classifier is the primary one of the tables; each uses its own threshold.",
    )  # fmt: skip
    log.info("wrote %d tables (%d files) to %s", len(table_names(layout)), len(written), out_dir)
    return written


def _log_table(name: str, rates: pd.DataFrame, verdicts: pd.DataFrame) -> None:
    total = verdicts[verdicts["subset"] == TOTAL]
    credible = int(total["best_credible"].sum()), int(total["rate_credible"].sum())
    log.info(
        "%s: %d models; in total %d of %d pairs credible by BEST, %d by rate",
        name, len(rates), credible[0], len(total), credible[1],
    )  # fmt: skip
