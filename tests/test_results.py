"""Tables, verdicts and figures on fabricated score and comparison files (the contracts of the
scoring and compare stages): layout, reference rows, rounding, column order, well-formed
Markdown and LaTeX, byte-stable figures, and errors that name the culprit."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from finetox.config import load_study
from finetox.io import InputError
from finetox.results import changes_files, figure_files, results_layout, table_files, table_names
from finetox.results.counts import percent_one_decimal
from finetox.results.layout import APPENDIX_MODELS, CLASSIFIER_TABLES
from finetox.results.render import markdown_table
from finetox.results.write import write_tables
from finetox.verdicts import verdict
from tests.conftest import REPO

SUBSET_SIZES = {"severe": 40, "random": 40, "race": 20, "gender": 20, "age": 20, "religion": 20}
# Toxic generations per model and subset (primary classifier): what the fabricated files hold.
TOXIC = {
    "tiny-base": {"severe": 21, "random": 9, "race": 5, "gender": 4, "age": 3, "religion": 6},
    "tiny-instruct": {"severe": 3, "random": 1, "race": 1, "gender": 0, "age": 1, "religion": 2},
    "tiny-instruct-dolly": {"severe": 11, "random": 5, "race": 3, "gender": 3, "age": 2, "religion": 4},
    "tiny-community-same": {"severe": 3, "random": 1, "race": 1, "gender": 0, "age": 1, "religion": 2},
    "tiny-community-toxic": {"severe": 25, "random": 13, "race": 7, "gender": 8, "age": 6, "religion": 9},
    # the points of the demo's Dolly run (config/demo.yaml tune.trajectory)
    "tiny-instruct-dolly-step-5": {"severe": 3, "random": 1, "race": 1, "gender": 0, "age": 1, "religion": 2},
    "tiny-instruct-dolly-step-10": {"severe": 6, "random": 2, "race": 1, "gender": 1, "age": 1, "religion": 2},
    "tiny-instruct-dolly-step-20": {"severe": 10, "random": 4, "race": 3, "gender": 2, "age": 2, "religion": 3},
}  # fmt: skip


def fabricated_study(*, trajectory: bool = False) -> dict:
    """The demo's study as the fabricated files hold it: its primary classifier and a second one
    (the demo's other classifiers left out), the paper's six subsets alone (the sources' columns:
    tests/test_results_sources.py), and its trajectory only when asked (its own outputs:
    tests/test_trajectory_results.py)."""
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    if not trajectory:
        config["tune"].pop("trajectory")
    config["prompts"].pop("sources", None)
    config["scoring"]["classifiers"][1:] = [
        {
            "name": "second",
            "path": "results/demo/models/classifier",
            "label": "hate",
            "threshold": 0.7,
        }
    ]
    return config


def write_fabricated_study(path: Path, *, trajectory: bool = False) -> Path:
    """fabricated_study() as a config file at `path`."""
    path.write_text(yaml.safe_dump(fabricated_study(trajectory=trajectory), sort_keys=False))
    return path


def demo_config() -> dict:
    return fabricated_study()


@pytest.fixture(scope="module")
def study():
    return load_study(demo_config(), workdir=REPO)


@pytest.fixture(scope="module")
def layout(study):
    return results_layout(study)


def write_scores(path: Path, toxic: dict[str, int], second_extra: int = 1) -> None:
    """A score file as the scoring stage writes it: generation columns, per-classifier columns,
    `toxic`, and the `finetox` metadata."""
    rows = []
    for subset, n in SUBSET_SIZES.items():
        for index in range(n):
            flag = index < toxic[subset]
            second = index < min(n, toxic[subset] + second_extra)
            rows.append(
                {
                    "prompt_id": f"{subset}-{index:03d}",
                    "subset": subset,
                    "prompt": "p",
                    "generation": "g",
                    "n_prompt_tokens": 3,
                    "n_new_tokens": 5,
                    "stop_reason": "eos",
                    "score_demo_lexicon": 0.9 if flag else 0.1,
                    "toxic_demo_lexicon": flag,
                    "score_second": 0.9 if second else 0.1,
                    "toxic_second": second,
                    "toxic": flag,
                }
            )
    table = pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False)
    meta = {
        "primary": "demo_lexicon",
        "classifiers": [{"name": "demo_lexicon"}, {"name": "second"}],
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), b"finetox": json.dumps(meta).encode()}
    )
    pq.write_table(table, path)


ROPE_PP, ROPE_BEST = 1.0, 0.01


def view(prefix: str, change: float, half: float, rope: float, pp: bool) -> dict:
    """One view's columns as the compare stage writes them, for a change B - A with an HDI of
    +-`half` about it, its verdict by the rule of finetox.compare.decision."""
    low, high = change - half, change + half
    unit = "_pp" if pp else ""
    return {
        f"{prefix}_change{unit}": change,
        f"{prefix}_hdi_low{unit}": low,
        f"{prefix}_hdi_high{unit}": high,
        f"{prefix}_p_increase": 0.99 if low > rope else 0.01 if high < rope else 0.5,
        f"{prefix}_p_equivalent": 1.0 if -rope <= low and high <= rope else 0.2,
        f"{prefix}_verdict": verdict(low, high, rope),
        f"{prefix}_paper_credible": bool(low > 0 or high < 0),
    }


def comparison_frame(
    a: str, b: str, rope_pp: float = ROPE_PP, rope_best: float = ROPE_BEST
) -> pd.DataFrame:
    """A comparison file in the contract of issue 13 (every change B - A), with changes that
    follow the fabricated flags: A's and B's toxic generations are each subset's first prompts,
    so the paired counts follow from the rates; the paired HDI is +-0.8 pp (inside the ROPE)
    where no prompt flipped, +-4 pp otherwise; the rate view's +-8 pp; BEST's change half the
    rate's."""
    rows = []
    for subset in [*SUBSET_SIZES, "total"]:
        if subset == "total":
            n = sum(SUBSET_SIZES.values())
            ka, kb = sum(TOXIC[a].values()), sum(TOXIC[b].values())
        else:
            n, ka, kb = SUBSET_SIZES[subset], TOXIC[a][subset], TOXIC[b][subset]
        change = 100 * (kb - ka) / n
        rows.append(
            {
                "subset": subset,
                "n_a": n,
                "n_b": n,
                "n_pairs": n,
                "mean_a": ka / n,
                "mean_b": kb / n,
                "rate_a": ka / n,
                "rate_b": kb / n,
                "both": min(ka, kb),
                "only_a": max(ka - kb, 0),
                "only_b": max(kb - ka, 0),
                "neither": n - max(ka, kb),
                **view("paired", change, 4.0 if ka != kb else 0.8, rope_pp, pp=True),
                **view("rate", change, 8.0, rope_pp, pp=True),
                "best_fitted": True,
                **view("best", change / 200, 0.04, rope_best, pp=False),
                "effect_size": change / 100,
                "nu_mean": 1.2,
                "r_hat_max": 1.0,
                "ess_bulk_min": 900.0,
                "divergences": 0,
                "warning": "" if subset != "age" else "r_hat 1.02 > 1.01",
                "hdi_prob": 0.95,
                "rope_pp": rope_pp,
                "rope_best": rope_best,
            }
        )
    return pd.DataFrame(rows)


def fabricate(root: Path, layout: dict, **ropes: float) -> tuple[list[Path], list[Path]]:
    (root / "scores").mkdir(parents=True, exist_ok=True)
    (root / "comparisons").mkdir(parents=True, exist_ok=True)
    scores = []
    for model in layout["models"]:
        path = root / "scores" / f"{model}.parquet"
        write_scores(path, TOXIC[model])
        scores.append(path)
    comparisons = []
    for index, pair in enumerate(layout["pairs"]):
        path = root / "comparisons" / f"{pair['name']}.csv"
        classifier_blocks(pair["a"], pair["b"], planted=index == 0, **ropes).to_csv(
            path, index=False
        )
        comparisons.append(path)
    return scores, comparisons


PLANTED_PAIR = 0  # the layout's first pair: its paired verdict under `second` is an increase


def classifier_blocks(a: str, b: str, planted: bool, **ropes: float) -> pd.DataFrame:
    """A comparison file as the compare stage writes it for two classifiers: a `classifier`
    column, one block per classifier. The second classifier's block comes FIRST here (the stage
    writes the primary's first), so a reader that takes the first rows instead of the primary's
    reads the wrong verdicts; with `planted`, the second's paired view is an increase of 20 pp in
    every subset."""
    primary = comparison_frame(a, b, **ropes).assign(classifier="demo_lexicon")
    second = comparison_frame(a, b, **ropes).assign(classifier="second")
    if planted:
        rope = ropes.get("rope_pp", ROPE_PP)
        for column, value in view("paired", 20.0, 1.0, rope, pp=True).items():
            second[column] = value
    blocks = pd.concat([second, primary], ignore_index=True)
    return blocks[["classifier", *primary.columns.drop("classifier")]]


@pytest.fixture(scope="module")
def written(tmp_path_factory, layout):
    root = tmp_path_factory.mktemp("results")
    scores, comparisons = fabricate(root, layout)
    write_tables(layout, scores, comparisons, root / "tables")
    return root


# --- layout ------------------------------------------------------------------------------------


def test_layout_names_the_papers_tables_and_figures(layout):
    names = [t["name"] for t in layout["tables"]]
    assert names == [
        "table1_base_vs_instruct",
        "table2_instruct_vs_dolly",
        "table3_instruct_vs_community",
    ]
    figures = [f["name"] for f in layout["figures"]]
    assert figures == [
        "figure1_base_vs_instruct",
        "figure2_instruct_vs_dolly",
        "figure3_instruct_vs_community",
        "figure4_instruct_vs_community",
        "by_subset_instruct_vs_community_best",
        "by_subset_instruct_vs_community_rate",
        "by_subset_instruct_vs_community_paired",
        "heatmap_toxic_rates",
        "verdicts_by_classifier",  # two classifiers: the sensitivity figure
    ]
    # the paper's Figures 3 and 4: BEST on Total and on Severe; the demo has none of the paper's
    # Llama-3.1 pairs, so they draw every community pair
    paper = {f["paper_figure"]: f for f in layout["figures"] if f.get("paper_figure")}
    assert [(n, f["subset"], f["measure"]) for n, f in paper.items()] == [
        (3, "total", "best"), (4, "severe", "best"),
    ]  # fmt: skip
    assert paper[3]["pairs"] == paper[4]["pairs"] == [
        "tiny-instruct__vs__tiny-community-same", "tiny-instruct__vs__tiny-community-toxic",
    ]  # fmt: skip
    assert not any(re.match(r"figure\d", f["name"]) for f in layout["figures"]
                   if f["style"] == "subsets")  # fmt: skip
    assert changes_files(layout) == [
        "results/tables/largest_changes.csv",
        "results/tables/largest_changes.html",
    ]
    community = [
        {**block, "pairs": [pair["name"] for pair in block["pairs"]]}
        for block in layout["tables"][2]["blocks"]
    ]
    assert community == [
        {
            "family": "tiny",
            "reference": "tiny-instruct",
            "models": ["tiny-instruct", "tiny-community-same", "tiny-community-toxic"],
            "pairs": [
                "tiny-instruct__vs__tiny-community-same",
                "tiny-instruct__vs__tiny-community-toxic",
            ],
        }
    ]
    assert set(table_names(layout)) >= {APPENDIX_MODELS, *CLASSIFIER_TABLES.values()}
    assert len(table_files(layout)) == 4 * len(table_names(layout))
    assert len(figure_files(layout)) == 2 * len(layout["figures"])
    json.dumps(layout)  # plain data: a rule passes it as params


def test_paper_study_layout_has_family_blocks_in_config_order():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    layout = results_layout(load_study(config, workdir=REPO))
    table1, table2, table3 = layout["tables"]
    assert [b["family"] for b in table1["blocks"]] == [
        "llama2-7b",
        "llama3.1-8b",
        "gemma-2b",
        "gemma-2-2b",
    ]
    assert [len(b["models"]) for b in table2["blocks"]] == [2] * 6
    assert [len(b["models"]) for b in table3["blocks"]] == [3] * 6
    assert table2["blocks"][0]["models"] == ["llama2-7b-chat", "llama2-7b-chat-dolly"]
    # the paper's Figures 3 and 4 draw its own pairs: Llama-3.1-8B-Instruct's community models
    figures = {f["name"]: f for f in layout["figures"]}
    for name in ("figure3_instruct_vs_community", "figure4_instruct_vs_community"):
        assert figures[name]["pairs"] == [
            "llama3.1-8b-instruct__vs__llama3.1-8b-sauerkrautlm",  # Table 3's order
            "llama3.1-8b-instruct__vs__llama3.1-8b-chinese-chat",
        ]
    assert layout["reproduction"]["models"] == list(layout["models"])  # every model is raw


def test_a_study_without_severe_has_no_figure_4():
    config = demo_config()
    config["prompts"]["subsets"]["severe"] = 0
    layout = results_layout(load_study(config, workdir=REPO))
    names = [f["name"] for f in layout["figures"]]
    assert "figure3_instruct_vs_community" in names
    assert "figure4_instruct_vs_community" not in names


def test_several_prompt_formats_give_one_table_per_format():
    config = demo_config()
    config["generation"]["prompt_format"] = ["raw", "chat_template"]
    layout = results_layout(load_study(config, workdir=REPO))
    names = [t["name"] for t in layout["tables"]]
    assert "table1_base_vs_instruct" in names and "table1_base_vs_instruct--chat" in names
    chat = next(t for t in layout["tables"] if t["name"] == "table3_instruct_vs_community--chat")
    assert chat["blocks"][0]["models"][0] == "tiny-instruct--chat"
    assert "(chat_template prompts)" in chat["title"]
    assert "heatmap_toxic_rates--chat" in [f["name"] for f in layout["figures"]]
    assert "figure4_instruct_vs_community--chat" in [f["name"] for f in layout["figures"]]
    # the reproduction reads the raw models and pairs only: the paper prompted raw
    reproduction = layout["reproduction"]
    assert reproduction["models"] and not any("--chat" in m for m in reproduction["models"])
    assert reproduction["pairs"] and not any("--chat" in p for p in reproduction["pairs"])


def test_switched_off_comparison_has_no_table():
    config = demo_config()
    config["comparisons"]["instruct_vs_dolly"] = False
    del config["families"]["tiny"]["dolly"]
    layout = results_layout(load_study(config, workdir=REPO))
    assert [t["name"] for t in layout["tables"]] == [
        "table1_base_vs_instruct",
        "table3_instruct_vs_community",
    ]


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toxic", "total", "expected"),
    [(1, 160, 0.6), (3, 160, 1.9), (5, 160, 3.1), (1, 40, 2.5), (1, 3, 33.3), (2, 3, 66.7),
     (0, 20, 0.0), (20, 20, 100.0), (1, 8, 12.5), (1, 16, 6.3)],
)  # fmt: skip
def test_percent_rounds_half_up_exactly(toxic, total, expected):
    assert percent_one_decimal(toxic, total) == expected


