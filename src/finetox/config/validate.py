"""Every problem of a config at once, one line each, key path first:

    config error: families.gemma2.community[1].id: 'IlyaGusev/gemma-2-2b-it-abliterated ' has trailing whitespace

The schema catches types, ranges and unknown keys; the checks here are those of meaning (sources
that exist, unique slugs, families whose models can be compared).
"""

from __future__ import annotations

import difflib
import math
import posixpath
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from finetox import paths
from finetox.classifier_kinds import DEFAULT_KIND, KIND_KEYS
from finetox.config.models import (
    DOLLY_SUFFIX,
    FORMAT_SUFFIX,
    PUBLISHED_SUFFIX,
    QUANT_SUFFIX,
    model_entries,
    published_entry,
)
from finetox.config.schema import key_path, load_schema, schema_problems
from finetox.pairs import PAIR_SEPARATOR
from finetox.subsets import CEB_SUBSETS

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


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
    buildable = _demo_buildable(config)
    for where, _family, _role, entry in model_entries(config):
        problems.extend(_source_problems(where, entry, workdir, buildable))
    problems.extend(_published_problems(config, workdir, buildable))
    problems.extend(_family_problems(config, raw))
    problems.extend(_slug_problems(config))
    problems.extend(_classifier_problems(config, workdir, buildable))
    problems.extend(_data_source_problems(config, workdir))
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


def _text_problems(where: list[Any], key: str, value: Any) -> Iterator[str]:
    yield from _text_value_problems(key_path([*where, key]), value, hub_id=key == "id")


def _text_value_problems(path: str, value: Any, hub_id: bool) -> Iterator[str]:
    if not isinstance(value, str):
        return
    if value != value.strip():
        yield f"{path}: {value!r} has leading or trailing whitespace"
    elif hub_id and not HUB_ID.match(value):
        yield f"{path}: {value!r} is not a hub id of the form owner/name (letters, digits, '.', '_', '-')"


def _source_problems(
    where: list[Any], entry: dict, workdir: Path, buildable: dict[str, str]
) -> Iterator[str]:
    for key in ("id", "path", "revision"):
        yield from _text_problems(where, key, entry.get(key))
    has_id, has_path = "id" in entry, "path" in entry
    if has_id == has_path:
        yield f"{key_path(where)}: give exactly one of 'id' (hub) or 'path' (local folder)"
    if has_path and isinstance(entry["path"], str):
        yield from _path_problems([*where, "path"], entry["path"], workdir, buildable, "folder")


def _path_problems(
    where: list[Any], value: str, workdir: Path, buildable: dict[str, str], kind: str
) -> Iterator[str]:
    """A local path must exist and be a `kind` ("file" or "folder"), unless the demo builds it."""
    if value.strip() != value:
        return
    normalized = str(Path(value))
    if normalized in buildable.values():
        return
    path = workdir / value
    if not path.exists():
        hint = _demo_hint(value, buildable)
        yield f"{key_path(where)}: {value!r} does not exist (relative to {workdir}){hint}"
    elif kind == "file" and path.is_dir():
        yield f"{key_path(where)}: {value!r} is a folder; give a file"
    elif kind == "folder" and not path.is_dir():
        yield f"{key_path(where)}: {value!r} is a file; give a folder"


def _demo_hint(value: str, buildable: dict[str, str]) -> str:
    """Where the demo builds a model of this name, when the path looks like one of them."""
    built = buildable.get(Path(value).name)
    return f"; the demo builds its {Path(value).name!r} model at {built!r}" if built else ""


def _demo_buildable(config: dict) -> dict[str, str]:
    """Demo model name -> the folder the demo builds it in (under results_dir)."""
    demo = config.get("demo")
    root = config.get("results_dir", paths.RESULTS)
    if isinstance(demo, dict) and demo.get("build_models") and isinstance(root, str):
        names = (*paths.DEMO_LMS, paths.DEMO_CLASSIFIER)
        root = posixpath.normpath(root)
        return {name: str(Path(paths.demo_model(name, root))) for name in names}
    return {}


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
            yield from _text_value_problems(key_path(where), value, hub_id=True)
        elif isinstance(value, dict):
            yield from _source_problems(where, value, workdir, buildable)
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


