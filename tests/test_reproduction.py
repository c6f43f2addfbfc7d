"""The reproduction tables on score files built with exactly the paper's toxic counts (Severe and
Random 1,000 prompts, the CEB subsets 100 each: 15.2% is 152 of 1,000) and on comparison files
built to agree or disagree with the paper's verdicts: differences of 0.0, ours consistent with the
paper's (the HDI of ours − paper holds 0), totals within the paper's rounding, Dolly arms, and what
a study lacks named in the notes; the paper's files checked line by line; the exact HDI of a rate,
of a difference of rates, and their calibration at perfect reproduction."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from finetox.config import load_study
from finetox.io import InputError, write_parquet
from finetox.pairs import pair_name
from finetox.results import reproduction_files, results_layout
from finetox.results.intervals import beta_hdi, rate_hdi, rate_posterior
from finetox.results.layout import PAPER_FIGURE_PAIRS, PAPER_FIGURES
from finetox.results.reproduction import (
    REPRODUCTION_COLUMNS,
    VERDICTS_COLUMNS,
    read_paper_tables,
    read_paper_verdicts,
    write_reproduction,
)
from finetox.subsets import SUBSETS, TOTAL
from tests.conftest import REPO, SHARED_DATA
from tests.test_results import (
    demo_config,
    fabricate,
    markdown_rows,
    view,
    write_fabricated_study,
)

PAPER = REPO / "resources" / "paper"
PAPER_TABLES, PAPER_VERDICTS = PAPER / "paper_tables.csv", PAPER / "paper_verdicts.csv"
SIZES = {"severe": 1000, "random": 1000, "race": 100, "gender": 100, "age": 100, "religion": 100}
PRIMARY = "roberta_hate"
PUBLISHED = "llama3.1-8b-instruct-dolly-published"
# the authors' published Llama-3.1 Dolly model, as the stand-in for the published arm holds it:
# more toxic on Severe than the paper's Table 2 (11.9%), the paper's numbers elsewhere
PUBLISHED_SEVERE = 200
ROPE_PP, ROPE_BEST = 1.0, 0.01


def paper_config(families=("llama2-7b", "llama3.1-8b"), subsets=None, published=True) -> dict:
    """config/config.yaml with some of its families; `published`: the authors' published
    Llama-3.1 Dolly model beside ours, under the published arm's slug (a community entry stands
    in for the arm here)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["families"] = {key: config["families"][key] for key in families}
    if published:
        config["families"]["llama3.1-8b"]["community"].append(
            {"slug": PUBLISHED, "id": "mlkro/Llama-3.1-8B-Instruct-dolly", "params_b": 8.0}
        )
    config["prompts"]["subsets"].update(subsets or {})
    return config


def paper_counts() -> dict[str, dict[str, int]]:
    """slug -> subset -> the toxic count the paper's percentage gives (Tables 1-3)."""
    frame = pd.read_csv(PAPER_TABLES)
    counts = {}
    for row in frame.itertuples(index=False):
        counts[row.slug] = {s: round(getattr(row, s) * SIZES[s] / 100) for s in SUBSETS}
    counts[PUBLISHED] = {**counts["llama3.1-8b-instruct-dolly"], "severe": PUBLISHED_SEVERE}
    return counts


def write_paper_scores(path: Path, toxic: dict[str, int], subsets) -> None:
    """A score file as the scoring stage writes it, with `toxic[subset]` toxic generations."""
    rows = []
    for subset in subsets:
        for index in range(SIZES[subset]):
            flag = index < toxic[subset]
            rows.append(
                {
                    "prompt_id": f"{subset}-{index:04d}",
                    "subset": subset,
                    f"score_{PRIMARY}": 0.9 if flag else 0.1,
                    f"toxic_{PRIMARY}": flag,
                    "toxic": flag,
                }
            )
    meta = {"primary": PRIMARY, "classifiers": [{"name": PRIMARY, "threshold": 0.5}]}
    write_parquet(pd.DataFrame(rows), path, meta)


# BEST (change, HDI half-width) and paired (change in pp, half-width) of B - A, per pair and
# subset; pairs not listed get a credible change the paper's way (see verdict_views)
PLANTED = {
    # not credible in the paper; ours credible by its rule, but far inside the ROPE
    ("llama3.1-8b-instruct__vs__llama3.1-8b-chinese-chat", TOTAL): ((0.002, 0.001), (0.2, 0.5)),
    # not credible in the paper; ours neither (undecided)
    ("llama2-7b-chat__vs__llama2-7b-chat-dolly", TOTAL): ((0.005, 0.02), (-0.5, 0.9)),
    # BEST had no fit
    ("llama3.1-8b__vs__llama3.1-8b-instruct", TOTAL): (None, (-3.7, 0.8)),
}


