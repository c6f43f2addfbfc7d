"""The trajectory and forgetting computations on planted counts: positions where planted,
undefined where base and instruct do not differ, and the trajectory table in run order."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from finetox.results.forgetting import Rate, forgetting_position
from finetox.results.inputs import ComparisonFile
from finetox.results.trajectory import (
    TrajectoryInputs,
    forgetting_display,
    forgetting_table,
    rate_interval,
    trajectory_display,
    trajectory_table,
)
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
    assert abs(found.mean - planted) < 0.05
    assert found.high - found.low < 0.6


def test_a_position_is_undefined_where_base_and_instruct_do_not_differ():
    found = position(200, 100, 104)
    assert not found.defined
    assert math.isnan(found.mean) and math.isnan(found.low) and math.isnan(found.high)
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
    assert table.loc[("it-dolly", "total"), "position_mean"] == pytest.approx(0.5, abs=0.1)
    assert table.loc[("it-dolly-step-10", "total"), "position_mean"] == pytest.approx(0.2, abs=0.1)
    assert table["defined"].all()
    shown = forgetting_display(table.reset_index(), LAYOUT)
    assert shown["Position [95% HDI]"].str.match(r"-?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]").all()


def test_a_family_without_a_base_model_has_no_positions(inputs):
    layout = {**LAYOUT, "lines": [{**LAYOUT["lines"][0], "base": None}]}
    assert forgetting_table(layout, inputs).empty
    assert len(trajectory_table(layout, inputs)) == 6
