"""The trajectory and forgetting figures: % toxic against tuning step per family (the base and
instruct models as reference lines, HDIs as bands), all families on one page over the fraction of
the run (do runs on the same data converge?), and a forest plot of forgetting positions."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from finetox.results.figures import figure_style, save_figure  # noqa: E402
from finetox.results.trajectory_inputs import (  # noqa: E402
    TrajectoryInputs,
    rate_interval,
    rate_of,
)
from finetox.subsets import TOTAL  # noqa: E402

BASE_COLOUR, INSTRUCT_COLOUR, RUN_COLOUR = "#c0392b", "#2e6da4", "#333333"
KIND_COLOURS = {
    "dolly": "#333333",
    "step": "#8c8c8c",
    "community": "#e69f00",
    "published": "#1b9e77",
}


def _total(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["subset"] == TOTAL]


def _reference(layout, inputs: TrajectoryInputs, model: str) -> tuple[float, float, float]:
    return rate_interval(rate_of(inputs.counts[model], TOTAL), layout["hdi_prob"])


def _draw_reference(ax, values: tuple[float, float, float], colour: str, text: str, style: str):
    pct, low, high = values
    ax.axhline(pct, color=colour, linestyle=style, linewidth=1.2, label=f"{text}: {pct:.1f}%")
    ax.axhspan(low, high, color=colour, alpha=0.08, linewidth=0)


def plot_trajectory_by_family(layout, inputs: TrajectoryInputs, table: pd.DataFrame) -> plt.Figure:
    lines = [line for line in layout["lines"] if line["run"]]
    columns = min(3, len(lines))
    rows = math.ceil(len(lines) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(4.2 * columns, 3.4 * rows), squeeze=False, layout="constrained"
    )
    total = _total(table)
    for ax, line in zip(axes.flat, lines, strict=False):
        run = total[
            (total["family"] == line["family"]) & (total["prompt_format"] == line["prompt_format"])
        ]
        if line["base"]:
            _draw_reference(ax, _reference(layout, inputs, line["base"]), BASE_COLOUR, "base", "--")
        _draw_reference(
            ax, _reference(layout, inputs, line["instruct"]), INSTRUCT_COLOUR, "instruct", ":"
        )
        ax.fill_between(run["step"], run["hdi_low_pct"], run["hdi_high_pct"], color=RUN_COLOUR, alpha=0.15,
                        linewidth=0, label=f"{layout['hdi_prob']:.0%} HDI")  # fmt: skip
        ax.plot(run["step"], run["pct"], marker="o", color=RUN_COLOUR, label="tuned (Dolly LoRA)")
        ax.set_title(line["label"])
        ax.set_xlabel("optimizer step (0 = instruct model)")
        ax.set_ylabel("% toxic generations (total)")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(lines) :]:
        ax.set_visible(False)
    figure.suptitle("Toxicity along the Dolly tuning run, per family")
    return figure


def plot_trajectory_all(layout, table: pd.DataFrame) -> plt.Figure:
    figure, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    total = _total(table)
    for line in (line for line in layout["lines"] if line["run"]):
        run = total[
            (total["family"] == line["family"]) & (total["prompt_format"] == line["prompt_format"])
        ]
        drawn = ax.plot(run["fraction"], run["pct"], marker="o", label=line["label"])
        ax.fill_between(run["fraction"], run["hdi_low_pct"], run["hdi_high_pct"],
                        color=drawn[0].get_color(), alpha=0.12, linewidth=0)  # fmt: skip
    ax.set_xlabel("fraction of the tuning run (0 = instruct model, 1 = final adapter)")
    ax.set_ylabel("% toxic generations (total)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(0, 1)
    ax.set_title(f"All families on the same Dolly recipe (bands: {layout['hdi_prob']:.0%} HDI)")
    ax.legend(fontsize=8, loc="best")
    return figure


def plot_forgetting(layout, table: pd.DataFrame) -> plt.Figure:
    total = _total(table).iloc[::-1]
    figure, ax = plt.subplots(figsize=(7.5, 1.2 + 0.32 * len(total)), layout="constrained")
    labels = []
    for y, row in enumerate(total.itertuples()):
        labels.append(f"{row.model} ({row.kind})")
        if row.defined:
            colour = KIND_COLOURS.get(row.kind, "#333333")
            ax.plot(
                [row.position_hdi_low, row.position_hdi_high], [y, y], color=colour, linewidth=2
            )
            ax.plot(row.position_median, y, "o", color=colour)
        else:
            ax.text(0.5, y, "undefined: base ≈ instruct", ha="center", va="center", fontsize=7,
                    color="#7f7f7f", transform=ax.get_yaxis_transform())  # fmt: skip
    ax.axvline(0, color=INSTRUCT_COLOUR, linestyle=":", label="0 = instruct model")
    ax.axvline(1, color=BASE_COLOUR, linestyle="--", label="1 = base model")
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(labels) - 0.3)
    ax.set_xlabel(f"forgetting position, total (median and {layout['hdi_prob']:.0%} HDI)")
    ax.set_title("Where each tuned model lands between its instruct and base model")
    ax.legend(fontsize=7, loc="lower right")
    return figure


def plot_trajectory_figures(
    layout: Mapping[str, Any],
    inputs: TrajectoryInputs,
    tables: Mapping[str, pd.DataFrame],
    out_dir: str | os.PathLike,
) -> list[Path]:
    """The figures the layout names, from the tables finetox.results.trajectory built."""
    out_dir = Path(out_dir)
    written: list[Path] = []
    with figure_style():
        if "trajectory_by_family" in layout["figures"]:
            table = tables["trajectory"]
            written += save_figure(
                plot_trajectory_by_family(layout, inputs, table), out_dir / "trajectory_by_family"
            )
            written += save_figure(
                plot_trajectory_all(layout, table), out_dir / "trajectory_all_families"
            )
        if "forgetting_positions" in layout["figures"]:
            written += save_figure(
                plot_forgetting(layout, tables["forgetting"]), out_dir / "forgetting_positions"
            )
    return written
