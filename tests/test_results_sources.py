"""A study's own prompt sources (prompts.sources) in every table after the paper's six columns,
in source order; the reproduction table keeps its Total over the paper's subsets alone."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from finetox.config import load_study
from finetox.results import results_layout, table_names
from finetox.results.counts import model_percents
from finetox.results.reproduction.rates import paper_subsets_total
from finetox.results.tables import heatmap_frame
from finetox.results.write import write_tables
from tests import test_results as paper_tables
from tests.conftest import REPO

SOURCES = [
    {"name": "bold", "hub": "AlexaAI/bold", "text": "prompts", "subset": "domain", "n": 10,
     "subset_map": {"race": "bold_race", "gender": "bold_gender"}},
    {"name": "dt", "hub": "AI-Secure/DecodingTrust", "config": "toxicity",
     "split": "realtoxicityprompts.toxic", "text": "prompt.text", "subset_name": "dt_toxic",
     "n": 10},
]  # fmt: skip
OWN = ["bold_race", "bold_gender", "dt_toxic"]  # in source order, each source's map in order
SIZES = {**paper_tables.SUBSET_SIZES, "bold_race": 10, "bold_gender": 10, "dt_toxic": 10}
# toxic generations of each model in the sources' subsets (the paper's: tests/test_results.py)
OWN_TOXIC = {"bold_race": 1, "bold_gender": 3, "dt_toxic": 7}


@pytest.fixture(scope="module")
def layout():
    config = paper_tables.demo_config()
    config["prompts"]["sources"] = copy.deepcopy(SOURCES)
    return results_layout(load_study(config, workdir=REPO))


@pytest.fixture(scope="module")
def written(tmp_path_factory, layout, monkeypatch_module):
    """Tables 1-3 written from score and comparison files that hold the sources' subsets."""
    root = tmp_path_factory.mktemp("results")
    monkeypatch_module.setattr(paper_tables, "SUBSET_SIZES", SIZES)
    toxic = {model: {**counts, **OWN_TOXIC} for model, counts in paper_tables.TOXIC.items()}
    monkeypatch_module.setattr(paper_tables, "TOXIC", toxic)
    scores, comparisons = paper_tables.fabricate(root, layout)
    write_tables(layout, scores, comparisons, root / "tables")
    return root, scores


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_layout_puts_the_sources_subsets_after_the_papers_six(layout):
    assert layout["subsets"] == ["severe", "random", "race", "gender", "age", "religion", *OWN]
    community = next(t for t in layout["tables"] if t["kind"] == "instruct_vs_community")
    assert community["name"] in table_names(layout)


def test_every_rates_table_has_the_sources_columns_last(written, layout):
    root, _ = written
    for table in layout["tables"]:
        frame = pd.read_csv(Path(root) / "tables" / f"{table['name']}.csv")
        assert list(frame.columns) == [
            "Family", "Model", "Total", "Severe", "Random", "Race", "Gender", "Age", "Religion",
            *OWN,
        ], table["name"]  # fmt: skip
        # every model: 1 of 10, 3 of 10 and 7 of 10 toxic in the sources' subsets
        assert frame[OWN].drop_duplicates().values.tolist() == [[10.0, 30.0, 70.0]]


def test_every_verdicts_table_has_the_sources_rows(written, layout):
    root, _ = written
    for table in layout["tables"]:
        frame = pd.read_csv(Path(root) / "tables" / f"{table['verdicts']}.csv")
        for pair in frame["pair"].unique():
            subsets = frame.loc[frame["pair"] == pair, "subset"].tolist()
            assert subsets[-3:] == OWN, (table["verdicts"], subsets)


def test_heatmap_has_the_sources_columns_last(written, layout):
    _, scores = written
    percents = model_percents({Path(p).stem: p for p in scores}, ["demo_lexicon", "second"])
    frame = heatmap_frame(layout, percents, "raw")
    assert list(frame.columns)[-4:] == ["Religion", *OWN]
    assert frame["dt_toxic"].tolist() == [70.0] * len(frame)


def test_reproduction_total_is_over_the_papers_subsets_alone(written):
    _, scores = written
    base = next(p for p in scores if Path(p).stem == "tiny-base")
    counts = model_percents({"tiny-base": base}, ["demo_lexicon"])["tiny-base"]
    assert counts.at["total", "n"] == 190  # the score file's total: every subset
    kept = paper_subsets_total(counts)
    assert not set(OWN) & set(kept.index)
    # tiny-base: 48 of the paper's 160 prompts toxic (tests/test_results.py)
    assert kept.at["total", "n"] == 160 and kept.at["total", "toxic"] == 48
    assert kept.at["total", "pct"] == 30.0
    pd.testing.assert_frame_equal(paper_subsets_total(kept), kept)
