"""The study as config: validation (schema + meaning) and the model graph derived from it.

Every problem is reported at once, one line each, key path first:

    config error: families.gemma2.community[1].id: 'IlyaGusev/gemma-2-2b-it-abliterated ' has trailing whitespace
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import best_match

from finetox.io import UserError

SUBSETS = ("severe", "random", "race", "gender", "age", "religion")
RTP_SUBSETS = ("severe", "random")
CEB_SUBSETS = ("race", "gender", "age", "religion")

# An evaluated model is a model entry in one prompt format. Raw keeps the plain slug (the
# paper's paths); other formats get a suffix, so their outputs never overwrite raw ones.
FORMAT_SUFFIX = {"raw": "", "chat_template": "--chat"}
DOLLY_SUFFIX = "-dolly"
QUANT_SUFFIX = "-4bit"
ROLES = ("base", "instruct", "community", "dolly", "instruct_4bit")

# Comparison kinds, in table order. a is the first model: a positive difference means a is more toxic.
COMPARISON_KINDS = (
    "base_vs_instruct",
    "instruct_vs_dolly",
    "instruct_vs_community",
    "instruct_vs_4bit",
    "extra",
)

DEMO_MODELS_DIR = "results/demo/models"
DEMO_MODEL_NAMES = ("base", "instruct", "community-same", "community-toxic", "classifier")

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
DEFAULT_SCHEMA = Path(__file__).with_name("config.schema.yaml")


class ConfigError(UserError):
    """All problems of a config, one line each."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(f"config error: {p}" for p in self.problems))


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
    trust_remote_code: bool = False
    batch_size: int | str = "auto"
    params_b: float | None = None
    mem_mb: int | None = None
    runtime: int | None = None
    load_in_4bit: bool | str = False  # "as_trained" for Dolly models: the adapter's record decides
    adapter: str | None = None  # Dolly slug whose adapter is loaded on top of the source

    def settings(self) -> dict[str, Any]:
        """Only this model's settings: what a per-model rule receives through params."""
        return {
            "name": self.name,
            "slug": self.slug,
            "family": self.family,
            "role": self.role,
            "source": self.source,
            "local": self.local,
            "revision": self.revision,
            "label": self.label,
            "dtype": self.dtype,
            "trust_remote_code": self.trust_remote_code,
            "prompt_format": self.prompt_format,
            "batch_size": self.batch_size,
            "load_in_4bit": self.load_in_4bit,
        }


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    kind: str
    family: str | None
    prompt_format: str

    @property
    def name(self) -> str:
        return f"{self.a}__vs__{self.b}"


@dataclass
class Study:
    config: dict[str, Any]
    models: dict[str, ModelSpec] = field(default_factory=dict)
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def model_names(self) -> list[str]:
        return list(self.models)

    def model(self, name: str) -> ModelSpec:
        return self.models[name]

    def lora_sources(self) -> dict[str, ModelSpec]:
        """Dolly slug -> the instruct model it is tuned from (one tuning job each)."""
        sources: dict[str, ModelSpec] = {}
        for spec in self.models.values():
            if spec.role == "dolly" and spec.slug not in sources:
                sources[spec.slug] = self._instruct_of(spec.family)
        return sources

    def comparison(self, name: str) -> Comparison:
        for comparison in self.comparisons:
            if comparison.name == name:
                return comparison
        raise KeyError(name)

    def _instruct_of(self, family: str) -> ModelSpec:
        for spec in self.models.values():
            if spec.family == family and spec.role == "instruct":
                return spec
        raise KeyError(family)


# ---------------------------------------------------------------------------------------------
# Loading and defaults


def load_yaml(path: str | Path) -> dict[str, Any]:
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return data if isinstance(data, dict) else {}


def load_schema(path: str | Path | None = None) -> dict[str, Any]:
    return load_yaml(path or DEFAULT_SCHEMA)


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/"):
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        return node
    return schema