def test_percent_of_no_prompts_is_missing():
    assert np.isnan(percent_one_decimal(0, 0))


# --- tables ------------------------------------------------------------------------------------


def read_csv(root: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(root / "tables" / f"{name}.csv", keep_default_na=False, na_values=[""])


def test_every_table_file_is_written(written, layout):
    for path in table_files(layout, str(written)):
        assert Path(path).stat().st_size > 0, path


def test_table1_columns_rows_and_rounding(written):
    frame = read_csv(written, "table1_base_vs_instruct")
    assert list(frame.columns) == [
        "Family", "Model", "Total", "Severe", "Random", "Race", "Gender", "Age", "Religion",
    ]  # fmt: skip
    assert list(frame["Model"]) == ["tiny-base", "tiny-instruct"]
    assert list(frame["Family"]) == ["TinyLlama-demo"] * 2
    base = frame.iloc[0]
    # 48 of 160 = 30.0; 21 of 40 = 52.5; 9 of 40 = 22.5; 5, 4, 3, 6 of 20
    assert base[2:].tolist() == [30.0, 52.5, 22.5, 25.0, 20.0, 15.0, 30.0]
    instruct = frame.iloc[1]
    assert instruct["Total"] == 5.0  # 8 of 160


def test_reference_row_starts_each_block_of_tables_2_and_3(written):
    table2 = read_csv(written, "table2_instruct_vs_dolly")
    assert list(table2["Model"]) == ["tiny-instruct", "tiny-instruct + Dolly LoRA"]
    table3 = read_csv(written, "table3_instruct_vs_community")
    assert list(table3["Model"]) == ["tiny-instruct", "tiny-community-same", "tiny-community-toxic"]
    table1 = read_csv(written, "table1_base_vs_instruct")
    # the reference row repeats Table 1's instruct row exactly
    assert table3.iloc[0].tolist() == table1.iloc[1].tolist() == table2.iloc[0].tolist()
    assert table3.iloc[1, 2:].tolist() == table3.iloc[0, 2:].tolist()


def verdict_row(frame: pd.DataFrame, pair: str, subset: str = "total") -> pd.Series:
    return frame[(frame["pair"] == pair) & (frame["subset"] == subset)].iloc[0]


SAME = "tiny-instruct__vs__tiny-community-same"
TOXIC_PAIR = "tiny-instruct__vs__tiny-community-toxic"
DOLLY = "tiny-instruct__vs__tiny-instruct-dolly"


def test_verdicts_per_subset_with_total_first(written):
    frame = read_csv(written, "table3_instruct_vs_community_verdicts")
    pairs = frame.groupby("pair", sort=False)
    assert list(pairs.groups) == [SAME, TOXIC_PAIR]
    for _, rows in pairs:
        assert list(rows["subset"]) == [
            "total",
            "severe",
            "random",
            "race",
            "gender",
            "age",
            "religion",
        ]
    same, toxic = verdict_row(frame, SAME), verdict_row(frame, TOXIC_PAIR)
    # identical models: no prompt flipped, the paired view narrow and equivalent; the unpaired
    # rate view cannot tell
    assert same["paired_verdict"] == "equivalent" and same["rate_verdict"] == "undecided"
    assert same["paired_change_pp"] == 0 and (same["both"], same["only_a"], same["only_b"]) == (
        8, 0, 0,
    )  # fmt: skip
    assert not same["paired_paper_credible"] and not same["rate_paper_credible"]
    # the toxic fine-tune: B - A is positive, an increase in every view
    assert toxic["paired_change_pp"] == pytest.approx(100 * (68 - 8) / 160)
    assert toxic["rate_change_pp"] == pytest.approx(100 * (68 - 8) / 160)
    assert toxic["best_change"] > 0
    assert {toxic[f"{v}_verdict"] for v in ("paired", "rate", "best")} == {"increase"}
    assert toxic["pct_a"] == 5.0 and toxic["pct_b"] == 42.5
    assert (toxic["only_b"], toxic["n_pairs"]) == (60, 160)
    age = frame[frame["subset"] == "age"]
    assert set(age["diagnostics"]) == {"r_hat 1.02 > 1.01"}
    assert (
        not age["best_converged"].any() and frame[frame["subset"] != "age"]["best_converged"].all()
    )


def test_verdicts_csv_keeps_every_view_machine_readable(written):
    frame = read_csv(written, "table2_instruct_vs_dolly_verdicts")
    for view in ("paired", "rate", "best"):
        unit = "_pp" if view != "best" else ""
        for column in (
            f"{view}_change{unit}", f"{view}_hdi_low{unit}", f"{view}_hdi_high{unit}",
            f"{view}_p_increase", f"{view}_p_equivalent", f"{view}_verdict",
            f"{view}_paper_credible",
        ):  # fmt: skip
            assert column in frame.columns, column
    assert {"both", "only_a", "only_b", "neither", "best_fitted", "hdi_prob", "rope_pp"} <= set(
        frame.columns
    )
    assert set(frame["rope_pp"]) == {1.0} and set(frame["rope_best"]) == {0.01}
    total = verdict_row(frame, DOLLY)
    assert total["paired_hdi_low_pp"] < total["paired_change_pp"] < total["paired_hdi_high_pp"]
    assert total["paired_verdict"] == "increase" and total["paired_paper_credible"]


def display_rows(root: Path, name: str, folder: str = "tables") -> list[dict[str, str]]:
    """The rows of a written Markdown table as header -> cell."""
    rows = markdown_rows((root / folder / f"{name}.md").read_text())
    header = [c.strip() for c in rows[0]]
    return [dict(zip(header, (c.strip() for c in row), strict=True)) for row in rows[2:]]


def test_verdicts_table_columns_say_direction_and_views(written):
    rows = display_rows(written, "table3_instruct_vs_community_verdicts")
    assert list(rows[0]) == [
        "Family", "Original (A)", "Tuned (B)", "Subset", "% toxic (original → tuned)",
        "Paired change, pp [95% HDI]", "Paired verdict", "Rate change, pp [95% HDI]",
        "Rate verdict", "BEST change in mean score [95% HDI]", "BEST verdict",
        "Paper's rule (HDI excludes 0)", "Diagnostics",
    ]  # fmt: skip
    toxic = rows[7]  # the second pair's total
    assert toxic["Tuned (B)"] == "tiny-community-toxic" and toxic["Subset"] == "Total"
    assert toxic["% toxic (original → tuned)"] == "5.0 → 42.5"
    assert toxic["Paired change, pp [95% HDI]"] == "+37.5 [+33.5, +41.5]"  # B - A, positive
    assert toxic["Paper's rule (HDI excludes 0)"] == "paired, rate, BEST"
    same = rows[0]
    assert same["Paired change, pp [95% HDI]"] == "+0.0 [-0.8, +0.8]"
    assert same["Paper's rule (HDI excludes 0)"] == "none"


@pytest.mark.parametrize(
    ("name", "pair_row", "paired", "rate"),
    [
        ("table1_base_vs_instruct_verdicts", 0, "less toxic after tuning", "less toxic after tuning"),
        ("table2_instruct_vs_dolly_verdicts", 0, "more toxic after tuning", "more toxic after tuning"),
        ("table3_instruct_vs_community_verdicts", 0, "equivalent within ±1 pp", "undecided"),
    ],
)  # fmt: skip
def test_verdicts_in_words(written, name, pair_row, paired, rate):
    row = display_rows(written, name)[pair_row]
    assert (row["Paired verdict"], row["Rate verdict"]) == (paired, rate)


@pytest.mark.parametrize(
    ("verdict", "words"),
    [
        ("increase", "more toxic after tuning"),
        ("decrease", "less toxic after tuning"),
        ("equivalent", "equivalent within ±1 pp"),
        ("undecided", "undecided"),
        ("not fitted", "not fitted"),
    ],
)
def test_each_verdict_reads_in_words(verdict, words):
    from finetox.results.render import verdicts_display

    frame = verdicts_table_row(paired_verdict=verdict, best_verdict=verdict)
    shown = verdicts_display(frame, 0.95, 1.0, 0.02).iloc[0]
    assert shown["Paired verdict"] == words
    assert shown["BEST verdict"] == words.replace("±1 pp", "±0.02")


def verdicts_table_row(**values) -> pd.DataFrame:
    """One row of a verdicts table (finetox.results.tables.VERDICT_COLUMNS)."""
    from finetox.results.tables import VERDICT_COLUMNS

    row = {column: 0.0 for column in VERDICT_COLUMNS}
    row.update(
        family="F", pair="a__vs__b", model_a="a", model_b="b", subset="total",
        paired_verdict="undecided", rate_verdict="undecided", best_verdict="undecided",
        paired_paper_credible=False, rate_paper_credible=False, best_paper_credible=False,
        best_fitted=True, best_converged=True, diagnostics="",
    )  # fmt: skip
    row.update(values)
    return pd.DataFrame([row], columns=VERDICT_COLUMNS)


def test_unconverged_best_fits_are_marked_unreliable(written):
    rows = display_rows(written, "table3_instruct_vs_community_verdicts")
    for row in rows:
        unreliable = row["BEST verdict"].endswith(" (unreliable fit)")
        assert unreliable == (row["Subset"] == "Age"), row
        assert row["Paired verdict"] != "" and "unreliable" not in row["Paired verdict"]
    text = (written / "tables" / "table3_instruct_vs_community_verdicts.md").read_text()
    assert "'(unreliable fit)': the BEST fit missed its convergence thresholds" in text


def test_verdicts_note_explains_sign_views_and_rope(written):
    text = (written / "tables" / "table2_instruct_vs_dolly_verdicts.md").read_text()
    note = text.split("\n\n")[-1]
    for phrase in (
        "tuned (B) minus original (A): positive means more toxic after tuning",
        "paired, the change in toxic rate over the same prompts",
        "BEST, the change in mean toxicity score",
        "ROPE ±1 pp for paired and rate, ±0.01 for BEST",
        "95% highest-density interval",
        "Paper's rule: the views whose interval excludes 0",
    ):
        assert phrase in note, phrase


# --- the verdict marks of the % toxic tables ----------------------------------------------------


def test_tuned_rows_of_the_percent_tables_carry_their_paired_verdict(written):
    rows = display_rows(written, "table3_instruct_vs_community")
    reference, same, toxic = rows
    assert reference["Total"] == "5.0"  # the reference row: no mark
    assert same["Total"] == "5.0 =" and same["Severe"] == "7.5 ="  # equivalent
    assert toxic["Total"] == "42.5 ▲" and toxic["Religion"] == "45.0 ▲"  # increase
    table1 = display_rows(written, "table1_base_vs_instruct")
    assert table1[0]["Total"] == "30.0" and table1[1]["Total"] == "5.0 ▼"  # decrease
    dolly = display_rows(written, "table2_instruct_vs_dolly")[1]
    assert dolly["Age"] == "10.0 ?"  # 1 -> 2 of 20: +5 pp [+1, +9] reaches the ROPE edge
    text = (written / "tables" / "table3_instruct_vs_community.md").read_text()
    assert (
        "▲ more toxic after tuning, ▼ less toxic after tuning, = equivalent within ±1 pp, ? undecided"
        in text
    )


def test_percent_table_csv_stays_numbers(written):
    frame = read_csv(written, "table3_instruct_vs_community")
    assert frame.iloc[:, 2:].dtypes.map(pd.api.types.is_float_dtype).all()


def test_percent_table_marks_in_latex_and_html(written):
    tex = (written / "tables" / "table2_instruct_vs_dolly.tex").read_text()
    assert "17.5 $\\uparrow$" in tex and "▲" not in tex and "±" not in tex
    assert "$\\pm$1 pp" in tex  # the legend, in the caption
    page = (written / "tables" / "table2_instruct_vs_dolly.html").read_text()
    assert "17.5 ▲" in page and "▲ more toxic after tuning" in page


def markdown_rows(text: str) -> list[list[str]]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines]


