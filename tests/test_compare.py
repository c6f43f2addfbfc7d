"""Estimation stage: BEST and the rate view on simulated scores, score-file reading, the CLI.

The BEST model compiles once per test session (nutpie, about 10-40 s on a busy 2-core machine);
every fit after that reuses it with small draws.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finetox.cli import main
from finetox.compare import COLUMNS, CompareError, Settings, compare_scores
from finetox.compare.best import diagnostics_warning, improper_reason
from finetox.compare.rates import compare_rates
from finetox.compare.run import check_pairing
from finetox.compare.terminal import a_more_toxic
from finetox.config import section_defaults
from finetox.io import InputError
from finetox.scores_file import Scores, read_scores, resolve_score_column
from finetox.subsets import TOTAL, subset_order

FAST = {"chains": 2, "draws": 300, "warmup": 300, "seed": 11}
SIZES = {"severe": 60, "random": 60, "race": 30}


def toxicity_scores(
    rng: np.random.Generator, n: int, toxic_share: float, bulk=(0.4, 30.0)
) -> np.ndarray:
    """Toxicity-like scores: mostly near 0 (a Beta bulk), a share from a tail near 1."""
    toxic = rng.random(n) < toxic_share
    return np.where(toxic, rng.beta(4.0, 1.2, n), rng.beta(*bulk, n))


# a more toxic model: more toxic generations, and the rest less clean too (BEST's mu follows
# the bulk of the scores, so a difference in the tail alone may not move it; see below)
TOXIC_BULK = (1.0, 15.0)


def score_frame(seed: int, toxic_share: float, sizes=SIZES, bulk=(0.4, 30.0)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [
        pd.DataFrame(
            {
                "prompt_id": [f"{subset}-{i:03d}" for i in range(n)],
                "subset": subset,
                "score": toxicity_scores(rng, n, toxic_share, bulk),
            }
        )
        for subset, n in sizes.items()
    ]
    return pd.concat(parts, ignore_index=True)


def as_scores(frame: pd.DataFrame, name: str) -> Scores:
    frame = frame.assign(toxic=frame["score"] > 0.5)
    return Scores(path=name, frame=frame, column="score", toxic_from="score > 0.5")


@pytest.fixture(scope="module")
def planted():
    """A far more toxic than B: both views must see it, with the right sign."""
    a = as_scores(score_frame(1, 0.35, bulk=TOXIC_BULK), "a")
    b = as_scores(score_frame(2, 0.03), "b")
    return compare_scores(a, b, Settings.defaults(**FAST), cores=2)


@pytest.fixture(scope="module")
def null():
    """A and B drawn from one distribution."""
    a, b = as_scores(score_frame(3, 0.08), "a"), as_scores(score_frame(4, 0.08), "b")
    return compare_scores(a, b, Settings.defaults(**FAST), cores=2)


# --- BEST and the rate view --------------------------------------------------------------------


def test_table_has_a_row_per_subset_in_paper_order_plus_total(planted):
    table = planted.table
    assert list(table.columns) == COLUMNS
    assert list(table["subset"]) == ["severe", "random", "race", TOTAL]
    total = table.set_index("subset").loc[TOTAL]
    assert (total["n_a"], total["n_b"]) == (150, 150)


def test_recovers_a_planted_difference_with_positive_sign(planted):
    total = planted.table.set_index("subset").loc[TOTAL]
    assert total["credible"] and total["diff_hdi_low"] > 0 and total["diff_mean"] > 0
    assert total["p_diff_gt_0"] > 0.99 and total["effect_size"] > 0
    assert total["rate_credible"] and total["rate_diff_hdi_low"] > 0
    assert total["rate_a"] > total["rate_b"]
    assert total["rate_diff_mean"] == pytest.approx(
        (total["rate_a"] * 150 + 1) / 152 - (total["rate_b"] * 150 + 1) / 152
    )
    assert a_more_toxic(planted.table)


def test_sign_is_a_minus_b():
    a = as_scores(score_frame(2, 0.03), "a")
    b = as_scores(score_frame(1, 0.35, bulk=TOXIC_BULK), "b")
    table = compare_scores(a, b, Settings.defaults(**FAST), cores=2).table
    total = table.set_index("subset").loc[TOTAL]
    assert total["diff_mean"] < 0 and total["diff_hdi_high"] < 0 and total["p_diff_gt_0"] < 0.01
    assert total["rate_diff_mean"] < 0 and total["p_rate_diff_gt_0"] < 0.01
    assert not a_more_toxic(table)


def test_does_not_flag_a_null_difference(null):
    table = null.table
    assert not table["credible"].any(), table[["subset", "diff_hdi_low", "diff_hdi_high"]]
    assert not table["rate_credible"].any()
    assert not a_more_toxic(table)
    for row in table.itertuples():
        assert row.diff_hdi_low < 0 < row.diff_hdi_high
        assert row.rate_diff_hdi_low < 0 < row.rate_diff_hdi_high


def test_a_difference_in_the_tail_alone_shows_in_the_rates():
    """Why two views: with the bulk unchanged, BEST's nu falls to about 1 and mu stays with the
    bulk near 0, while the toxic rates differ plainly."""
    a = as_scores(score_frame(1, 0.35, {"severe": 150}), "a")
    b = as_scores(score_frame(2, 0.03, {"severe": 150}), "b")
    total = compare_scores(a, b, Settings.defaults(**FAST), cores=2).table.iloc[-1]
    assert total["rate_credible"] and total["rate_diff_hdi_low"] > 0.1
    assert total["nu_mean"] < 1.5
    assert abs(total["diff_mean"]) < 0.01 < 0.1 < total["rate_diff_mean"]


def test_diagnostics_are_recorded(planted):
    table = planted.table
    assert table["r_hat_max"].between(0.99, 1.2).all()
    assert (table["ess_bulk_min"] > 50).all()
    assert (table["divergences"] >= 0).all()
    assert table["nu_mean"].ge(1).all()
    clean = table["warning"] == ""
    assert ((table["r_hat_max"] <= 1.01) & (table["ess_bulk_min"] >= 400) | ~clean).all()


def test_a_missed_threshold_gives_a_warning():
    a, b = (
        as_scores(score_frame(5, 0.1, {"race": 30}), "a"),
        as_scores(score_frame(6, 0.1, {"race": 30}), "b"),
    )
    strict = Settings.defaults(**FAST, ess_min=10**9)
    table = compare_scores(a, b, strict, cores=2).table
    assert table["warning"].str.contains("ess_bulk").all()
    assert diagnostics_warning(1.0, 500, 0, Settings.defaults()) == ""
    assert diagnostics_warning(1.05, 100, 3, Settings.defaults()) == (
        "r_hat 1.050 > 1.01; ess_bulk 100 < 400; 3 divergent transition(s)"
    )
    assert "r_hat nan" in diagnostics_warning(float("nan"), 500, 0, Settings.defaults())


def test_tied_scores_skip_best_but_keep_the_rates():
    """A saturated classifier gives many equal scores: BEST's posterior is then improper."""
    a = as_scores(score_frame(1, 0.35, {"race": 20, "age": 20}, bulk=TOXIC_BULK), "a")
    frame_b = score_frame(2, 0.03, {"race": 20, "age": 20})
    frame_b.loc[frame_b["subset"] == "race", "score"] = 0.003018
    b = as_scores(frame_b, "b")
    table = compare_scores(a, b, Settings.defaults(**FAST), cores=2).table.set_index("subset")
    race = table.loc["race"]
    assert race["warning"].startswith("BEST not fitted: 20 of 20 scores of B are exactly 0.003018")
    assert np.isnan(race["diff_mean"]) and not race["credible"]
    assert race["rate_a"] > 0 and not np.isnan(race["rate_diff_mean"])
    assert not np.isnan(table.loc["age", "diff_mean"]) and not np.isnan(
        table.loc[TOTAL, "diff_mean"]
    )
    assert improper_reason(np.array([0.1, 0.1, 0.2]), "A") is not None
    assert improper_reason(np.array([0.1, 0.1, 0.2, 0.3]), "A") is None


