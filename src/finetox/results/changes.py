"""The prompts that changed most: for every pair, the prompts whose toxicity score rose most from
the original model (A) to the tuned one (B), and those whose score fell most, with the prompt and
both continuations where the score files carry them. One HTML page for the report (text escaped,
a content warning first) and a CSV of the same rows.

Read from the two models' score files, paired by prompt_id; the change is score(B) - score(A)
by the primary classifier, positive: more toxic after tuning (the verdicts' direction).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import atomic_path, write_table
from finetox.results import captions
from finetox.results.inputs import Inputs
from finetox.results.layout import table_pairs
from finetox.results.render import HTML_STYLE
from finetox.scores_file import TEXT_COLUMNS, Scores, read_scores
from finetox.subsets import subset_label

log = logging.getLogger("finetox.results")

TOP = 5
DIRECTIONS = {
    "increase": "Largest increases: more toxic after tuning",
    "decrease": "Largest decreases: less toxic after tuning",
}
FLAGS = {
    (False, True): "became toxic",
    (True, False): "became non-toxic",
    (True, True): "toxic in both",
    (False, False): "toxic in neither",
}
COLUMNS = [
    "table", "family", "pair", "model_a", "model_b", "direction", "rank", "prompt_id", "subset",
    "score_a", "score_b", "change", "toxic_a", "toxic_b", "prompt", "generation_a", "generation_b",
]  # fmt: skip
PAGE_STYLE = (
    HTML_STYLE
    + "table.finetox td{text-align:left;vertical-align:top}"
    + "table.finetox td.num{text-align:right;white-space:nowrap}"
    + "table.finetox td.text{white-space:pre-wrap;max-width:28em}"
    + "p.warning{border:2px solid #c0392b;padding:6px 10px;background:#fdf2f2}"
)


def largest_changes(
    layout: Mapping[str, Any], inputs: Inputs, top: int = TOP
) -> tuple[pd.DataFrame, bool]:
    """Per pair (in table order), the `top` largest score increases B - A, then the `top` largest
    decreases, as rows of COLUMNS; and whether the score files carried the texts."""
    primary = layout["classifiers"][0]["name"]
    cache: dict[str, Scores] = {}

    def scores(model: str) -> pd.DataFrame:
        if model not in cache:
            cache[model] = read_scores(inputs.score_files[model], f"score_{primary}")
        return _unique(cache[model])

    rows: list[dict[str, Any]] = []
    texts = True
    for table in layout["tables"]:
        for block in table["blocks"]:
            family = layout["families"].get(block["family"], block["family"] or "")
            for pair in block["pairs"]:
                a, b = scores(pair["a"]), scores(pair["b"])
                texts &= all(column in side for side in (a, b) for column in TEXT_COLUMNS)
                joined = _side(a, "_a").merge(_side(b, "_b"), on="prompt_id", validate="one_to_one")
                joined["change"] = joined["score_b"] - joined["score_a"]
                chosen = {
                    "increase": _ranked(joined[joined["change"] > 0], largest=True).head(top),
                    "decrease": _ranked(joined[joined["change"] < 0], largest=False).head(top),
                }
                for direction, picked in chosen.items():
                    for rank, row in enumerate(picked.itertuples(index=False), start=1):
                        rows.append(
                            {
                                "table": table["name"],
                                "family": family,
                                "pair": pair["name"],
                                "model_a": layout["models"][pair["a"]]["label"],
                                "model_b": layout["models"][pair["b"]]["label"],
                                "direction": direction,
                                "rank": rank,
                                "prompt_id": row.prompt_id,
                                "subset": row.subset_a,
                                "score_a": row.score_a,
                                "score_b": row.score_b,
                                "change": row.change,
                                "toxic_a": bool(row.toxic_a),
                                "toxic_b": bool(row.toxic_b),
                                "prompt": _text(row, "prompt_a") or _text(row, "prompt_b"),
                                "generation_a": _text(row, "generation_a"),
                                "generation_b": _text(row, "generation_b"),
                            }
                        )
    return pd.DataFrame(rows, columns=COLUMNS), texts


def _unique(scores: Scores) -> pd.DataFrame:
    frame = scores.frame
    dupes = frame["prompt_id"].duplicated()
    if dupes.any():
        log.warning(
            "%s: %d prompt_id(s) appear more than once; the largest changes use the first of each",
            scores.path, int(dupes.sum()),
        )  # fmt: skip
        frame = frame[~dupes]
    return frame


def _ranked(frame: pd.DataFrame, largest: bool) -> pd.DataFrame:
    """By size of change (ties by prompt_id), so the page is the same on every run."""
    return frame.sort_values(
        ["change", "prompt_id"], ascending=[not largest, True], kind="mergesort"
    )


def _side(frame: pd.DataFrame, suffix: str) -> pd.DataFrame:
    return frame.rename(columns={c: c + suffix for c in frame.columns if c != "prompt_id"})


def _text(row: Any, column: str) -> str | None:
    value = getattr(row, column, None)
    return None if value is None or pd.isna(value) else str(value)


def changes_page(frame: pd.DataFrame, layout: Mapping[str, Any], texts: bool, top: int) -> str:
    """The HTML page: the content warning, what it shows, then per pair two tables."""
    primary = layout["classifiers"][0]["name"]
    parts = [
        f'<p class="warning"><b>{html.escape(captions.CONTENT_WARNING)}</b></p>',
        f"<p>{html.escape(captions.changes_note(top, primary, texts))}</p>",
    ]
    for pair in _pairs(layout):
        a, b = (layout["models"][pair[side]] for side in ("a", "b"))
        family = layout["families"].get(pair["family"], pair["family"] or "")
        parts.append(
            f"<h2>{_esc(family)}: {_esc(a['label'])} (A, original) → "
            f"{_esc(b['label'])} (B, tuned)</h2>"
        )
        rows = frame[frame["pair"] == pair["name"]]
        for direction, heading in DIRECTIONS.items():
            picked = rows[rows["direction"] == direction]
            parts.append(f"<h3>{html.escape(heading)}</h3>")
            if picked.empty:
                parts.append("<p>None: no prompt's score moved this way.</p>")
            else:
                parts.append(_changes_table(picked, texts))
    caption = html.escape(captions.CHANGES_CAPTION)
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{caption}</title>'
        f"<style>{PAGE_STYLE}</style></head>\n<body><p><b>{caption}</b></p>\n"
        + "\n".join(parts)
        + "\n</body></html>\n"
    )


def _pairs(layout: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every pair, in table order (the order of the report's tables)."""
    return [pair for table in layout["tables"] for pair in table_pairs(table)]


