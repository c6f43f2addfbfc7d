"""The study: a validated, default-filled config and the model graph derived from it."""

from __future__ import annotations

import copy
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finetox import paths
from finetox.config.models import (
    FORMAT_SUFFIX,
    PER_MODEL_GENERATION_KEYS,
    SAMPLED_SUFFIX,
    ModelSpec,
    family_models,
    published_models,
)
from finetox.config.schema import fill_defaults, load_schema, load_yaml
from finetox.config.validate import validate
from finetox.errors import ConfigError
from finetox.pairs import KINDS, Pair

# models without a sampled run: the points of a tuning run (one greedy run each is the trajectory)
UNSAMPLED_ROLES = ("trajectory",)


@dataclass
class Study:
    """The model graph: `models` and `comparisons` are the greedy runs (the paper's tables);
    with generation.sampled, `sampled` and `sampled_comparisons` are the sampled runs of the
    same models and pairs, named with SAMPLED_SUFFIX."""

    config: dict[str, Any]
    models: dict[str, ModelSpec] = field(default_factory=dict)
    comparisons: list[Pair] = field(default_factory=list)
    sampled: dict[str, ModelSpec] = field(default_factory=dict)
    sampled_comparisons: list[Pair] = field(default_factory=list)

    @property
    def results_dir(self) -> str:
        """The folder of every output (config results_dir), normalized: 'results/demo'."""
        return posixpath.normpath(self.config.get("results_dir", paths.RESULTS))

    @property
    def model_names(self) -> list[str]:
        return list(self.models)

    @property
    def sampled_names(self) -> list[str]:
        return list(self.sampled)

    @property
    def sampling(self) -> dict[str, Any] | None:
        """generation.sampled (k, temperature, top_p, top_k, max_new_tokens, seed), or None."""
        return self.config["generation"].get("sampled") or None

    def model(self, name: str) -> ModelSpec:
        return self.models[name] if name in self.models else self.sampled[name]

    def comparison(self, name: str) -> Pair:
        for pair in [*self.comparisons, *self.sampled_comparisons]:
            if pair.name == name:
                return pair
        raise KeyError(name)

    def tuned_sources(self) -> dict[str, ModelSpec]:
        """Tuned (Dolly) slug -> the instruct model it is tuned from (one tune job each)."""
        sources: dict[str, ModelSpec] = {}
        for spec in self.models.values():
            if spec.role == "dolly" and spec.slug not in sources:
                sources[spec.slug] = self._instruct_of(spec.family)
        return sources

    def trajectory_points(self) -> dict[str, ModelSpec]:
        """Trajectory model slug -> its spec (one point job each, whatever its prompt formats)."""
        return {spec.slug: spec for spec in self.models.values() if spec.role == "trajectory"}

    def generation_settings(self, name: str | None = None) -> dict[str, Any]:
        """The generation keys every model shares (max_new_tokens, max_batch_size,
        on_long_prompt); the keys a model may override reach generation only through its
        ModelSpec.settings(). A greedy run never sees generation.sampled (switching it on or
        changing it reruns no greedy job); the sampled run of model `name` gets it as
        `sampling`, and its max_new_tokens."""
        generation = self.config["generation"]
        shared = {
            k: v
            for k, v in generation.items()
            if k not in PER_MODEL_GENERATION_KEYS and k != "sampled"
        }
        if name is not None and name in self.sampled:
            sampled = dict(generation["sampled"])
            shared["max_new_tokens"] = sampled.pop("max_new_tokens")
            shared["sampling"] = sampled
        return shared

    def _instruct_of(self, family: str) -> ModelSpec:
        for spec in self.models.values():
            if spec.family == family and spec.role == "instruct":
                return spec
        raise KeyError(family)


def _derived_comparisons(models: dict[str, ModelSpec], switches: dict) -> Iterator[Pair]:
    by_role: dict[tuple[str, str, str], list[ModelSpec]] = {}
    for spec in models.values():
        by_role.setdefault((spec.family, spec.role, spec.prompt_format), []).append(spec)
    families = list(dict.fromkeys(spec.family for spec in models.values()))
    formats = list(dict.fromkeys(spec.prompt_format for spec in models.values()))
    for kind in KINDS.values():
        arms = [arm for arm in kind.arms() if switches.get(arm[0], True) is not False]
        for family in families:
            for fmt in formats:
                for _switch, role_a, role_b in arms:
                    for a in by_role.get((family, role_a, fmt), []):
                        for b in by_role.get((family, role_b, fmt), []):
                            yield Pair(a.name, b.name, kind.name, family, fmt)


