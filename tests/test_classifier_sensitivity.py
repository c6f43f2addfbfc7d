"""Sensitivity to the classifier (issue 24 item 2): the readers of the comparison files take the
primary's rows; classifier_rates, classifier_verdicts (robust or not), classifier_agreement
(Cohen's kappa by scikit-learn) and the figure, from fabricated files of two classifiers whose
second gives the layout's first pair a different verdict (tests/test_results.py's fixtures)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finetox.config import load_study
from finetox.io import InputError
from finetox.results.classifier_tables import (
    ROBUST,
    classifier_agreement_table,
    robustness,
)
from finetox.results.figures import plot_figures
from finetox.results.inputs import read_comparison
from finetox.results.layout import CLASSIFIER_FIGURE, CLASSIFIER_TABLES, results_layout
from finetox.results.write import write_tables
from finetox.subsets import TOTAL
from tests.conftest import REPO
from tests.test_results import PLANTED_PAIR, demo_config, fabricate, read_csv

PRIMARY, SECOND = "demo_lexicon", "second"


@pytest.fixture(scope="module")
def layout():
    return results_layout(load_study(demo_config(), workdir=REPO))


@pytest.fixture(scope="module")
def written(tmp_path_factory, layout):
    root = tmp_path_factory.mktemp("sensitivity")
    scores, comparisons = fabricate(root, layout)
    write_tables(layout, scores, comparisons, root / "tables")
    return root


def test_the_readers_take_the_primarys_rows_where_another_classifier_differs(written, layout):
    """The planted pair's file holds `second`'s block first, with a paired increase in every
    subset; the primary's rows say otherwise, and Table 3's verdicts show the primary's."""
    pair = layout["pairs"][PLANTED_PAIR]
    path = written / "comparisons" / f"{pair['name']}.csv"
    primary = read_comparison(path, PRIMARY).frame
    second = read_comparison(path, SECOND).frame
    assert (second["paired_verdict"] == "increase").all()
    assert (primary["paired_verdict"] != "increase").all()
    table = next(t for t in layout["tables"] if any(p["name"] == pair["name"] for b in t["blocks"] for p in b["pairs"]))  # fmt: skip
    shown = read_csv(written, table["verdicts"])
    rows = shown[(shown["pair"] == pair["name"])].set_index("subset")
    assert list(rows["paired_verdict"]) == list(primary.loc[rows.index, "paired_verdict"])


def test_a_file_without_the_asked_classifier_is_named(written, layout):
    path = written / "comparisons" / f"{layout['pairs'][0]['name']}.csv"
    with pytest.raises(InputError, match=r"no rows of classifier\(s\) \['perspective'\]; it holds"):
        read_comparison(path, "perspective")


def test_robust_names_the_classifiers_that_differ_from_the_primary():
    names = ["a", "b", "c"]
    assert robustness(["increase", "increase", "increase"], names) == ROBUST
    assert robustness(["increase", "undecided", "increase"], names) == "b"
    assert robustness(["undecided", "increase", "increase"], names) == "b, c"
    # the primary alone decides what robust means: b and c agree with each other, not with a
    assert robustness(["equivalent", "increase", "increase"], names) == "b, c"


def test_classifier_verdicts_mark_the_planted_pair_not_robust(written, layout):
    frame = read_csv(written, CLASSIFIER_TABLES["verdicts"])
    assert list(frame.columns) == ["pair", "kind", "model_a", "model_b", "subset", PRIMARY,
                                   SECOND, "robust"]  # fmt: skip
    assert len(frame) == len(layout["pairs"]) * (1 + len(layout["subsets"]))
    planted = layout["pairs"][PLANTED_PAIR]["name"]
    mine = frame[frame["pair"] == planted]
    assert list(mine["subset"])[0] == TOTAL
    assert (mine[SECOND] == "increase").all()
    assert (mine["robust"] == SECOND).all()  # the primary's verdict is never an increase here
    others = frame[frame["pair"] != planted]
    assert (others[PRIMARY] == others[SECOND]).all() and (others["robust"] == ROBUST).all()
    html = (written / "tables" / f"{CLASSIFIER_TABLES['verdicts']}.html").read_text()
    assert f"differs: {SECOND}" in html and "Robust" in html


