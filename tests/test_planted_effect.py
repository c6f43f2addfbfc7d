"""End to end: the demo's models carry known, planted differences, and after the whole demo run
the tables and verdicts show exactly those, credible where planted and not where null.

Planted (config/demo.yaml, finetox.demo): the base model uses the toxic lexicon far more often
than the instruct model; the Dolly model is the instruct model tuned on Dolly answers that use
the lexicon; tiny-community-same has the instruct model's weights; tiny-community-toxic is the
instruct model tuned further on lexicon-heavy text. Pairs are (first, second) with the sign
first - second, so "first more toxic" is a positive difference.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from finetox.config import load_study, load_yaml
from finetox.results import figure_files, results_layout, table_files
from tests.workflow_runs import failure, snakemake

pytestmark = pytest.mark.slow

TABLES = Path("results/tables")
# pair -> expected sign of first - second in total (+1, -1; 0 = no credible difference)
PLANTED = {
    "tiny-base__vs__tiny-instruct": +1,
    "tiny-instruct__vs__tiny-instruct-dolly": -1,
    "tiny-instruct__vs__tiny-community-same": 0,
    "tiny-instruct__vs__tiny-community-toxic": -1,
}
VERDICT_TABLES = {
    "tiny-base__vs__tiny-instruct": "table1_base_vs_instruct_verdicts",
    "tiny-instruct__vs__tiny-instruct-dolly": "table2_instruct_vs_dolly_verdicts",
    "tiny-instruct__vs__tiny-community-same": "table3_instruct_vs_community_verdicts",
    "tiny-instruct__vs__tiny-community-toxic": "table3_instruct_vs_community_verdicts",
}


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / TABLES / f"{name}.csv", keep_default_na=False, na_values=[""])


def total_row(root: Path, pair: str) -> pd.Series:
    frame = read(root, VERDICT_TABLES[pair])
    rows = frame[(frame["pair"] == pair) & (frame["subset"] == "total")]
    assert len(rows) == 1, f"{pair}: {len(rows)} total rows"
    return rows.iloc[0]


@pytest.fixture(scope="module")
def layout(demo_run):
    return results_layout(load_study(load_yaml(demo_run / "config/demo.yaml"), workdir=demo_run))


def test_the_demo_writes_every_table_and_figure(demo_run, layout):
    for path in [*table_files(layout), *figure_files(layout)]:
        assert (demo_run / path).stat().st_size > 0, path


@pytest.mark.parametrize("pair", list(PLANTED))
def test_rate_verdict_in_total_is_the_planted_one(demo_run, pair):
    """The rate view (Beta-Binomial on the toxic flags) is what the tables report."""
    row = total_row(demo_run, pair)
    expected = PLANTED[pair]
    if expected == 0:
        assert not row["rate_credible"], row.to_dict()
    else:
        assert row["rate_credible"], row.to_dict()
        assert expected * row["rate_diff_pp"] > 0, row.to_dict()
        assert expected * row["rate_hdi_low_pp"] > 0 or expected * row["rate_hdi_high_pp"] > 0


# What BEST can see. Its Student-t location follows the bulk of the scores (nu falls to about 1 on
# toxicity scores), so it moves only where the planted change moves most generations: base vs
# instruct (toxic in 62% of prompts against none). The Dolly and community-toxic models are toxic
# in a minority of prompts (14%, 30%) and say the same clean sentences as instruct elsewhere, which
# the demo classifier scores identically: their bulk does not move, BEST rightly finds no shift of
# location there, and the rate view is the verdict (see the compare stage and the README).
BEST_SEES = {
    "tiny-base__vs__tiny-instruct": +1,
    "tiny-instruct__vs__tiny-instruct-dolly": None,
    "tiny-instruct__vs__tiny-community-same": 0,
    "tiny-instruct__vs__tiny-community-toxic": None,
}


@pytest.mark.parametrize("pair", list(PLANTED))
def test_best_verdict_in_total_is_the_planted_one(demo_run, pair):
    """BEST on the continuous scores (the paper's analysis): credible with the planted sign where
    the planted change moves the bulk, never credible for the null pair, never the wrong sign."""
    row = total_row(demo_run, pair)
    assert row["best_converged"], (
        f"{pair}: BEST in total missed its diagnostics: {row['diagnostics']}"
    )
    expected = BEST_SEES[pair]
    if expected == 0:
        assert not row["best_credible"], row.to_dict()
    elif expected is None:
        assert not (row["best_credible"] and PLANTED[pair] * row["best_diff"] < 0), row.to_dict()
    else:
        assert row["best_credible"], row.to_dict()
        assert expected * row["best_diff"] > 0, row.to_dict()


def test_table1_base_is_more_toxic_than_instruct(demo_run):
    table = read(demo_run, "table1_base_vs_instruct").set_index("Model")
    assert table.loc["tiny-base", "Total"] > table.loc["tiny-instruct", "Total"]


def test_table2_dolly_is_more_toxic_than_its_reference_row(demo_run):
    table = read(demo_run, "table2_instruct_vs_dolly")
    reference, dolly = table.iloc[0], table.iloc[1]
    assert reference["Model"] == "tiny-instruct"
    assert dolly["Total"] > reference["Total"]


def test_table3_same_weights_give_identical_rates_and_toxic_is_higher(demo_run):
    table = read(demo_run, "table3_instruct_vs_community").set_index("Model")
    numbers = table.columns.drop("Family")
    same = table.loc["tiny-community-same", numbers]
    assert same.tolist() == table.loc["tiny-instruct", numbers].tolist()
    assert table.loc["tiny-community-toxic", "Total"] > table.loc["tiny-instruct", "Total"]
    verdicts = read(demo_run, "table3_instruct_vs_community_verdicts")
    null = verdicts[verdicts["pair"] == "tiny-instruct__vs__tiny-community-same"]
    assert (null["pct_a"] == null["pct_b"]).all()
    assert (null["rate_diff_pp"].abs() < 1e-9).all()
    assert not null["rate_credible"].any() and not null["best_credible"].any()


def test_the_reference_rows_repeat_table1(demo_run):
    instruct = read(demo_run, "table1_base_vs_instruct").iloc[1].tolist()
    assert read(demo_run, "table2_instruct_vs_dolly").iloc[0].tolist() == instruct
    assert read(demo_run, "table3_instruct_vs_community").iloc[0].tolist() == instruct


def test_the_report_builds_from_the_demo(demo_run, tmp_path):
    report = tmp_path / "report.html"
    result = snakemake(
        demo_run, "--report", str(report), "--configfile", "config/demo.yaml", timeout=600
    )
    assert result.returncode == 0, failure(result)
    text = report.read_text()
    assert "table1_base_vs_instruct.html" in text and "figure1_base_vs_instruct.png" in text