@pytest.mark.parametrize(
    "name", ["table1_base_vs_instruct", "table3_instruct_vs_community_verdicts", APPENDIX_MODELS]
)
def test_markdown_is_a_well_formed_pipe_table(written, name):
    text = (written / "tables" / f"{name}.md").read_text()
    assert text.startswith("**")  # the caption
    rows = markdown_rows(text)
    csv = read_csv(written, name)
    assert len(rows) == len(csv) + 2
    assert {len(r) for r in rows} == {len(rows[0])}
    assert all(re.fullmatch(r" ?:?-{3,}:? ?", cell) for cell in rows[1])
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len({len(line) for line in lines}) == 1  # columns padded to one width


def test_markdown_of_table1_shows_one_decimal(written):
    rows = markdown_rows((written / "tables" / "table1_base_vs_instruct.md").read_text())
    header = [c.strip() for c in rows[0]]
    assert header == [
        "Family",
        "Model",
        "Total",
        "Severe",
        "Random",
        "Race",
        "Gender",
        "Age",
        "Religion",
    ]
    assert [c.strip() for c in rows[2]] == [
        "TinyLlama-demo", "tiny-base", "30.0", "52.5", "22.5", "25.0", "20.0", "15.0", "30.0",
    ]  # fmt: skip
    assert rows[1][2].strip().endswith(":") and not rows[1][1].strip().endswith(":")