def test_classifier_rates_have_a_row_per_model_and_classifier(written, layout):
    frame = read_csv(written, CLASSIFIER_TABLES["rates"])
    assert list(frame.columns[:4]) == ["Family", "Model", "Classifier", "Total"]
    assert len(frame) == 2 * len(layout["models"])
    base = frame[frame["Model"] == "tiny-base"].set_index("Classifier")
    # the fabricated scores: `second` flags one generation more per subset (6 subsets)
    assert base.at[PRIMARY, "Total"] == 30.0 and base.at[SECOND, "Total"] == 33.8  # 54 of 160


def test_agreement_is_scikit_learns_kappa(written, layout):
    frame = read_csv(written, CLASSIFIER_TABLES["agreement"])
    assert list(frame.columns) == ["classifier_a", "classifier_b", "subset", "n", "kappa",
                                   "pct_both", "pct_a", "pct_b"]  # fmt: skip
    total = frame[frame["subset"] == TOTAL].iloc[0]
    assert total["n"] == 160 * len(layout["models"])
    assert (total["classifier_a"], total["classifier_b"]) == (PRIMARY, SECOND)
    assert 0 < total["kappa"] < 1  # `second` flags a superset of the primary's
    assert total["pct_both"] == pytest.approx(total["pct_a"])


def test_kappa_on_a_hand_checked_case_and_identical_flags():
    """10 generations: A flags 4, B flags 5, both flag 3. Observed agreement (3 + 4) / 10 = 0.7;
    by chance 0.4 * 0.5 + 0.6 * 0.5 = 0.5; kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4."""
    a = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    b = np.array([1, 1, 1, 0, 1, 1, 0, 0, 0, 0], dtype=bool)
    flags = pd.DataFrame({"subset": ["severe"] * 6 + ["race"] * 4, "toxic_x": a, "toxic_y": b})
    frame = classifier_agreement_table(flags, ["x", "y"]).set_index("subset")
    assert list(frame.index) == [TOTAL, "severe", "race"]
    assert frame.at[TOTAL, "kappa"] == pytest.approx(0.4)
    assert frame.at[TOTAL, "pct_both"] == 30.0 and frame.at[TOTAL, "n"] == 10
    same = classifier_agreement_table(flags.assign(toxic_y=a), ["x", "y"]).set_index("subset")
    assert same.at[TOTAL, "kappa"] == 1.0
    # race: neither flags any of its 4 generations: kappa is undefined, NaN, not a number made up
    assert np.isnan(same.at["race", "kappa"])


def test_one_classifier_writes_no_sensitivity_tables(tmp_path):
    config = demo_config()
    config["scoring"]["classifiers"] = config["scoring"]["classifiers"][:1]
    layout = results_layout(load_study(config, workdir=REPO))
    assert layout["classifier_tables"] == {}
    assert CLASSIFIER_FIGURE not in [figure["name"] for figure in layout["figures"]]


def test_the_figure_is_drawn_and_byte_stable(written, layout, tmp_path):
    scores = sorted((written / "scores").glob("*.parquet"))
    comparisons = sorted((written / "comparisons").glob("*.csv"))
    only = {**layout, "figures": [f for f in layout["figures"] if f["name"] == CLASSIFIER_FIGURE]}
    first = plot_figures(only, scores, comparisons, tmp_path / "one")
    again = plot_figures(only, scores, comparisons, tmp_path / "two")
    assert [p.name for p in first] == [f"{CLASSIFIER_FIGURE}.png", f"{CLASSIFIER_FIGURE}.pdf"]
    for one, two in zip(first, again, strict=True):
        assert one.read_bytes() == two.read_bytes()
