"""What every figure shares: matplotlib's Agg backend and default style, and saving as PNG and
PDF without software or date stamps, so a figure's files are byte-stable for the same inputs
(a cluster run's figures can be compared with a local run's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from finetox import paths  # noqa: E402
from finetox.io import atomic_path  # noqa: E402

DPI = 150
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


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


def figure_style() -> Any:
    """Matplotlib's defaults, whatever the user's matplotlibrc says, so figures are reproducible."""
    return plt.style.context(["default", {"svg.hashsalt": "finetox", "font.size": 9}])
