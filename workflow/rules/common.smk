# Config validation, the model graph, wildcard constraints and input functions shared by the stages.
import os
import re
import sys

from finetox import paths
from finetox.config import ConfigError, load_study, load_yaml
from finetox.results import (
    changes_files,
    figure_files,
    reproduction_files,
    results_layout,
    table_files,
)
from finetox.results.trajectory_layout import (
    trajectory_adapters,
    trajectory_figure_files,
    trajectory_layout,
    trajectory_models,
    trajectory_pairs,
    trajectory_table_files,
)
from finetox.subsets import CEB_SUBSETS


def _shown(path):
    """A config file's path as the user gave it: relative where it lies below the workdir."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _strict_read(configfiles):
    """Snakemake read the config files itself and kept the last of a key written twice; read
    again, a key written twice is an error naming the file and both lines."""
    problems = []
    for configfile in configfiles:
        try:
            load_yaml(_shown(configfile))
        except ConfigError as error:
            problems += error.problems
    if problems:
        raise ConfigError(problems)


def _load_study():
    try:
        _strict_read(workflow.configfiles)
        return load_study(config)
    except ConfigError as error:
        # One line per problem, key path first, all at once; no job starts.
        print(error, file=sys.stderr)
        raise SystemExit(1)


STUDY = _load_study()
# Every output lies under the study's results_dir (the demo's: results/demo), logs included
# where it is not the default (finetox.paths), so studies never touch each other's files.
ROOT = STUDY.results_dir
MODELS = STUDY.model_names
PAIRS = [comparison.name for comparison in STUDY.comparisons]


def _alternatives(names):
    """A regex matching exactly these names, so no wildcard can swallow another's path."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS),
    pair=_alternatives(PAIRS),


def final_outputs(wildcards):
    """Everything the default target builds."""
    return [
        paths.prompt_set(ROOT),
        paths.prompt_manifest(ROOT),
        *generation_targets(),
        *tune_targets(),
        *scoring_targets(),
        *comparison_targets(),
        *results_targets(),
    ]


def prompt_settings(wildcards):
    return config["prompts"]


def prompt_source_files(wildcards):
    """Local source files, so that a changed file rebuilds the prompt set."""
    files = []
    if config["prompts"]["rtp"].get("path"):
        files.append(config["prompts"]["rtp"]["path"])
    ceb = config["prompts"]["ceb"].get("path")
    if ceb:
        subsets = config["prompts"]["subsets"]
        files += [
            f"{ceb}/{subset}.json" for subset in CEB_SUBSETS if subsets.get(subset)
        ]
    return files


# --- resources -------------------------------------------------------------------------------
# Host memory and runtime of the model jobs, sized per model from params_b (billions of
# parameters) unless the model sets mem_mb / runtime itself; a retry asks for more.

DEFAULT_PARAMS_B = 7.0


def _model_size(spec):
    return spec.params_b if spec.params_b is not None else DEFAULT_PARAMS_B


def _mem_mb(spec, attempt):
    if spec.mem_mb:
        return spec.mem_mb * attempt
    # 16-bit weights (2 bytes per parameter) pass through host memory, plus room for Python and data
    return int((_model_size(spec) * 2 * 1024 + 4096) * attempt)


def model_mem_mb(wildcards, attempt):
    return _mem_mb(STUDY.model(wildcards.model), attempt)


def model_runtime(wildcards, attempt):
    spec = STUDY.model(wildcards.model)
    if spec.runtime:
        return spec.runtime * attempt
    return int((30 + 10 * _model_size(spec)) * attempt)


def tune_mem_mb(wildcards, attempt):
    return _mem_mb(TUNED_SOURCES[wildcards.tuned], attempt)


def tune_runtime(wildcards, attempt):
    spec = TUNED_SOURCES[wildcards.tuned]
    if spec.runtime:
        return spec.runtime * attempt
    # one epoch of Dolly (15k records) on one GPU: about an hour per few billion parameters
    return int((60 + 30 * _model_size(spec)) * attempt)


def scoring_mem_mb(wildcards, attempt):
    # one classifier at a time (RoBERTa-sized: under 1.5 GB of weights) and the generations
    return 6000 * attempt


def scoring_runtime(wildcards, attempt):
    # a few minutes per classifier for the paper's 2,400 generations on one GPU
    return (15 + 15 * len(config["scoring"]["classifiers"])) * attempt


# --- generation ------------------------------------------------------------------------------


def generation_targets():
    return [paths.generations(model, ROOT) for model in MODELS]


def generation_model_settings(wildcards):
    """Only this model's settings, so adding a model changes no other job."""
    return STUDY.model(wildcards.model).settings()


def generation_settings(wildcards):
    """The generation keys every model shares; a model's own keys come with its settings."""
    return STUDY.generation_settings()


def adapter_for(wildcards):
    """A Dolly model's LoRA adapter folder (made by the tune stage), or the adapter at its
    trajectory point; [] for other models."""
    spec = STUDY.model(wildcards.model)
    if spec.point:
        return paths.trajectory_adapter(spec.adapter, spec.point, ROOT)
    return paths.adapter(spec.adapter, ROOT) if spec.adapter else []