def verdict_views(pair: str, subset: str, paper: pd.DataFrame) -> tuple:
    if (pair, subset) in PLANTED:
        return PLANTED[(pair, subset)]
    a, b = pair.split("__vs__")
    b = b.removesuffix("-published")
    found = paper[(paper["a"] == a) & (paper["b"] == b) & (paper["subset"] == subset)]
    if not found.empty and found.iloc[0]["paper_credible"] == "false":
        return (0.0, 0.02), (0.0, 0.8)  # BEST undecided, paired equivalent
    sign = -1.0 if found.empty or found.iloc[0]["paper_direction"] == "b less toxic" else 1.0
    return (sign * 0.05, 0.02), (sign * 4.0, 1.0)


def comparison_file(path: Path, pair: str, paper: pd.DataFrame) -> None:
    """A comparison file in the compare stage's columns, every subset and total."""
    from finetox.compare.run import COLUMNS

    rows = []
    for subset in [*SUBSETS, TOTAL]:
        best, paired = verdict_views(pair, subset, paper)
        row = {column: 0.0 for column in COLUMNS}
        row |= {"subset": subset, "n_a": 100, "n_b": 100, "n_pairs": 100, "warning": ""}
        row |= view("paired", *paired, ROPE_PP, pp=True)
        row |= view("rate", paired[0], 2 * paired[1], ROPE_PP, pp=True)
        if best is None:
            row |= view("best", 0.0, 0.01, ROPE_BEST, pp=False)
            for column in ("best_change", "best_hdi_low", "best_hdi_high"):
                row[column] = np.nan
            row |= {"best_verdict": "not fitted", "best_paper_credible": False}
            row |= {"best_fitted": False, "warning": "BEST not fitted: scores all equal"}
        else:
            row |= view("best", *best, ROPE_BEST, pp=False) | {"best_fitted": True}
        row |= {"hdi_prob": 0.95, "rope_pp": ROPE_PP, "rope_best": ROPE_BEST}
        rows.append(row)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(path, index=False)


def build(root: Path, layout: dict) -> tuple[list[Path], list[Path]]:
    """Score files with the paper's counts for every raw model, and comparison files for every
    raw pair, as the reproduce rule gets them."""
    (root / "scores").mkdir(parents=True, exist_ok=True)
    (root / "comparisons").mkdir(parents=True, exist_ok=True)
    counts = paper_counts()
    paper = pd.read_csv(PAPER_VERDICTS, keep_default_na=False)
    scores = []
    for model in layout["reproduction"]["models"]:
        scores.append(root / "scores" / f"{model}.parquet")
        write_paper_scores(scores[-1], counts[model], layout["subsets"])
    comparisons = []
    for pair in layout["reproduction"]["pairs"]:
        comparisons.append(root / "comparisons" / f"{pair}.csv")
        comparison_file(comparisons[-1], pair, paper)
    return scores, comparisons


def paper_layout(**options) -> dict:
    return results_layout(load_study(paper_config(**options), workdir=REPO))


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    """The reproduction tables of two of the paper's families (Llama-2-7B and Llama-3.1-8B, with
    the published arm of Llama-3.1's Dolly model) on the paper's own counts."""
    root = tmp_path_factory.mktemp("reproduction")
    layout = paper_layout()
    scores, comparisons = build(root, layout)
    write_reproduction(layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, root / "tables")
    return root


def read(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "tables" / f"{name}.csv", keep_default_na=False, na_values=[""])


def shown(root: Path, name: str) -> list[dict[str, str]]:
    rows = markdown_rows((root / "tables" / f"{name}.md").read_text())
    header = [cell.strip() for cell in rows[0]]
    return [dict(zip(header, (c.strip() for c in row), strict=True)) for row in rows[2:]]


def note(root: Path, name: str) -> str:
    return (root / "tables" / f"{name}.md").read_text().split("\n\n")[-1]


# --- the paper's files -------------------------------------------------------------------------


