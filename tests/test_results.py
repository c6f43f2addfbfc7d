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
from finetox.results import figure_files, results_layout, table_files, table_names
from finetox.results.counts import percent_one_decimal
from finetox.results.layout import APPENDIX_CLASSIFIERS, APPENDIX_MODELS
from finetox.results.render import markdown_table
from finetox.results.write import write_tables
from tests.conftest import REPO

SUBSET_SIZES = {"severe": 40, "random": 40, "race": 20, "gender": 20, "age": 20, "religion": 20}
# Toxic generations per model and subset (primary classifier): what the fabricated files hold.
TOXIC = {
    "tiny-base": {"severe": 21, "random": 9, "race": 5, "gender": 4, "age": 3, "religion": 6},
    "tiny-instruct": {"severe": 3, "random": 1, "race": 1, "gender": 0, "age": 1, "religion": 2},
    "tiny-instruct-dolly": {"severe": 11, "random": 5, "race": 3, "gender": 3, "age": 2, "religion": 4},
    "tiny-community-same": {"severe": 3, "random": 1, "race": 1, "gender": 0, "age": 1, "religion": 2},
    "tiny-community-toxic": {"severe": 25, "random": 13, "race": 7, "gender": 8, "age": 6, "religion": 9},
}  # fmt: skip


def demo_config() -> dict:
    config = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    config["scoring"]["classifiers"].append(
        {
            "name": "second",
            "path": "results/demo/models/classifier",
            "label": "hate",
            "threshold": 0.7,
        }
    )
    return config


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


def comparison_frame(a: str, b: str) -> pd.DataFrame:
    """A comparison file as the compare stage writes it, with differences that follow the
    fabricated rates: credible where the rates differ by more than 10 points."""
    rows = []
    for subset in [*SUBSET_SIZES, "total"]:
        if subset == "total":
            n = sum(SUBSET_SIZES.values())
            ka, kb = sum(TOXIC[a].values()), sum(TOXIC[b].values())
        else:
            n, ka, kb = SUBSET_SIZES[subset], TOXIC[a][subset], TOXIC[b][subset]
        diff = (ka - kb) / n
        half = 0.08
        credible = abs(diff) > half
        rows.append(
            {
                "subset": subset,
                "n_a": n,
                "n_b": n,
                "mean_a": ka / n,
                "mean_b": kb / n,
                "rate_a": ka / n,
                "rate_b": kb / n,
                "diff_mean": diff / 2,
                "diff_hdi_low": diff / 2 - half / 2,
                "diff_hdi_high": diff / 2 + half / 2,
                "p_diff_gt_0": 0.5 + np.sign(diff) * 0.49 if credible else 0.5,
                "credible": credible,
                "effect_size": diff,
                "nu_mean": 1.2,
                "r_hat_max": 1.0,
                "ess_bulk_min": 900.0,
                "divergences": 0,
                "warning": "" if subset != "age" else "r_hat 1.02 > 1.01",
                "rate_diff_mean": diff,
                "rate_diff_hdi_low": diff - half,
                "rate_diff_hdi_high": diff + half,
                "p_rate_diff_gt_0": 0.5 + np.sign(diff) * 0.49 if credible else 0.5,
                "hdi_prob": 0.95,
            }
        )
    return pd.DataFrame(rows)


def fabricate(root: Path, layout: dict) -> tuple[list[Path], list[Path]]:
    (root / "scores").mkdir(parents=True, exist_ok=True)
    (root / "comparisons").mkdir(parents=True, exist_ok=True)
    scores = []
    for model in layout["models"]:
        path = root / "scores" / f"{model}.parquet"
        write_scores(path, TOXIC[model])
        scores.append(path)
    comparisons = []
    for pair in layout["pairs"]:
        path = root / "comparisons" / f"{pair['name']}.csv"
        comparison_frame(pair["a"], pair["b"]).to_csv(path, index=False)
        comparisons.append(path)
    return scores, comparisons


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
        "figure4_instruct_vs_community_rates",
        "heatmap_toxic_rates",
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
    assert set(table_names(layout)) >= {APPENDIX_MODELS, APPENDIX_CLASSIFIERS}
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


