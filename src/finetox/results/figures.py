"""Figures: forest plots of the posterior changes with HDI bars (in the style of the paper's
Figures 1-4; `finetox.results.forest`) and a heatmap of toxic rates (`finetox.results.heatmap`),
as PNG and PDF, drawn from the same frames as the tables.

Which is which: `figure1_*` and `figure2_*` draw each pair in total in every view (their BEST
panels are the paper's Figures 1 and 2); `figure3_*` and `figure4_*` are the paper's Figures 3
and 4 (BEST, one subset, the paper's pairs where the study has them); `by_subset_*` are this
workflow's own, one panel per subset; `verdicts_by_classifier` (two or more classifiers) shows
each comparison's paired verdict under each classifier (finetox.results.classifier_figure).

The forest plots keep the paper's sign, original − tuned (A − B, the tables' change turned round),
and say so on their axes; their colours are the HDI+ROPE verdicts on the change, the ROPE shaded.

Files are byte-stable for the same inputs (no software or date stamps, matplotlib's default style
whatever the user's matplotlibrc; `finetox.results.drawing`), so a cluster run's figures can be
compared with a local run's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from finetox import paths
from finetox.results.classifier_figure import plot_classifier_verdicts
from finetox.results.classifier_tables import classifier_verdicts_table
from finetox.results.drawing import figure_style, save_figure
from finetox.results.forest import (
    plot_paper_figure,
    plot_subset_differences,
    plot_total_differences,
)
from finetox.results.heatmap import plot_heatmap
from finetox.results.inputs import Inputs, load_inputs
from finetox.results.tables import heatmap_frame, verdicts_table
from finetox.subsets import TOTAL, subset_label

log = logging.getLogger("finetox.results")


def plot_figures(
    layout: Mapping[str, Any],
    scores: Iterable[str | Path],
    comparisons: Iterable[str | Path],
    out_dir: str | Path | None = None,
) -> list[Path]:
    """Every figure of the layout, as PNG and PDF, under `out_dir`."""
    inputs = load_inputs(layout, scores, comparisons)
    out_dir = Path(out_dir or paths.figures_dir())
    written: list[Path] = []
    with figure_style():  # saving draws too: the style must hold until the files are written
        for spec in layout["figures"]:
            written += save_figure(draw_figure(spec, layout, inputs), out_dir / spec["name"])
    log.info("wrote %d figures (%d files) to %s", len(layout["figures"]), len(written), out_dir)
    return written


def draw_figure(spec: Mapping[str, Any], layout: Mapping[str, Any], inputs: Inputs) -> plt.Figure:
    """One figure of the layout; a comparison table's figure takes its HDI mass and ROPEs from
    the table's comparison files."""
    if spec["style"] == "classifier_verdicts":
        verdicts = classifier_verdicts_table(layout, inputs.by_classifier)
        return plot_classifier_verdicts(verdicts, layout)
    if spec["style"] == "heatmap":
        frame = heatmap_frame(layout, inputs.percents, spec["prompt_format"])
        primary = layout["classifiers"][0]["name"]
        fmt = f", {spec['prompt_format']} prompts" if len(layout["formats"]) > 1 else ""
        return plot_heatmap(
            frame,
            f"% toxic generations by model and subset{fmt}",
            f"classifier: {primary}; darker = more toxic",
        )
    table = next(table for table in layout["tables"] if table["name"] == spec["table"])
    verdicts = verdicts_table(table, layout, inputs.frames(table), inputs.percents)
    title = table["title"].replace("Table", "Figure for Table", 1)
    settings = inputs.settings(table)
    if spec["style"] == "total":
        return plot_total_differences(verdicts, title, settings)
    if spec["style"] == "paper":
        return plot_paper_figure(
            verdicts, spec["pairs"], spec["subset"], paper_figure_title(spec, table), settings
        )
    return plot_subset_differences(verdicts, layout["subsets"], spec["measure"], title, settings)


def paper_figure_title(spec: Mapping[str, Any], table: Mapping[str, Any]) -> str:
    """'Figure 3, as the paper's: instruct models vs community fine-tunes, BEST in total'."""
    number = spec["paper_figure"]
    what = table["title"].split(": ", 1)[-1]
    where = "in total" if spec["subset"] == TOTAL else f"on {subset_label(spec['subset'])} prompts"
    return f"Figure {number}, as the paper's: {what}, BEST {where}"
