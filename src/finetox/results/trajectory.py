"""The trajectory and forgetting tables: toxicity along each tuning run (step 0 the instruct
model, the final adapter the Dolly model), and the forgetting position of every tuned model whose
family has a base model (finetox.results.forgetting)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finetox.io import InputError
from finetox.results.forgetting import DEFINED_PROBABILITY, forgetting_position
from finetox.results.trajectory_inputs import (
    TrajectoryInputs,
    load_trajectory_inputs,
    rate_interval,
    rate_of,
)
from finetox.subsets import TOTAL, subset_label
from finetox.trajectory import point_title

log = logging.getLogger("finetox.results")


def _subsets(layout: Mapping[str, Any]) -> list[str]:
    return [*layout["subsets"], TOTAL]


def trajectory_table(layout: Mapping[str, Any], inputs: TrajectoryInputs) -> pd.DataFrame:
    """One row per line, point and subset: step 0 (the instruct model), each point, the final
    adapter; % toxic with its HDI, and the paired verdict against the instruct model."""
    rows = []
    for line in layout["lines"]:
        if not line["run"]:
            continue
        final_step = inputs.steps[line["run"][-1]["adapter"]]
        stops = [(line["instruct"], "instruct", 0, None)] + [
            (p["model"], p["point"], inputs.steps[p["adapter"]], p["pair"]) for p in line["run"]
        ]
        for model, point, step, pair in stops:
            for subset in _subsets(layout):
                rows.append(_trajectory_row(layout, inputs, line, model, point, step, pair,
                                            subset, final_step))  # fmt: skip
    return pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)


TRAJECTORY_COLUMNS = [
    "family", "prompt_format", "model", "point", "step", "fraction", "subset", "n", "toxic",
    "pct", "hdi_low_pct", "hdi_high_pct", "paired_change_pp", "paired_verdict", "hdi_prob",
]  # fmt: skip


def _trajectory_row(layout, inputs, line, model, point, step, pair, subset, final_step) -> list:
    rate = rate_of(inputs.counts[model], subset)
    pct, low, high = rate_interval(rate, layout["hdi_prob"])
    if pair is None:
        change, verdict = 0.0, "reference"
    else:
        frame = inputs.comparisons[pair].frame
        change, verdict = (
            float(frame.at[subset, "paired_change_pp"]),
            frame.at[subset, "paired_verdict"],
        )
    return [
        line["family"], line["prompt_format"], model, point, step, step / final_step, subset,
        rate.n, rate.k, pct, low, high, change, verdict, layout["hdi_prob"],
    ]  # fmt: skip


FORGETTING_COLUMNS = [
    "family", "prompt_format", "model", "kind", "subset", "position_median", "position_hdi_low",
    "position_hdi_high", "defined", "p_base_above_instruct", "base_minus_instruct_pp",
    "gap_hdi_low_pp", "gap_hdi_high_pp", "note", "hdi_prob",
]  # fmt: skip


def forgetting_table(layout: Mapping[str, Any], inputs: TrajectoryInputs) -> pd.DataFrame:
    """One row per tuned model (of a family with a base model) and subset."""
    rows = []
    for line in layout["lines"]:
        if not line["base"]:
            continue
        for tuned in line["tuned"]:
            for subset in _subsets(layout):
                position = forgetting_position(
                    rate_of(inputs.counts[tuned["model"]], subset),
                    rate_of(inputs.counts[line["instruct"]], subset),
                    rate_of(inputs.counts[line["base"]], subset),
                    hdi_prob=layout["hdi_prob"],
                    seed=layout["seed"],
                )
                rows.append([
                    line["family"], line["prompt_format"], tuned["model"], tuned["kind"], subset,
                    position.median, position.low, position.high, position.defined,
                    position.p_base_above_instruct, position.gap_pp, position.gap_low_pp, position.gap_high_pp, position.note,
                    layout["hdi_prob"],
                ])  # fmt: skip
    return pd.DataFrame(rows, columns=FORGETTING_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Display


def _family_labels(layout: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    return {(line["family"], line["prompt_format"]): line["label"] for line in layout["lines"]}


def _point_label(point: str) -> str:
    return {"instruct": "instruct (step 0)", "final": "final adapter"}.get(point) or point_title(
        point
    )


def _interval(value: float, low: float, high: float, digits: int = 1) -> str | None:
    if pd.isna(value):
        return None
    # + 0.0 turns a -0.0 (a value a hair below zero) into 0.0, not "-0.00"
    low, value, high = (round(v, digits) + 0.0 for v in (low, value, high))
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def trajectory_display(table: pd.DataFrame, layout: Mapping[str, Any]) -> pd.DataFrame:
    labels = _family_labels(layout)
    hdi = f"{layout['hdi_prob']:.0%} HDI"
    return pd.DataFrame({
        "Family": [labels[(f, p)] for f, p in zip(table["family"], table["prompt_format"], strict=True)],
        "Point": [_point_label(p) for p in table["point"]],
        "Step": [str(s) for s in table["step"]],
        "Subset": [subset_label(s) for s in table["subset"]],
        f"% toxic [{hdi}]": [
            _interval(*v) for v in zip(table["pct"], table["hdi_low_pct"], table["hdi_high_pct"], strict=True)
        ],
        "Paired verdict vs step 0": [
            "—" if v == "reference" else f"{v} ({c:+.1f} pp)"
            for v, c in zip(table["paired_verdict"], table["paired_change_pp"], strict=True)
        ],
    })  # fmt: skip


def forgetting_display(table: pd.DataFrame, layout: Mapping[str, Any]) -> pd.DataFrame:
    labels = _family_labels(layout)
    hdi = f"{layout['hdi_prob']:.0%} HDI"
    return pd.DataFrame({
        "Family": [labels[(f, p)] for f, p in zip(table["family"], table["prompt_format"], strict=True)],
        "Model": list(table["model"]),
        "Kind": list(table["kind"]),
        "Subset": [subset_label(s) for s in table["subset"]],
        f"Position [{hdi}]": [
            _interval(m, lo, hi, 2) if defined else note
            for m, lo, hi, defined, note in zip(
                table["position_median"], table["position_hdi_low"], table["position_hdi_high"],
                table["defined"], table["note"], strict=True,
            )
        ],
        "Base − instruct, pp": [f"{g:+.1f}" for g in table["base_minus_instruct_pp"]],
    })  # fmt: skip


TRAJECTORY_CAPTION = "Toxicity along each Dolly tuning run"
TRAJECTORY_NOTE = (
    "% toxic generations at each point of the run: step 0 is the instruct model, the last row "
    "the final adapter (Table 2's Dolly model); intervals are the {hdi} of the rate's "
    "Beta(1 + k, 1 + n - k) posterior. The paired verdict compares each point with step 0 over "
    "the same prompts (HDI + ROPE rule)."
)
FORGETTING_CAPTION = (
    "Where each tuned model lands between its instruct model (0) and base model (1)"
)
FORGETTING_NOTE = (
    "position = (rate tuned − rate instruct) / (rate base − rate instruct), posterior median and "
    "{hdi} from the three rates' posteriors (a ratio whose mean does not exist): 0 = as the "
    "instruct model, 1 = back at the base model, above 1 = beyond it, below 0 = safer than the "
    "instruct model. Defined where base and instruct differ credibly: P(rate base > rate "
    "instruct) ≥ {defined} or ≤ {undefined} (exact, from their Beta posteriors); undefined "
    "elsewhere."
)


def check_finite(table: pd.DataFrame, columns: Iterable[str], name: str) -> None:
    """Every number a table reports is finite (an undefined position is NaN by design)."""
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce")
        if not np.isfinite(values).all():
            raise InputError(f"{name}: column {column} has values that are not finite numbers")


def trajectory_tables(
    layout: Mapping[str, Any], inputs: TrajectoryInputs
) -> dict[str, pd.DataFrame]:
    """The tables the layout names (trajectory, forgetting), each built once for its files and
    its figures; every number checked finite (an undefined position is NaN by design)."""
    tables = {}
    if "trajectory" in layout["tables"]:
        table = trajectory_table(layout, inputs)
        check_finite(
            table, ["pct", "hdi_low_pct", "hdi_high_pct", "paired_change_pp"], "trajectory"
        )
        tables["trajectory"] = table
    if "forgetting" in layout["tables"]:
        table = forgetting_table(layout, inputs)
        gap = ["p_base_above_instruct", "base_minus_instruct_pp", "gap_hdi_low_pp"]
        check_finite(table, [*gap, "gap_hdi_high_pp"], "forgetting")
        check_finite(
            table[table["defined"]],
            ["position_median", "position_hdi_low", "position_hdi_high"],
            "forgetting",
        )
        tables["forgetting"] = table
    return tables


def write_trajectory_tables(
    layout: Mapping[str, Any], tables: Mapping[str, pd.DataFrame], out_dir: str | os.PathLike
) -> list[Path]:
    from finetox.results.write import write_table_files

    out_dir = Path(out_dir)
    hdi = f"{layout['hdi_prob']:.0%} HDI"
    written = []
    if "trajectory" in tables:
        table = tables["trajectory"]
        written += write_table_files(
            table, trajectory_display(table, layout), out_dir / "trajectory",
            TRAJECTORY_CAPTION, TRAJECTORY_NOTE.format(hdi=hdi),
        )  # fmt: skip
        log.info("trajectory: %d tuning runs, %d rows", table["family"].nunique(), len(table))
    if "forgetting" in tables:
        table = tables["forgetting"]
        written += write_table_files(
            table, forgetting_display(table, layout), out_dir / "forgetting",
            FORGETTING_CAPTION,
            FORGETTING_NOTE.format(
                hdi=hdi, defined=DEFINED_PROBABILITY, undefined=round(1 - DEFINED_PROBABILITY, 3)
            ),
        )  # fmt: skip
        log.info(
            "forgetting: %d tuned models, %d of %d positions defined",
            table["model"].nunique(), int(table["defined"].sum()), len(table),
        )  # fmt: skip
    return written


def write_trajectory(
    layout: Mapping[str, Any],
    *,
    scores: Iterable[str | os.PathLike],
    comparisons: Iterable[str | os.PathLike],
    adapters: Iterable[str | os.PathLike],
    tables_dir: str | os.PathLike,
    figures_dir: str | os.PathLike | None,
) -> list[Path]:
    """The trajectory and forgetting tables and figures the layout names (no figures without a
    `figures_dir`)."""
    inputs = load_trajectory_inputs(layout, scores, comparisons, adapters)
    tables = trajectory_tables(layout, inputs)
    written = write_trajectory_tables(layout, tables, tables_dir)
    if figures_dir is None:
        return written
    from finetox.results.trajectory_figures import plot_trajectory_figures

    return written + plot_trajectory_figures(layout, inputs, tables, figures_dir)
