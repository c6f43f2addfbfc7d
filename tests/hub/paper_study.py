"""The paper's study (config/config.yaml) at test size: the size overlay (size_overlay.yaml),
the merged config Snakemake is given, configs derived from it with one thing changed, and
Snakemake runs in a copy of the checkout whose hub is the stand-in.

Snakemake's --configfile replaces config/config.yaml rather than merging with it (the Snakefile
reads config.yaml only when no config file is named), so the run is given config.yaml with the
overlay's keys replaced, written as one file.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from tests.hub.conftest import hub_env
from tests.hub.repos import CONFIG
from tests.workflow_runs import snakemake

OVERLAY = Path(__file__).with_name("size_overlay.yaml")
# What the overlay may set: how much is run, never what (no model, id, data source, comparison,
# prompt format, precision, stop rule or recipe setting that changes what a model learns).
SIZE_KEYS = frozenset(
    {
        *(("prompts", "subsets", subset) for subset in
          ("severe", "random", "race", "gender", "age", "religion")),
        ("generation", "max_new_tokens"),
        ("generation", "batch_size"),
        ("generation", "max_batch_size"),
        ("scoring", "batch_size"),
        ("scoring", "max_batch_tokens"),
        ("tune", "max_records"),
        ("tune", "max_seq_length"),
        ("tune", "per_device_batch_size"),
        ("tune", "gradient_accumulation_steps"),
        ("tune", "warmup_steps"),
        ("tune", "save_steps"),
        ("compare", "chains"),
        ("compare", "draws"),
        ("compare", "warmup"),
    }
)  # fmt: skip


def leaves(tree: Any, path: tuple = ()) -> dict[tuple, Any]:
    """Every leaf of a nested mapping, by its key path."""
    if not isinstance(tree, dict):
        return {path: tree}
    found = {}
    for key, value in tree.items():
        found.update(leaves(value, (*path, key)))
    return found


def overlay() -> dict:
    return yaml.safe_load(OVERLAY.read_text())


def paper_config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def merged(base: dict, sizes: dict) -> dict:
    """`base` with every leaf of `sizes` replaced (a copy)."""
    result = copy.deepcopy(base)
    for path, value in leaves(sizes).items():
        node = result
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return result


def sized_config() -> dict:
    """config.yaml at test size: what the end-to-end run is given."""
    return merged(paper_config(), overlay())


def write_config(config: dict, root: Path, name: str) -> str:
    """`config` as root/config/{name}.yaml; the path Snakemake is given (relative to root)."""
    path = root / "config" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path.relative_to(root).as_posix()


def find_model_entry(config: dict, slug: str) -> dict:
    """The entry (base, instruct or community) of config's model `slug`."""
    for family in config["families"].values():
        entries = [family.get("base"), family.get("instruct"), *family.get("community", [])]
        for entry in entries:
            if entry and entry["slug"] == slug:
                return entry
    raise KeyError(slug)


def run_env(endpoint: str, home: Path, root: Path, **extra: str) -> dict[str, str]:
    """A Snakemake run's environment: the stand-in's (hub_env), finetox from the copy, and
    HF_TOKEN sent implicitly as a user's environment sends it (peft's save_pretrained looks up
    the base model's config.json without passing a token)."""
    env = hub_env(endpoint, home, PYTHONPATH=str(root / "src"), **extra)
    del env["HF_HUB_DISABLE_IMPLICIT_TOKEN"]
    return env


def run(root: Path, configfile: str, *args: str, env: dict[str, str], timeout: float = 3600):
    """Snakemake in the copy `root` on `configfile` (stdout and stderr kept beside the copy)."""
    return snakemake(root, "--configfile", configfile, *args, env=env, timeout=timeout)
