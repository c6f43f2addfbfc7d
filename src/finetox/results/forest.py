"""Forest plots: posterior changes with HDI bars, in the style of the paper's Figures 1-4.

They keep the paper's sign, original − tuned (A − B, the tables' change turned round), and say
so on their axes; their colours are the HDI+ROPE verdicts on the change, the ROPE shaded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from finetox.io import InputError  # noqa: E402
from finetox.results.drawing import figure_style  # noqa: E402
from finetox.results.inputs import Settings  # noqa: E402
from finetox.subsets import TOTAL, subset_label  # noqa: E402

# colour of each HDI+ROPE verdict on the change B - A (tuned minus original)
VERDICT_COLOURS = {
    "increase": "#c0392b", "decrease": "#2e6da4", "equivalent": "#1b9e77", "undecided": "#7f7f7f",
}  # fmt: skip
VERDICT_LEGEND = {
    "increase": "more toxic after tuning (HDI above +ROPE)",
    "decrease": "less toxic after tuning (HDI below −ROPE)",
    "equivalent": "equivalent (HDI inside the ROPE)",
    "undecided": "undecided (HDI reaches past a ROPE edge)",
}
UNRELIABLE, ROPE_SHADE = "#e69f00", "#e3e3e3"
PAPER_SIGN = "original − tuned"
SIGN = "the paper's sign: left of 0 = more toxic after tuning"
LEFT, RIGHT = "← more toxic after tuning", "less toxic after tuning →"


@dataclass(frozen=True)
class Measure:
    """One view of a comparison as a forest plot reads it from the verdicts table."""

    change: str  # columns of the change B - A, its HDI, its verdict and the paper's rule
    low: str
    high: str
    verdict: str
    paper: str
    rope: str  # which ROPE: rope_pp or rope_best
    unit: str
    title: str


MEASURES = {
    "paired": Measure("paired_change_pp", "paired_hdi_low_pp", "paired_hdi_high_pp",
                      "paired_verdict", "paired_paper_credible", "rope_pp", "pp",
                      "Paired change in toxic rate (same prompts)"),
    "rate": Measure("rate_change_pp", "rate_hdi_low_pp", "rate_hdi_high_pp", "rate_verdict",
                    "rate_paper_credible", "rope_pp", "pp", "Change in toxic rate (unpaired)"),
    "best": Measure("best_change", "best_hdi_low", "best_hdi_high", "best_verdict",
                    "best_paper_credible", "rope_best", "score",
                    "BEST: change in mean toxicity score"),
}  # fmt: skip
SUBSET_TITLES = {
    "best": "BEST, mean toxicity score",
    "rate": "toxic rate, percentage points",
    "paired": "paired toxic rate over the same prompts, percentage points",
}


def _pair_label(row: Any) -> str:
    return f"{row.family}: {row.model_a} − {row.model_b}"  # the paper's sign, original − tuned


def paper_sign(change: float, low: float, high: float) -> tuple[float, float, float]:
    """A change B - A and its HDI as the paper draws them: A - B, the interval turned round."""
    return -change, -high, -low


def _rope(measure: str, settings: Settings) -> float:
    return getattr(settings, MEASURES[measure].rope)


def _xlabel(measure: str, short: bool) -> str:
    """The axis label: which view, the paper's sign, and which side is more toxic after tuning."""
    spec = MEASURES[measure]
    if short:
        return f"{PAPER_SIGN}, {spec.unit}\n{LEFT}"
    return f"{spec.title}\nx = {PAPER_SIGN}, {spec.unit} (the paper's sign)\n{LEFT}   {RIGHT}"


def _forest(
    ax: plt.Axes,
    rows: pd.DataFrame,
    measure: str,
    settings: Settings,
    labels: bool,
    ticks: int = 6,
) -> bool:
    """One horizontal HDI bar per row (top to bottom), posterior mean as a dot, drawn with the
    paper's sign (original − tuned), coloured by the verdict; the ROPE shaded about the zero
    line. A dot is filled where the paper's rule calls the change credible (HDI excludes 0).
    BEST fits that missed their diagnostics are drawn apart (dotted, amber cross); returns
    whether there was one."""
    spec = MEASURES[measure]
    rope = _rope(measure, settings)
    positions = np.arange(len(rows))[::-1]
    any_unreliable = False
    for y, row in zip(positions, rows.itertuples(index=False), strict=True):
        values = getattr(row, spec.change), getattr(row, spec.low), getattr(row, spec.high)
        if any(pd.isna(v) for v in values):  # not fitted (e.g. skipped); the tables say why
            ax.text(0, y, "not fitted", ha="center", va="center", fontsize=7, color=UNRELIABLE)
            continue
        mean, low, high = paper_sign(*values)
        if measure == "best" and not getattr(row, "best_converged", True):
            any_unreliable = True
            ax.hlines(y, low, high, color=UNRELIABLE, linewidth=2.2, linestyles=":")
            ax.plot(mean, y, "X", markersize=7, color=UNRELIABLE)
            continue
        colour = VERDICT_COLOURS.get(getattr(row, spec.verdict), VERDICT_COLOURS["undecided"])
        credible = bool(getattr(row, spec.paper))
        ax.hlines(y, low, high, color=colour, linewidth=2.2)
        ax.plot(
            mean, y, "o", markersize=6, color=colour,
            markerfacecolor=colour if credible else "white", markeredgewidth=1.5,
        )  # fmt: skip
    ax.axvspan(-rope, rope, color=ROPE_SHADE, zorder=0, linewidth=0)
    ax.axvline(0, color="black", linewidth=0.9, linestyle="--", zorder=0.5)
    # shared y axes share their tick labels: set them, then hide them where not wanted
    ax.set_yticks(positions, [_pair_label(r) for r in rows.itertuples(index=False)])
    ax.tick_params(axis="y", labelleft=labels, length=0)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(_xlabel(measure, short=False))
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    low, high = ax.get_xlim()
    span = max(abs(low), abs(high), 1.6 * rope)
    ax.set_xlim(-span, span)  # symmetric about zero, the ROPE in view: the sign reads at a glance
    # labels that do not collide (`ticks`: at most so many intervals; fewer on narrow panels)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=ticks, symmetric=True))
    return any_unreliable