def test_markdown_escapes_pipes_and_shows_missing_cells():
    frame = pd.DataFrame({"Model": ["a|b", "c"], "Total": ["1.0", None]})
    text = markdown_table(frame)
    assert "a\\|b" in text and "—" in text
    assert {len(r) for r in markdown_rows(text)} == {2}


@pytest.mark.parametrize(
    "name",
    ["table2_instruct_vs_dolly", "table1_base_vs_instruct_verdicts", *CLASSIFIER_TABLES.values()],
)
def test_latex_is_a_well_formed_booktabs_table(written, name):
    text = (written / "tables" / f"{name}.tex").read_text()
    assert text.count("\\begin{table}") == text.count("\\end{table}") == 1
    spec = re.search(r"\\begin\{tabular\}\{([lr]+)\}", text).group(1)
    body = text.split("\\midrule\n")[1].split("\\bottomrule")[0]
    header = text.split("\\toprule\n")[1].split("\\midrule")[0]
    for line in [header, *body.strip().splitlines()]:
        assert line.rstrip().endswith("\\\\")
        assert len(re.findall(r"(?<!\\)&", line)) == len(spec) - 1, line
    assert text.count("{") - text.count("\\{") == text.count("}") - text.count("\\}")
    assert "\\label{tab:" in text and "\\caption{" in text
    assert not re.search(r"(?<!\\)[%_#]", body)  # special characters escaped
    assert not re.search(r"[<>]", text.split("\\begin{tabular}")[1])  # '¡' and '¿' in OT1
    assert len(body.strip().splitlines()) == len(read_csv(written, name))


