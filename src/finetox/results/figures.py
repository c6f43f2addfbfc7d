"""Figures: posterior differences with HDI bars (the paper's Figures 1-4) and a heatmap of toxic
rates, as PNG and PDF, drawn from the same frames as the tables.

Files are byte-stable for the same inputs (no software or date stamps, matplotlib's default style
whatever the user's matplotlibrc), so a cluster run's figures can be compared with a local run's.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from finetox import paths  # noqa: E402
from finetox.io import InputError, atomic_path  # noqa: E402
from finetox.results.inputs import Inputs, load_inputs  # noqa: E402
from finetox.results.tables import heatmap_frame, verdicts_table  # noqa: E402
from finetox.subsets import TOTAL, subset_label  # noqa: E402

log = logging.getLogger("finetox.results")

DPI = 150
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}
INCREASE, DECREASE, NEUTRAL, UNRELIABLE = "#c0392b", "#2e6da4", "#7f7f7f", "#e69f00"
SIGN = "positive = first model more toxic"
MEASURES = {
    "best": ("best_diff", "best_hdi_low", "best_hdi_high", "best_credible",
             "BEST: difference in mean toxicity score"),
    "rate": ("rate_diff_pp", "rate_hdi_low_pp", "rate_hdi_high_pp", "rate_credible",
             "Difference in toxic rate (percentage points)"),
}  # fmt: skip
SHORT_LABELS = {"best": "difference in mean score", "rate": "difference in rate (pp)"}


def save_figure(figure: plt.Figure, stem: str | Path) -> list[Path]:
    """PNG and PDF beside each other, atomically, without time or version stamps."""
    stem = Path(stem)
    written = []
    for ext in paths.FIGURE_FORMATS:
        path = stem.with_name(f"{stem.name}.{ext}")
        metadata = PNG_METADATA if ext == "png" else PDF_METADATA
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=ext, dpi=DPI, metadata=metadata)
        # the first save placed everything; the second keeps those positions (half the work)
        figure.set_layout_engine("none")
        written.append(path)
    plt.close(figure)
    return written


def _style() -> Any:
    """Matplotlib's defaults, whatever the user's matplotlibrc says, so figures are reproducible."""
    return plt.style.context(["default", {"svg.hashsalt": "finetox", "font.size": 9}])


def _pair_label(row: Any) -> str:
    return f"{row.family}: {row.model_a} − {row.model_b}"


def _colour(mean: float, credible: bool) -> str:
    if not credible:
        return NEUTRAL
    return INCREASE if mean > 0 else DECREASE


def _forest(ax: plt.Axes, rows: pd.DataFrame, measure: str, labels: bool) -> bool:
    """One horizontal HDI bar per row (top to bottom), posterior mean as a dot, zero line.
    BEST fits that missed their diagnostics are drawn apart (dotted, amber cross); returns
    whether there was one."""
    mean_key, low_key, high_key, credible_key, xlabel = MEASURES[measure]
    positions = np.arange(len(rows))[::-1]
    any_unreliable = False
    for y, row in zip(positions, rows.itertuples(index=False), strict=True):
        mean, low, high = getattr(row, mean_key), getattr(row, low_key), getattr(row, high_key)
        credible = bool(getattr(row, credible_key))
        if pd.isna(mean):  # BEST not fitted (e.g. an improper posterior); the tables say why
            ax.text(0, y, "not fitted", ha="center", va="center", fontsize=7, color=UNRELIABLE)
            continue
        if measure == "best" and not getattr(row, "best_converged", True):
            any_unreliable = True
            ax.hlines(y, low, high, color=UNRELIABLE, linewidth=2.2, linestyles=":")
            ax.plot(mean, y, "X", markersize=7, color=UNRELIABLE)
            continue
        colour = _colour(mean, credible)
        ax.hlines(y, low, high, color=colour, linewidth=2.2)
        ax.plot(
            mean, y, "o", markersize=6, color=colour,
            markerfacecolor=colour if credible else "white", markeredgewidth=1.5,
        )  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.9, linestyle="--", zorder=0)
    # shared y axes share their tick labels: set them, then hide them where not wanted
    ax.set_yticks(positions, [_pair_label(r) for r in rows.itertuples(index=False)])
    ax.tick_params(axis="y", labelleft=labels, length=0)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    low, high = ax.get_xlim()
    span = max(abs(low), abs(high))
    ax.set_xlim(-span, span)  # symmetric about zero: the sign reads at a glance
    return any_unreliable


def _legend(figure: plt.Figure, hdi_prob: float, unreliable: bool = False) -> None:
    handles = [
        Line2D([], [], color=INCREASE, marker="o", linewidth=2.2, label="credible: first more toxic"),
        Line2D([], [], color=DECREASE, marker="o", linewidth=2.2, label="credible: first less toxic"),
        Line2D(
            [], [], color=NEUTRAL, marker="o", markerfacecolor="white", linewidth=2.2,
            label="not credible (HDI includes 0)",
        ),
    ]  # fmt: skip
    if unreliable:
        handles.append(
            Line2D([], [], color=UNRELIABLE, marker="X", linestyle=":", linewidth=2.2,
                   label="BEST fit missed its diagnostics: unreliable")
        )  # fmt: skip
    figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
        title=f"dot: posterior mean; bar: {hdi_prob:.0%} HDI; difference = first − second ({SIGN})",
        title_fontsize=8, fontsize=8,
    )  # fmt: skip


def _height(rows: int) -> float:
    return 1.9 + 0.42 * rows


def plot_total_differences(verdicts: pd.DataFrame, title: str, hdi_prob: float) -> plt.Figure:
    """Figures 1-2: each pair's difference in total, by BEST (mean score) and by toxic rate."""
    rows = verdicts[verdicts["subset"] == TOTAL]
    if rows.empty:
        raise InputError(f"{title}: no 'total' rows in the comparison files")
    with _style():
        figure, axes = plt.subplots(
            1, 2, figsize=(11, _height(len(rows))), sharey=True, layout="constrained"
        )
        unreliable = False
        for ax, measure in zip(axes, ("best", "rate"), strict=True):
            unreliable |= _forest(ax, rows, measure, labels=ax is axes[0])
        figure.suptitle(f"{title}: total\n(difference = first − second; {SIGN})", fontsize=10)
        _legend(figure, hdi_prob, unreliable)
    return figure