def test_verdicts_per_subset_with_total_first(written):
    frame = read_csv(written, "table3_instruct_vs_community_verdicts")
    pairs = frame.groupby("pair", sort=False)
    assert list(pairs.groups) == [
        "tiny-instruct__vs__tiny-community-same",
        "tiny-instruct__vs__tiny-community-toxic",
    ]
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
    same = frame[
        (frame["pair"] == "tiny-instruct__vs__tiny-community-same") & (frame["subset"] == "total")
    ]
    toxic = frame[
        (frame["pair"] == "tiny-instruct__vs__tiny-community-toxic") & (frame["subset"] == "total")
    ]
    assert not same["best_credible"].item() and not same["rate_credible"].item()
    assert same["rate_diff_pp"].item() == 0
    assert toxic["best_credible"].item() and toxic["rate_credible"].item()
    assert toxic["rate_diff_pp"].item() == pytest.approx(100 * (8 - 68) / 160)
    assert toxic["pct_a"].item() == 5.0 and toxic["pct_b"].item() == 42.5
    age = frame[frame["subset"] == "age"]
    assert set(age["diagnostics"]) == {"r_hat 1.02 > 1.01"}
    assert (
        not age["best_converged"].any() and frame[frame["subset"] != "age"]["best_converged"].all()
    )


def test_unconverged_best_fits_are_marked_unreliable(written):
    rows = markdown_rows(
        (written / "tables" / "table3_instruct_vs_community_verdicts.md").read_text()
    )
    header = [c.strip() for c in rows[0]]
    best = header.index("BEST diff [95% HDI]")
    for row in rows[2:]:
        cells = [c.strip() for c in row]
        assert cells[best].endswith(" ?") == (cells[header.index("Subset")] == "Age"), cells
    assert (
        "? the BEST fit missed"
        in (written / "tables" / "table3_instruct_vs_community_verdicts.md").read_text()
    )


def test_rate_verdict_is_computed_from_the_hdi_when_the_file_has_none(written):
    frame = read_csv(written, "table1_base_vs_instruct_verdicts")
    expected = (frame["rate_hdi_low_pp"] > 0) | (frame["rate_hdi_high_pp"] < 0)
    assert (frame["rate_credible"] == expected).all()


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
    "name", ["table2_instruct_vs_dolly", "table1_base_vs_instruct_verdicts", APPENDIX_CLASSIFIERS]
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
    assert list(frame.columns) == ["Family", "Model", "Role", "Hub id or path", "Revision", "Total"]
    assert len(frame) == len(layout["models"])
    assert list(frame["Role"]) == [
        "base", "instruct", "instruct + Dolly LoRA", "community", "community",
    ]  # fmt: skip
    dolly = frame[frame["Role"] == "instruct + Dolly LoRA"].iloc[0]
    assert dolly["Hub id or path"] == "results/demo/models/instruct"
    assert dolly["Total"] == 17.5  # 28 of 160


def test_sensitivity_view_has_one_column_per_classifier(written):
    frame = read_csv(written, APPENDIX_CLASSIFIERS)
    assert list(frame.columns) == ["Family", "Model", "demo_lexicon", "second"]
    base = frame[frame["Model"] == "tiny-base"].iloc[0]
    assert base["demo_lexicon"] == 30.0 and base["second"] == 33.8  # 54 of 160 = 33.75


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
    frame = pd.read_csv(comparisons[0]).drop(columns=["diff_hdi_low"])
    frame.to_csv(comparisons[0], index=False)
    with pytest.raises(
        InputError, match=rf"{re.escape(comparisons[0].name)}: missing column.*diff_hdi_low"
    ):
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
    assert "BEST diff [90% HDI]" in text and "Rate diff, pp [90% HDI]" in text
    assert "Brackets: 90% highest-density interval" in text and "95%" not in text


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
    with pytest.raises(InputError, match=rf"{re.escape(comparisons[0].name)}: no 'hdi_prob'"):
        write_tables(layout, scores, comparisons, tmp_path / "out")


def test_comparison_with_several_hdi_probs_is_named(layout, tmp_path):
    scores, comparisons = fabricate(tmp_path / "in", layout)
    set_hdi_prob(comparisons[0], [0.9] + [0.95] * 6)
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
    for column in ("diff_mean", "diff_hdi_low", "diff_hdi_high", "p_diff_gt_0", "effect_size"):
        frame.loc[where, column] = np.nan
    frame.loc[where, "credible"] = False
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
    assert np.isnan(severe["best_diff"]) and not severe["best_credible"]
    assert not severe["best_converged"] and severe["diagnostics"].startswith("BEST not fitted")
    assert severe["rate_credible"]  # the rate view stands
    text = (tmp_path / "out" / f"{name}_verdicts.md").read_text()
    assert "| not fitted " in text and "nan" not in text
