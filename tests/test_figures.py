"""Figures on fabricated score and comparison files: every file written, valid PNG and PDF,
byte-stable across runs (no time or version stamps); the paper's sign (original − tuned) on the
data and the axes, the colours of the verdicts and the ROPE band."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from finetox.config import load_study
from finetox.io import InputError
from finetox.results import figure_files, results_layout
from finetox.results.figures import draw_figure, plot_figures
from finetox.results.forest import (
    ROPE_SHADE,
    VERDICT_COLOURS,
    paper_sign,
    plot_paper_figure,
    plot_subset_differences,
    plot_total_differences,
)
from finetox.results.inputs import Settings, load_inputs
from finetox.verdicts import verdict
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


SETTINGS = Settings(hdi_prob=0.95, rope_pp=1.0, rope_best=0.01)


def verdict_rows(pairs: int, subsets=("total", "severe")) -> pd.DataFrame:
    """Rows of a verdicts table: pair i's change B - A is 0.1 * (i - 1) in score (BEST) and
    10 * that in percentage points (paired and rate), with HDIs of +-0.05 / +-1 / +-2."""
    rows = []
    for index in range(pairs):
        for subset in subsets:
            change = 0.1 * (index - 1)
            row = {
                "family": "F", "pair": f"a{index}__vs__b{index}", "model_a": f"a{index}",
                "model_b": f"b{index}", "subset": subset, "best_fitted": True,
                "best_converged": True,
            }  # fmt: skip
            for view, value, half, rope, unit in (
                ("paired", 100 * change, 1.0, 1.0, "_pp"),
                ("rate", 100 * change, 2.0, 1.0, "_pp"),
                ("best", change, 0.05, 0.01, ""),
            ):
                low, high = value - half, value + half
                row |= {
                    f"{view}_change{unit}": value,
                    f"{view}_hdi_low{unit}": low,
                    f"{view}_hdi_high{unit}": high,
                    f"{view}_verdict": verdict(low, high, rope),
                    f"{view}_paper_credible": bool(low > 0 or high < 0),
                }
            rows.append(row)
    return pd.DataFrame(rows)


def texts(figure) -> list[str]:
    found = [t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text"))]
    return [t for t in found if t]


def dots(ax) -> list[tuple[float, float, str]]:
    """(x, y, colour) of every posterior-mean dot of a panel."""
    return [
        (float(line.get_xdata()[0]), float(line.get_ydata()[0]), to_hex(line.get_color()))
        for line in ax.get_lines()
        if line.get_marker() == "o"
    ]


def bars(ax) -> list[tuple[float, float]]:
    """(low, high) of every HDI bar of a panel, top row first."""
    found = []
    for collection in ax.collections:
        for segment in collection.get_segments():
            found.append((float(segment[0][0]), float(segment[1][0]), float(segment[0][1])))
    return [(low, high) for low, high, _ in sorted(found, key=lambda s: -s[2])]


def test_total_figure_draws_every_view_with_the_papers_sign_and_says_so():
    figure = plot_total_differences(verdict_rows(3), "Figure for Table 1", SETTINGS)
    paired, rate, best = figure.axes[:3]
    assert "Paired" in paired.get_xlabel() and "unpaired" in rate.get_xlabel()
    assert "BEST" in best.get_xlabel()
    for ax in (paired, rate, best):
        assert "original − tuned" in ax.get_xlabel() and "the paper's sign" in ax.get_xlabel()
        assert "← more toxic after tuning" in ax.get_xlabel()
        low, high = ax.get_xlim()
        assert low == pytest.approx(-high)  # symmetric about the zero line
        assert any(
            line.get_xdata()[0] == 0 and line.get_linestyle() == "--" for line in ax.get_lines()
        )
    # pair 2's change B - A is +10 pp (more toxic after tuning): drawn at -10, its HDI
    # [+9, +11] turned round to [-11, -9]; pair 0's -10 pp at +10
    by_row = {y: (x, colour) for x, y, colour in dots(paired)}
    assert by_row[0] == (pytest.approx(-10.0), VERDICT_COLOURS["increase"])
    assert by_row[2] == (pytest.approx(10.0), VERDICT_COLOURS["decrease"])
    assert bars(paired)[2] == (pytest.approx(-11.0), pytest.approx(-9.0))
    assert bars(best)[0] == (pytest.approx(0.05), pytest.approx(0.15))
    assert {"F: a0 − b0", "F: a1 − b1", "F: a2 − b2"} <= set(texts(figure))


def test_paper_sign_turns_a_change_round():
    assert paper_sign(2.0, 1.0, 3.0) == (-2.0, -3.0, -1.0)


def test_figures_colour_by_verdict_and_shade_the_rope():
    rows = verdict_rows(3)  # pair 1: change 0, HDI inside the ROPE in BEST, beyond it in rate
    figure = plot_total_differences(rows, "Figure", SETTINGS)
    paired, rate, best = figure.axes[:3]
    middle = {ax: next(c for x, y, c in dots(ax) if y == 1) for ax in (paired, rate, best)}
    assert middle[paired] == VERDICT_COLOURS["equivalent"]  # [-1, +1] inside ±1 pp
    assert middle[rate] == VERDICT_COLOURS["undecided"]  # [-2, +2] reaches past ±1 pp
    assert middle[best] == VERDICT_COLOURS["undecided"]  # [-0.05, +0.05] past ±0.01
    for ax, rope in ((paired, 1.0), (rate, 1.0), (best, 0.01)):
        shaded = [p for p in ax.patches if to_hex(p.get_facecolor()) == ROPE_SHADE]
        assert len(shaded) == 1
        band = shaded[0]  # a rectangle in data x, axes y
        assert band.get_x() == pytest.approx(-rope)
        assert band.get_x() + band.get_width() == pytest.approx(rope)
    legend = texts(figure)
    for words in (
        "more toxic after tuning (HDI above +ROPE)",
        "less toxic after tuning (HDI below −ROPE)",
        "equivalent (HDI inside the ROPE)",
        "undecided (HDI reaches past a ROPE edge)",
        "filled dot: HDI excludes 0 (the paper's 'credible')",
        "shaded: ROPE, ±1 pp, ±0.01 (BEST)",
    ):
        assert words in legend, words


def test_figure_data_follow_the_comparison_files_with_the_papers_sign(layout, tmp_path):
    """From the files to the figure: Table 2's Dolly increase (B - A = +12.5 pp) at -12.5."""
    scores, comparisons = fabricate(tmp_path, layout)
    inputs = load_inputs(layout, scores, comparisons)
    spec = next(f for f in layout["figures"] if f["name"] == "figure2_instruct_vs_dolly")
    figure = draw_figure(spec, layout, inputs)
    paired, rate, best = figure.axes[:3]
    assert [x for x, _, _ in dots(paired)] == [pytest.approx(-12.5)]
    assert [x for x, _, _ in dots(rate)] == [pytest.approx(-12.5)]
    assert [x for x, _, _ in dots(best)] == [pytest.approx(-0.0625)]
    assert {c for _, _, c in dots(paired)} == {VERDICT_COLOURS["increase"]}