def _object_properties(schema: dict, root: dict) -> dict[str, dict]:
    """Properties of an object schema, merged over $ref and allOf."""
    schema = _resolve(schema, root)
    properties: dict[str, dict] = {}
    for part in schema.get("allOf", []):
        for key, sub in _object_properties(part, root).items():
            properties[key] = {**properties.get(key, {}), **sub}
    for key, sub in schema.get("properties", {}).items():
        properties[key] = {**properties.get(key, {}), **sub}
    return properties


def fill_defaults(instance: Any, schema: dict, root: dict | None = None) -> None:
    """Fill schema defaults into `instance` in place (objects, arrays, additionalProperties)."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        for key, sub in _object_properties(schema, root).items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill_defaults(instance[key], sub, root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            known = _object_properties(schema, root)
            for key, value in instance.items():
                if key not in known:
                    fill_defaults(value, extra, root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema["items"], root)


# ---------------------------------------------------------------------------------------------
# Validation


def key_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _schema_problems(config: dict, schema: dict) -> Iterator[str]:
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path))):
        yield from _describe_schema_error(error)


def _describe_schema_error(error: jsonschema.ValidationError) -> Iterator[str]:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Prefer the branch whose type matched: "'chat' is not one of [...]" over "not an array".
        typed = [e for e in error.context if e.validator != "type"]
        error = best_match(typed or error.context)
    where = list(error.absolute_path)
    if error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
        error.instance, dict
    ):
        known = sorted(_declared_keys(error.schema))
        for key in sorted(set(error.instance) - set(known)):
            hint = difflib.get_close_matches(key, known, n=1)
            tip = (
                f"; did you mean '{hint[0]}'?"
                if hint
                else (f"; known keys: {', '.join(known)}" if known else "")
            )
            yield f"{key_path([*where, key])}: unknown key{tip}"
        return
    if error.validator == "required":
        yield f"{key_path(where)}: {error.message}"
        return
    yield f"{key_path(where)}: {error.message}"


def _declared_keys(schema: dict) -> set[str]:
    keys = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        keys |= set(part.get("properties", {}))
    return keys


def _model_entries(config: dict) -> Iterator[tuple[list[Any], str, str, dict]]:
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


def _text_problems(where: list[Any], key: str, value: Any) -> Iterator[str]:
    if not isinstance(value, str):
        return
    path = key_path([*where, key])
    if value != value.strip():
        yield f"{path}: {value!r} has leading or trailing whitespace"
    elif key == "id" and not HUB_ID.match(value):
        yield f"{path}: {value!r} is not a hub id of the form owner/name (letters, digits, '.', '_', '-')"


def _source_problems(
    where: list[Any], entry: dict, workdir: Path, buildable: set[str]
) -> Iterator[str]:
    for key in ("id", "path", "revision"):
        yield from _text_problems(where, key, entry.get(key))
    has_id, has_path = "id" in entry, "path" in entry
    if has_id == has_path:
        yield f"{key_path(where)}: give exactly one of 'id' (hub) or 'path' (local folder)"
    if has_path and isinstance(entry["path"], str):
        yield from _path_problems([*where, "path"], entry["path"], workdir, buildable)


def _path_problems(
    where: list[Any], value: str, workdir: Path, buildable: set[str]
) -> Iterator[str]:
    if value.strip() != value:
        return
    normalized = str(Path(value))
    if normalized in buildable:
        return
    if not (workdir / value).exists():
        yield f"{key_path(where)}: {value!r} does not exist (relative to {workdir})"


def _demo_buildable(config: dict) -> set[str]:
    demo = config.get("demo")
    if isinstance(demo, dict) and demo.get("build_models"):
        return {str(Path(DEMO_MODELS_DIR) / name) for name in DEMO_MODEL_NAMES}
    return set()


def _family_problems(config: dict, raw: dict) -> Iterator[str]:
    comparisons = config.get("comparisons", {})
    raw_families = raw.get("families", {}) if isinstance(raw.get("families"), dict) else {}
    for family, spec in config.get("families", {}).items():
        if not isinstance(spec, dict):
            continue
        where = ["families", family]
        raw_spec = (
            raw_families.get(family, {}) if isinstance(raw_families.get(family), dict) else {}
        )
        has_instruct = isinstance(spec.get("instruct"), dict)
        if not has_instruct:
            if spec.get("community"):
                yield (
                    f"{key_path([*where, 'community'])}: community fine-tunes are compared with the "
                    f"instruct model, but family '{family}' has none"
                )
            if spec.get("dolly"):
                yield (
                    f"{key_path([*where, 'dolly'])}: the Dolly model is tuned from the instruct model, "
                    f"but family '{family}' has none (add 'instruct' or set dolly: false)"
                )
            if spec.get("quant_control"):
                yield (
                    f"{key_path([*where, 'quant_control'])}: the 4-bit control is the instruct model, "
                    f"but family '{family}' has none"
                )
            if "base" in spec:
                yield f"{key_path(where)}: family '{family}' lists a base model but no instruct model"
            if not any(k in spec for k in ("base", "community")):
                yield f"{key_path(where)}: family '{family}' lists no model"
        if "base" in spec and comparisons.get("base_vs_instruct") is False:
            yield (
                f"{key_path([*where, 'base'])}: family '{family}' lists a base model but "
                "comparisons.base_vs_instruct is off"
            )
        if spec.get("community") and comparisons.get("instruct_vs_community") is False:
            yield (
                f"{key_path([*where, 'community'])}: family '{family}' lists community models but "
                "comparisons.instruct_vs_community is off"
            )
        if raw_spec.get("dolly") is True and comparisons.get("instruct_vs_dolly") is False:
            yield (
                f"{key_path([*where, 'dolly'])}: family '{family}' asks for a Dolly model but "
                "comparisons.instruct_vs_dolly is off"
            )


def _slug_problems(config: dict) -> Iterator[str]:
    """Slugs, derived ones included, must be unique: they name files."""
    owners: dict[str, str] = {}

    def claim(slug: Any, where: str) -> Iterator[str]:
        if not isinstance(slug, str):
            return
        if slug in owners:
            yield f"{where}: {slug!r} is already used by {owners[slug]}"
        else:
            owners[slug] = where

    for where, family, role, entry in _model_entries(config):
        yield from claim(entry.get("slug"), key_path([*where, "slug"]))
        if role == "instruct":
            spec = config["families"][family]
            if spec.get("dolly"):
                derived = f"{entry.get('slug')}{DOLLY_SUFFIX}"
                yield from claim(derived, f"{key_path(['families', family, 'dolly'])} (derived)")
            if spec.get("quant_control"):
                derived = f"{entry.get('slug')}{QUANT_SUFFIX}"
                yield from claim(
                    derived, f"{key_path(['families', family, 'quant_control'])} (derived)"
                )
    extra = config.get("comparisons", {}).get("extra", [])
    for index, pair in enumerate(extra if isinstance(extra, list) else []):
        if not isinstance(pair, dict):
            continue
        for side in ("a", "b"):
            slug = pair.get(side)
            if isinstance(slug, str) and slug not in owners:
                hint = difflib.get_close_matches(slug, list(owners), n=1)
                tip = f"; did you mean '{hint[0]}'?" if hint else ""
                yield f"{key_path(['comparisons', 'extra', index, side])}: {slug!r} is not a model of this study{tip}"
        if pair.get("a") == pair.get("b"):
            yield f"{key_path(['comparisons', 'extra', index])}: compares {pair.get('a')!r} with itself"


def _classifier_problems(config: dict, workdir: Path, buildable: set[str]) -> Iterator[str]:
    classifiers = config.get("scoring", {}).get("classifiers", [])
    seen: set[str] = set()
    for index, entry in enumerate(classifiers if isinstance(classifiers, list) else []):
        if not isinstance(entry, dict):
            continue
        where = ["scoring", "classifiers", index]
        yield from _source_problems(where, entry, workdir, buildable)
        name = entry.get("name")
        if name in seen:
            yield f"{key_path([*where, 'name'])}: {name!r} is already used by another classifier"
        seen.add(name)


def _data_source_problems(config: dict, workdir: Path) -> Iterator[str]:
    prompts = config.get("prompts", {})
    subsets = prompts.get("subsets", {}) if isinstance(prompts.get("subsets"), dict) else {}
    if subsets and not any(isinstance(n, int) and n > 0 for n in subsets.values()):
        yield f"{key_path(['prompts', 'subsets'])}: every subset is empty; ask for at least one prompt"
    sources = [(["prompts", "rtp"], prompts.get("rtp")), (["prompts", "ceb"], prompts.get("ceb"))]
    sources.append((["lora", "data"], config.get("lora", {}).get("data")))
    for where, source in sources:
        if not isinstance(source, dict):
            continue
        for key in ("hub", "revision", "path"):
            yield from _text_problems(where, "id" if key == "hub" else key, source.get(key))
        if isinstance(source.get("path"), str):
            yield from _path_problems([*where, "path"], source["path"], workdir, set())


def validate(
    config: dict, *, schema: dict | None = None, workdir: str | Path = ".", raw: dict | None = None
) -> list[str]:
    """All problems of `config` (already filled with defaults), as 'key.path: problem' lines."""
    schema = schema or load_schema()
    workdir = Path(workdir)
    raw = raw if raw is not None else config
    problems = list(_schema_problems(config, schema))
    buildable = _demo_buildable(config)
    for where, _family, _role, entry in _model_entries(config):
        problems.extend(_source_problems(where, entry, workdir, buildable))
    problems.extend(_family_problems(config, raw))
    problems.extend(_slug_problems(config))
    problems.extend(_classifier_problems(config, workdir, buildable))
    problems.extend(_data_source_problems(config, workdir))
    return list(dict.fromkeys(problems))


# ---------------------------------------------------------------------------------------------
# The model graph


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
        "trust_remote_code": entry.get("trust_remote_code", False),
        "batch_size": entry.get("batch_size", generation["batch_size"]),
        "params_b": entry.get("params_b"),
        "mem_mb": entry.get("mem_mb"),
        "runtime": entry.get("runtime"),
    }
    values.update(overrides)
    return ModelSpec(**values)


def _family_models(family: str, spec: dict, generation: dict) -> Iterator[ModelSpec]:
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


def _derived_comparisons(models: dict[str, ModelSpec], switches: dict) -> Iterator[Comparison]:
    by_role: dict[tuple[str, str, str], list[ModelSpec]] = {}
    for spec in models.values():
        by_role.setdefault((spec.family, spec.role, spec.prompt_format), []).append(spec)
    pairs = (
        ("base_vs_instruct", "base", "instruct"),
        ("instruct_vs_dolly", "instruct", "dolly"),
        ("instruct_vs_community", "instruct", "community"),
        ("instruct_vs_4bit", "instruct", "instruct_4bit"),
    )
    families = list(dict.fromkeys(spec.family for spec in models.values()))
    formats = list(dict.fromkeys(spec.prompt_format for spec in models.values()))
    for kind, role_a, role_b in pairs:
        if switches.get(kind, True) is False:
            continue
        for family in families:
            for fmt in formats:
                for a in by_role.get((family, role_a, fmt), []):
                    for b in by_role.get((family, role_b, fmt), []):
                        yield Comparison(a.name, b.name, kind, family, fmt)


def _extra_comparisons(models: dict[str, ModelSpec], extra: list[dict]) -> Iterator[Comparison]:
    for pair in extra:
        for fmt, suffix in FORMAT_SUFFIX.items():
            a, b = pair["a"] + suffix, pair["b"] + suffix
            if a in models and b in models:
                yield Comparison(a, b, "extra", None, fmt)


def build_study(config: dict) -> Study:
    """The model graph of a validated, default-filled config."""
    generation = config["generation"]
    models: dict[str, ModelSpec] = {}
    for family, spec in config["families"].items():
        for model in _family_models(family, spec, generation):
            models[model.name] = model
    comparisons: list[Comparison] = []
    for comparison in [
        *_derived_comparisons(models, config["comparisons"]),
        *_extra_comparisons(models, config["comparisons"]["extra"]),
    ]:
        if comparison.name not in {c.name for c in comparisons}:
            comparisons.append(comparison)
    return Study(config=config, models=models, comparisons=comparisons)


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
    if problems:
        raise ConfigError(problems)
    return build_study(config)


def load_study_file(path: str | Path, **kwargs: Any) -> Study:
    return load_study(load_yaml(path), **kwargs)


# ---------------------------------------------------------------------------------------------
# Reference documentation, generated from the schema so the README cannot drift from it


def _type_name(schema: dict, root: dict) -> str:
    schema = _resolve(schema, root)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            return " or ".join(_type_name(part, root) for part in schema[key])
    if "allOf" in schema and "type" not in schema:
        return " and ".join(_type_name(part, root) for part in schema["allOf"])
    if "const" in schema:
        return repr(schema["const"]).replace("'", "")
    if "enum" in schema:
        return " \\| ".join(str(v) for v in schema["enum"])
    kind = schema.get("type", "")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"list of {_type_name(schema['items'], root)}"
    return kind


def _reference_rows(
    schema: dict, root: dict, prefix: str, seen: dict[str, str] | None = None
) -> Iterator[tuple[str, str, str, str]]:
    """(key path, type, default, description); a shared definition is expanded once."""
    seen = {} if seen is None else seen
    properties = _object_properties(schema, root)
    for key, sub in properties.items():
        path = f"{prefix}.{key}" if prefix else key
        resolved = _resolve(sub, root)
        ref = sub.get("$ref")
        if ref and ref in seen and _object_properties(resolved, root):
            yield path, "object", "", f"same keys as `{seen[ref]}`"
            continue
        if ref:
            seen[ref] = path
        inherited = [_resolve(part, root).get("description") for part in sub.get("allOf", [])]
        description = " ".join(
            str(
                sub.get("description")
                or resolved.get("description")
                or next((text for text in inherited if text), "")
            ).split()
        )
        default = sub.get("default", resolved.get("default", ""))
        nested = _object_properties(resolved, root)
        shown_default = "" if nested and default == {} else json_default(default)
        yield path, _type_name(sub, root), shown_default, description
        if nested:
            yield from _reference_rows(resolved, root, path, seen)
        extra = resolved.get("additionalProperties")
        if isinstance(extra, dict) and _object_properties(extra, root):
            yield from _reference_rows(extra, root, f"{path}.NAME", seen)
        items = resolved.get("items")
        if isinstance(items, dict) and _object_properties(items, root):
            ref = items.get("$ref")
            if ref and ref in seen:
                yield f"{path}[]", "object", "", f"same keys as `{seen[ref]}`"
                continue
            if ref:
                seen[ref] = f"{path}[]"
            yield from _reference_rows(items, root, f"{path}[]", seen)


def json_default(value: Any) -> str:
    if value == "":
        return ""
    import json

    return f"`{json.dumps(value)}`"


def config_reference(schema: dict | None = None) -> str:
    """A Markdown table of every config key: type, default, description."""
    schema = schema or load_schema()
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    for path, kind, default, description in _reference_rows(schema, schema, ""):
        lines.append(f"| `{path}` | {kind} | {default} | {description} |")
    return "\n".join(lines) + "\n"


REFERENCE_START = "<!-- config-reference:start -->"
REFERENCE_END = "<!-- config-reference:end -->"


def update_reference(path: str | Path) -> None:
    """Replace the text between the reference markers of `path` with the current reference."""
    path = Path(path)
    text = path.read_text()
    if REFERENCE_START not in text or REFERENCE_END not in text:
        raise UserError(f"{path}: no {REFERENCE_START} ... {REFERENCE_END} markers")
    head, rest = text.split(REFERENCE_START, 1)
    tail = rest.split(REFERENCE_END, 1)[1]
    path.write_text(f"{head}{REFERENCE_START}\n{config_reference()}{REFERENCE_END}{tail}")