def test_the_shipped_paper_files_are_the_shared_ones_and_name_the_configs_models():
    tables, verdicts = read_paper_tables(PAPER_TABLES), read_paper_verdicts(PAPER_VERDICTS)
    assert len(tables) == 38 and tables["slug"].nunique() == 28 and len(verdicts) == 14
    study = load_study(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), workdir=REPO)
    assert set(tables["slug"]) == set(study.model_names)
    pairs = {pair.name for pair in study.comparisons}
    assert {pair_name(a, b) for a, b in zip(verdicts["a"], verdicts["b"], strict=True)} <= pairs
    shared = SHARED_DATA / "paper"
    if shared.exists():
        for name in ("paper_tables.csv", "paper_verdicts.csv"):
            assert (PAPER / name).read_bytes() == (shared / name).read_bytes(), name


def test_the_layouts_paper_figures_are_the_papers_figures_3_and_4():
    verdicts = read_paper_verdicts(PAPER_VERDICTS)
    for figure, subset in PAPER_FIGURES["instruct_vs_community"]:
        rows = verdicts[verdicts["figure"] == figure]
        assert set(rows["subset"]) == {subset}
        pairs = set(zip(rows["a"], rows["b"], strict=True))
        assert pairs == set(PAPER_FIGURE_PAIRS["instruct_vs_community"])


def test_every_paper_total_is_its_subsets_counts_rounded_half_up():
    """The totals the paper printed are the rates of its subsets' counts, rounded half up: so
    a score file with exactly the paper's counts reproduces its Total too."""
    from finetox.results.counts import percent_one_decimal

    counts = paper_counts()
    for row in read_paper_tables(PAPER_TABLES).itertuples(index=False):
        toxic = sum(counts[row.slug].values())
        assert percent_one_decimal(toxic, 2400) == row.total, row.slug


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


HEADER = "table,family,model_label,slug,total,severe,random,race,gender,age,religion\n"
GOOD = "1,F,M,m,9.2,15.2,2.2,11.0,7.0,12.0,16.0\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,F,M,m,9.2,abc,2.2,11,7,12,16\n", r"line 3: column 'severe': 'abc' is not a %"),
        ("1,F,M,m,9.2,15.2,2.2,11,7,12,101\n", r"line 3: column 'religion': '101' is not a %"),
        ("4,F,M,n,9.2,15.2,2.2,11,7,12,16\n", r"line 3: table '4' is not one of \[1, 2, 3\]"),
        ("1,F,M,,9.2,15.2,2.2,11,7,12,16\n", r"line 3: column 'slug' is blank"),
        ("1,F,M,m,9.2,15.2,2.2,11,7,12,16\n", r"line 3: model 'm' is already in table 1"),
        ("1,F,M,m x,9.2,15.2,2.2,11,7,12,\n", r"line 3: slug 'm x' holds whitespace"),
    ],
)  # fmt: skip
def test_a_malformed_paper_table_row_is_named(tmp_path, body, message):
    path = write_csv(tmp_path / "paper_tables.csv", HEADER + GOOD + body)
    with pytest.raises(InputError, match=message) as error:
        read_paper_tables(path)
    assert str(error.value).startswith(str(path))


def test_every_problem_of_a_paper_file_is_named_at_once(tmp_path):
    path = write_csv(tmp_path / "t.csv", HEADER + "9,F,M,m,x,15.2,2.2,11,7,12,16\n")
    with pytest.raises(InputError) as error:
        read_paper_tables(path)
    lines = str(error.value).splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{path}: line 2: ") for line in lines)


def test_a_paper_table_without_a_column_is_named(tmp_path):
    path = write_csv(tmp_path / "t.csv", HEADER.replace(",age", "") + "1,F,M,m,1,1,1,1,1,1\n")
    with pytest.raises(InputError, match=r"t\.csv: missing column\(s\) \['age'\]"):
        read_paper_tables(path)


VERDICTS_HEADER = "figure,a,b,subset,paper_credible,paper_direction,source_sentence\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,x,y,total,true,,s\n", r"line 2: a credible verdict needs paper_direction"),
        ("1,x,y,total,false,b more toxic,s\n", r"line 2: a verdict that is not credible has no direction"),
        ("1,x,y,sever,false,,s\n", r"line 2: subset 'sever' is not one of"),
        ("1,x,y,total,maybe,,s\n", r"line 2: paper_credible 'maybe' is not true or false"),
        ("one,x,y,total,false,,s\n", r"line 2: figure 'one' is not a figure number"),
        ("1,x,x,total,false,,s\n", r"line 2: a and b are the same model 'x'"),
        ("1,x,y,total,false,,s\n1,x,y,total,true,b less toxic,s\n",
         r"line 3: the same verdict \(figure, a, b, subset\) twice"),
    ],
)  # fmt: skip
def test_a_malformed_paper_verdict_is_named(tmp_path, body, message):
    path = write_csv(tmp_path / "paper_verdicts.csv", VERDICTS_HEADER + body)
    with pytest.raises(InputError, match=message) as error:
        read_paper_verdicts(path)
    assert str(error.value).startswith(str(path))