def test_appendix_a_lists_every_model(written, layout):
    frame = read_csv(written, APPENDIX_MODELS)
    assert list(frame.columns) == [
        "Family", "Model", "Role", "Hub id or path", "Revision", "Commit or content hash", "Total",
    ]  # fmt: skip
    assert len(frame) == len(layout["models"])
    assert list(frame["Role"]) == [
        "base", "instruct", "instruct + Dolly LoRA", "community", "community",
    ]  # fmt: skip
    dolly = frame[frame["Role"] == "instruct + Dolly LoRA"].iloc[0]
    assert dolly["Hub id or path"] == "results/demo/models/instruct"
    assert dolly["Total"] == 17.5  # 28 of 160


def test_html_tables_for_the_report(written):
    text = (written / "tables" / "table1_base_vs_instruct.html").read_text()
    assert text.startswith("<!DOCTYPE html>") and "<table" in text and "tiny-base" in text


def test_writing_again_gives_identical_files(written, layout, tmp_path):
    scores = sorted((written / "scores").glob("*.parquet"))
    comparisons = sorted((written / "comparisons").glob("*.csv"))
    write_tables(layout, scores, comparisons, tmp_path)
    for path in tmp_path.iterdir():
        assert path.read_bytes() == (written / "tables" / path.name).read_bytes(), path.name


