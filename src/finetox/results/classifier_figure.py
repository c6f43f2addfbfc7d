"""The figure of the classifier sensitivity: comparisons (rows) x classifiers (columns), each
cell coloured by that classifier's paired verdict, one panel per subset (total first); a row
outlined in black is not robust in that panel (a classifier's verdict differs from the
primary's)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch, Rectangle  # noqa: E402

from finetox.results.classifier_tables import ROBUST, classifier_names  # noqa: E402
from finetox.results.drawing import figure_style  # noqa: E402
from finetox.results.forest import UNRELIABLE, VERDICT_COLOURS, VERDICT_LEGEND  # noqa: E402
from finetox.results.render import VERDICT_MARKS  # noqa: E402
from finetox.subsets import subset_label  # noqa: E402
from finetox.verdicts import NOT_FITTED  # noqa: E402

COLOURS = {**VERDICT_COLOURS, NOT_FITTED: UNRELIABLE, "": "#ffffff"}
MARKS = {**VERDICT_MARKS, NOT_FITTED: "–", "": ""}
PANELS_PER_ROW = 4


def plot_classifier_verdicts(verdicts: pd.DataFrame, layout: Mapping[str, Any]) -> plt.Figure:
    """`verdicts`: finetox.results.classifier_tables.classifier_verdicts_table's frame."""
    names = classifier_names(layout)
    pairs = list(dict.fromkeys(verdicts["pair"]))
    subsets = list(dict.fromkeys(verdicts["subset"]))
    models = layout["models"]
    first = verdicts.drop_duplicates("pair").set_index("pair")
    labels = [f"{models[first.at[p, 'model_a']]['label']} → {models[first.at[p, 'model_b']]['label']}"
              for p in pairs]  # fmt: skip
    columns = min(len(subsets), PANELS_PER_ROW)
    rows = math.ceil(len(subsets) / columns)
    label_width = 0.075 * max(len(label) for label in labels)
    panel_width, panel_height = 0.3 + 0.62 * len(names), 0.9 + 0.34 * len(pairs)
    with figure_style():
        figure, axes = plt.subplots(
            rows, columns, squeeze=False, layout="constrained",
            figsize=(label_width + columns * panel_width, 1.2 + rows * panel_height),
        )  # fmt: skip
        for index, ax in enumerate(axes.flat):
            if index >= len(subsets):
                ax.set_axis_off()
                continue
            part = verdicts[verdicts["subset"] == subsets[index]].set_index("pair")
            _panel(ax, part, pairs, names, labels if index % columns == 0 else None)
            ax.set_title(subset_label(subsets[index]), fontsize=9)
        legend = [
            Patch(color=COLOURS[v], label=f"{MARKS[v]} {text}")
            for v, text in VERDICT_LEGEND.items()
        ]
        legend.append(Patch(facecolor="white", edgecolor="black", linewidth=1.6,
                            label=f"outlined: not robust (a verdict differs from the primary, {names[0]})"))  # fmt: skip
        figure.legend(handles=legend, loc="outside lower center", ncol=2, fontsize=7, frameon=False)
        figure.suptitle("Paired verdict of each comparison under each classifier", fontsize=10)
    return figure


def _panel(ax, part: pd.DataFrame, pairs: list[str], names: list[str], labels) -> None:
    for y, pair in enumerate(pairs):
        for x, name in enumerate(names):
            found = str(part.at[pair, name]) if pair in part.index else ""
            ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, facecolor=COLOURS.get(found, UNRELIABLE),
                                   edgecolor="white", linewidth=1))  # fmt: skip
            ax.text(
                x, y, MARKS.get(found, "?"), ha="center", va="center", fontsize=9, color="white"
            )
        if pair in part.index and part.at[pair, "robust"] != ROBUST:
            # inset a little, so that the outlines of two rows one above the other stay apart
            ax.add_patch(Rectangle((-0.46, y - 0.44), len(names) - 0.08, 0.88, fill=False,
                                   edgecolor="black", linewidth=1.6, zorder=3))  # fmt: skip
    ax.set_xlim(-0.55, len(names) - 0.45)
    ax.set_ylim(len(pairs) - 0.45, -0.55)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(pairs)), labels or [""] * len(pairs), fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
