# Config validation, the model graph, wildcard constraints and input functions shared by the stages.
import re
import sys

from finetox.config import CEB_SUBSETS, ConfigError, load_study


def _load_study():
    try:
        return load_study(config)
    except ConfigError as error:
        # One line per problem, key path first, all at once; no job starts.
        print(error, file=sys.stderr)
        raise SystemExit(1)


STUDY = _load_study()
MODELS = STUDY.model_names
PAIRS = [comparison.name for comparison in STUDY.comparisons]


def _alternatives(names):
    """A regex matching exactly these names, so no wildcard can swallow another's path."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    model=_alternatives(MODELS),
    pair=_alternatives(PAIRS),


PROMPT_SET = "results/prompts/prompt_set.parquet"
PROMPT_MANIFEST = "results/prompts/manifest.json"


def final_outputs(wildcards):
    """Everything the default target builds."""
    return [
        PROMPT_SET,
        PROMPT_MANIFEST,
        *generation_targets(),
        *tuning_targets(),
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


# --- demo models -----------------------------------------------------------------------------


# --- generation ------------------------------------------------------------------------------


def generation_targets():
    return []


# --- tuning ----------------------------------------------------------------------------------


def tuning_targets():
    return []


# --- scoring ---------------------------------------------------------------------------------


def scoring_targets():
    return []


# --- estimation ------------------------------------------------------------------------------


def comparison_targets():
    return []


# --- results ---------------------------------------------------------------------------------


def results_targets():
    return []
