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


def tuning_mem_mb(wildcards, attempt):
    return _mem_mb(STUDY.lora_sources()[wildcards.dolly], attempt)


def tuning_runtime(wildcards, attempt):
    spec = STUDY.lora_sources()[wildcards.dolly]
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


# --- demo models -----------------------------------------------------------------------------


# --- generation ------------------------------------------------------------------------------


def generation_targets():
    return [f"results/generations/{model}.parquet" for model in MODELS]


def generation_model_settings(wildcards):
    """Only this model's settings, so adding a model changes no other job."""
    return STUDY.model(wildcards.model).settings()


def generation_settings(wildcards):
    return config["generation"]


def adapter_for(wildcards):
    """A Dolly model's LoRA adapter folder (made by the tuning stage); [] for other models."""
    spec = STUDY.model(wildcards.model)
    return f"results/adapters/{spec.adapter}" if spec.adapter else []


def local_model_for(wildcards):
    """A local model's folder, so the demo builds its models first; [] for hub models."""
    spec = STUDY.model(wildcards.model)
    return spec.source if spec.local else []


# --- tuning ----------------------------------------------------------------------------------


# One job per Dolly model ({dolly}: the Dolly slug), tuned from its family's instruct model.
LORA_SOURCES = STUDY.lora_sources()
ADAPTERS = "results/adapters"


wildcard_constraints:
    dolly=_alternatives(LORA_SOURCES),


def tuning_targets():
    return [f"{ADAPTERS}/{slug}" for slug in LORA_SOURCES]


def tuning_inputs(wildcards):
    """Local files only: the instruct model's folder and the Dolly data file, when local."""
    spec = LORA_SOURCES[wildcards.dolly]
    inputs = {}
    if spec.local:
        inputs["model"] = spec.source
    if config["lora"]["data"].get("path"):
        inputs["data"] = config["lora"]["data"]["path"]
    return inputs


def tuning_model_settings(wildcards):
    return LORA_SOURCES[wildcards.dolly].settings()


def lora_settings(wildcards):
    return config["lora"]


def tuning_checkpoints(wildcards):
    """Outside the adapter folder, so a killed job resumes while its output is still missing."""
    return f"{ADAPTERS}/.checkpoints/{wildcards.dolly}"


# --- scoring ---------------------------------------------------------------------------------


def scoring_targets():
    return [f"results/scores/{model}.parquet" for model in MODELS]


def scoring_settings(wildcards):
    return config["scoring"]


def classifier_folders(wildcards):
    """Local classifiers are inputs, so the demo builds its classifier before scoring."""
    return [
        entry["path"] for entry in config["scoring"]["classifiers"] if entry.get("path")
    ]


# --- estimation ------------------------------------------------------------------------------
# One compare job per pair: it compiles the BEST model once and fits every subset with it.


def comparison_targets():
    return [
        f"results/comparisons/{pair}.{ext}" for pair in PAIRS for ext in ("csv", "nc")
    ]


def comparison_scores(wildcards):
    comparison = STUDY.comparison(wildcards.pair)
    return {
        "a": f"results/scores/{comparison.a}.parquet",
        "b": f"results/scores/{comparison.b}.parquet",
    }


def comparison_settings(wildcards):
    comparison = STUDY.comparison(wildcards.pair)
    return {
        "name": comparison.name,
        "a": comparison.a,
        "b": comparison.b,
        "kind": comparison.kind,
        "family": comparison.family,
        "prompt_format": comparison.prompt_format,
    }


def compare_threads(wildcards):
    # chains sample in parallel threads, which pays on the paper's 2,400 scores per model; a
    # small prompt set is bound by compiling (one thread), so two jobs at once beat two threads
    prompts = sum(n or 0 for n in config["prompts"]["subsets"].values())
    return min(config["estimation"]["chains"], 4) if prompts >= 1000 else 1


def compare_mem_mb(wildcards, attempt):
    # measured: about 0.5 GB peak (numba's compiler most of it; the draws take a few MB)
    return 2000 * attempt


def compare_runtime(wildcards, attempt):
    # minutes: compiling takes under a minute, 7 fits of 2 x 2,400 scores a few more
    return 30 * attempt


# --- results ---------------------------------------------------------------------------------
# Which tables and figures the study has (and their rows) is derived once from the study, so the
# rules' outputs and the writers agree. Both rules read every score and comparison file.
from finetox.results import (
    FIGURES_DIR,
    TABLES_DIR,
    figure_files,
    results_layout,
    table_files,
)

RESULTS_LAYOUT = results_layout(STUDY)
TABLE_FILES = table_files(RESULTS_LAYOUT)
FIGURE_FILES = figure_files(RESULTS_LAYOUT)
# the report shows each table as HTML and each figure as PNG (the other formats are downloads)
REPORT_CAPTIONS = {
    "base_vs_instruct": "table1.rst",
    "instruct_vs_dolly": "table2.rst",
    "instruct_vs_community": "table3.rst",
    "instruct_vs_4bit": "table4.rst",
    "extra": "table5.rst",
}


def results_targets():
    return [*TABLE_FILES, *FIGURE_FILES]


def results_layout_settings(wildcards):
    return RESULTS_LAYOUT


def results_score_files(wildcards):
    return [f"results/scores/{model}.parquet" for model in MODELS]


def results_comparison_files(wildcards):
    return [f"results/comparisons/{pair}.csv" for pair in PAIRS]


def _report_table(name, caption, subcategory, content):
    return report(
        f"{TABLES_DIR}/{name}.html",
        caption=f"../report/{caption}",
        category="Tables",
        subcategory=subcategory,
        labels={"table": name, "content": content},
    )


def table_outputs():
    """Every table file; the HTML ones flagged for the report, captioned per table."""
    flagged = {}
    for table in RESULTS_LAYOUT["tables"]:
        caption, title = REPORT_CAPTIONS[table["kind"]], table["title"]
        flagged[table["name"]] = _report_table(
            table["name"], caption, title, "% toxic generations"
        )
        flagged[table["name"] + "_verdicts"] = _report_table(
            table["name"] + "_verdicts", "verdicts.rst", title, "verdicts"
        )
    flagged["appendix_a_models"] = _report_table(
        "appendix_a_models", "appendix_a.rst", "Appendices", "evaluated models"
    )
    flagged["appendix_b_classifiers"] = _report_table(
        "appendix_b_classifiers",
        "appendix_b.rst",
        "Appendices",
        "% toxic by classifier",
    )
    html = {str(path) for path in flagged.values()}
    return [*flagged.values(), *(path for path in TABLE_FILES if path not in html)]


def figure_outputs():
    """Every figure file; the PNGs flagged for the report, captioned by figure style."""
    titles = {table["name"]: table["title"] for table in RESULTS_LAYOUT["tables"]}
    outputs = []
    for figure in RESULTS_LAYOUT["figures"]:
        subcategory = titles.get(figure.get("table"), "Toxic rates")
        outputs.append(_report_figure(figure["name"], figure["style"], subcategory))
        outputs.append(f"{FIGURES_DIR}/{figure['name']}.pdf")
    return outputs


def _report_figure(name, style, subcategory):
    return report(
        f"{FIGURES_DIR}/{name}.png",
        caption=f"../report/figure_{style}.rst",
        category="Figures",
        subcategory=subcategory,
        labels={"figure": name},
    )
