"""The trajectory and forgetting computations on planted counts: positions where planted,
undefined where base and instruct do not differ, and the trajectory table in run order."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from finetox.results.forgetting import Rate, forgetting_position
from finetox.results.inputs import ComparisonFile
from finetox.results.trajectory import (
    forgetting_display,
    forgetting_table,
    trajectory_display,
    trajectory_table,
)
from finetox.results.trajectory_inputs import TrajectoryInputs, rate_interval
from finetox.trajectory import point_labels, point_step, point_title

N = 1000


def position(tuned: int, instruct: int, base: int):
    return forgetting_position(
        Rate(tuned, N), Rate(instruct, N), Rate(base, N), hdi_prob=0.95, seed=1
    )


@pytest.mark.parametrize(
    ("tuned", "instruct", "base", "planted"),
    [
        (200, 100, 300, 0.5),  # half way back to the base model
        (300, 100, 300, 1.0),  # at the base model
        (400, 100, 300, 1.5),  # beyond it
        (60, 100, 300, -0.2),  # safer than the instruct model
        (100, 150, 50, 0.5),  # a base model less toxic than its instruct model
    ],
)
def test_a_planted_position_is_recovered(tuned, instruct, base, planted):
    found = position(tuned, instruct, base)
    assert found.defined and found.note == ""
    assert found.low < planted < found.high
    assert abs(found.median - planted) < 0.05
    assert found.high - found.low < 0.6


def test_a_position_is_undefined_where_base_and_instruct_do_not_differ():
    found = position(200, 100, 104)
    assert not found.defined
    assert math.isnan(found.median) and math.isnan(found.low) and math.isnan(found.high)
    assert "do not differ credibly" in found.note
    assert found.gap_low_pp < 0 < found.gap_high_pp


def test_rate_interval_is_the_beta_posteriors_hdi():
    pct, low, high = rate_interval(Rate(0, 40), 0.95)
    assert pct == 0 and low == 0
    assert high == pytest.approx(100 * (1 - 0.05 ** (1 / 41)), abs=1e-9)  # Beta(1, 41)
    pct, low, high = rate_interval(Rate(150, 1000), 0.95)
    assert pct == 15 and low < 15 < high and high - low == pytest.approx(4.4, abs=0.2)


def test_point_labels_and_steps():
    assert point_labels(None) == []
    assert point_labels({"steps": [200, 50]}) == ["step-50", "step-200"]
    assert point_labels({"points": 4}) == ["point-1of4", "point-2of4", "point-3of4"]
    assert [point_step(label, 937) for label in point_labels({"points": 4})] == [234, 468, 703]
    assert point_step("step-50", 937) == 50
    assert point_title("point-1of4") == "point 1/4" and point_title("step-50") == "step 50"
    for label in ("step-937", "step-1000"):
        with pytest.raises(ValueError, match="last step is 937"):
            point_step(label, 937)
    with pytest.raises(ValueError, match="not a trajectory point"):
        point_step("final", 937)


def counts(toxic: dict[str, int], n: int = 100) -> pd.DataFrame:
    frame = pd.DataFrame({"n": [n] * len(toxic), "toxic": list(toxic.values())}, index=list(toxic))
    frame.loc["total"] = [n * len(toxic), sum(toxic.values())]
    return frame


def comparison(change: float, verdict: str) -> ComparisonFile:
    frame = pd.DataFrame(
        {"paired_change_pp": [change, change], "paired_verdict": [verdict, verdict]},
        index=["severe", "total"],
    )
    return ComparisonFile("x.csv", frame, 0.95, 1.0, 0.01)


LAYOUT = {
    "hdi_prob": 0.95,
    "seed": 3,
    "subsets": ["severe"],
    "tables": ["trajectory", "forgetting"],
    "figures": [],
    "lines": [
        {
            "family": "f", "label": "Family F", "prompt_format": "raw",
            "base": "base", "instruct": "it",
            "run": [
                {"model": "it-dolly-step-10", "point": "step-10", "adapter": "a/10", "pair": "p10"},
                {"model": "it-dolly", "point": "final", "adapter": "a/final", "pair": "pf"},
            ],
            "tuned": [
                {"model": "it-dolly-step-10", "kind": "step", "label": "s"},
                {"model": "it-dolly", "kind": "dolly", "label": "d"},
            ],
        }
    ],
}  # fmt: skip


@pytest.fixture
def inputs() -> TrajectoryInputs:
    return TrajectoryInputs(
        counts={
            "base": counts({"severe": 60}),
            "it": counts({"severe": 10}),
            "it-dolly-step-10": counts({"severe": 20}),
            "it-dolly": counts({"severe": 35}),
        },
        comparisons={"p10": comparison(10.0, "undecided"), "pf": comparison(25.0, "increase")},
        steps={"a/10": 10, "a/final": 40},
    )


def test_the_trajectory_table_follows_the_run(inputs):
    table = trajectory_table(LAYOUT, inputs)
    total = table[table["subset"] == "total"]
    assert list(total["point"]) == ["instruct", "step-10", "final"]
    assert list(total["step"]) == [0, 10, 40]
    assert list(total["fraction"]) == [0, 0.25, 1]
    assert list(total["pct"]) == [10, 20, 35]
    assert list(total["paired_verdict"]) == ["reference", "undecided", "increase"]
    assert (total["hdi_low_pct"] < total["pct"]).all() and (
        total["pct"] < total["hdi_high_pct"]
    ).all()
    shown = trajectory_display(table, LAYOUT)
    assert list(shown.columns) == [
        "Family", "Point", "Step", "Subset", "% toxic [95% HDI]", "Paired verdict vs step 0",
    ]  # fmt: skip
    assert shown["Point"].iloc[0] == "instruct (step 0)"
    assert shown["Paired verdict vs step 0"].iloc[-1] == "increase (+25.0 pp)"


def test_the_forgetting_table_places_each_tuned_model(inputs):
    table = forgetting_table(LAYOUT, inputs).set_index(["model", "subset"])
    medians = table["position_median"]
    assert medians[("it-dolly", "total")] == pytest.approx(0.5, abs=0.1)
    assert medians[("it-dolly-step-10", "total")] == pytest.approx(0.2, abs=0.1)
    assert table["defined"].all()
    shown = forgetting_display(table.reset_index(), LAYOUT)
    assert shown["Position [95% HDI]"].str.match(r"-?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]").all()


def test_a_family_without_a_base_model_has_no_positions(inputs):
    layout = {**LAYOUT, "lines": [{**LAYOUT["lines"][0], "base": None}]}
    assert forgetting_table(layout, inputs).empty
    assert len(trajectory_table(layout, inputs)) == 6


# --- the position's summary and its "defined" rule: neither moves with the seed (issue 21) --------


def test_the_position_is_the_posterior_median_stable_across_seeds_and_inside_its_hdi():
    """Tuned 28, instruct 20, base 40 toxic of 2,400: the ratio's mean does not exist (its
    denominator has density at 0), and with seed 3 the mean of the draws (2.24) lay outside its
    own HDI; the median does neither."""
    found = [
        forgetting_position(Rate(28, 2400), Rate(20, 2400), Rate(40, 2400), hdi_prob=0.95, seed=s)
        for s in range(6)
    ]
    assert all(f.defined for f in found)
    medians = [f.median for f in found]
    assert max(medians) - min(medians) < 0.01, medians
    for f in found:
        assert f.low < f.median < f.high, f
    assert medians[0] == pytest.approx(0.39, abs=0.01)


@pytest.mark.parametrize(
    ("tuned", "instruct", "base", "defined"),
    [
        (22, 10, 20, False),  # borderline: P(base > instruct) = 0.975; 1 of 8 seeds said defined
        (35, 10, 60, True),  # clear
    ],
)
def test_the_defined_decision_and_the_median_do_not_move_with_the_seed(
    tuned, instruct, base, defined
):
    found = [
        forgetting_position(Rate(tuned, 100), Rate(instruct, 100), Rate(base, 100),
                            hdi_prob=0.95, seed=seed)
        for seed in range(8)
    ]  # fmt: skip
    assert {f.defined for f in found} == {defined}
    assert len({f.p_base_above_instruct for f in found}) == 1
    if defined:
        medians = [f.median for f in found]
        assert max(medians) - min(medians) < 0.02, medians
    else:
        assert found[0].note.startswith(
            "undefined: base and instruct do not differ credibly: P(base > instruct) = 0.975"
        )


def test_the_probability_that_base_is_above_instruct_is_exact():
    """The closed form against quadrature (one Beta's density times the other's survival)."""
    from scipy import integrate, stats

    from finetox.results.intervals import probability_greater, rate_posterior

    for base, instruct, n in ((40, 20, 2400), (20, 10, 100), (104, 100, 1000), (0, 3, 100)):
        (a_b, b_b), (a_i, b_i) = rate_posterior(base, n), rate_posterior(instruct, n)
        low, high = stats.beta.ppf([1e-13, 1 - 1e-13], a_i, b_i)
        expected, _ = integrate.quad(
            lambda x, a_b=a_b, b_b=b_b, a_i=a_i, b_i=b_i: stats.beta.pdf(x, a_i, b_i)
            * stats.beta.sf(x, a_b, b_b),
            low, high, epsabs=1e-13, limit=200,
        )  # fmt: skip
        found = probability_greater((a_b, b_b), (a_i, b_i))
        assert found == pytest.approx(expected, abs=1e-9), (base, instruct, n)
    assert probability_greater((41, 2361), (21, 2381)) == pytest.approx(0.99530, abs=1e-5)


def test_the_rule_sits_at_0_995_either_way():
    from finetox.results.forgetting import is_defined

    assert is_defined(0.995) and is_defined(0.005) and is_defined(1.0) and is_defined(0.0)
    assert not is_defined(0.9949) and not is_defined(0.0051) and not is_defined(0.5)


# --- the primary classifier (issue 21 item 8) ---------------------------------------------------


def test_a_score_file_of_another_classifier_is_an_error(tmp_path):
    """As for Tables 1-3: the flags the trajectory counts must be the config's primary
    classifier's, or a stale score file would pass."""
    from finetox.io import InputError, write_parquet
    from finetox.results.trajectory_inputs import load_trajectory_inputs

    layout = {**LAYOUT, "classifiers": ["roberta_hate"]}
    scores = []
    for model in ("base", "it", "it-dolly-step-10", "it-dolly"):
        primary = "other_classifier" if model == "it-dolly" else "roberta_hate"
        frame = pd.DataFrame({
            "prompt_id": ["a", "b"], "subset": ["severe"] * 2, "toxic": [True, False],
            f"toxic_{primary}": [True, False], f"score_{primary}": [0.9, 0.1],
        })  # fmt: skip
        scores.append(tmp_path / f"{model}.parquet")
        meta = {"primary": primary, "classifiers": [{"name": primary, "threshold": 0.5}]}
        write_parquet(frame, scores[-1], meta)
    comparisons = [tmp_path / "p10.csv", tmp_path / "pf.csv"]
    with pytest.raises(InputError, match=r"it-dolly\.parquet: its 'toxic' column is "
                                         r"'other_classifier''s.*'roberta_hate'"):  # fmt: skip
        load_trajectory_inputs(layout, scores, comparisons, [])


def test_the_trajectory_layout_names_the_configs_classifiers_primary_first():
    from finetox.config import load_study
    from finetox.results.trajectory_layout import trajectory_layout
    from tests.conftest import REPO
    from tests.test_results import demo_config

    config = demo_config()
    layout = trajectory_layout(load_study(config, workdir=REPO))
    assert layout["tables"] == ["trajectory", "forgetting"]
    assert layout["classifiers"] == [c["name"] for c in config["scoring"]["classifiers"]]
