"""The evaluated models a config lists or derives, one `ModelSpec` each."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from finetox.trajectory import point_labels, point_title

# An evaluated model is a model entry in one prompt format. Raw keeps the plain slug (the
# paper's paths); other formats get a suffix, so their outputs never overwrite raw ones.
FORMAT_SUFFIX = {"raw": "", "chat_template": "--chat"}
# A model's sampled run (generation.sampled) is a model of its own, after the format suffix:
# tiny-base--sampled, tiny-instruct--chat--sampled.
SAMPLED_SUFFIX = "--sampled"
DOLLY_SUFFIX = "-dolly"
PUBLISHED_SUFFIX = "-dolly-published"  # the authors' published Dolly model (dolly_published)
QUANT_SUFFIX = "-4bit"
# generation keys a model entry may override: they reach generation through ModelSpec.settings()
PER_MODEL_GENERATION_KEYS = ("prompt_format", "batch_size", "dtype", "stop")


@dataclass(frozen=True)
class ModelSpec:
    """One evaluated model: what the generation and scoring jobs of one wildcard value need."""

    name: str  # wildcard value and file name: slug plus prompt-format suffix
    slug: str
    family: str
    role: str
    prompt_format: str
    source: str  # hub id or local path
    local: bool
    label: str
    revision: str | None = None
    dtype: str = "auto"
    stop: str = "tokenizer_eos"  # the stop rule (finetox.generation.decoding.STOP_RULES)
    trust_remote_code: bool = False
    batch_size: int | str = "auto"
    params_b: float | None = None
    mem_mb: int | None = None
    runtime: int | None = None
    load_in_4bit: bool | str = False  # "as_trained" for Dolly models: the adapter's record decides
    adapter: str | None = None  # Dolly slug whose adapter is loaded on top of the source
    point: str | None = None  # a trajectory point of that Dolly run (finetox.trajectory), if one
    # published models: detect, adapter or full (finetox.weights_layout); None: load the source
    layout: str | None = None
    decoding: str = "greedy"  # or "sampled": k continuations per prompt (generation.sampled)

    def settings(self) -> dict[str, Any]:
        """Only this model's settings: what a per-model rule receives through params."""
        settings = {
            "name": self.name,
            "slug": self.slug,
            "family": self.family,
            "role": self.role,
            "source": self.source,
            "local": self.local,
            "revision": self.revision,
            "label": self.label,
            "dtype": self.dtype,
            "stop": self.stop,
            "trust_remote_code": self.trust_remote_code,
            "prompt_format": self.prompt_format,
            "batch_size": self.batch_size,
            "load_in_4bit": self.load_in_4bit,
        }
        if self.layout is not None:  # only where set: a key new to every model's params would
            settings["layout"] = self.layout  # make Snakemake rerun every generate job
        if self.decoding != "greedy":  # likewise
            settings["decoding"] = self.decoding
        return settings

    def sampled(self) -> ModelSpec:
        """This model's sampled run: the same model and settings, its own name and files."""
        return dataclasses.replace(self, name=self.name + SAMPLED_SUFFIX, decoding="sampled")


def model_entries(config: dict) -> Iterator[tuple[list[Any], str, str, dict]]:
    """(key path, family, role, entry) for every listed model, skipping malformed ones."""
    families = config.get("families")
    if not isinstance(families, dict):
        return
    for family, spec in families.items():
        if not isinstance(spec, dict):
            continue
        for role in ("base", "instruct"):
            if isinstance(spec.get(role), dict):
                yield ["families", family, role], family, role, spec[role]
        community = spec.get("community")
        if isinstance(community, list):
            for index, entry in enumerate(community):
                if isinstance(entry, dict):
                    yield ["families", family, "community", index], family, "community", entry


