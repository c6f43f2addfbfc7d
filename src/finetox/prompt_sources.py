"""Prompt sources beyond RealToxicityPrompts and CEB: `prompts.sources` (docs/prompts.md).

Each source is a data set on the hub (read through `datasets`, its revision resolved to a commit
and the token honoured, as RTP's) or a local JSON lines / JSON array file, whose records give:
- the prompt text at a dotted path (`prompt.text`); a list there (BOLD's `prompts`) is
  exploded into one prompt per item;
- the subset: a fixed `subset_name`, or a field (`subset`) whose value `subset_map` names
  (values the map lacks are dropped and counted: the subsets are known before any download);
- `filters` on record fields (equals, in, numeric min/max) and `text_chars` bounds on each
  prompt's length, both counted in the manifest.
Prompts are deduplicated by text within the source (first kept) and identified by the source's
name and a hash of the text.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finetox.io import InputError, file_sha256
from finetox.prompt_records import (
    SourceTable,
    clean,
    hub_dataset,
    hub_errors,
    read_jsonl,
    short_hash,
)

log = logging.getLogger("finetox.prompts")

_MISSING = object()


def field_value(record: Any, dotted: str) -> Any:
    """The value at a dotted path of a record (`prompt.text`), or _MISSING."""
    value = record
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return _MISSING
        value = value[key]
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def passes(record: Any, rule: dict[str, Any]) -> bool:
    """Whether a record meets one filter: its field equals a value, is in a list, or is a
    number within [min, max]. A missing field meets no filter."""
    value = field_value(record, rule["field"])
    if value is _MISSING:
        return False
    if "equals" in rule and value != rule["equals"]:
        return False
    if "in" in rule and value not in rule["in"]:
        return False
    if "min" in rule or "max" in rule:
        number = _number(value)
        if number is None:
            return False
        if "min" in rule and number < rule["min"]:
            return False
        if "max" in rule and number > rule["max"]:
            return False
    return True


def _texts(value: Any, where: str, origin: str, number: int) -> Iterator[str]:
    """The prompt texts of one record's text field: a string, or each string of a list."""
    items = value if isinstance(value, list) else [value]
    for item in items:
        if item is None:
            yield ""
        elif isinstance(item, str):
            yield item
        else:
            raise InputError(
                f"{origin}: record {number}: {where} is {type(item).__name__}, not text "
                "(a string, or a list of strings to explode)"
            )


def source_frame(
    records: list[Any], source: dict[str, Any], where: str, origin: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    """A source's records -> subset, text, one row per prompt (lists exploded); with the
    counts of records filtered out, without a mapped subset, and of texts out of bounds."""
    counts = {"filtered_out": 0, "unmapped": 0, "outside_text_chars": 0}
    bounds = source.get("text_chars") or {}
    rows = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise InputError(f"{origin}: record {number} is not a JSON object ({where})")
        if not all(passes(record, rule) for rule in source.get("filters") or []):
            counts["filtered_out"] += 1
            continue
        subset = _subset(record, source, where, origin, number)
        if subset is None:
            counts["unmapped"] += 1
            continue
        value = field_value(record, source["text"])
        if value is _MISSING:
            raise InputError(f"{origin}: record {number} has no {source['text']!r} ({where}.text)")
        for text in _texts(value, f"{where}.text {source['text']!r}", origin, number):
            if not bounds.get("min", 0) <= len(text.strip()) <= bounds.get("max", math.inf):
                counts["outside_text_chars"] += 1
                continue
            rows.append({"subset": subset, "text": text})
    return pd.DataFrame(rows, columns=["subset", "text"]), counts


def _subset(
    record: dict, source: dict[str, Any], where: str, origin: str, number: int
) -> str | None:
    if source.get("subset_name"):
        return source["subset_name"]
    value = field_value(record, source["subset"])
    if value is _MISSING:
        raise InputError(f"{origin}: record {number} has no {source['subset']!r} ({where}.subset)")
    return source["subset_map"].get(str(value))


def _read_records(path: Path, where: str) -> list[Any]:
    if not path.is_file():
        raise InputError(f"{where}.path: {path} does not exist")
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not JSON: {error.msg} ({where}.path)") from error
    if not isinstance(records, list):
        raise InputError(f"{path}: expected a JSON array of records or JSON lines ({where}.path)")
    return records


def _hub_records(source: dict[str, Any], where: str) -> tuple[list[Any], dict[str, Any]]:
    import datasets

    commit, kwargs = hub_dataset(source, where)
    log.info("downloading %s (config %s, split %s, revision %s, commit %s)", source["hub"],
             source.get("config"), source["split"], source.get("revision"), commit)  # fmt: skip
    try:
        dataset = datasets.load_dataset(
            source["hub"], source.get("config"), split=source["split"], **kwargs
        )
    except Exception as error:  # noqa: BLE001  (datasets raises its own and the hub's)
        problem = hub_errors(source, where, error)
        if problem is error:  # not the hub's: a config or split the data set lacks, say
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            problem = InputError(
                f"{where}: {source['hub']} (config {source.get('config')!r}, split "
                f"{source['split']!r}, commit {commit}) could not be read: "
                f"{type(error).__name__}: {first}"
                + (
                    "; set HF_TOKEN to a token of an account granted access"
                    if "gated" in first
                    else ""
                )
            )
        raise problem from error
    info = {
        "kind": "hub", "id": source["hub"], "config": source.get("config"),
        "split": source["split"], "revision": source.get("revision"), "commit": commit,
        "fingerprint": getattr(dataset, "_fingerprint", None),
    }  # fmt: skip
    return dataset.to_list(), info


def load_source(source: dict[str, Any], index: int) -> SourceTable:
    """One entry of prompts.sources, read, mapped, filtered, exploded and cleaned; its frame has
    the prompt set's columns and its info what the manifest records (commit or file hash)."""
    where = f"prompts.sources[{index}] ({source['name']})"
    if source.get("path"):
        path = Path(source["path"])
        records = _read_records(path, where)
        info = {"kind": "local", "path": str(path), "sha256": file_sha256(path)}
        origin = str(path)
    else:
        records, info = _hub_records(source, where)
        origin = source["hub"]
    frame, counts = source_frame(records, source, where, origin)
    info.update(name=source["name"], text=source["text"], records_read=len(records), **counts)
    frame = clean(frame, info)
    info["usable_by_subset"] = {k: int(v) for k, v in frame["subset"].value_counts().items()}
    frame["prompt_id"] = [f"{source['name']}-{short_hash(t)}" for t in frame["text"]]
    frame["toxicity"] = np.nan
    frame["severe_toxicity"] = np.nan
    frame["source"] = source["name"]
    log.info("%s: %d usable prompts of %d records", where, info["usable"], len(records))
    return SourceTable(frame, info)
