"""Which tables and figures a study has, as plain data: a rule passes it as params, and
common.smk takes the rules' output files from it, so the rules and the writers agree.

A table of the layout is one comparison kind in one prompt format; its blocks hold one first
model each (the reference row) with the pairs that compare it, as `Pair` records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finetox import paths
from finetox.config import FORMAT_SUFFIX, ModelSpec, Study
from finetox.pairs import COMPARISON_KINDS, KINDS, Pair
from finetox.subsets import SUBSETS

APPENDIX_MODELS = "appendix_a_models"
APPENDIX_CLASSIFIERS = "appendix_b_classifiers"
HEATMAP = "heatmap_toxic_rates"
# the report page of the prompts whose scores changed most, per pair (HTML, and its rows as CSV)
LARGEST_CHANGES = "largest_changes"
CHANGES_FORMATS = ("csv", "html")
# The community table is drawn by subset, in three figures (BEST, toxic rates, paired rates; the
# paper's Figures 3 and 4 are BEST only: total and Severe of the Llama-3.1 community models); the
# other tables in total, every view in one figure.
BY_SUBSET = ("instruct_vs_community",)


def results_layout(study: Study) -> dict[str, Any]:
    """Everything the table and figure writers need to know about the study, as plain data."""
    config = study.config
    formats = list(dict.fromkeys(spec.prompt_format for spec in study.models.values()))
    tables = [
        _table(study, kind, fmt, several_formats=len(formats) > 1)
        for kind in COMPARISON_KINDS
        for fmt in formats
        if _pairs(study, kind, fmt)
    ]
    heatmaps = [
        {"name": HEATMAP + FORMAT_SUFFIX[fmt], "style": "heatmap", "prompt_format": fmt}
        for fmt in formats
    ]
    return {
        "subsets": [subset for subset in SUBSETS if config["prompts"]["subsets"].get(subset)],
        "families": {key: (spec.get("label") or key) for key, spec in config["families"].items()},
        "classifiers": [
            {"name": c["name"], "threshold": c["threshold"]}
            for c in config["scoring"]["classifiers"]
        ],
        "formats": formats,
        "models": {name: _model(spec) for name, spec in study.models.items()},
        "pairs": [pair.record() for pair in study.comparisons],
        "tables": tables,
        "appendices": {"models": APPENDIX_MODELS, "classifiers": APPENDIX_CLASSIFIERS},
        "changes": LARGEST_CHANGES,
        "figures": [figure for table in tables for figure in _figures(table)] + heatmaps,
    }


def _model(spec: ModelSpec) -> dict[str, Any]:
    keys = ("label", "family", "role", "source", "local", "revision", "prompt_format")
    return {key: getattr(spec, key) for key in keys}


def _pairs(study: Study, kind: str, prompt_format: str) -> list[Pair]:
    return [
        pair
        for pair in study.comparisons
        if pair.kind == kind and pair.prompt_format == prompt_format
    ]


def _table(study: Study, kind: str, prompt_format: str, several_formats: bool) -> dict[str, Any]:
    name = KINDS[kind].table + FORMAT_SUFFIX[prompt_format]
    return {
        "name": name,
        "verdicts": f"{name}_verdicts",
        "kind": kind,
        "prompt_format": prompt_format,
        "title": KINDS[kind].title + (f" ({prompt_format} prompts)" if several_formats else ""),
        "blocks": _blocks(study, _pairs(study, kind, prompt_format)),
    }


def _blocks(study: Study, pairs: list[Pair]) -> list[dict[str, Any]]:
    """One block per first model: that model (the reference row) and every model compared with it."""
    blocks: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        block = blocks.setdefault(
            pair.a,
            {
                "family": study.model(pair.a).family,
                "reference": pair.a,
                "models": [pair.a],
                "pairs": [],
            },
        )
        block["models"].append(pair.b)
        block["pairs"].append(pair.record())
    return list(blocks.values())


def _figures(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind, suffix = table["kind"], FORMAT_SUFFIX[table["prompt_format"]]
    number = KINDS[kind].figure_number
    stem = f"figure{number}_{kind}" if number else f"figure_{kind}"
    if kind in BY_SUBSET:
        # this workflow's Figure 4 draws the toxic rate twice: unpaired, and paired over prompts
        rates = f"figure{number + 1}_{kind}_rates"
        paired = f"figure{number + 1}_{kind}_paired"
        return [
            {"name": stem + suffix, "table": table["name"], "style": "subsets", "measure": "best"},
            {"name": rates + suffix, "table": table["name"], "style": "subsets", "measure": "rate"},
            {"name": paired + suffix, "table": table["name"], "style": "subsets",
             "measure": "paired"},
        ]  # fmt: skip
    return [{"name": stem + suffix, "table": table["name"], "style": "total", "measure": "all"}]


def table_pairs(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Pair records of a table, block by block."""
    return [pair for block in table["blocks"] for pair in block["pairs"]]


def table_names(layout: Mapping[str, Any]) -> list[str]:
    names = [name for table in layout["tables"] for name in (table["name"], table["verdicts"])]
    return [*names, *layout["appendices"].values()]


def table_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [path for name in table_names(layout) for path in paths.table_files(name, root)]


def changes_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    """The largest-changes page and its CSV, beside the tables."""
    return [f"{paths.tables_dir(root)}/{layout['changes']}.{ext}" for ext in CHANGES_FORMATS]


def figure_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [
        path for figure in layout["figures"] for path in paths.figure_files(figure["name"], root)
    ]