def local_model_for(wildcards):
    """A local model's folder, so the demo builds its models first; [] for hub models."""
    spec = STUDY.model(wildcards.model)
    return spec.source if spec.local else []


# --- tune ------------------------------------------------------------------------------------


# One job per tuned (Dolly) model ({tuned}: its slug), tuned from its family's instruct model.
TUNED_SOURCES = STUDY.tuned_sources()


wildcard_constraints:
    tuned=_alternatives(TUNED_SOURCES),


# The points of each tuning run (config tune.trajectory): one job each, {point} its label.
TRAJECTORY_POINTS = STUDY.trajectory_points()


wildcard_constraints:
    point=_alternatives(
        dict.fromkeys(spec.point for spec in TRAJECTORY_POINTS.values())
    ),


def tune_targets():
    return [paths.adapter(slug, ROOT) for slug in TUNED_SOURCES] + [
        paths.trajectory_adapter(spec.adapter, spec.point, ROOT)
        for spec in TRAJECTORY_POINTS.values()
    ]


def tune_inputs(wildcards):
    """Local files only: the instruct model's folder and the Dolly data file, when local."""
    spec = TUNED_SOURCES[wildcards.tuned]
    inputs = {}
    if spec.local:
        inputs["model"] = spec.source
    if config["tune"]["data"].get("path"):
        inputs["data"] = config["tune"]["data"]["path"]
    return inputs


def tune_model_settings(wildcards):
    return TUNED_SOURCES[wildcards.tuned].settings()


def tune_recipe(wildcards):
    """The recipe without the trajectory: adding a point changes no tuning job."""
    return {key: value for key, value in config["tune"].items() if key != "trajectory"}


def tune_settings(wildcards):
    """The recipe, and with a trajectory the order to keep every checkpoint (the points start
    from them); without one the params are the recipe alone, as before trajectories existed.
    """
    settings = tune_recipe(wildcards)
    if config["tune"]["trajectory"]:
        settings["keep_checkpoints"] = True
    return settings


def final_adapter(wildcards):
    return paths.adapter(wildcards.tuned, ROOT)


def tune_checkpoints(wildcards):
    return paths.checkpoints(wildcards.tuned, ROOT)


# --- scoring ---------------------------------------------------------------------------------


def scoring_targets():
    return [paths.scores(model, ROOT) for model in MODELS]


def scoring_settings(wildcards):
    return config["scoring"]


def classifier_folders(wildcards):
    """Local classifiers are inputs, so the demo builds its classifier before scoring."""
    return [
        entry["path"] for entry in config["scoring"]["classifiers"] if entry.get("path")
    ]


# --- compare ---------------------------------------------------------------------------------
# One compare job per pair: it compiles the BEST model once and fits every subset with it.


def comparison_targets():
    return [
        path for pair in PAIRS for path in paths.comparison_files(pair, ROOT).values()
    ]


def comparison_scores(wildcards):
    pair = STUDY.comparison(wildcards.pair)
    return {"a": paths.scores(pair.a, ROOT), "b": paths.scores(pair.b, ROOT)}


def pair_record(wildcards):
    return STUDY.comparison(wildcards.pair).record()


def compare_threads(wildcards):
    # chains sample in parallel threads, which pays on the paper's 2,400 scores per model; a
    # small prompt set is bound by compiling (one thread), so two jobs at once beat two threads
    prompts = sum(n or 0 for n in config["prompts"]["subsets"].values())
    return min(config["compare"]["chains"], 4) if prompts >= 1000 else 1


def compare_mem_mb(wildcards, attempt):
    # measured: about 0.5 GB peak (numba's compiler most of it; the draws take a few MB)
    return 2000 * attempt


def compare_runtime(wildcards, attempt):
    # minutes: compiling takes under a minute, 7 fits of 2 x 2,400 scores a few more
    return 30 * attempt


# --- results ---------------------------------------------------------------------------------
# Which tables and figures the study has (and their rows) is derived once from the study, so the
# rules' outputs and the writers agree. The tables and figures rules read every score and
# comparison file; the reproduction rule those of the models and pairs in the paper's prompt
# format, and the paper's published numbers (resources/paper/).
RESULTS_LAYOUT = results_layout(STUDY)
TRAJECTORY_LAYOUT = trajectory_layout(STUDY)
REPRODUCTION = RESULTS_LAYOUT["reproduction"]


def results_targets():
    return [
        *table_files(RESULTS_LAYOUT, ROOT),
        *changes_files(RESULTS_LAYOUT, ROOT),
        *figure_files(RESULTS_LAYOUT, ROOT),
        *trajectory_table_files(TRAJECTORY_LAYOUT, ROOT),
        *trajectory_figure_files(TRAJECTORY_LAYOUT, ROOT),
        *reproduction_files(RESULTS_LAYOUT, ROOT),
    ]