def _extra_comparisons(
    models: dict[str, ModelSpec], extra: list[dict]
) -> Iterator[tuple[Pair, str]]:
    for index, pair in enumerate(extra):
        for fmt, suffix in FORMAT_SUFFIX.items():
            a, b = pair["a"] + suffix, pair["b"] + suffix
            if a in models and b in models:
                yield Pair(a, b, "extra", None, fmt), f"comparisons.extra[{index}]"


def _derived_origin(pair: Pair) -> str:
    return f"the derived {pair.kind} pair of family '{pair.family}' (comparisons.{pair.kind})"


def build_study(config: dict) -> Study:
    """The model graph of a validated, default-filled config.

    Raises ConfigError when two requested pairs would share a name (and so their files)."""
    generation = config["generation"]
    published = config["comparisons"].get("instruct_vs_dolly_published", False)
    models: dict[str, ModelSpec] = {}
    for family, spec in config["families"].items():
        for model in family_models(family, spec, generation, config["tune"]["trajectory"]):
            models[model.name] = model
        for model in published_models(family, spec, generation) if published else ():
            models[model.name] = model
    requested = [
        *(
            (pair, _derived_origin(pair))
            for pair in _derived_comparisons(models, config["comparisons"])
        ),
        *_extra_comparisons(models, config["comparisons"]["extra"]),
    ]
    comparisons: dict[str, tuple[Pair, str]] = {}
    problems = []
    for pair, origin in requested:
        if pair.name in comparisons:
            problem = (
                f"{origin}: pair {pair.name} is already requested by {comparisons[pair.name][1]}"
            )
            problems.append(problem)
        else:
            comparisons[pair.name] = (pair, origin)
    if problems:
        raise ConfigError(dict.fromkeys(problems))
    greedy_pairs = [pair for pair, _ in comparisons.values()]
    sampled, sampled_pairs = _sampled_runs(models, greedy_pairs, config["generation"])
    return Study(
        config=config, models=models, comparisons=greedy_pairs, sampled=sampled,
        sampled_comparisons=sampled_pairs,
    )  # fmt: skip


def _sampled_runs(
    models: dict[str, ModelSpec], pairs: list[Pair], generation: dict
) -> tuple[dict[str, ModelSpec], list[Pair]]:
    """With generation.sampled: the sampled run of every model (tuning-run points aside) and
    of every pair whose two models have one."""
    if not generation.get("sampled"):
        return {}, []
    runs = (spec.sampled() for spec in models.values() if spec.role not in UNSAMPLED_ROLES)
    sampled = {run.name: run for run in runs}
    pairs = [
        Pair(pair.a + SAMPLED_SUFFIX, pair.b + SAMPLED_SUFFIX, pair.kind, pair.family,
             pair.prompt_format)
        for pair in pairs
        if pair.a + SAMPLED_SUFFIX in sampled and pair.b + SAMPLED_SUFFIX in sampled
    ]  # fmt: skip
    return sampled, pairs


def _default_dolly(config: dict) -> None:
    """dolly follows comparisons.instruct_vs_dolly unless the family says otherwise."""
    comparisons = config.get("comparisons")
    wanted = comparisons.get("instruct_vs_dolly", True) if isinstance(comparisons, dict) else True
    families = config.get("families")
    for spec in families.values() if isinstance(families, dict) else []:
        if isinstance(spec, dict) and "dolly" not in spec:
            spec["dolly"] = bool(wanted) and isinstance(spec.get("instruct"), dict)


def load_study(
    config: dict, *, schema_path: str | Path | None = None, workdir: str | Path = "."
) -> Study:
    """Fill defaults into `config` in place, validate it, and derive the model graph.

    Raises ConfigError listing every problem.
    """
    schema = load_schema(schema_path)
    raw = copy.deepcopy(config)
    fill_defaults(config, schema)
    _default_dolly(config)
    problems = validate(config, schema=schema, workdir=workdir, raw=raw)
    if not problems:
        config["results_dir"] = posixpath.normpath(config["results_dir"])  # results/demo/ too
        return build_study(config)
    try:  # pairs that share a name, reported with the other problems where the graph builds
        build_study(config)
    except ConfigError as error:
        problems += error.problems
    except Exception:  # noqa: BLE001  (a malformed config: its problems say why)
        pass
    raise ConfigError(problems)


def load_study_file(path: str | Path, **kwargs: Any) -> Study:
    return load_study(load_yaml(path), **kwargs)