def plot_subset_differences(
    verdicts: pd.DataFrame, subsets: Iterable[str], measure: str, title: str, hdi_prob: float
) -> plt.Figure:
    """Figures 3-4: one panel per subset (Total first), one row per pair."""
    panels = [s for s in [TOTAL, *subsets] if (verdicts["subset"] == s).any()]
    if not panels:
        raise InputError(f"{title}: the comparison files have no rows")
    pairs = list(dict.fromkeys(verdicts["pair"]))
    columns = min(4, len(panels))
    lines = math.ceil(len(panels) / columns)
    with _style():
        figure, axes = plt.subplots(
            lines, columns, figsize=(3.2 * columns + 2.6, lines * _height(len(pairs)) - 0.6 * (lines - 1)),
            sharey=True, squeeze=False, layout="constrained",
        )  # fmt: skip
        unreliable = False
        for index, ax in enumerate(axes.flat):
            if index >= len(panels):
                ax.set_visible(False)
                continue
            rows = verdicts[verdicts["subset"] == panels[index]].set_index("pair").loc[pairs]
            unreliable |= _forest(ax, rows.reset_index(), measure, labels=index % columns == 0)
            ax.set_title(subset_label(panels[index]), fontsize=9)
            ax.set_xlabel(SHORT_LABELS[measure])
        which = (
            "BEST, mean toxicity score" if measure == "best" else "toxic rate, percentage points"
        )
        figure.suptitle(
            f"{title}: by subset ({which})\n(difference = first − second; {SIGN})", fontsize=10
        )
        _legend(figure, hdi_prob, unreliable)
    return figure


def plot_heatmap(frame: pd.DataFrame, title: str, note: str) -> plt.Figure:
    """% toxic of every model (rows) by Total and subset (columns), each cell labelled."""
    values = frame.to_numpy(dtype=float)
    top = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)
    with _style():
        figure, ax = plt.subplots(
            figsize=(2.6 + 0.9 * frame.shape[1] + 2.2, 1.6 + 0.38 * frame.shape[0]),
            layout="constrained",
        )
        cmap = plt.get_cmap("Reds").with_extremes(bad="#dddddd")
        image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=top, aspect="auto")
        for (i, j), value in np.ndenumerate(values):
            text = "—" if np.isnan(value) else f"{value:.1f}"
            dark = not np.isnan(value) and value > 0.6 * top
            ax.text(
                j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black"
            )
        ax.set_xticks(range(frame.shape[1]), frame.columns)
        ax.set_yticks(range(frame.shape[0]), frame.index)
        ax.xaxis.tick_top()
        ax.tick_params(length=0)
        ax.set_xlabel(note, fontsize=8)
        figure.colorbar(image, ax=ax, label="% toxic generations", shrink=0.8)
        ax.set_title(title, fontsize=10, pad=24)
    return figure


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
    with _style():  # saving draws too: the style must hold until the files are written
        for spec in layout["figures"]:
            written += save_figure(draw_figure(spec, layout, inputs), out_dir / spec["name"])
    log.info("wrote %d figures (%d files) to %s", len(layout["figures"]), len(written), out_dir)
    return written


def draw_figure(spec: Mapping[str, Any], layout: Mapping[str, Any], inputs: Inputs) -> plt.Figure:
    """One figure of the layout; a comparison table's figure takes its HDI mass from the
    table's comparison files."""
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
    hdi_prob = inputs.hdi_prob(table)
    if spec["style"] == "total":
        return plot_total_differences(verdicts, title, hdi_prob)
    return plot_subset_differences(verdicts, layout["subsets"], spec["measure"], title, hdi_prob)
