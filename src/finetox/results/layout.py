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
from finetox.subsets import TOTAL, study_subsets

APPENDIX_MODELS = "appendix_a_models"
# Sensitivity to the classifier (a study with two or more classifiers): three tables and a figure
CLASSIFIER_TABLES = {
    "rates": "classifier_rates",
    "verdicts": "classifier_verdicts",
    "agreement": "classifier_agreement",
}
CLASSIFIER_FIGURE = "verdicts_by_classifier"
HEATMAP = "heatmap_toxic_rates"
# the report page of the prompts whose scores changed most, per pair (HTML, and its rows as CSV)
LARGEST_CHANGES = "largest_changes"
CHANGES_FORMATS = ("csv", "html")
# The community table is drawn by subset, in three figures of this workflow's own (BEST, toxic
# rates, paired rates: `by_subset_{kind}_{measure}`); the other tables in total, every view in one
# figure (`figure{n}_{kind}`: Figures 1 and 2 hold the paper's, BEST in total, in their BEST panel).
BY_SUBSET = ("instruct_vs_community",)
BY_SUBSET_MEASURES = ("best", "rate", "paired")
# The paper's Figures 3 and 4, each its own figure: BEST on one subset for the instruct vs
# community pairs of Llama-3.1-8B (resources/paper/paper_verdicts.csv, figures 3 and 4). A study
# that has none of those pairs draws every pair of the table instead.
PAPER_FIGURES = {"instruct_vs_community": ((3, TOTAL), (4, "severe"))}
PAPER_FIGURE_PAIRS = {
    "instruct_vs_community": (
        ("llama3.1-8b-instruct", "llama3.1-8b-chinese-chat"),
        ("llama3.1-8b-instruct", "llama3.1-8b-sauerkrautlm"),
    )
}
# The reproduction tables (rule `reproduce`): our % toxic and verdicts beside the paper's
# published ones (resources/paper/README.md), for the models and pairs of the paper the study ran
# with raw prompts, as the paper prompted.
REPRODUCTION = "reproduction"
REPRODUCTION_VERDICTS = "reproduction_verdicts"
PAPER_TABLES = "resources/paper/paper_tables.csv"
PAPER_VERDICTS = "resources/paper/paper_verdicts.csv"
PAPER_FORMAT = "raw"


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
    several = len(config["scoring"]["classifiers"]) > 1
    sensitivity = [{"name": CLASSIFIER_FIGURE, "style": "classifier_verdicts"}] if several else []
    return {
        # the paper's six it asks for, then its sources' (prompts.sources), in source order
        "subsets": study_subsets(config["prompts"]),
        "families": {key: (spec.get("label") or key) for key, spec in config["families"].items()},
        "classifiers": [
            {"name": c["name"], "threshold": c["threshold"]}
            for c in config["scoring"]["classifiers"]
        ],
        "formats": formats,
        "models": {name: _model(spec) for name, spec in study.models.items()},
        "pairs": [pair.record() for pair in study.comparisons],
        "tables": tables,
        "appendices": {"models": APPENDIX_MODELS},
        "classifier_tables": dict(CLASSIFIER_TABLES) if several else {},
        "changes": LARGEST_CHANGES,
        "figures": [figure for table in tables for figure in _figures(study, table)]
        + heatmaps
        + sensitivity,
        "reproduction": _reproduction(study),
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


def _figures(study: Study, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind, suffix = table["kind"], FORMAT_SUFFIX[table["prompt_format"]]
    number = KINDS[kind].figure_number
    if kind not in BY_SUBSET:
        stem = f"figure{number}_{kind}" if number else f"figure_{kind}"
        return [{"name": stem + suffix, "table": table["name"], "style": "total", "measure": "all"}]
    subsets = [TOTAL, *study_subsets(study.config["prompts"])]
    pairs = _paper_figure_pairs(study, table)
    figures = [
        {"name": f"figure{paper}_{kind}{suffix}", "table": table["name"], "style": "paper",
         "measure": "best", "subset": subset, "pairs": pairs, "paper_figure": paper}
        for paper, subset in PAPER_FIGURES.get(kind, ())
        if subset in subsets
    ]  # fmt: skip
    return figures + [
        {"name": f"by_subset_{kind}_{measure}{suffix}", "table": table["name"],
         "style": "subsets", "measure": measure}
        for measure in BY_SUBSET_MEASURES
    ]  # fmt: skip


def _paper_figure_pairs(study: Study, table: Mapping[str, Any]) -> list[str]:
    """The pairs a paper figure of the table draws: the paper's own (by slug, in the table's
    prompt format) where the study has any of them, else every pair of the table."""
    pairs = table_pairs(table)
    wanted = set(PAPER_FIGURE_PAIRS.get(table["kind"], ()))
    chosen = [
        pair["name"]
        for pair in pairs
        if (study.model(pair["a"]).slug, study.model(pair["b"]).slug) in wanted
    ]
    return chosen or [pair["name"] for pair in pairs]


def _reproduction(study: Study) -> dict[str, Any]:
    """What the reproduction tables read: the paper's files, and the study's models and pairs
    in the paper's prompt format (the paper's rows name them by slug)."""
    return {
        "tables": REPRODUCTION,
        "verdicts": REPRODUCTION_VERDICTS,
        "paper": {"tables": PAPER_TABLES, "verdicts": PAPER_VERDICTS},
        "models": [n for n, spec in study.models.items() if spec.prompt_format == PAPER_FORMAT],
        "pairs": [p.name for p in study.comparisons if p.prompt_format == PAPER_FORMAT],
        "hdi_prob": study.config["compare"]["hdi_prob"],
    }


def table_pairs(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Pair records of a table, block by block."""
    return [pair for block in table["blocks"] for pair in block["pairs"]]


def table_names(layout: Mapping[str, Any]) -> list[str]:
    names = [name for table in layout["tables"] for name in (table["name"], table["verdicts"])]
    return [*names, *layout["appendices"].values(), *layout["classifier_tables"].values()]


def table_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [path for name in table_names(layout) for path in paths.table_files(name, root)]


def changes_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    """The largest-changes page and its CSV, beside the tables."""
    return [f"{paths.tables_dir(root)}/{layout['changes']}.{ext}" for ext in CHANGES_FORMATS]


def reproduction_names(layout: Mapping[str, Any]) -> list[str]:
    """The reproduction tables: our numbers beside the paper's, and its verdicts beside ours."""
    return [layout["reproduction"]["tables"], layout["reproduction"]["verdicts"]]


def reproduction_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [path for name in reproduction_names(layout) for path in paths.table_files(name, root)]


def figure_files(layout: Mapping[str, Any], root: str = paths.RESULTS) -> list[str]:
    return [
        path for figure in layout["figures"] for path in paths.figure_files(figure["name"], root)
    ]
