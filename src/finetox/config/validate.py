"""Every problem of a config at once, one line each, key path first:

    config error: families.gemma2.community[1].id: 'IlyaGusev/gemma-2-2b-it-abliterated ' has trailing whitespace

The schema catches types, ranges and unknown keys; the checks here are those of meaning (sources
that exist, unique slugs, families whose models can be compared).
"""

from __future__ import annotations

import difflib
import math
import posixpath
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from finetox.config.models import (
    DOLLY_SUFFIX,
    FORMAT_SUFFIX,
    PUBLISHED_SUFFIX,
    QUANT_SUFFIX,
    model_entries,
    published_entry,
)
from finetox.config.prompt_sources import prompt_source_problems
from finetox.config.schema import key_path, load_schema, schema_problems
from finetox.config.sources import (
    classifier_problems,
    data_source_problems,
    demo_buildable,
    source_problems,
    text_value_problems,
)
from finetox.pairs import PAIR_SEPARATOR


def validate(
    config: dict, *, schema: dict | None = None, workdir: str | Path = ".", raw: dict | None = None
) -> list[str]:
    """All problems of `config` (already filled with defaults), as 'key.path: problem' lines."""
    schema = schema or load_schema()
    workdir = Path(workdir)
    raw = raw if raw is not None else config
    # checks that say more than the schema's message about the same key replace it
    clearer = [
        *_number_problems(raw),
        *_slug_name_problems(config),
        *_published_slug_problems(config),
    ]
    problems = [*clearer, *_superseded(schema_problems(config, schema), clearer)]
    problems.extend(_results_dir_problems(config))
    buildable = demo_buildable(config)
    for where, _family, _role, entry in model_entries(config):
        problems.extend(source_problems(where, entry, workdir, buildable))
    problems.extend(_published_problems(config, workdir, buildable))
    problems.extend(_family_problems(config, raw))
    problems.extend(_slug_problems(config))
    problems.extend(classifier_problems(config, workdir, buildable))
    problems.extend(data_source_problems(config, workdir))
    problems.extend(prompt_source_problems(config, workdir))
    problems.extend(_trajectory_problems(config))
    return list(dict.fromkeys(problems))


def _trajectory_problems(config: dict) -> Iterator[str]:
    """A trajectory needs a tuning run to follow."""
    tune = config.get("tune")
    families = config.get("families")
    if not isinstance(tune, dict) or not tune.get("trajectory") or not isinstance(families, dict):
        return
    if not any(isinstance(spec, dict) and spec.get("dolly") for spec in families.values()):
        yield "tune.trajectory: no family has a Dolly model, so there is no tuning run to follow"


def _superseded(problems: Iterable[str], clearer: list[str]) -> Iterator[str]:
    """`problems` but those about a key that a clearer problem names already."""
    keys = {problem.split(": ", 1)[0] for problem in clearer}
    return (problem for problem in problems if problem.split(": ", 1)[0] not in keys)


def _number_problems(value: Any, where: list[Any] | None = None) -> Iterator[str]:
    """Every number must be finite: the schema's minimum and maximum let NaN through (every
    comparison with NaN is false), and a NaN threshold would call every generation non-toxic."""
    where = [] if where is None else where
    if isinstance(value, float) and not math.isfinite(value):
        yield f"{key_path(where)}: {value!r} is not a finite number"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _number_problems(item, [*where, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _number_problems(item, [*where, index])


# Model names are slugs plus a prompt-format suffix, pair names two model names joined by the
# pair separator: a slug holding either could make two names one.
SLUG_SEPARATORS = {
    PAIR_SEPARATOR: "the separator of a pair's two model names",
    "--": f"the start of a prompt-format suffix ({FORMAT_SUFFIX['chat_template']})",
}


def _slug_name_problems(config: dict) -> Iterator[str]:
    named: list[tuple[list[Any], Any]] = [
        ([*where, "slug"], entry.get("slug")) for where, _f, _r, entry in model_entries(config)
    ]
    extra = config.get("comparisons", {}).get("extra") if isinstance(config, dict) else None
    for index, pair in enumerate(extra if isinstance(extra, list) else []):
        if isinstance(pair, dict):
            named += [(["comparisons", "extra", index, side], pair.get(side)) for side in "ab"]
    for where, slug in named:
        if not isinstance(slug, str):
            continue
        for separator, meaning in SLUG_SEPARATORS.items():
            if separator in slug:
                yield (
                    f"{key_path(where)}: {slug!r} contains {separator!r}, {meaning}; "
                    "two models' file names could collide"
                )
                break


def _results_dir_problems(config: dict) -> Iterator[str]:
    value = config.get("results_dir")
    if not isinstance(value, str):
        return
    if value != value.strip():
        yield f"results_dir: {value!r} has leading or trailing whitespace"
    elif "{" in value or "}" in value:
        yield f"results_dir: {value!r} holds '{{' or '}}', which Snakemake reads as a wildcard"
    elif posixpath.normpath(value) == ".":
        yield f"results_dir: {value!r} is the working directory; give a folder for the outputs"


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
    if "dolly_published" in spec:
        yield (
            f"{key_path([*where, 'dolly_published'])}: the published Dolly model is compared "
            f"with the instruct model, but family '{family}' has none"
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
        if _publishes(config, spec):
            derived = f"{entry.get('slug')}{PUBLISHED_SUFFIX}"
            where = key_path(["families", family, "dolly_published"])
            yield from claim(derived, f"{where} (derived)")
    yield from _extra_pair_problems(config, list(owners))


def _publishes(config: dict, spec: dict) -> bool:
    """Whether a family's published Dolly model is evaluated: listed, and the switch on."""
    comparisons = config.get("comparisons")
    switched_on = isinstance(comparisons, dict) and comparisons.get("instruct_vs_dolly_published")
    return bool(switched_on) and published_entry(spec.get("dolly_published")) is not None


def _published_problems(config: dict, workdir: Path, buildable: dict[str, str]) -> Iterator[str]:
    """Each family's dolly_published, checked whether the switch is on or off (config.yaml lists
    them all with it off), and a switch on with nothing to switch on."""
    families = config.get("families")
    listed = False
    for family, spec in families.items() if isinstance(families, dict) else ():
        value = spec.get("dolly_published") if isinstance(spec, dict) else None
        where = ["families", family, "dolly_published"]
        listed = listed or isinstance(value, (str, dict))
        if isinstance(value, str):
            yield from text_value_problems(key_path(where), value, hub_id=True)
        elif isinstance(value, dict):
            yield from source_problems(where, value, workdir, buildable)
    comparisons = config.get("comparisons")
    switched_on = isinstance(comparisons, dict) and comparisons.get("instruct_vs_dolly_published")
    if switched_on and not listed:
        yield (
            "comparisons.instruct_vs_dolly_published: on, but no family lists "
            "dolly_published (a hub id or a local folder of the authors' published model)"
        )


def _published_slug_problems(config: dict) -> Iterator[str]:
    families = config.get("families")
    for family, spec in families.items() if isinstance(families, dict) else ():
        value = spec.get("dolly_published") if isinstance(spec, dict) else None
        if isinstance(value, dict) and "slug" in value:
            yield (
                f"{key_path(['families', family, 'dolly_published', 'slug'])}: the published "
                f"model's slug is derived ({{instruct slug}}{PUBLISHED_SUFFIX}); leave it out"
            )


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