def _legend(
    figure: plt.Figure,
    settings: Settings,
    measures: Iterable[str],
    unreliable: bool = False,
    ncols: int = 4,
) -> None:
    handles = [
        Line2D([], [], color=colour, marker="o", linewidth=2.2, label=VERDICT_LEGEND[verdict])
        for verdict, colour in VERDICT_COLOURS.items()
    ]
    handles.append(
        Line2D([], [], color="black", marker="o", linestyle="none", markerfacecolor="black",
               label="filled dot: HDI excludes 0 (the paper's 'credible')")
    )  # fmt: skip
    handles.append(
        Line2D([], [], color="black", marker="o", linestyle="none", markerfacecolor="white",
               label="hollow dot: HDI includes 0")
    )  # fmt: skip
    ropes = []
    if any(m != "best" for m in measures):
        ropes.append(f"±{settings.rope_pp:g} pp")
    if "best" in measures:
        ropes.append(f"±{settings.rope_best:g} (BEST)")
    handles.append(Patch(color=ROPE_SHADE, label=f"shaded: ROPE, {', '.join(ropes)}"))
    if unreliable:
        handles.append(
            Line2D([], [], color=UNRELIABLE, marker="X", linestyle=":", linewidth=2.2,
                   label="BEST fit missed its diagnostics: unreliable")
        )  # fmt: skip
    figure.legend(
        handles=handles, loc="outside lower center", ncols=ncols, frameon=False,
        title=(
            f"dot: posterior mean; bar: {settings.hdi_prob:.0%} HDI; x = {PAPER_SIGN} "
            f"({SIGN}); colour: the verdict on the change"
        ),
        title_fontsize=8, fontsize=8,
    )  # fmt: skip


def _height(rows: int) -> float:
    return 2.4 + 0.42 * rows


def plot_total_differences(verdicts: pd.DataFrame, title: str, settings: Settings) -> plt.Figure:
    """Figures 1-2: each pair's change in total, paired, by toxic rate and by BEST."""
    rows = verdicts[verdicts["subset"] == TOTAL]
    if rows.empty:
        raise InputError(f"{title}: no 'total' rows in the comparison files")
    measures = ("paired", "rate", "best")
    with figure_style():
        figure, axes = plt.subplots(
            1, 3, figsize=(14, _height(len(rows))), sharey=True, layout="constrained"
        )
        unreliable = False
        for ax, measure in zip(axes, measures, strict=True):
            unreliable |= _forest(ax, rows, measure, settings, labels=ax is axes[0])
        figure.suptitle(f"{title}: total\n(x = {PAPER_SIGN}; {SIGN})", fontsize=10)
        _legend(figure, settings, measures, unreliable)
    return figure


def plot_subset_differences(
    verdicts: pd.DataFrame, subsets: Iterable[str], measure: str, title: str, settings: Settings
) -> plt.Figure:
    """This workflow's by-subset figures: one panel per subset (Total first), one row per pair."""
    panels = [s for s in [TOTAL, *subsets] if (verdicts["subset"] == s).any()]
    if not panels:
        raise InputError(f"{title}: the comparison files have no rows")
    pairs = list(dict.fromkeys(verdicts["pair"]))
    columns = min(4, len(panels))
    lines = math.ceil(len(panels) / columns)
    with figure_style():
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
            unreliable |= _forest(
                ax, rows.reset_index(), measure, settings, labels=index % columns == 0, ticks=4
            )
            ax.set_title(subset_label(panels[index]), fontsize=9)
            ax.set_xlabel(_xlabel(measure, short=True))
        figure.suptitle(
            f"{title}: by subset ({SUBSET_TITLES[measure]})\n(x = {PAPER_SIGN}; {SIGN})",
            fontsize=10,
        )
        _legend(figure, settings, [measure], unreliable)
    return figure


def plot_paper_figure(
    verdicts: pd.DataFrame, pairs: Iterable[str], subset: str, title: str, settings: Settings
) -> plt.Figure:
    """The paper's Figures 3 and 4: BEST's change on one subset, one row per pair (in `pairs`
    order), in one panel."""
    pairs = list(pairs)
    rows = verdicts[(verdicts["subset"] == subset) & verdicts["pair"].isin(pairs)]
    if rows.empty:
        raise InputError(f"{title}: the comparison files have no {subset!r} rows for {pairs}")
    rows = rows.set_index("pair").loc[[p for p in pairs if p in set(rows["pair"])]].reset_index()
    with figure_style():
        figure, ax = plt.subplots(figsize=(9, _height(len(rows)) + 0.9), layout="constrained")
        unreliable = _forest(ax, rows, "best", settings, labels=True)
        ax.set_title(subset_label(subset), fontsize=9)
        figure.suptitle(f"{title}\n(x = {PAPER_SIGN}; {SIGN})", fontsize=10)
        _legend(figure, settings, ["best"], unreliable, ncols=2)
    return figure