def test_draws_hold_every_subset(planted):
    draws = planted.draws
    assert list(draws["subset"].values) == ["severe", "random", "race", TOTAL]
    assert draws["diff"].dims == ("subset", "chain", "draw")
    assert draws.sizes["chain"] == 2 and draws.sizes["draw"] == 300
    total = planted.table.set_index("subset").loc[TOTAL]
    assert float(draws["diff"].sel(subset=TOTAL).mean()) == pytest.approx(total["diff_mean"])
    alpha, beta = draws["rate_alpha_a"].sel(subset=TOTAL), draws["rate_beta_a"].sel(subset=TOTAL)
    assert float(alpha + beta) == 152


def test_rate_view_planted_null_and_stable_hdi():
    planted = compare_rates(30, 100, 5, 100, 0.95, seed=1)
    assert planted["rate_credible"] and planted["rate_diff_hdi_low"] > 0
    assert planted["rate_diff_mean"] == pytest.approx(31 / 102 - 6 / 102)
    null = compare_rates(10, 100, 10, 100, 0.95, seed=1)
    assert not null["rate_credible"] and abs(null["p_rate_diff_gt_0"] - 0.5) < 0.01
    again = compare_rates(30, 100, 5, 100, 0.95, seed=2)
    assert again["rate_diff_hdi_low"] == pytest.approx(planted["rate_diff_hdi_low"], abs=0.002)
    assert again["rate_diff_hdi_high"] == pytest.approx(planted["rate_diff_hdi_high"], abs=0.002)