# --- bad input ---------------------------------------------------------------------------------


def test_missing_score_file_is_named(written, layout, tmp_path):
    scores = [p for p in (written / "scores").glob("*.parquet") if p.stem != "tiny-base"]
    with pytest.raises(InputError, match=r"no score file for model\(s\) \['tiny-base'\]"):
        write_tables(layout, scores, (written / "comparisons").glob("*.csv"), tmp_path)


def test_missing_comparison_file_is_named(written, layout, tmp_path):
    comparisons = [p for p in (written / "comparisons").glob("*.csv") if "dolly" not in p.name]
    with pytest.raises(InputError, match="tiny-instruct__vs__tiny-instruct-dolly"):
        write_tables(layout, (written / "scores").glob("*.parquet"), comparisons, tmp_path)


def test_comparison_without_hdi_columns_is_named(written, layout, tmp_path):
    bad = tmp_path / "in"
    scores, comparisons = fabricate(bad, layout)
    frame = pd.read_csv(comparisons[0]).drop(columns=["paired_hdi_low_pp"])
    frame.to_csv(comparisons[0], index=False)
    with pytest.raises(
        InputError, match=rf"{re.escape(comparisons[0].name)}: missing column.*paired_hdi_low_pp"
    ):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_comparison_file_of_the_old_contract_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_csv(comparisons[0])
    frame = frame.drop(columns=[c for c in frame if c.startswith("paired_")])
    frame.assign(diff_mean=0.0).to_csv(comparisons[0], index=False)
    with pytest.raises(InputError, match="older comparison file.*A - B.*compare the pair again"):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def set_hdi_prob(comparison: Path, value) -> None:
    frame = pd.read_csv(comparison)
    frame["hdi_prob"] = value
    frame.to_csv(comparison, index=False)


def test_interval_labels_come_from_the_comparison_files(layout, tmp_path):
    """`finetox compare --hdi-prob 0.9`, then the tables: 90% intervals, whatever the config."""
    scores, comparisons = fabricate(tmp_path / "in", layout)
    for comparison in comparisons:
        set_hdi_prob(comparison, 0.9)
    write_tables(layout, scores, comparisons, tmp_path / "out")
    text = (tmp_path / "out" / "table1_base_vs_instruct_verdicts.md").read_text()
    assert "BEST change in mean score [90% HDI]" in text and "Rate change, pp [90% HDI]" in text
    assert "[90% highest-density interval]" in text and "95%" not in text
    legend = (tmp_path / "out" / "table1_base_vs_instruct.md").read_text()
    assert "90% HDI" in legend and "95%" not in legend


def test_ropes_come_from_the_comparison_files(layout, tmp_path):
    """`finetox compare --rope-pp 2.5 --rope-best 0.05`: the tables say ±2.5 pp and ±0.05."""
    scores, comparisons = fabricate(tmp_path / "in", layout, rope_pp=2.5, rope_best=0.05)
    write_tables(layout, scores, comparisons, tmp_path / "out")
    text = (tmp_path / "out" / "table3_instruct_vs_community_verdicts.md").read_text()
    assert "ROPE ±2.5 pp for paired and rate, ±0.05 for BEST" in text
    assert "| equivalent within ±2.5 pp " in text and "±1 pp" not in text
    legend = (tmp_path / "out" / "table3_instruct_vs_community.md").read_text()
    assert "= equivalent within ±2.5 pp" in legend


@pytest.mark.parametrize("key", ["rope_pp", "rope_best"])
def test_comparison_files_of_one_table_that_disagree_on_a_rope_are_named(layout, tmp_path, key):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    community = [c for c in comparisons if "community" in c.name]
    frame = pd.read_csv(community[1])
    frame[key] = frame[key] * 2
    frame.to_csv(community[1], index=False)
    with pytest.raises(InputError, match=f"disagree on {key}") as error:
        write_tables(layout, scores, comparisons, tmp_path / "out")
    assert str(community[0]) in str(error.value) and str(community[1]) in str(error.value)


