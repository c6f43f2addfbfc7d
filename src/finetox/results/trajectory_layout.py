"""Which trajectory and forgetting outputs a study has, as plain data (no pandas: the workflow
plans with it).

A *line* is one family in one prompt format: its base model (if any), its instruct model (step 0
of the tuning run), the run's points (config tune.trajectory) and final adapter (the Dolly
model), and every tuned model whose toxicity can be placed between base and instruct."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finetox import paths
from finetox.config import ModelSpec, Study
from finetox.pairs import pair_name
from finetox.subsets import study_subsets

TRAJECTORY = "trajectory"
FORGETTING = "forgetting"
FIGURES = {
    "trajectory_by_family": "trajectory",
    "trajectory_all_families": "trajectory_all",
    "forgetting_positions": "forgetting",
}
# the tuned models a forgetting position is given for (a run's points, then its final adapter):
# role -> the kind the table names
TUNED_KINDS = {
    "trajectory": "step",
    "dolly": "dolly",
    "community": "community",
    "dolly_published": "published",
}


def trajectory_layout(study: Study) -> dict[str, Any]:
    """Lines (see the module), and the table and figure names the study writes from them."""
    several_formats = len({spec.prompt_format for spec in study.models.values()}) > 1
    lines = [
        line
        for (family, fmt), specs in _by_line(study).items()
        if (line := _line(study, family, fmt, specs, several_formats))
    ]
    runs = any(line["run"] for line in lines)
    positions = any(line["base"] and line["tuned"] for line in lines)
    return {
        "lines": lines,
        "hdi_prob": study.config["compare"]["hdi_prob"],
        "seed": study.config["compare"]["seed"],
        # the score files' flags must be the primary classifier's (first), as for Tables 1-3
        "classifiers": [c["name"] for c in study.config["scoring"]["classifiers"]],
        "subsets": study_subsets(study.config["prompts"]),
        "tables": [
            name for name, wanted in ((TRAJECTORY, runs), (FORGETTING, positions)) if wanted
        ],
        "figures": [
            name
            for name, needs in FIGURES.items()
            if (runs if needs.startswith("trajectory") else positions)
        ],
    }


def _by_line(study: Study) -> dict[tuple[str, str], list[ModelSpec]]:
    lines: dict[tuple[str, str], list[ModelSpec]] = {}
    for spec in study.models.values():
        lines.setdefault((spec.family, spec.prompt_format), []).append(spec)
    return lines


def _line(
    study: Study, family: str, fmt: str, specs: list[ModelSpec], several_formats: bool
) -> dict[str, Any] | None:
    by_role: dict[str, list[ModelSpec]] = {}
    for spec in specs:
        by_role.setdefault(spec.role, []).append(spec)
    if "instruct" not in by_role:
        return None
    instruct = by_role["instruct"][0].name
    label = study.config["families"][family].get("label") or family
    return {
        "family": family,
        "label": label + (f" ({fmt})" if several_formats else ""),
        "prompt_format": fmt,
        "base": by_role["base"][0].name if "base" in by_role else None,
        "instruct": instruct,
        "run": _run(study, instruct, by_role),
        "tuned": [
            {"model": spec.name, "kind": TUNED_KINDS[spec.role], "label": spec.label}
            for role in TUNED_KINDS
            for spec in by_role.get(role, [])
        ],
    }


def _run(study: Study, instruct: str, by_role: Mapping[str, list[ModelSpec]]) -> list[dict]:
    """The run's points in order, its final adapter last; [] without a Dolly model."""
    if "dolly" not in by_role:
        return []
    dolly = by_role["dolly"][0]
    root = study.results_dir
    points = [
        {
            "model": spec.name,
            "point": spec.point,
            "adapter": paths.trajectory_adapter(spec.adapter, spec.point, root),
            "pair": pair_name(instruct, spec.name),
        }
        for spec in by_role.get("trajectory", [])
    ]
    final = {
        "model": dolly.name,
        "point": "final",
        "adapter": paths.adapter(dolly.adapter, root),
        "pair": pair_name(instruct, dolly.name),
    }
    return [*points, final]


def trajectory_models(layout: Mapping[str, Any]) -> list[str]:
    """Every model whose score file the trajectory and forgetting outputs read."""
    names = []
    for line in layout["lines"]:
        names += [line["instruct"], *([line["base"]] if line["base"] else [])]
        names += [point["model"] for point in line["run"]]
        names += [tuned["model"] for tuned in line["tuned"]]
    return list(dict.fromkeys(names))


def trajectory_pairs(layout: Mapping[str, Any]) -> list[str]:
    return [point["pair"] for line in layout["lines"] for point in line["run"]]


def trajectory_adapters(layout: Mapping[str, Any]) -> list[str]:
    return [point["adapter"] for line in layout["lines"] for point in line["run"]]


def trajectory_table_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [path for name in layout["tables"] for path in paths.table_files(name, root)]


def trajectory_figure_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [path for name in layout["figures"] for path in paths.figure_files(name, root)]
