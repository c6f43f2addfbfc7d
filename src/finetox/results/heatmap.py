"""The heatmap of toxic rates: % toxic of every model by Total and subset."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from finetox.results.drawing import figure_style  # noqa: E402


def plot_heatmap(frame: pd.DataFrame, title: str, note: str) -> plt.Figure:
    """% toxic of every model (rows) by Total and subset (columns), each cell labelled."""
    values = frame.to_numpy(dtype=float)
    top = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1.0)
    with figure_style():
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