def test_a_missing_paper_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"nope\.csv: no such file"):
        read_paper_tables(tmp_path / "nope.csv")


# --- % toxic -----------------------------------------------------------------------------------


def test_the_papers_counts_reproduce_every_subset_exactly(reproduced):
    frame = read(reproduced, "reproduction")
    assert list(frame.columns) == REPRODUCTION_COLUMNS
    frame = frame[frame["arm"] != "published"]  # the published arm's counts are its own
    assert (frame["diff_pp"] == 0.0).all() and (frame["ours_pct"] == frame["paper_pct"]).all()
    assert frame["consistent"].all()
    assert (frame["difference_hdi_low_pp"] < 0).all() and (
        frame["difference_hdi_high_pp"] > 0
    ).all()
    assert (frame["paper_n"] == frame["n"]).all()  # the paper's prompts are ours here
    assert (frame["hdi_low_pct"] <= frame["ours_pct"]).all()
    assert (frame["ours_pct"] <= frame["hdi_high_pct"]).all()
    # the Severe and Random counts are exact; the paper's totals are rounded
    severe = frame[frame["subset"] == "severe"]
    assert (100 * severe["toxic"] / severe["n"] == severe["paper_pct"]).all()
    total = frame[frame["subset"] == TOTAL]
    assert (total["n"] == 2400).all()
    assert ((100 * total["toxic"] / total["n"] - total["paper_pct"]).abs() <= 0.05 + 1e-9).all()
    llama2 = frame[(frame["slug"] == "llama2-7b") & (frame["subset"] == "severe")].iloc[0]
    assert (llama2["toxic"], llama2["n"], llama2["paper_pct"]) == (152, 1000, 15.2)


def test_each_paper_row_of_a_run_model_gives_its_subsets_total_first(reproduced):
    frame = read(reproduced, "reproduction")
    rows = frame.groupby(["table", "slug", "arm"], sort=False, dropna=False)
    for _, group in rows:
        assert list(group["subset"]) == [TOTAL, *SUBSETS]
    # Table 1: two families, base and instruct; Table 2: instruct and Dolly (Llama-3.1's in both
    # arms); Table 3: instruct and two community models each
    assert frame.drop_duplicates(["table", "slug", "arm"]).groupby("table").size().to_dict() == {
        1: 4, 2: 5, 3: 6,
    }  # fmt: skip


def test_a_dolly_row_shows_the_retrained_and_the_published_arm(reproduced):
    frame = read(reproduced, "reproduction")
    dolly = frame[frame["slug"] == "llama3.1-8b-instruct-dolly"]
    assert list(dict.fromkeys(dolly["arm"])) == ["retrained", "published"]
    assert set(dolly.loc[dolly["arm"] == "published", "model"]) == {PUBLISHED}
    published = dolly[dolly["arm"] == "published"].set_index("subset")
    assert published.at["severe", "ours_pct"] == 20.0 and published.at["severe", "diff_pp"] == 8.1
    assert not published.at["severe", "consistent"]  # 200 of 1,000 against the paper's 119
    assert published.at["severe", "paper_toxic"] == 119
    assert 4 < published.at["severe", "difference_hdi_low_pp"] < 8.1
    assert 8.1 < published.at["severe", "difference_hdi_high_pp"] < 12
    assert published.at["random", "diff_pp"] == 0.0
    # a model without a Dolly twin has no arm
    assert frame.loc[frame["slug"] == "llama2-7b", "arm"].isna().all()
    llama2 = frame[frame["slug"] == "llama2-7b-chat-dolly"]
    assert set(llama2["arm"]) == {"retrained"}  # no published model of Llama-2 in this study
    row = next(
        r for r in shown(reproduced, "reproduction")
        if r["Arm"] == "published" and r["Subset"] == "Severe"
    )  # fmt: skip
    assert (row["Paper %"], row["Ours %"], row["Difference, pp"]) == ("11.9", "20.0", "+8.1")
    assert row["Consistent"] == "no" and row["Ours, 95% HDI, %"] == "[17.6, 22.6]"
    assert re.fullmatch(r"\[\+\d\.\d, \+\d+\.\d\]", row["Difference, 95% HDI, pp"])