def test_subset_figure_has_one_panel_per_subset_total_first():
    figure = plot_subset_differences(
        verdict_rows(2, ("total", "severe", "random", "race", "gender")),
        ["severe", "random", "race", "gender"],
        "rate",
        "Figure for Table 3",
        SETTINGS,
    )
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible() and ax.get_title()]
    assert titles == ["Total", "Severe", "Random", "Race", "Gender"]
    for ax in figure.axes:
        if ax.get_visible():
            assert ax.get_xlabel().startswith("original − tuned, pp")


def test_paired_subset_figure():
    figure = plot_subset_differences(verdict_rows(2), ["severe"], "paired", "Figure", SETTINGS)
    assert any("paired toxic rate over the same prompts" in t for t in texts(figure))
    assert [x for x, _, _ in dots(figure.axes[0])] == [pytest.approx(10.0), pytest.approx(0.0)]


def test_unconverged_best_fits_are_drawn_apart_and_explained():
    rows = verdict_rows(2)
    rows["best_converged"] = [True, False, True, True]  # pair 0, severe
    figure = plot_subset_differences(rows, ["severe"], "best", "Figure", SETTINGS)
    assert any("missed its diagnostics" in t for t in texts(figure))
    converged = plot_subset_differences(verdict_rows(2), ["severe"], "best", "Figure", SETTINGS)
    assert not any("missed its diagnostics" in t for t in texts(converged))
    rates = plot_subset_differences(rows, ["severe"], "rate", "Figure", SETTINGS)
    assert not any("missed its diagnostics" in t for t in texts(rates))  # the rate view has no MCMC


def test_unfitted_best_rows_are_labelled_not_drawn():
    rows = verdict_rows(2)
    rows.loc[0, ["best_change", "best_hdi_low", "best_hdi_high"]] = float("nan")  # pair 0, total
    rows.loc[0, "best_verdict"] = "not fitted"
    figure = plot_total_differences(rows, "Figure", SETTINGS)
    assert "not fitted" in texts(figure)
    assert len(dots(figure.axes[2])) == 1 and len(dots(figure.axes[0])) == 2


def test_no_total_rows_is_an_error():
    with pytest.raises(InputError, match="no 'total' rows"):
        plot_total_differences(verdict_rows(1, ("severe",)), "Figure X", SETTINGS)


def test_the_papers_figures_3_and_4_are_best_on_total_and_on_severe(layout, tmp_path):
    """From the files: one BEST panel each, every community pair of the demo (it has none of
    the paper's), the change drawn with the paper's sign."""
    scores, comparisons = fabricate(tmp_path, layout)
    inputs = load_inputs(layout, scores, comparisons)
    for name, subset, x in (
        ("figure3_instruct_vs_community", "Total", [-0.0, -0.1875]),  # 37.5 pp / 200
        ("figure4_instruct_vs_community", "Severe", [-0.0, -0.275]),  # 55 pp / 200
    ):
        spec = next(f for f in layout["figures"] if f["name"] == name)
        figure = draw_figure(spec, layout, inputs)
        (ax,) = figure.axes
        assert ax.get_title() == subset and "BEST" in ax.get_xlabel()
        assert [x for x, _, _ in sorted(dots(ax), key=lambda d: -d[1])] == pytest.approx(x)
        assert {"TinyLlama-demo: tiny-instruct − tiny-community-same",
                "TinyLlama-demo: tiny-instruct − tiny-community-toxic"} <= set(texts(figure))  # fmt: skip
        number = name[len("figure")]
        assert any(t.startswith(f"Figure {number}, as the paper's: ") for t in texts(figure))
        plt.close(figure)


def test_a_paper_figure_draws_only_its_pairs_in_their_order():
    rows = verdict_rows(3, ("total", "severe"))
    figure = plot_paper_figure(rows, ["a2__vs__b2", "a0__vs__b0"], "severe", "Figure 4", SETTINGS)
    (ax,) = figure.axes
    ticks = zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    by_height = sorted(ticks, key=lambda tick: -tick[0])
    assert [label.get_text() for _, label in by_height] == ["F: a2 − b2", "F: a0 − b0"]  # top first
    assert sorted(x for x, _, _ in dots(ax)) == pytest.approx([-0.1, 0.1])
    with pytest.raises(InputError, match="no 'race' rows"):
        plot_paper_figure(rows, ["a0__vs__b0"], "race", "Figure 4", SETTINGS)
