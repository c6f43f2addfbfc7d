"""Display strings of the tables, and their Markdown, LaTeX and HTML (pandas renders all three;
Markdown through tabulate). Numbers are formatted once, here, and never re-formatted; verdicts
are put in words by finetox.verdicts.in_words, the compare stage's own wording."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from finetox.subsets import subset_label
from finetox.verdicts import NOT_FITTED, in_words

MISSING = {"md": "—", "tex": "--", "html": "—"}


# The paired verdict of a tuned model, as a mark on its cells of the % toxic tables.
VERDICT_MARKS = {"increase": "▲", "decrease": "▼", "equivalent": "=", "undecided": "?"}
VIEWS = ("paired", "rate", "best")
VIEW_NAMES = {"paired": "paired", "rate": "rate", "best": "BEST"}


def fmt_pct(value: float) -> str | None:
    return None if pd.isna(value) else f"{value:.1f}"


def rates_display(frame: pd.DataFrame, marks: pd.DataFrame | None = None) -> pd.DataFrame:
    """Percentages as text with one decimal, missing cells as None; with `marks` (a paired
    verdict per cell, as tables.paired_marks gives), a tuned model's cells carry its mark."""
    shown = percents_display(frame, frame.columns[2:])
    if marks is not None:
        for column in frame.columns[2:]:
            shown[column] = [
                _marked(text, mark) for text, mark in zip(shown[column], marks[column], strict=True)
            ]
    return shown


def _marked(text: str | None, verdict: str | None) -> str | None:
    mark = VERDICT_MARKS.get(verdict) if verdict else None
    return f"{text} {mark}" if text is not None and mark else text


def percents_display(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """`frame` with the percentages in `columns` as text with one decimal; missing as None."""
    shown = frame.astype(object)
    for column in columns:
        shown[column] = [fmt_pct(v) for v in frame[column]]
    return shown


def _interval(change: float, low: float, high: float, digits: int) -> str:
    if pd.isna(change):
        return NOT_FITTED  # the compare stage says why (Diagnostics)
    values = (change, low, high)
    if any(values) and max(abs(v) for v in values) < 0.5 * 10**-digits:
        # all would read 0 at `digits` decimals: show how small they are, so that a verdict
        # resting on them (the paper's rule on a change of 1e-5) can be seen for what it is
        return f"{change:+.1e} [{low:+.1e}, {high:+.1e}]"
    return f"{change:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def interval_text(change: float, low: float, high: float, digits: int) -> str:
    """A change with its HDI, `digits` decimals ('+2.5 [+0.4, +4.6]'), as the verdicts tables
    show it; 'not fitted' for a missing change."""
    return _interval(change, low, high, digits)


def _words(verdict: str, rope: float, unit: str, reliable: bool = True) -> str:
    words = in_words(verdict, rope, unit)
    return words if reliable or verdict == NOT_FITTED else f"{words} (unreliable fit)"


def _paper(row: Any) -> str:
    """Which views the paper's rule (the HDI excludes 0) calls credible."""
    credible = [VIEW_NAMES[v] for v in VIEWS if getattr(row, f"{v}_paper_credible")]
    return ", ".join(credible) if credible else "none"


def verdicts_display(
    frame: pd.DataFrame, hdi_prob: float, rope_pp: float, rope_best: float
) -> pd.DataFrame:
    """The verdicts as a reader takes them: each view's change B - A with its HDI (labelled
    `hdi_prob`), its HDI+ROPE verdict in words, and the views the paper's rule calls credible."""
    hdi = f"{hdi_prob:.0%} HDI"
    rows = [
        [
            row.family,
            row.model_a,
            row.model_b,
            subset_label(row.subset),
            f"{fmt_pct(row.pct_a) or MISSING['md']} → {fmt_pct(row.pct_b) or MISSING['md']}",
            _interval(row.paired_change_pp, row.paired_hdi_low_pp, row.paired_hdi_high_pp, 1),
            _words(row.paired_verdict, rope_pp, " pp"),
            _interval(row.rate_change_pp, row.rate_hdi_low_pp, row.rate_hdi_high_pp, 1),
            _words(row.rate_verdict, rope_pp, " pp"),
            _interval(row.best_change, row.best_hdi_low, row.best_hdi_high, 3),
            _words(row.best_verdict, rope_best, "", row.best_converged),
            _paper(row),
            row.diagnostics or "ok",
        ]
        for row in frame.itertuples(index=False)
    ]
    columns = [
        "Family", "Original (A)", "Tuned (B)", "Subset", "% toxic (original → tuned)",
        f"Paired change, pp [{hdi}]", "Paired verdict",
        f"Rate change, pp [{hdi}]", "Rate verdict",
        f"BEST change in mean score [{hdi}]", "BEST verdict",
        "Paper's rule (HDI excludes 0)", "Diagnostics",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _is_numeric_column(values: Iterable[Any]) -> bool:
    texts = [v for v in values if v is not None and pd.notna(v)]
    marks = "".join(VERDICT_MARKS.values())
    number = rf"[-+]?\d+(\.\d+)?( [{re.escape(marks)}])?"
    return bool(texts) and all(re.fullmatch(number, str(v)) for v in texts)


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
    # characters outside pdflatex's default input, in base LaTeX math (no package needed)
    "▲": r"$\uparrow$", "▼": r"$\downarrow$", "→": r"$\rightarrow$", "±": r"$\pm$",
    "−": "-", "≤": r"$\leq$", "×": r"$\times$", "—": "--", "|": r"\textbar{}",
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