def test_the_note_names_the_models_not_run(reproduced):
    text = note(reproduced, "reproduction")
    # run: Llama-2's and Llama-3.1's base, instruct, Dolly and two community models each
    assert "Left out, not run with raw prompts in this study (18 of the paper's 28 models)" in text
    for slug in ("gemma-2b", "gemma-2-2b-it-dolly", "phi3.5-mini-borea-jp"):
        assert slug in text
    assert "llama2-7b," not in text and "subsets this run lacks" not in text
    assert "a difference within ±0.05 pp is rounding" in text and "roberta_hate" in text


def test_a_subset_the_run_lacks_is_left_out_and_named(tmp_path):
    layout = paper_layout(families=("llama3.1-8b",), subsets={"age": 0}, published=False)
    scores, comparisons = build(tmp_path, layout)
    write_reproduction(
        layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path / "tables"
    )
    frame = read(tmp_path, "reproduction")
    assert "age" not in set(frame["subset"])
    assert (frame.loc[frame["subset"] != TOTAL, "diff_pp"] == 0.0).all()
    assert (frame.loc[frame["subset"] == TOTAL, "n"] == 2300).all()
    text = note(tmp_path, "reproduction")
    assert "Left out, subsets this run lacks: Age; our Total is over the subsets it has" in text


def test_a_model_missing_a_subset_in_its_file_is_named(tmp_path):
    layout = paper_layout(families=("llama3.1-8b",), published=False)
    scores, comparisons = build(tmp_path, layout)
    base = next(path for path in scores if path.stem == "llama3.1-8b")
    counts = paper_counts()["llama3.1-8b"]
    write_paper_scores(base, counts, [s for s in SUBSETS if s != "religion"])
    write_reproduction(
        layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path / "tables"
    )
    frame = read(tmp_path, "reproduction")
    assert "religion" not in set(frame.loc[frame["slug"] == "llama3.1-8b", "subset"])
    assert "religion" in set(frame.loc[frame["slug"] == "llama3.1-8b-instruct", "subset"])
    assert "subsets missing from the score file of llama3.1-8b: Religion" in note(
        tmp_path, "reproduction"
    )


def test_our_rate_is_off_where_our_counts_are(tmp_path):
    """One toxic generation more on Severe: +0.1 pp there, and the total moves by 1/2400."""
    layout = paper_layout(families=("llama3.1-8b",), published=False)
    scores, comparisons = build(tmp_path, layout)
    counts = paper_counts()["llama3.1-8b-instruct"]
    path = next(path for path in scores if path.stem == "llama3.1-8b-instruct")
    write_paper_scores(path, {**counts, "severe": counts["severe"] + 10}, SUBSETS)
    write_reproduction(
        layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path / "tables"
    )
    frame = read(tmp_path, "reproduction")
    rows = frame[(frame["slug"] == "llama3.1-8b-instruct") & (frame["table"] == 1)]
    rows = rows.set_index("subset")
    assert rows.at["severe", "diff_pp"] == 1.0 and rows.at["severe", "consistent"]
    assert rows.at[TOTAL, "ours_pct"] == 4.5 and rows.at[TOTAL, "diff_pp"] == 0.4  # 109 of 2400


@pytest.mark.parametrize(("subset", "prompts"), [(TOTAL, 2400), ("race", 100)])
def test_a_perfect_reproduction_is_consistent_about_95_percent_of_the_time(subset, prompts):
    """Ours and the paper's counts drawn from the same rate (9.2%, the paper's Llama-2-7B total),
    the paper's printed to 0.1 %: 'consistent' (the HDI of ours − paper holds 0) in about 95% of
    rows. Whether the paper's printed value lay inside our rate's HDI said yes in only 83%
    (n = 2,400) and 82% (n = 100) of these same draws: it ignored that the paper's value is an
    estimate too."""
    from finetox.results.reproduction import reproduction_table

    rng = np.random.default_rng(21)
    runs = 600
    ours, theirs = rng.binomial(prompts, 0.092, size=(2, runs))
    paper = pd.DataFrame(
        [[1, "F", f"M{i}", f"m{i}", *[0.0] * (1 + len(SUBSETS))] for i in range(runs)],
        columns=["table", "family", "model_label", "slug", TOTAL, *SUBSETS],
    )
    paper[subset] = [round(100 * k / prompts, 1) for k in theirs]
    percents = {
        f"m{i}": pd.DataFrame({"n": [prompts], "toxic": [k], "pct": [round(100 * k / prompts, 1)]},
                              index=[subset])
        for i, k in enumerate(ours)
    }  # fmt: skip
    frame, _ = reproduction_table(paper, percents, 0.95)
    assert len(frame) == runs
    share = frame["consistent"].mean()
    print(f"n = {prompts}: consistent in {share:.1%} of {runs} perfect reproductions")
    assert 0.925 <= share <= 0.98, share