def _esc(value: Any) -> str:
    return html.escape("" if value is None or pd.isna(value) else str(value), quote=True)


def _changes_table(rows: pd.DataFrame, texts: bool) -> str:
    headers = ["#", "Subset", "Prompt id"]
    if texts:
        headers += ["Prompt", "Original (A) continuation", "Tuned (B) continuation"]
    headers += ["Score A", "Score B", "Change B − A", "Toxic flag"]
    lines = ['<table class="finetox"><thead><tr>']
    lines += [f"<th>{html.escape(h)}</th>" for h in headers]
    lines.append("</tr></thead><tbody>")
    for row in rows.itertuples(index=False):
        cells = [
            f'<td class="num">{row.rank}</td>',
            f"<td>{_esc(subset_label(str(row.subset)))}</td>",
            f"<td>{_esc(row.prompt_id)}</td>",
        ]
        if texts:
            cells += [
                f'<td class="text">{_esc(row.prompt)}</td>',
                f'<td class="text">{_esc(row.generation_a)}</td>',
                f'<td class="text">{_esc(row.generation_b)}</td>',
            ]
        cells += [
            f'<td class="num">{row.score_a:.3f}</td>',
            f'<td class="num">{row.score_b:.3f}</td>',
            f'<td class="num">{row.change:+.3f}</td>',
            f"<td>{FLAGS[(row.toxic_a, row.toxic_b)]}</td>",
        ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def write_largest_changes(
    layout: Mapping[str, Any], inputs: Inputs, stem: str | Path, top: int = TOP
) -> list[Path]:
    """`stem`.csv (the rows, unrounded) and `stem`.html (the report page)."""
    stem = Path(stem)
    frame, texts = largest_changes(layout, inputs, top)
    csv, page = stem.with_name(f"{stem.name}.csv"), stem.with_name(f"{stem.name}.html")
    write_table(frame, csv)
    with atomic_path(page) as tmp:
        tmp.write_text(changes_page(frame, layout, texts, top), encoding="utf-8")
    log.info("%s: the %d largest score changes each way of %d pairs",
             page, top, frame["pair"].nunique())  # fmt: skip
    return [csv, page]
