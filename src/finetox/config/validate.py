"""Every problem of a config at once, one line each, key path first:

    config error: families.gemma2.community[1].id: 'IlyaGusev/gemma-2-2b-it-abliterated ' has trailing whitespace

The schema catches types, ranges and unknown keys; the checks here are those of meaning (sources
that exist, unique slugs, families whose models can be compared).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from finetox import paths
from finetox.config.models import DOLLY_SUFFIX, QUANT_SUFFIX, model_entries
from finetox.config.schema import key_path, load_schema, schema_problems
from finetox.io import UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class ConfigError(UserError):
    """All problems of a config, one line each."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(f"config error: {p}" for p in self.problems))


def validate(
    config: dict, *, schema: dict | None = None, workdir: str | Path = ".", raw: dict | None = None
) -> list[str]:
    """All problems of `config` (already filled with defaults), as 'key.path: problem' lines."""
    schema = schema or load_schema()
    workdir = Path(workdir)
    raw = raw if raw is not None else config
    problems = list(schema_problems(config, schema))
    buildable = _demo_buildable(config)
    for where, _family, _role, entry in model_entries(config):
        problems.extend(_source_problems(where, entry, workdir, buildable))
    problems.extend(_family_problems(config, raw))
    problems.extend(_slug_problems(config))
    problems.extend(_classifier_problems(config, workdir, buildable))
    problems.extend(_data_source_problems(config, workdir))
    return list(dict.fromkeys(problems))


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
        names = (*paths.DEMO_LMS, paths.DEMO_CLASSIFIER)
        return {str(Path(paths.demo_model(name))) for name in names}
    return set()


def _family_problems(config: dict, raw: dict) -> Iterator[str]:
    comparisons = config.get("comparisons", {})
    raw_families = raw.get("families", {}) if isinstance(raw.get("families"), dict) else {}
    for family, spec in config.get("families", {}).items():
        if not isinstance(spec, dict):
            continue
        raw_spec = raw_families.get(family)
        asks_dolly = isinstance(raw_spec, dict) and raw_spec.get("dolly") is True
        if not isinstance(spec.get("instruct"), dict):
            yield from _no_instruct_problems(family, spec)
        yield from _switched_off_problems(family, spec, asks_dolly, comparisons)


def _no_instruct_problems(family: str, spec: dict) -> Iterator[str]:
    where = ["families", family]
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


def _switched_off_problems(
    family: str, spec: dict, asks_dolly: bool, comparisons: dict
) -> Iterator[str]:
    where = ["families", family]
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
    if asks_dolly and comparisons.get("instruct_vs_dolly") is False:
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

    for where, family, role, entry in model_entries(config):
        yield from claim(entry.get("slug"), key_path([*where, "slug"]))
        if role != "instruct":
            continue
        spec = config["families"][family]
        for switch, suffix in (("dolly", DOLLY_SUFFIX), ("quant_control", QUANT_SUFFIX)):
            if spec.get(switch):
                derived = f"{entry.get('slug')}{suffix}"
                yield from claim(derived, f"{key_path(['families', family, switch])} (derived)")
    yield from _extra_pair_problems(config, list(owners))


def _extra_pair_problems(config: dict, slugs: list[str]) -> Iterator[str]:
    extra = config.get("comparisons", {}).get("extra", [])
    for index, pair in enumerate(extra if isinstance(extra, list) else []):
        if not isinstance(pair, dict):
            continue
        for side in ("a", "b"):
            slug = pair.get(side)
            if isinstance(slug, str) and slug not in slugs:
                hint = difflib.get_close_matches(slug, slugs, n=1)
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
    tune = config.get("tune")
    sources.append((["tune", "data"], tune.get("data") if isinstance(tune, dict) else None))
    for where, source in sources:
        if not isinstance(source, dict):
            continue
        for key in ("hub", "revision", "path"):
            yield from _text_problems(where, "id" if key == "hub" else key, source.get(key))
        if isinstance(source.get("path"), str):
            yield from _path_problems([*where, "path"], source["path"], workdir, set())