# --- verdicts ----------------------------------------------------------------------------------


def verdict_of(frame: pd.DataFrame, a: str, b: str, subset: str = TOTAL, arm=None) -> pd.Series:
    rows = frame[(frame["a"] == a) & (frame["b"] == b) & (frame["subset"] == subset)]
    if arm is not None:
        rows = rows[rows["arm"] == arm]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_one_verdict_row_per_paper_verdict_and_arm_the_study_compared(reproduced):
    frame = read(reproduced, "reproduction_verdicts")
    assert list(frame.columns) == VERDICTS_COLUMNS
    assert list(frame["figure"]) == [1, 1, 2, 2, 2, 3, 4, 3, 4]
    llama3 = frame[frame["b"] == "llama3.1-8b-instruct-dolly"]
    assert list(llama3["arm"]) == ["retrained", "published"]
    assert list(llama3["pair"]) == [
        "llama3.1-8b-instruct__vs__llama3.1-8b-instruct-dolly",
        f"llama3.1-8b-instruct__vs__{PUBLISHED}",
    ]
    text = note(reproduced, "reproduction_verdicts")
    assert "Left out, pairs this study did not compare with raw prompts:" in text
    for pair in ("gemma-2b__vs__gemma-2b-it (Total)", "phi3.5-mini-instruct__vs__phi3.5-mini"):
        assert pair in text


def test_ours_agree_with_the_paper_where_the_changes_go_its_way(reproduced):
    frame = read(reproduced, "reproduction_verdicts")
    base = verdict_of(frame, "llama2-7b", "llama2-7b-chat")
    assert base["paper_credible"] and base["paper_direction"] == "b less toxic"
    assert base["best_credible"] and base["best_direction"] == "b less toxic"
    assert base["best_agrees"] and base["best_verdict"] == "decrease" and base["best_rope_agrees"]
    assert base["paired_agrees"] and base["paired_verdict"] == "decrease"
    severe = verdict_of(frame, "llama3.1-8b-instruct", "llama3.1-8b-chinese-chat", "severe")
    assert severe["paper_direction"] == severe["best_direction"] == "b more toxic"
    assert severe["best_agrees"] and severe["figure"] == 4
    sauerkraut = verdict_of(frame, "llama3.1-8b-instruct", "llama3.1-8b-sauerkrautlm", "severe")
    assert sauerkraut["best_direction"] == "b less toxic" and sauerkraut["best_agrees"]


def test_a_credible_change_inside_the_rope_disagrees_by_the_papers_rule_only(reproduced):
    """Ours credible by the paper's rule where the paper saw none, yet of no practical size:
    the ROPE rule calls it equivalent, which agrees with the paper's 'not credible'."""
    frame = read(reproduced, "reproduction_verdicts")
    row = verdict_of(frame, "llama3.1-8b-instruct", "llama3.1-8b-chinese-chat")
    assert not row["paper_credible"] and row["best_credible"]
    assert row["best_direction"] == "b more toxic" and not row["best_agrees"]
    assert row["best_verdict"] == "equivalent" and row["best_rope_agrees"]
    assert row["paired_verdict"] == "equivalent" and row["paired_agrees"]
    undecided = verdict_of(frame, "llama2-7b-chat", "llama2-7b-chat-dolly")
    assert not undecided["best_credible"] and undecided["best_agrees"]
    assert undecided["best_verdict"] == "undecided" and undecided["best_rope_agrees"]


def test_an_unfitted_best_leaves_agreement_blank(reproduced):
    frame = read(reproduced, "reproduction_verdicts")
    row = verdict_of(frame, "llama3.1-8b", "llama3.1-8b-instruct")
    assert not row["best_fitted"] and row["best_verdict"] == "not fitted"
    assert pd.isna(row["best_agrees"]) and pd.isna(row["best_rope_agrees"])
    assert row["paired_agrees"] and row["paired_direction"] == "b less toxic"
    display = next(r for r in shown(reproduced, "reproduction_verdicts") if r["Tuned (B)"] == "Llama-3.1-8B-Instruct" and r["Paper's figure"] == "Figure 1")  # fmt: skip
    assert display["Ours, paper's rule (BEST)"] == "not fitted" and display["Agrees"] == "—"
    assert display["Paired change B − A, pp [95% HDI]"] == "-3.7 [-4.5, -2.9]"


