# The study: its config read and validated (every problem at once, before any job starts), the
# model graph (models, pairs, tuned models, trajectory points, the results' layout), the wildcard
# constraints and the default target. Beside it, by job: inputs.smk (the rules' input and params
# functions), resources.smk (memory, runtime, threads), report.smk (outputs flagged for the report).
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
    trajectory_figure_files,
    trajectory_layout,
    trajectory_table_files,
)


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
# generation.sampled: every model's sampled run ({model}--sampled) and every pair's; greedy
# jobs' inputs and params never name them, so switching sampling on reruns no greedy job
SAMPLED = STUDY.sampled_names
SAMPLED_PAIRS = [comparison.name for comparison in STUDY.sampled_comparisons]


def _alternatives(names):
    """A regex matching exactly these names, so no wildcard can swallow another's path."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS + SAMPLED),
    pair=_alternatives(PAIRS + SAMPLED_PAIRS),


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
        *sampled_targets(),
    ]


def generation_targets():
    return [paths.generations(model, ROOT) for model in MODELS]


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


def scoring_targets():
    return [paths.scores(model, ROOT) for model in MODELS]


def comparison_targets():
    return [
        path for pair in PAIRS for path in paths.comparison_files(pair, ROOT).values()
    ]


# Which tables and figures the study has (and their rows) is derived once from the study, so the
# rules' outputs and the writers agree. The tables and figures rules read every score and
# comparison file; the reproduction rule those of the models and pairs in the paper's prompt
# format, and the paper's published numbers (resources/paper/).
RESULTS_LAYOUT = results_layout(STUDY)
SAMPLED_TABLE = "sampled_rates"  # finetox.results.sampled_table.NAME
SAMPLED_VERDICTS = "sampled_verdicts"  # finetox.results.sampled_verdicts.NAME
TRAJECTORY_LAYOUT = trajectory_layout(STUDY)
REPRODUCTION = RESULTS_LAYOUT["reproduction"]


def sampled_targets():
    """The sampled runs' generations, scores and comparisons, and their tables."""
    if not SAMPLED:
        return []
    return [
        *(paths.generations(model, ROOT) for model in SAMPLED),
        *(paths.scores(model, ROOT) for model in SAMPLED),
        *(
            path
            for pair in SAMPLED_PAIRS
            for path in paths.comparison_files(pair, ROOT).values()
        ),
        *paths.table_files(SAMPLED_TABLE, ROOT),
        *(paths.table_files(SAMPLED_VERDICTS, ROOT) if SAMPLED_PAIRS else []),
    ]


def results_targets():
    return [
        *table_files(RESULTS_LAYOUT, ROOT),
        *changes_files(RESULTS_LAYOUT, ROOT),
        *figure_files(RESULTS_LAYOUT, ROOT),
        *trajectory_table_files(TRAJECTORY_LAYOUT, ROOT),
        *trajectory_figure_files(TRAJECTORY_LAYOUT, ROOT),
        *reproduction_files(RESULTS_LAYOUT, ROOT),
    ]