def _formats(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _default_label(entry: dict) -> str:
    if "label" in entry:
        return entry["label"]
    if "id" in entry:
        return entry["id"].split("/", 1)[1]
    return entry["slug"]


def _spec(
    entry: dict, family: str, role: str, fmt: str, generation: dict, **overrides: Any
) -> ModelSpec:
    values = {
        "name": entry["slug"] + FORMAT_SUFFIX[fmt],
        "slug": entry["slug"],
        "family": family,
        "role": role,
        "prompt_format": fmt,
        "source": entry.get("id", entry.get("path")),
        "local": "path" in entry,
        "label": _default_label(entry),
        "revision": entry.get("revision"),
        "dtype": entry.get("dtype", generation["dtype"]),
        "stop": entry.get("stop", generation["stop"]),
        "trust_remote_code": entry.get("trust_remote_code", False),
        "batch_size": entry.get("batch_size", generation["batch_size"]),
        "params_b": entry.get("params_b"),
        "mem_mb": entry.get("mem_mb"),
        "runtime": entry.get("runtime"),
    }
    values.update(overrides)
    return ModelSpec(**values)


def _trajectory_specs(
    instruct: dict, family: str, fmt: str, generation: dict, trajectory: dict | None
) -> Iterator[ModelSpec]:
    """One model per point of the Dolly run before its end (the final adapter is the Dolly model)."""
    dolly = instruct["slug"] + DOLLY_SUFFIX
    for label in point_labels(trajectory):
        slug = f"{dolly}-{label}"
        yield _spec(
            instruct, family, "trajectory", fmt, generation,
            name=slug + FORMAT_SUFFIX[fmt], slug=slug,
            label=f"{_default_label(instruct)} + Dolly LoRA, {point_title(label)}",
            load_in_4bit="as_trained", adapter=dolly, point=label,
        )  # fmt: skip


def family_models(
    family: str, spec: dict, generation: dict, trajectory: dict | None = None
) -> Iterator[ModelSpec]:
    """The models of one (validated, default-filled) family, derived ones included."""
    instruct = spec.get("instruct")
    for role in ("base", "instruct"):
        entry = spec.get(role)
        if entry:
            for fmt in _formats(entry.get("prompt_format", generation["prompt_format"])):
                yield _spec(entry, family, role, fmt, generation)
    if not instruct:
        return
    instruct_formats = _formats(instruct.get("prompt_format", generation["prompt_format"]))
    for fmt in instruct_formats:
        if spec.get("dolly"):
            slug = instruct["slug"] + DOLLY_SUFFIX
            yield _spec(
                instruct, family, "dolly", fmt, generation,
                name=slug + FORMAT_SUFFIX[fmt], slug=slug,
                label=f"{_default_label(instruct)} + Dolly LoRA",
                load_in_4bit="as_trained", adapter=slug,
            )  # fmt: skip
            yield from _trajectory_specs(instruct, family, fmt, generation, trajectory)
        if spec.get("quant_control"):
            slug = instruct["slug"] + QUANT_SUFFIX
            yield _spec(
                instruct, family, "instruct_4bit", fmt, generation,
                name=slug + FORMAT_SUFFIX[fmt], slug=slug,
                label=f"{_default_label(instruct)} (4-bit)", load_in_4bit=True,
            )  # fmt: skip
    for entry in spec.get("community", []):
        for fmt in _formats(entry.get("prompt_format", generation["prompt_format"])):
            yield _spec(entry, family, "community", fmt, generation)


def published_entry(value: Any) -> dict | None:
    """A family's dolly_published as a mapping ({'id': ...} for a bare hub id); None if unset."""
    if isinstance(value, str):
        return {"id": value}
    return value if isinstance(value, dict) else None


def published_models(family: str, spec: dict, generation: dict) -> Iterator[ModelSpec]:
    """The authors' published Dolly model of a (validated, default-filled) family, one per prompt
    format of its instruct model unless it names its own: a model of its own, with its own
    per-model settings (generation's by default, not the instruct model's)."""
    instruct, entry = spec.get("instruct"), published_entry(spec.get("dolly_published"))
    if not instruct or entry is None:
        return
    slug = instruct["slug"] + PUBLISHED_SUFFIX
    entry = {**entry, "slug": slug}
    formats = entry.get("prompt_format", instruct.get("prompt_format", generation["prompt_format"]))
    for fmt in _formats(formats):
        yield _spec(
            entry, family, "dolly_published", fmt, generation,
            label=entry.get("label", f"{_default_label(instruct)} + Dolly LoRA (authors' published)"),
            params_b=entry.get("params_b", instruct.get("params_b")),
            layout=entry.get("layout", "detect"),
        )  # fmt: skip
