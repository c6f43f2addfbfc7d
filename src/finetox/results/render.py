"""Display strings of the tables, and their Markdown, LaTeX and HTML (pandas renders all three;
Markdown through tabulate). Numbers are formatted once, here, and never re-formatted."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from finetox.subsets import subset_label

MISSING = {"md": "—", "tex": "--", "html": "—"}


def fmt_pct(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.1f}"


def rates_display(frame: pd.DataFrame) -> pd.DataFrame:
    """Percentages as text with one decimal; missing cells as None."""
    return percents_display(frame, frame.columns[2:])


def percents_display(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """`frame` with the percentages in `columns` as text with one decimal; missing as None."""
    shown = frame.astype(object)
    for column in columns:
        shown[column] = [fmt_pct(v) for v in frame[column]]
    return shown


def _interval(
    mean: float, low: float, high: float, digits: int, credible: bool, reliable: bool = True
) -> str:
    if pd.isna(mean):
        return "not fitted"  # the compare stage says why (Diagnostics)
    mark = (" *" if credible else "") + ("" if reliable else " ?")
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]{mark}"


def _probability(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.3f}"


def verdicts_display(frame: pd.DataFrame, hdi_prob: float) -> pd.DataFrame:
    """The verdicts as the paper reads them; `hdi_prob` labels the intervals."""
    hdi = f"{hdi_prob:.0%} HDI"
    rows = [
        [
            row.family,
            row.model_a,
            row.model_b,
            subset_label(row.subset),
            f"{fmt_pct(row.pct_a)}, {fmt_pct(row.pct_b)}",
            _interval(
                row.best_diff,
                row.best_hdi_low,
                row.best_hdi_high,
                3,
                row.best_credible,
                row.best_converged,
            ),
            _probability(row.p_best_diff_gt_0),
            _interval(
                row.rate_diff_pp, row.rate_hdi_low_pp, row.rate_hdi_high_pp, 1, row.rate_credible
            ),
            _probability(row.p_rate_diff_gt_0),
            row.diagnostics or "ok",
        ]
        for row in frame.itertuples(index=False)
    ]
    columns = [
        "Family", "First model", "Second model", "Subset", "% toxic (first, second)",
        f"BEST diff [{hdi}]", "P(BEST diff > 0)", f"Rate diff, pp [{hdi}]", "P(rate diff > 0)",
        "Diagnostics",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _is_numeric_column(values: Iterable[Any]) -> bool:
    texts = [v for v in values if v is not None and pd.notna(v)]
    return bool(texts) and all(re.fullmatch(r"[-+]?\d+(\.\d+)?", str(v)) for v in texts)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value))


def markdown_table(frame: pd.DataFrame, missing: str = MISSING["md"]) -> str:
    """A GitHub-flavoured pipe table; numbers right-aligned, '|' escaped, no number re-formatting."""

    def cell(value: Any) -> str:
        text = missing if _is_missing(value) else value
        return str(text).replace("|", "\\|").replace("\n", " ")

    shown = frame.astype(object).map(cell)
    shown.columns = [cell(c) for c in frame.columns]
    align = ["right" if _is_numeric_column(frame[c]) else "left" for c in frame.columns]
    text = shown.to_markdown(index=False, tablefmt="pipe", colalign=align, disable_numparse=True)
    return text + "\n"


LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}",  # not '¡' and '¿' in the default font encoding
}  # fmt: skip


def latex_escape(text: str) -> str:
    return "".join(LATEX_SPECIAL.get(char, char) for char in text)


def _latex_cell(value: Any) -> str:
    return MISSING["tex"] if value is None or pd.isna(value) else latex_escape(str(value))


def latex_table(frame: pd.DataFrame, caption: str, label: str) -> str:
    """A booktabs table environment; every cell and header escaped for LaTeX."""
    align = "".join("r" if _is_numeric_column(frame[c]) else "l" for c in frame.columns)
    shown = frame.astype(object).map(_latex_cell)
    shown.columns = [latex_escape(str(c)) for c in frame.columns]
    return shown.style.hide(axis="index").to_latex(
        hrules=True,
        caption=latex_escape(caption),
        label=label,
        position_float="centering",
        column_format=align,
    )


HTML_STYLE = (
    "body{font-family:sans-serif;font-size:14px}"
    "table.finetox{border-collapse:collapse}"
    "table.finetox th,table.finetox td{padding:3px 8px;border-bottom:1px solid #ddd}"
    "table.finetox td{text-align:right}table.finetox td:nth-child(-n+2){text-align:left}"
)


def html_table(frame: pd.DataFrame, caption: str, note: str = "") -> str:
    """A small stand-alone page for the Snakemake report."""
    shown = frame.astype(object).where(frame.notna(), MISSING["html"])
    table = shown.to_html(index=False, border=0, na_rep=MISSING["html"], classes="finetox")
    note_html = f"<p>{html.escape(note)}</p>" if note else ""
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(caption)}</title>'
        f"<style>{HTML_STYLE}</style></head>\n<body><p><b>{html.escape(caption)}</b></p>\n{table}\n"
        f"{note_html}</body></html>\n"
    )


def rendered(shown: pd.DataFrame, caption: str, note: str, name: str) -> dict[str, str]:
    """Format -> text of a captioned table (display strings `shown`): Markdown, LaTeX, HTML."""
    markdown = f"**{caption}**\n\n{markdown_table(shown)}"
    if note:
        markdown += f"\n{note}\n"
    label = "tab:" + re.sub(r"[^A-Za-z0-9]+", "-", name)
    latex_caption = f"{caption}. {note}" if note else caption
    return {
        "md": markdown,
        "tex": latex_table(shown, latex_caption, label),
        "html": html_table(shown, caption, note),
    }
