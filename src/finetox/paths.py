"""Where every output of the workflow lives. The rules, the CLI's defaults and the results stage
all take their paths from here; file names use model slugs and pair names, never hub ids.

Every output lies under one root, the config's `results_dir` (`results` unless a study sets
another: the demo's is `results/demo`), so two studies with their own roots never touch each
other's files. Logs go to `logs/` for the default root and to `{root}/logs` for any other."""

from __future__ import annotations

RESULTS = "results"
LOGS = "logs"
TABLE_FORMATS = ("csv", "md", "tex", "html")
FIGURE_FORMATS = ("png", "pdf")
# demo models the workflow builds itself (config demo.build_models)
DEMO_LMS = ("base", "instruct", "community-same", "community-toxic")
DEMO_CLASSIFIER = "classifier"
DEMO_MULTILABEL = "classifier-multilabel"  # the demo's sigmoid classifier
DEMO_GUARD = "classifier-guard"  # the demo's guard judge


def prompt_set(root: str = RESULTS) -> str:
    return f"{root}/prompts/prompt_set.parquet"


def prompt_manifest(root: str = RESULTS) -> str:
    return f"{root}/prompts/manifest.json"


def tuned_dir(root: str = RESULTS) -> str:
    return f"{root}/tuned"


def adapter(slug: str, root: str = RESULTS) -> str:
    """The tune stage's output for one tuned model: its LoRA adapter folder."""
    return f"{tuned_dir(root)}/{slug}"


def trajectory_adapter(slug: str, point: str, root: str = RESULTS) -> str:
    """A point of a tuning run (finetox.trajectory): the adapter as it was at that step. Beside,
    not inside, the run's own adapter folder, which is another job's output."""
    return f"{tuned_dir(root)}/trajectory/{slug}/{point}"


def checkpoints(slug: str, root: str = RESULTS) -> str:
    """Outside the adapter folder, so a killed tuning job resumes while its output is missing."""
    return f"{tuned_dir(root)}/.checkpoints/{slug}"


def generations_dir(root: str = RESULTS) -> str:
    return f"{root}/generations"


def generations(model: str, root: str = RESULTS) -> str:
    return f"{generations_dir(root)}/{model}.parquet"


def scores_dir(root: str = RESULTS) -> str:
    return f"{root}/scores"


def scores(model: str, root: str = RESULTS) -> str:
    return f"{scores_dir(root)}/{model}.parquet"


def comparisons_dir(root: str = RESULTS) -> str:
    return f"{root}/comparisons"


def comparison(pair: str, root: str = RESULTS) -> str:
    """The comparison table (CSV) of a pair."""
    return f"{comparisons_dir(root)}/{pair}.csv"


def posterior(pair: str, root: str = RESULTS) -> str:
    """The posterior draws (NetCDF) of a pair."""
    return f"{comparisons_dir(root)}/{pair}.nc"


def flips(pair: str, root: str = RESULTS) -> str:
    """The prompts whose toxic flag differs between the pair's models (CSV)."""
    return f"{comparisons_dir(root)}/{pair}.flips.csv"


def comparison_json(pair: str, root: str = RESULTS) -> str:
    """The comparison as JSON (what `finetox card` reads)."""
    return f"{comparisons_dir(root)}/{pair}.json"


def comparison_files(pair: str, root: str = RESULTS) -> dict[str, str]:
    """Every output of a pair's compare job, by the name compare_file gives it."""
    return {
        "table": comparison(pair, root),
        "posterior": posterior(pair, root),
        "flips": flips(pair, root),
        "json": comparison_json(pair, root),
    }


def tables_dir(root: str = RESULTS) -> str:
    return f"{root}/tables"


def figures_dir(root: str = RESULTS) -> str:
    return f"{root}/figures"


def table_files(name: str, root: str = RESULTS) -> list[str]:
    return [f"{tables_dir(root)}/{name}.{ext}" for ext in TABLE_FORMATS]


def figure_files(name: str, root: str = RESULTS) -> list[str]:
    return [f"{figures_dir(root)}/{name}.{ext}" for ext in FIGURE_FORMATS]


def demo_models_dir(root: str = RESULTS) -> str:
    """The tiny models the demo builds (config demo.build_models): the demo's root is
    results/demo, so they lie in results/demo/models/."""
    return f"{root}/models"


def demo_model(name: str, root: str = RESULTS) -> str:
    return f"{demo_models_dir(root)}/{name}"


def logs_dir(root: str = RESULTS) -> str:
    """logs/ for the default root (where they always were), {root}/logs for any other."""
    return LOGS if root == RESULTS else f"{root}/logs"


def log(rule: str, wildcard: str | None = None, root: str = RESULTS) -> str:
    name = f"{rule}/{wildcard}" if wildcard else rule
    return f"{logs_dir(root)}/{name}.log"


def benchmark(rule: str, wildcard: str | None = None, root: str = RESULTS) -> str:
    name = f"{rule}/{wildcard}" if wildcard else rule
    return f"{root}/benchmarks/{name}.tsv"