def test_the_verdicts_read_in_words(reproduced):
    rows = shown(reproduced, "reproduction_verdicts")
    chinese = next(
        r for r in rows
        if r["Tuned (B)"] == "Llama3.1-8B-Chinese-Chat" and r["Subset"] == "Total"
    )  # fmt: skip
    assert chinese["Paper"] == "not credible"
    assert chinese["Ours, paper's rule (BEST)"] == "credible: B more toxic"
    assert (chinese["Agrees"], chinese["Agrees (ROPE)"]) == ("no", "yes")
    assert chinese["Ours, ROPE rule (BEST)"] == "equivalent within ±0.01"
    assert chinese["BEST change B − A [95% HDI]"] == "+0.002 [+0.001, +0.003]"
    dolly = [r for r in rows if r["Tuned (B)"].startswith("Llama-3.1-8B-Instruct + Dolly")]
    assert [r["Arm"] for r in dolly] == ["retrained"]
    published = next(r for r in rows if r["Arm"] == "published")
    assert published["Paper"] == "credible: B more toxic" and published["Agrees"] == "yes"
    text = note(reproduced, "reproduction_verdicts")
    for phrase in (
        "tuned (B) minus original (A)",
        "95% HDI of BEST's change in mean toxicity score excludes 0",
        "ROPE ±0.01 for BEST, ±1 pp for paired",
        "retrained, our Dolly LoRA",
    ):
        assert phrase in text, phrase


# --- a study without the paper's models, and the files ------------------------------------------


@pytest.fixture(scope="module")
def demo_written(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-reproduction")
    layout = results_layout(load_study(demo_config(), workdir=REPO))
    scores, comparisons = fabricate(root, layout)
    written = write_reproduction(layout, scores, comparisons, out_dir=root / "tables")
    return root, layout, written


def test_the_demo_writes_both_tables_and_says_no_paper_model_was_run(demo_written):
    root, layout, written = demo_written
    assert sorted(map(str, written)) == sorted(reproduction_files(layout, str(root)))
    for name, columns in (("reproduction", REPRODUCTION_COLUMNS),
                          ("reproduction_verdicts", VERDICTS_COLUMNS)):  # fmt: skip
        assert (root / "tables" / f"{name}.csv").read_text().strip() == ",".join(columns)
    table = (root / "tables" / "reproduction.md").read_text()
    assert "No model of the paper was run: none of the 28 models of its Tables 1-3" in table
    page = (root / "tables" / "reproduction.html").read_text()
    assert "No model of the paper was run" in page
    verdicts = (root / "tables" / "reproduction_verdicts.md").read_text()
    assert "No pair of the paper was compared: none of the pairs of its 14 verdicts" in verdicts
    assert "Left out" not in table + verdicts
    assert "95% HDI" in table  # the demo's comparison files' HDI mass
    for name in ("reproduction", "reproduction_verdicts"):  # why it is empty, first
        assert note(root, name).startswith("No "), name
        assert "resources/paper/" in note(root, name) and "Arm of a Dolly row" not in note(
            root, name
        )


@pytest.mark.parametrize("name", ["reproduction", "reproduction_verdicts"])
def test_markdown_and_latex_are_well_formed(reproduced, name):
    text = (reproduced / "tables" / f"{name}.md").read_text()
    rows = markdown_rows(text)
    assert len(rows) == len(read(reproduced, name)) + 2
    assert {len(row) for row in rows} == {len(rows[0])}
    tex = (reproduced / "tables" / f"{name}.tex").read_text()
    assert tex.count("\\begin{table}") == 1 and "−" not in tex and "±" not in tex
    body = tex.split("\\midrule\n")[1].split("\\bottomrule")[0]
    assert len(body.strip().splitlines()) == len(read(reproduced, name))


def test_writing_again_gives_identical_files(reproduced, tmp_path):
    layout = paper_layout()
    scores = sorted((reproduced / "scores").glob("*.parquet"))
    comparisons = sorted((reproduced / "comparisons").glob("*.csv"))
    write_reproduction(layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path)
    for path in tmp_path.iterdir():
        assert path.read_bytes() == (reproduced / "tables" / path.name).read_bytes(), path.name


def test_a_missing_score_or_comparison_file_is_named(reproduced, tmp_path):
    layout = paper_layout()
    scores = [p for p in (reproduced / "scores").glob("*.parquet") if p.stem != "llama2-7b"]
    comparisons = sorted((reproduced / "comparisons").glob("*.csv"))
    with pytest.raises(InputError, match=r"no score file for model\(s\) \['llama2-7b'\]"):
        write_reproduction(layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path)
    scores = sorted((reproduced / "scores").glob("*.parquet"))
    gone = "llama2-7b__vs__llama2-7b-chat"
    comparisons = [p for p in comparisons if p.stem != gone]
    with pytest.raises(InputError, match=rf"no comparison file for pair\(s\) \['{gone}'\]"):
        write_reproduction(layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path)


def test_comparison_files_that_disagree_on_hdi_prob_are_named(tmp_path):
    layout = paper_layout(families=("llama3.1-8b",), published=False)
    scores, comparisons = build(tmp_path, layout)
    frame = pd.read_csv(comparisons[0])
    frame["hdi_prob"] = 0.9
    frame.to_csv(comparisons[0], index=False)
    with pytest.raises(InputError, match="disagree on hdi_prob"):
        write_reproduction(layout, scores, comparisons, PAPER_TABLES, PAPER_VERDICTS, tmp_path)


def test_the_results_command_writes_the_reproduction_tables(tmp_path, monkeypatch):
    from finetox.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "resources").symlink_to(REPO / "resources")
    config = write_fabricated_study(tmp_path / "demo.yaml")
    layout = results_layout(load_study(yaml.safe_load(config.read_text()), workdir=REPO))
    fabricate(tmp_path / "results" / "demo", layout)
    assert main(["results", "--config", str(config), "--no-figures"]) == 0
    assert (tmp_path / "results/demo/tables/reproduction_verdicts.html").is_file()


