"""What every prompt source shares: the usable table of one source with its provenance, the
cleaning every source gets (empty texts and duplicates dropped, both counted), JSON lines, and
the hub's data set revision resolved to the commit that loads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import InputError


@dataclass
class SourceTable:
    """Usable prompts of one source, with what was dropped and where they came from."""

    frame: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def clean(frame: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
    """Drop empty texts and duplicates by stripped text (first kept); count both."""
    stripped = frame["text"].fillna("").str.strip()
    empty = stripped == ""
    duplicate = stripped.duplicated() & ~empty
    info["records"] = int(len(frame))
    info["empty_removed"] = int(empty.sum())
    info["duplicates_removed"] = int(duplicate.sum())
    kept = frame[~empty & ~duplicate].reset_index(drop=True)
    info["usable"] = int(len(kept))
    return kept


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputError(f"{path}: line {number} is not JSON: {error.msg}") from error
    return records


def hub_dataset(source: dict[str, Any], what: str) -> tuple[str, dict[str, Any]]:
    """(commit, loader kwargs) for a data set on the hub: its revision resolved to the commit
    that loads (offline: the cached one), so what is recorded is what was read."""
    from finetox.hub.resolve import hub_token, resolve

    commit = resolve(source["hub"], source.get("revision"), kind="dataset", context=what).commit
    return commit, {"revision": commit, "token": hub_token()}


def hub_errors(source: dict[str, Any], what: str, error: Exception) -> Exception:
    """A loader's hub or network error as one InputError line; others unchanged."""
    from finetox.hub.resolve import hub_problem

    problem = hub_problem(error, source["hub"], source.get("revision"), "dataset", what)
    return InputError(problem) if problem else error