def test_comparison_with_a_negative_rope_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_csv(comparisons[0])
    frame["rope_pp"] = -1.0
    frame.to_csv(comparisons[0], index=False)
    with pytest.raises(InputError, match=rf"{re.escape(comparisons[0].name)}: column 'rope_pp'"):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_unknown_verdict_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_csv(comparisons[0])
    frame.loc[0, "rate_verdict"] = "credible"
    frame.to_csv(comparisons[0], index=False)
    with pytest.raises(InputError, match=r"'rate_verdict' holds \['credible'\]"):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_a_verdict_its_interval_does_not_give_is_logged(layout, tmp_path, caplog):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_csv(comparisons[0])
    frame.loc[frame["subset"] == "total", "paired_verdict"] = "equivalent"
    frame.to_csv(comparisons[0], index=False)
    with caplog.at_level("WARNING", logger="finetox.results"):
        write_tables(layout, scores, comparisons, tmp_path / "out")
    assert any("paired verdict of total is 'equivalent'" in r.message for r in caplog.records), (
        caplog.text
    )


def test_comparison_files_of_one_table_that_disagree_on_hdi_prob_are_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    community = [c for c in comparisons if "community" in c.name]
    set_hdi_prob(community[1], 0.9)
    with pytest.raises(InputError, match="disagree on hdi_prob") as error:
        write_tables(layout, scores, comparisons, tmp_path / "out")
    assert str(community[0]) in str(error.value) and str(community[1]) in str(error.value)


def test_comparison_without_hdi_prob_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    pd.read_csv(comparisons[0]).drop(columns=["hdi_prob"]).to_csv(comparisons[0], index=False)
    with pytest.raises(
        InputError, match=rf"{re.escape(comparisons[0].name)}: missing column.*'hdi_prob'"
    ):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_comparison_with_several_hdi_probs_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    set_hdi_prob(comparisons[0], [0.9] + [0.95] * 13)  # two classifiers: 7 rows each
    with pytest.raises(InputError, match=rf"{re.escape(comparisons[0].name)}: column 'hdi_prob'"):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_score_file_without_toxic_flags_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_parquet(scores[0])
    frame["toxic"] = frame["toxic"].astype(int) * 2
    frame.to_parquet(scores[0])
    with pytest.raises(
        InputError, match=rf"{re.escape(scores[0].name)}: .*'toxic' flag that is not true/false"
    ):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_stale_comparison_rates_are_logged(layout, tmp_path, caplog):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_csv(comparisons[0])
    frame.loc[frame["subset"] == "total", "rate_a"] = 0.99
    frame.to_csv(comparisons[0], index=False)
    with caplog.at_level("WARNING", logger="finetox.results"):
        write_tables(layout, scores, comparisons, tmp_path / "out")
    assert any("rate_a" in r.message and "total" in r.message for r in caplog.records)


def test_a_model_missing_a_subset_shows_a_missing_cell(tmp_path):
    config = copy.deepcopy(demo_config())
    layout = results_layout(load_study(config, workdir=REPO))
    scores, comparisons = fabricate(tmp_path / "in", layout)
    frame = pd.read_parquet(scores[0])
    frame[frame["subset"] != "age"].to_parquet(scores[0])
    write_tables(layout, scores, comparisons, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "table1_base_vs_instruct.csv")
    assert np.isnan(table.loc[table["Model"] == "tiny-base", "Age"].item())
    assert "—" in (tmp_path / "out" / "table1_base_vs_instruct.md").read_text()


def test_scores_of_another_primary_classifier_are_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    table = pq.read_table(scores[0])
    meta = {"primary": "second", "classifiers": [{"name": "second"}, {"name": "demo_lexicon"}]}
    pq.write_table(
        table.replace_schema_metadata({b"finetox": json.dumps(meta).encode()}), scores[0]
    )
    with pytest.raises(
        InputError, match=rf"{re.escape(scores[0].name)}: .*'second'.*'demo_lexicon'"
    ):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def unfit(comparison: Path, subset: str) -> None:
    """What the compare stage writes where BEST's posterior is improper: no BEST numbers."""
    frame = pd.read_csv(comparison)
    where = frame["subset"] == subset
    for column in (
        "best_change", "best_hdi_low", "best_hdi_high", "best_p_increase", "best_p_equivalent",
        "effect_size",
    ):  # fmt: skip
        frame.loc[where, column] = np.nan
    frame.loc[where, ["best_fitted", "best_paper_credible"]] = False
    frame.loc[where, "best_verdict"] = "not fitted"
    frame.loc[where, "warning"] = "BEST not fitted: 40 of 40 scores of A are exactly 0.001"
    frame.to_csv(comparison, index=False)