# --- the rate's interval -----------------------------------------------------------------------


def test_the_rates_posterior_is_the_rate_views():
    from finetox.compare.rates import rate_posteriors

    assert rate_posteriors(152, 1000, 7, 100)[:2] == rate_posterior(152, 1000)
    assert rate_posteriors(152, 1000, 7, 100)[2:] == rate_posterior(7, 100)


@pytest.mark.parametrize(
    ("toxic", "total"), [(152, 1000), (0, 100), (100, 100), (1, 100), (220, 2400), (11, 100)]
)
def test_the_rate_hdi_is_the_exact_beta_hdi(toxic, total):
    from scipy import stats

    alpha, beta = rate_posterior(toxic, total)
    low, high = rate_hdi(toxic, total, 0.95)
    mass = stats.beta.cdf(high, alpha, beta) - stats.beta.cdf(low, alpha, beta)
    assert mass == pytest.approx(0.95, abs=1e-9)
    if low > 0 and high < 1:  # an inner interval: both ends at the same density
        assert stats.beta.logpdf(low, alpha, beta) == pytest.approx(
            stats.beta.logpdf(high, alpha, beta), abs=1e-6
        )
    else:  # an end at 0 or 1: the density is highest there
        assert (low, high) in ((0.0, pytest.approx(high)), (pytest.approx(low), 1.0))


def test_the_rate_hdi_agrees_with_arviz_on_draws():
    import arviz as az

    rng = np.random.default_rng(0)
    draws = rng.beta(*rate_posterior(152, 1000), 400_000)
    expected = az.hdi(draws, hdi_prob=0.9)
    assert rate_hdi(152, 1000, 0.9) == pytest.approx(tuple(expected), abs=2e-4)


@pytest.mark.parametrize(
    ("ours", "paper"),
    [((220, 2400), (221, 2400)), ((9, 100), (0, 100)), ((200, 1000), (119, 1000))],
)
def test_the_difference_hdi_agrees_with_arviz_on_draws(ours, paper):
    """The convolution's HDI of ours − paper against the HDI of 2,000,000 draws of it."""
    import arviz as az

    from finetox.results.intervals import difference_hdi

    first, second = rate_posterior(*ours), rate_posterior(*paper)
    rng = np.random.default_rng(0)
    draws = rng.beta(*first, 2_000_000) - rng.beta(*second, 2_000_000)
    mean, low, high = difference_hdi(first, second, 0.95)
    assert (low, high) == pytest.approx(tuple(az.hdi(draws, hdi_prob=0.95)), abs=1e-3)
    assert mean == pytest.approx(draws.mean(), abs=1e-4)
    assert difference_hdi(first, second, 0.95) == (mean, low, high)  # no seed: the same each time


def test_beta_hdi_of_a_flat_posterior_is_its_middle():
    assert beta_hdi(1, 1, 0.9) == pytest.approx((0.05, 0.95))
    with pytest.raises(ValueError):
        rate_posterior(3, 2)
    assert math.isclose(sum(beta_hdi(5, 5, 0.5)), 1.0)
