"""Figures on fabricated score and comparison files: every file written, valid PNG and PDF,
byte-stable across runs (no time or version stamps), and the sign convention on the figure."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from finetox.config import load_study
from finetox.io import InputError
from finetox.results import figure_files, results_layout
from finetox.results.figures import (
    draw_figure,
    plot_figures,
    plot_subset_differences,
    plot_total_differences,
)
from finetox.results.inputs import load_inputs
from tests.conftest import REPO
from tests.test_results import demo_config, fabricate, set_hdi_prob


@pytest.fixture(scope="module")
def layout():
    return results_layout(load_study(demo_config(), workdir=REPO))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory, layout):
    root = tmp_path_factory.mktemp("figures")
    scores, comparisons = fabricate(root, layout)
    written = plot_figures(layout, scores, comparisons, root / "figures")
    return root, scores, comparisons, written


def test_every_figure_is_written_as_png_and_pdf(drawn, layout):
    root, *_, written = drawn
    expected = set(figure_files(layout, str(root)))
    assert {str(p) for p in written} == expected
    for path in written:
        data = path.read_bytes()
        assert len(data) > 5000, path
        magic = b"\x89PNG\r\n\x1a\n" if path.suffix == ".png" else b"%PDF-"
        assert data.startswith(magic), path


def test_files_carry_no_time_or_version_stamps(drawn):
    *_, written = drawn
    for path in written:
        data = path.read_bytes()
        assert b"Software" not in data and b"CreationDate" not in data, path
        assert b"matplotlib" not in data.lower(), path


def test_drawing_again_gives_identical_bytes_whatever_the_user_style(drawn, layout, tmp_path):
    import matplotlib as mpl

    root, scores, comparisons, written = drawn
    user_style = {
        "font.size": 20,
        "axes.facecolor": "black",
        "lines.linewidth": 9,
        "savefig.dpi": 30,
    }
    with mpl.rc_context(user_style):
        again = plot_figures(layout, scores, comparisons, tmp_path)
    for first, second in zip(written, again, strict=True):
        assert first.read_bytes() == second.read_bytes(), first.name


def test_figure_legends_take_the_hdi_mass_from_the_comparison_files(layout, tmp_path):
    import matplotlib.pyplot as plt

    scores, comparisons = fabricate(tmp_path, layout)
    for comparison in comparisons:
        set_hdi_prob(comparison, 0.89)
    inputs = load_inputs(layout, scores, comparisons)
    table = layout["tables"][0]
    spec = next(f for f in layout["figures"] if f.get("table") == table["name"])
    figure = draw_figure(spec, layout, inputs)
    assert any("bar: 89% HDI" in t for t in texts(figure))
    plt.close(figure)


def verdict_rows(pairs: int, subsets=("total", "severe")) -> pd.DataFrame:
    rows = []
    for index in range(pairs):
        for subset in subsets:
            diff = 0.1 * (index - 1)
            rows.append(
                {
                    "family": "F", "pair": f"a{index}__vs__b{index}", "model_a": f"a{index}",
                    "model_b": f"b{index}", "subset": subset,
                    "best_diff": diff, "best_hdi_low": diff - 0.05, "best_hdi_high": diff + 0.05,
                    "best_credible": abs(diff) > 0.05, "rate_diff_pp": 10 * diff,
                    "rate_hdi_low_pp": 10 * diff - 1, "rate_hdi_high_pp": 10 * diff + 1,
                    "rate_credible": abs(diff) > 0.05,
                }
            )  # fmt: skip
    return pd.DataFrame(rows)


def texts(figure) -> list[str]:
    found = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return [t for t in found if t]


def test_total_figure_states_the_sign_and_labels_each_pair():
    figure = plot_total_differences(verdict_rows(3), "Figure for Table 1: base vs instruct", 0.95)
    labels = texts(figure)
    assert any("positive = first model more toxic" in t for t in labels)
    assert {"F: a0 − b0", "F: a1 − b1", "F: a2 − b2"} <= set(labels)
    left, right = figure.axes[:2]
    assert "mean toxicity score" in left.get_xlabel()
    assert "percentage points" in right.get_xlabel()
    for ax in (left, right):
        low, high = ax.get_xlim()
        assert low == pytest.approx(-high)  # symmetric about the zero line
        assert any(
            line.get_xdata()[0] == 0 and line.get_linestyle() == "--" for line in ax.get_lines()
        )


def test_subset_figure_has_one_panel_per_subset_total_first():
    figure = plot_subset_differences(
        verdict_rows(2, ("total", "severe", "random", "race", "gender")),
        ["severe", "random", "race", "gender"],
        "rate",
        "Figure for Table 3",
        0.95,
    )
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert titles == ["Total", "Severe", "Random", "Race", "Gender"]
    assert all(re.search("pp", ax.get_xlabel()) for ax in figure.axes if ax.get_visible())


def test_unconverged_best_fits_are_drawn_apart_and_explained():
    rows = verdict_rows(2)
    rows["best_converged"] = [True, False, True, True]  # pair 0, severe
    figure = plot_subset_differences(rows, ["severe"], "best", "Figure", 0.95)
    assert any("missed its diagnostics" in t for t in texts(figure))
    converged = plot_subset_differences(verdict_rows(2), ["severe"], "best", "Figure", 0.95)
    assert not any("missed its diagnostics" in t for t in texts(converged))
    rates = plot_subset_differences(rows, ["severe"], "rate", "Figure", 0.95)
    assert not any("missed its diagnostics" in t for t in texts(rates))  # the rate view has no MCMC


def test_unfitted_best_rows_are_labelled_not_drawn():
    rows = verdict_rows(2)
    rows.loc[0, ["best_diff", "best_hdi_low", "best_hdi_high"]] = float("nan")  # pair 0, total
    figure = plot_total_differences(rows, "Figure", 0.95)
    assert "not fitted" in texts(figure)


def test_no_total_rows_is_an_error():
    with pytest.raises(InputError, match="no 'total' rows"):
        plot_total_differences(verdict_rows(1, ("severe",)), "Figure X", 0.95)