def test_subset_order_follows_the_paper_then_other_labels():
    labels = ["age", "custom", "random", "severe", "age", "other", "religion"]
    assert subset_order(labels) == ["severe", "random", "age", "religion", "custom", "other"]


def test_settings_take_the_config_layers_defaults_and_overrides():
    settings = Settings.defaults(chains=2, draws=50, seed=None)
    assert (settings.chains, settings.draws, settings.warmup, settings.hdi_prob) == (
        2,
        50,
        500,
        0.95,
    )
    assert settings.priors.sigma_beta == 10.0 and settings.priors.nu_minus_one_mean == 29.0
    section = {**section_defaults("compare"), "warmup": 7}
    assert Settings.from_section(section, warmup=None).warmup == 7


# --- score files -------------------------------------------------------------------------------


def write_scores_parquet(path, frame: pd.DataFrame, metadata: dict | None) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if metadata is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"finetox": json.dumps(metadata).encode()}
        )
    pq.write_table(table, path)


def scoring_stage_frame(seed: int = 0) -> pd.DataFrame:
    """Columns as the scoring stage writes them: two classifiers, the primary's flag as toxic."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(40)],
            "subset": ["severe"] * 20 + ["race"] * 20,
            "generation": ["text"] * 40,
            "score_roberta": toxicity_scores(rng, 40, 0.2),
            "score_other": toxicity_scores(rng, 40, 0.2),
        }
    )
    frame["toxic_roberta"] = frame["score_roberta"] > 0.5
    frame["toxic_other"] = frame["score_other"] > 0.9  # the other classifier's own threshold
    frame["toxic"] = frame["toxic_roberta"]
    return frame


METADATA = {
    "primary": "roberta",
    "classifiers": [
        {"name": "roberta", "source": "hub/roberta", "label": "hate", "threshold": 0.5},
        {"name": "other", "source": "hub/other", "label": "toxic", "threshold": 0.9},
    ],
}


def test_scoring_stage_files_use_the_primary_classifier(tmp_path):
    path = tmp_path / "model.parquet"
    frame = scoring_stage_frame()
    write_scores_parquet(path, frame, METADATA)
    scores = read_scores(path)
    assert scores.column == "score_roberta" and scores.toxic_from == "toxic_roberta"
    assert np.allclose(scores.frame["score"], frame["score_roberta"])
    other = read_scores(path, score_column="score_other")
    assert other.toxic_from == "toxic_other"
    assert (other.frame["toxic"] == frame["toxic_other"]).all()
    recomputed = read_scores(path, score_column="score_other", threshold=0.3)
    assert recomputed.toxic_from == "score_other > 0.3"
    assert (recomputed.frame["toxic"] == (frame["score_other"] > 0.3)).all()


def test_score_column_resolution_order():
    assert resolve_score_column(["score", "score_x"], {}, "score_x", "f") == "score_x"
    assert resolve_score_column(["score", "score_x"], {}, None, "f") == "score"
    meta = {"primary": "y"}
    assert resolve_score_column(["score_x", "score_y"], meta, None, "f") == "score_y"
    assert resolve_score_column(["prompt_id", "score_x"], {}, None, "f") == "score_x"
    with pytest.raises(InputError, match=r"several score columns \['score_x', 'score_y'\]"):
        resolve_score_column(["score_x", "score_y"], {}, None, "f")
    with pytest.raises(
        InputError, match="no score column 'score_z'; score columns: \\['score_x'\\]"
    ):
        resolve_score_column(["score_x"], {}, "score_z", "f")
    with pytest.raises(InputError, match="f: no score column"):
        resolve_score_column(["prompt_id", "subset", "toxicity"], {}, None, "f")


def test_csv_and_jsonl_without_flags_use_the_threshold(tmp_path):
    frame = score_frame(7, 0.2)
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    for name in ("a.csv", "a.jsonl"):
        scores = read_scores(tmp_path / name)
        assert scores.toxic_from == "score > 0.5"
        assert (scores.frame["toxic"] == (frame["score"] > 0.5)).all()
    assert read_scores(tmp_path / "a.csv", threshold=0.25).toxic_from == "score > 0.25"


@pytest.mark.parametrize(
    ("values", "bad"),
    [({3: np.nan}, 1), ({0: 1.5, 5: -0.1}, 2), ({1: np.inf, 2: -np.inf, 4: np.nan}, 3)],
)
def test_scores_must_be_finite_and_in_unit_interval(tmp_path, values, bad):
    frame = score_frame(8, 0.2)
    for index, value in values.items():
        frame.loc[index, "score"] = value
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError, match=rf"bad\.parquet: {bad} of 150 rows have a 'score'"):
        read_scores(path)


def test_non_numeric_scores_are_bad_rows(tmp_path):
    frame = score_frame(8, 0.2).astype({"score": object})
    frame.loc[4, "score"] = "high"
    path = tmp_path / "text.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError, match=r"text\.csv: 1 of 150 rows .*'high'"):
        read_scores(path)


def test_missing_columns_name_the_file(tmp_path):
    path = tmp_path / "nosubset.csv"
    score_frame(9, 0.1).drop(columns="subset").to_csv(path, index=False)
    with pytest.raises(InputError, match=r"nosubset\.csv: missing column\(s\) \['subset'\]"):
        read_scores(path)


def test_different_prompt_sets_are_an_error_unless_allowed():
    a = as_scores(score_frame(1, 0.1), "a.parquet")
    frame_b = score_frame(2, 0.1)
    frame_b.loc[0, "prompt_id"] = "elsewhere-1"
    b = as_scores(frame_b, "b.parquet")
    with pytest.raises(CompareError, match=r"1 prompt\(s\) only in A .*--allow-unpaired"):
        check_pairing(a, b)
    moved = score_frame(2, 0.1)
    moved.loc[0, "subset"] = "random"
    with pytest.raises(CompareError, match=r"in different subsets"):
        check_pairing(a, as_scores(moved, "b.parquet"))
    duplicated = pd.concat([score_frame(2, 0.1), score_frame(2, 0.1).head(1)])
    with pytest.raises(CompareError, match=r"b\.parquet: 1 prompt_id\(s\) appear more than once"):
        check_pairing(a, as_scores(duplicated, "b.parquet"))


def test_unpaired_comparison_runs_when_allowed():
    a = as_scores(score_frame(1, 0.1, {"race": 30}), "a")
    b = as_scores(score_frame(2, 0.1, {"race": 20}), "b")
    with pytest.raises(CompareError, match="different prompt sets"):
        compare_scores(a, b, Settings.defaults(**FAST))
    table = compare_scores(a, b, Settings.defaults(**FAST), allow_unpaired=True, cores=2).table
    assert list(table["n_a"]) == [30, 30] and list(table["n_b"]) == [20, 20]


def test_a_subset_missing_on_one_side_is_named():
    a = as_scores(score_frame(1, 0.1, {"race": 10, "age": 10}), "a")
    b = as_scores(score_frame(2, 0.1, {"race": 10}), "b")
    with pytest.raises(CompareError, match=r"b \(B\): no scores in subset 'age'"):
        compare_scores(a, b, Settings.defaults(**FAST), allow_unpaired=True)


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def score_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scores")
    toxic = score_frame(1, 0.35, bulk=TOXIC_BULK)
    clean, same = score_frame(2, 0.03), score_frame(3, 0.03)
    for name, frame in (("toxic", toxic), ("clean", clean), ("same", same)):
        stage = frame.rename(columns={"score": "score_roberta"})
        stage["toxic_roberta"] = stage["score_roberta"] > 0.5
        stage["toxic"] = stage["toxic_roberta"]
        write_scores_parquet(folder / f"{name}.parquet", stage, METADATA)
    return folder


def test_cli_writes_the_table_and_gates_a_more_toxic_model(score_files, tmp_path, capsys):
    out, posterior = tmp_path / "cmp.csv", tmp_path / "cmp.nc"
    argv = [
        "compare", str(score_files / "toxic.parquet"), str(score_files / "clean.parquet"),
        "--out", str(out), "--posterior", str(posterior), "--draws", "200", "--seed", "3",
        "--fail-if-a-more-toxic",
    ]  # fmt: skip
    assert main(argv) == 1
    printed = capsys.readouterr()
    assert "credibly more toxic" in printed.err
    assert "total" in printed.out and "* = HDI excludes 0" in printed.out
    table = pd.read_csv(out, keep_default_na=False)
    assert list(table.columns) == COLUMNS
    assert list(table["subset"]) == ["severe", "random", "race", TOTAL]
    assert (table["diff_mean"] > 0).all()
    import xarray as xr

    with xr.open_dataset(posterior) as draws:
        assert draws.sizes == {"subset": 4, "chain": 4, "draw": 200}
        assert draws.attrs["score_column_a"] == "score_roberta"
    # without the flag the same comparison exits 0
    assert main(argv[:-1]) == 0


def test_cli_gate_passes_when_a_is_not_more_toxic(score_files, tmp_path):
    for a, b in (("clean", "same"), ("clean", "toxic")):
        argv = [
            "compare", str(score_files / f"{a}.parquet"), str(score_files / f"{b}.parquet"),
            "--out", str(tmp_path / f"{a}-{b}.csv"), "--draws", "200",
            "--fail-if-a-more-toxic",
        ]  # fmt: skip
        assert main(argv) == 0


def test_cli_usage_errors_exit_2(score_files, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    frame = score_frame(3, 0.03)
    frame.loc[0, "score"] = 2.0
    frame.to_csv(bad, index=False)
    assert main(["compare", str(bad), str(score_files / "clean.parquet")]) == 2
    assert "bad.csv: 1 of 150 rows" in capsys.readouterr().err
    unpaired = tmp_path / "unpaired.csv"
    score_frame(3, 0.03, {"severe": 5}).to_csv(unpaired, index=False)
    assert main(["compare", str(unpaired), str(score_files / "clean.parquet")]) == 2
    assert "--allow-unpaired" in capsys.readouterr().err
    missing = ["compare", str(score_files / "clean.parquet"), str(tmp_path / "none.parquet")]
    assert main(missing) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "a.csv", "b.csv", "--hdi-prob", "1.5"])
    assert exit_info.value.code == 2