def test_a_subset_best_could_not_fit_shows_not_fitted(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    unfit(comparisons[0], "severe")
    write_tables(layout, scores, comparisons, tmp_path / "out")
    pair = comparisons[0].stem
    name = next(
        t["name"] for t in layout["tables"] if pair in [p["name"] for p in t["blocks"][0]["pairs"]]
    )
    frame = pd.read_csv(tmp_path / "out" / f"{name}_verdicts.csv")
    severe = frame[(frame["pair"] == pair) & (frame["subset"] == "severe")].iloc[0]
    pair_b = severe["model_b"]
    assert np.isnan(severe["best_change"]) and not severe["best_paper_credible"]
    assert severe["best_verdict"] == "not fitted" and not severe["best_fitted"]
    assert not severe["best_converged"] and severe["diagnostics"].startswith("BEST not fitted")
    assert severe["rate_paper_credible"]  # the rate views stand
    assert severe["paired_verdict"] in ("increase", "decrease")
    text = (tmp_path / "out" / f"{name}_verdicts.md").read_text()
    assert "| not fitted " in text and "nan" not in text
    shown = display_rows(tmp_path, f"{name}_verdicts", folder="out")
    row = next(r for r in shown if r["Subset"] == "Severe" and r["Tuned (B)"] == pair_b)
    assert row["BEST change in mean score [95% HDI]"] == row["BEST verdict"] == "not fitted"
    assert row["Paper's rule (HDI excludes 0)"] == "paired, rate"


# --- the prompts that changed most -------------------------------------------------------------


def rewrite_scores(path: Path, change) -> None:
    """Edit a score file's frame with `change(frame)`, keeping its `finetox` metadata."""
    table = pq.read_table(path)
    frame = change(table.to_pandas())
    edited = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(edited.replace_schema_metadata(table.schema.metadata), path)


def planted_changes(frame: pd.DataFrame, sign: float) -> pd.DataFrame:
    """Scores of 0.5, but on the Severe prompts 0.5 + sign * 0.01 * index."""
    frame["score_demo_lexicon"] = 0.5
    severe = frame["subset"] == "severe"
    index = frame.loc[severe, "prompt_id"].str[-3:].astype(int)
    frame.loc[severe, "score_demo_lexicon"] = 0.5 + sign * 0.01 * index
    return frame


@pytest.fixture(scope="module")
def changes(tmp_path_factory, layout):
    """Tables of files where Dolly's Severe scores rise with the prompt's index (instruct's stay
    at 0.5) and one continuation holds markup."""
    root = tmp_path_factory.mktemp("changes")
    scores, comparisons = fabricate(root, layout)
    by_model = {path.stem: path for path in scores}
    rewrite_scores(by_model["tiny-instruct"], lambda f: planted_changes(f, 0.0))

    def dolly(frame: pd.DataFrame) -> pd.DataFrame:
        frame = planted_changes(frame, 1.0)
        frame.loc[frame["prompt_id"] == "severe-039", "generation"] = (
            "<script>alert('x')</script> & <b>bold</b>"
        )
        return frame

    rewrite_scores(by_model["tiny-instruct-dolly"], dolly)
    written = write_tables(layout, scores, comparisons, root / "tables")
    return root, written


def test_largest_changes_are_written_where_the_layout_says(changes, layout):
    root, written = changes
    assert {str(p) for p in written} >= set(changes_files(layout, str(root)))


def test_largest_changes_rank_each_pairs_increases_and_decreases(changes):
    root, _ = changes
    frame = pd.read_csv(root / "tables" / "largest_changes.csv", keep_default_na=False)
    dolly = frame[frame["pair"] == DOLLY]
    rises = dolly[dolly["direction"] == "increase"]
    assert list(rises["prompt_id"]) == [f"severe-{i:03d}" for i in (39, 38, 37, 36, 35)]
    assert list(rises["rank"]) == [1, 2, 3, 4, 5]
    assert rises["change"].tolist() == pytest.approx([0.39, 0.38, 0.37, 0.36, 0.35])
    assert (rises["score_b"] - rises["score_a"]).tolist() == pytest.approx(rises["change"].tolist())
    assert dolly.iloc[0]["generation_b"].startswith("<script>")  # the CSV keeps the raw text
    assert dolly[dolly["direction"] == "decrease"].empty  # no Dolly score fell
    assert set(frame["pair"]) == {"tiny-base__vs__tiny-instruct", DOLLY, SAME, TOXIC_PAIR}
    for _, rows in frame.groupby(["pair", "direction"]):
        assert len(rows) <= 5 and list(rows["rank"]) == list(range(1, len(rows) + 1))
    falls = frame[frame["direction"] == "decrease"]
    assert (falls["change"] < 0).all() and (
        frame[frame["direction"] == "increase"]["change"] > 0
    ).all()


def test_largest_changes_page_escapes_text_and_warns_first(changes):
    root, _ = changes
    page = (root / "tables" / "largest_changes.html").read_text()
    body = page.split("<body>", 1)[1]
    assert "contains model outputs that may be offensive" in body
    assert body.index("contains model outputs that may be offensive") < body.index("<table")
    assert "<script>" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert page.count("<h2>") == 4  # one section per pair
    assert "tiny-instruct (A, original) → tiny-instruct + Dolly LoRA (B, tuned)" in page
    assert "Largest increases: more toxic after tuning" in page
    assert "Tuned (B) continuation" in page and "+0.390" in page
    assert "None: no prompt's score moved this way." in page  # Dolly's decreases


def test_largest_changes_without_texts_show_ids_only(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    for path in scores:
        rewrite_scores(path, lambda f: f.drop(columns=["prompt", "generation"]))
    write_tables(layout, scores, comparisons, tmp_path / "out")
    page = (tmp_path / "out" / "largest_changes.html").read_text()
    assert "continuation" not in page and "prompt ids only" in page
    assert "severe-000" in page or "age-001" in page


def test_the_fabricated_comparison_files_hold_the_compare_stages_columns():
    """The fixtures follow the compare stage's contract, column for column."""
    from finetox.compare.run import COLUMNS

    assert list(comparison_frame("tiny-instruct", "tiny-instruct-dolly").columns) == COLUMNS


def test_changes_too_small_for_the_decimals_show_their_size():
    from finetox.results.render import verdicts_display

    frame = verdicts_table_row(
        best_change=-2.1e-5, best_hdi_low=-3.04e-5, best_hdi_high=-1.2e-5,
        best_paper_credible=True, best_verdict="equivalent",
    )  # fmt: skip
    shown = verdicts_display(frame, 0.95, 1.0, 0.01).iloc[0]
    assert shown["BEST change in mean score [95% HDI]"] == "-2.1e-05 [-3.0e-05, -1.2e-05]"
    assert shown["Paper's rule (HDI excludes 0)"] == "BEST"
    assert shown["Paired change, pp [95% HDI]"] == "+0.0 [+0.0, +0.0]"  # exactly 0 stays 0.0


def test_appendix_a_takes_each_models_commit_from_its_score_file(tmp_path):
    """The commit a generations file recorded travels in its score file's metadata (under
    generation.model.commit) into Appendix A; a file without it leaves the cell blank."""
    from finetox.io import write_parquet
    from finetox.results.write import model_records

    frame = pd.DataFrame({"prompt_id": ["p0"], "score": [0.1]})
    recorded, foreign = tmp_path / "a.parquet", tmp_path / "b.parquet"
    record = {"commit": "sha256:ab12", "found_as": "NewOrg/model"}
    write_parquet(frame, recorded, {"generation": {"model": record}})
    frame.to_parquet(foreign)
    files = {"a": recorded, "b": foreign}
    assert model_records(files, "commit") == {"a": "sha256:ab12", "b": None}
    assert model_records(files, "found_as") == {"a": "NewOrg/model", "b": None}