def results_layout_settings(wildcards):
    return RESULTS_LAYOUT


def results_comparison_files(wildcards):
    return [paths.comparison(pair["name"], ROOT) for pair in RESULTS_LAYOUT["pairs"]]


def reproduction_inputs(wildcards):
    """The paper's files, and the score and comparison files of the study's models and pairs in
    the paper's prompt format (those its rows can name)."""
    return {
        "paper_tables": REPRODUCTION["paper"]["tables"],
        "paper_verdicts": REPRODUCTION["paper"]["verdicts"],
        "scores": [paths.scores(model, ROOT) for model in REPRODUCTION["models"]],
        "comparisons": [paths.comparison(pair, ROOT) for pair in REPRODUCTION["pairs"]],
    }


# The report shows each table as HTML and each figure as PNG (the other formats are downloads),
# captioned by workflow/report/: {kind}.rst, verdicts.rst, {appendix}.rst, figure_{style}.rst
# (a paper figure: figure_paper{n}.rst), the page of the prompts that changed most
# (largest_changes.rst) and the reproduction tables ({name}.rst).


def _in_report(path, caption, category, subcategory, labels):
    return report(
        path,
        caption=f"../report/{caption}",
        category=category,
        subcategory=subcategory,
        labels=labels,
    )


def _table_files(name, caption, subcategory, content):
    """One table's files, its HTML flagged for the report."""
    labels = {"table": name, "content": content}
    return [
        (
            _in_report(path, caption, "Tables", subcategory, labels)
            if path.endswith(".html")
            else path
        )
        for path in paths.table_files(name, ROOT)
    ]


def table_outputs():
    """Every table file; the HTML ones flagged for the report, captioned per table."""
    outputs = []
    for table in RESULTS_LAYOUT["tables"]:
        title = table["title"]
        outputs += _table_files(
            table["name"], f"{table['kind']}.rst", title, "% toxic generations"
        )
        outputs += _table_files(table["verdicts"], "verdicts.rst", title, "verdicts")
    contents = {"models": "evaluated models", "classifiers": "% toxic by classifier"}
    for key, name in RESULTS_LAYOUT["appendices"].items():
        outputs += _table_files(name, f"{name}.rst", "Appendices", contents[key])
    labels = {
        "table": RESULTS_LAYOUT["changes"],
        "content": "prompts that changed most",
    }
    for path in changes_files(RESULTS_LAYOUT, ROOT):
        if path.endswith(".html"):
            path = _in_report(
                path, "largest_changes.rst", "Prompts", "Largest score changes", labels
            )
        outputs.append(path)
    return outputs


def figure_outputs():
    """Every figure file; the PNGs flagged for the report, captioned by figure style."""
    titles = {table["name"]: table["title"] for table in RESULTS_LAYOUT["tables"]}
    outputs = []
    for figure in RESULTS_LAYOUT["figures"]:
        caption = (
            f"figure_paper{figure['paper_figure']}.rst"
            if figure.get("paper_figure")
            else f"figure_{figure['style']}.rst"
        )
        subcategory = titles.get(figure.get("table"), "Toxic rates")
        outputs += _figure_files(figure["name"], caption, subcategory)
    return outputs


def _figure_files(name, caption, subcategory):
    """One figure's files, its PNG flagged for the report."""
    labels = {"figure": name}
    return [
        (
            _in_report(path, caption, "Figures", subcategory, labels)
            if path.endswith(".png")
            else path
        )
        for path in paths.figure_files(name, ROOT)
    ]


# --- trajectory ------------------------------------------------------------------------------


def trajectory_layout_settings(wildcards):
    return TRAJECTORY_LAYOUT


def trajectory_scores(wildcards):
    return [paths.scores(model, ROOT) for model in trajectory_models(TRAJECTORY_LAYOUT)]


def trajectory_comparisons(wildcards):
    return [
        paths.comparison(pair, ROOT) for pair in trajectory_pairs(TRAJECTORY_LAYOUT)
    ]


def trajectory_adapter_folders(wildcards):
    return trajectory_adapters(TRAJECTORY_LAYOUT)


def trajectory_table_outputs():
    """The trajectory and forgetting tables, their HTML in the report."""
    return [
        path
        for name in TRAJECTORY_LAYOUT["tables"]
        for path in _table_files(name, f"{name}.rst", "Trajectory", name)
    ]


def trajectory_figure_outputs():
    """The trajectory and forgetting figures, their PNG in the report."""
    return [
        path
        for name in TRAJECTORY_LAYOUT["figures"]
        for path in _figure_files(name, f"figure_{name}.rst", "Trajectory")
    ]


def reproduction_outputs():
    """The reproduction tables' files; their HTML flagged for the report."""
    contents = {
        "tables": "% toxic, paper and ours",
        "verdicts": "verdicts, paper and ours",
    }
    outputs = []
    for key, content in contents.items():
        name = REPRODUCTION[key]
        outputs += _table_files(
            name, f"{name}.rst", "Reproduction of the paper", content
        )
    return outputs