def _classifier_problems(config: dict, workdir: Path, buildable: dict[str, str]) -> Iterator[str]:
    classifiers = config.get("scoring", {}).get("classifiers", [])
    seen: dict[str, str] = {}  # name -> kind
    for index, entry in enumerate(classifiers if isinstance(classifiers, list) else []):
        if not isinstance(entry, dict):
            continue
        where = ["scoring", "classifiers", index]
        yield from _source_problems(where, entry, workdir, buildable)
        kind = entry.get("kind", DEFAULT_KIND)
        yield from _kind_problems(where, entry, kind)
        name = entry.get("name")
        if name in seen and seen[name] != kind:
            yield (
                f"{key_path([*where, 'name'])}: {name!r} names two classifiers of kinds "
                f"{seen[name]} and {kind}; give each its own name"
            )
        elif name in seen:
            yield f"{key_path([*where, 'name'])}: {name!r} is already used by another classifier"
        seen.setdefault(name, kind)


def _kind_problems(where: list[Any], entry: dict, kind: Any) -> Iterator[str]:
    """Each kind's keys: softmax needs label, sigmoid label or labels, guard neither."""
    for key, owner in KIND_KEYS.items():
        if key in entry and owner != kind:
            yield f"{key_path([*where, key])}: is for kind {owner}, not {kind}"
    has_label, has_labels = "label" in entry, "labels" in entry
    if kind == "guard" and (has_label or has_labels):
        key = "label" if has_label else "labels"
        yield f"{key_path([*where, key])}: a guard judge has no labels (its score is P(unsafe))"
    elif kind == "softmax" and not has_label:
        yield f"{key_path(where)}: kind softmax needs 'label' (the toxic label's name in id2label)"
    elif kind == "sigmoid" and has_label == has_labels:
        yield f"{key_path(where)}: kind sigmoid needs one of 'label' or 'labels' (several)"
    if "aggregate" in entry and not has_labels and kind == "sigmoid":
        yield f"{key_path([*where, 'aggregate'])}: combines 'labels'; with one 'label' give none"


def _data_source_problems(config: dict, workdir: Path) -> Iterator[str]:
    prompts = config.get("prompts", {})
    subsets = prompts.get("subsets", {}) if isinstance(prompts.get("subsets"), dict) else {}
    if subsets and not any(isinstance(n, int) and n > 0 for n in subsets.values()):
        yield f"{key_path(['prompts', 'subsets'])}: every subset is empty; ask for at least one prompt"
    tune = config.get("tune")
    sources = [
        (["prompts", "rtp"], prompts.get("rtp"), "file"),  # a JSONL file
        (["prompts", "ceb"], prompts.get("ceb"), "folder"),  # one JSON file per axis
        (["tune", "data"], tune.get("data") if isinstance(tune, dict) else None, "file"),
    ]
    for where, source, kind in sources:
        if not isinstance(source, dict):
            continue
        for key in ("hub", "revision", "path"):
            yield from _text_problems(where, "id" if key == "hub" else key, source.get(key))
        if isinstance(source.get("path"), str):
            found = list(_path_problems([*where, "path"], source["path"], workdir, {}, kind))
            yield from found
            if not found and where == ["prompts", "ceb"]:
                yield from _ceb_file_problems(source["path"], subsets, workdir)


def _ceb_file_problems(folder: str, subsets: dict, workdir: Path) -> Iterator[str]:
    """A local CEB folder holds {subset}.json for every CEB subset the prompt set asks for."""
    missing = [
        f"{subset}.json"
        for subset in CEB_SUBSETS
        if isinstance(subsets.get(subset), int) and subsets[subset] > 0
        and not (workdir / folder / f"{subset}.json").is_file()
    ]  # fmt: skip
    if missing:
        yield (
            f"{key_path(['prompts', 'ceb', 'path'])}: {folder!r} lacks {', '.join(missing)} "
            "(one JSON file per CEB subset the prompt set asks for)"
        )
