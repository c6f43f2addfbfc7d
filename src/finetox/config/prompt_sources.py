"""Checks of prompts.sources beyond the schema's, made before any download: each source reads
from exactly one place (a hub id or an existing file), names its subsets one way, and no subset
name is the paper's or another source's (docs/prompts.md). Part of finetox.config.validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from finetox.config.schema import key_path
from finetox.subsets import SUBSETS, TOTAL, source_subsets


def prompt_source_problems(config: dict, workdir: Path) -> Iterator[str]:
    prompts = config.get("prompts")
    sources = prompts.get("sources") if isinstance(prompts, dict) else None
    if not isinstance(sources, list):
        return
    names: dict[str, str] = {}  # source name -> its key
    owners: dict[str, str] = {f"prompts.subsets.{s}": s for s in SUBSETS}  # key -> subset name
    owners["total"] = TOTAL
    claimed = {subset: key for key, subset in owners.items()}  # subset name -> who has it
    for index, source in enumerate(sources):
        if not isinstance(source, dict):
            continue
        where = ["prompts", "sources", index]
        name = source.get("name")
        if isinstance(name, str) and name in names:
            yield f"{key_path([*where, 'name'])}: {name!r} is already the name of {names[name]}"
        elif isinstance(name, str):
            names[name] = key_path(where)
        yield from _place_problems(where, source, workdir)
        yield from _subset_way_problems(where, source)
        for subset, key in _named_subsets(where, source):
            other = claimed.get(subset)
            if other is None:
                claimed[subset] = key
            elif subset == TOTAL:
                yield f"{key}: {subset!r} is the name of every subset together; choose another"
            elif not other.startswith(key_path(where)):
                yield f"{key}: subset {subset!r} is also {other}; give each subset its own name"


def _place_problems(where: list[Any], source: dict, workdir: Path) -> Iterator[str]:
    has_hub, has_path = "hub" in source, "path" in source
    if has_hub == has_path:
        yield f"{key_path(where)}: give exactly one of 'hub' (a data set id) or 'path' (a file)"
    for key in ("hub", "path", "revision", "config", "text", "subset"):
        value = source.get(key)
        if isinstance(value, str) and value != value.strip():
            yield f"{key_path([*where, key])}: {value!r} has leading or trailing whitespace"
    path = source.get("path")
    if has_path and isinstance(path, str) and path == path.strip():
        full = workdir / path
        if not full.exists():
            yield f"{key_path([*where, 'path'])}: {path!r} does not exist (relative to {workdir})"
        elif full.is_dir():
            yield f"{key_path([*where, 'path'])}: {path!r} is a folder; give a JSON lines or JSON file"
    if has_path and not has_hub and (source.get("revision") or source.get("config")):
        yield f"{key_path(where)}: 'revision' and 'config' are for a hub data set, not a file"


def _subset_way_problems(where: list[Any], source: dict) -> Iterator[str]:
    has_field, has_name = "subset" in source, "subset_name" in source
    if has_field == has_name:
        yield (
            f"{key_path(where)}: give exactly one of 'subset' (a field, with subset_map) or "
            "'subset_name' (one subset for every prompt)"
        )
    elif has_field and "subset_map" not in source:
        yield (
            f"{key_path([*where, 'subset'])}: needs subset_map (the field's values -> subset "
            "names), so the subsets are known before anything is downloaded"
        )
    elif has_name and "subset_map" in source:
        yield f"{key_path([*where, 'subset_map'])}: maps a field's values; with subset_name give none"
    if _inverted(source.get("text_chars")):
        yield f"{key_path([*where, 'text_chars'])}: min is above max"
    for number, rule in enumerate(source.get("filters") or []):
        if _inverted(rule):
            yield f"{key_path([*where, 'filters', number])}: min is above max"


def _inverted(bounds: Any) -> bool:
    """Whether a mapping's min and max are both numbers and min is the larger."""
    if not isinstance(bounds, dict):
        return False
    low, high = bounds.get("min"), bounds.get("max")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    return numbers and low > high


def _named_subsets(where: list[Any], source: dict) -> Iterator[tuple[str, str]]:
    """(subset, the key that names it) for each subset the source fills."""
    if isinstance(source.get("subset_name"), str):
        yield source["subset_name"], key_path([*where, "subset_name"])
        return
    mapping = source.get("subset_map")
    if not isinstance(mapping, dict):
        return
    for subset in source_subsets(source):
        value = next(v for v, s in mapping.items() if s == subset)
        yield subset, key_path([*where, "subset_map", value])
