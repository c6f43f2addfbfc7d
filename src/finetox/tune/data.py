"""The Dolly records to tune on: databricks-dolly-15k from a local file or the hub, checked."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import InputError, file_sha256, frame_sha256, read_table
from finetox.loading import describe_source

log = logging.getLogger("finetox.tune")

DOLLY_COLUMNS = ("instruction", "context", "response")


@dataclass
class DollyData:
    records: pd.DataFrame  # the records used, in order
    source: dict[str, Any]  # where they came from and their hash
    available: int  # records in the source before max_records


def load_dolly(data: dict[str, Any], max_records: int | None = None) -> DollyData:
    """databricks-dolly-15k from a local JSONL (`data.path`) or the hub (`data.hub`)."""
    if data.get("path"):
        path = Path(data["path"])
        frame = _check_dolly_frame(_read_file(path), str(path))
        source = {"path": str(path), "file_sha256": file_sha256(path)}
    else:
        loaded, commit = _load_hub_dataset(
            data["hub"], data.get("revision"), data.get("split", "train")
        )
        frame = _check_dolly_frame(loaded, data["hub"])
        source = {"hub": data["hub"], "revision": data.get("revision"), "commit": commit,
                  "split": data["split"]}  # fmt: skip
    available = len(frame)
    if max_records is not None:
        frame = frame.iloc[:max_records].reset_index(drop=True)
    source["sha256"] = frame_sha256(frame[list(DOLLY_COLUMNS)])  # of the records used
    return DollyData(records=frame, source=source, available=available)


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix.lower() not in (".jsonl", ".json", ".parquet", ".csv"):
        raise InputError(f"{path}: Dolly data must be JSONL (or JSON, Parquet, CSV)")
    return read_table(path)


def _load_hub_dataset(hub: str, revision: str | None, split: str) -> tuple[pd.DataFrame, str]:
    """The split at the commit `revision` resolves to (offline: the cached one); (frame, commit)."""
    import datasets

    from finetox.hub.resolve import hub_problem, hub_token, resolve

    commit = resolve(hub, revision, kind="dataset", context="tune.data").commit
    log.info(
        "loading Dolly data %s, commit %s, split %s", describe_source(hub, revision), commit, split
    )
    try:
        dataset = datasets.load_dataset(hub, split=split, revision=commit, token=hub_token())
    except Exception as error:  # network, missing split, gated repository: name the source
        problem = hub_problem(error, hub, revision, "dataset", "tune.data")
        raise InputError(problem or f"{hub} (split {split}): cannot be loaded: {error}") from error
    return dataset.to_pandas(), commit


def _check_dolly_frame(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    missing = [c for c in DOLLY_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{where}: missing Dolly column(s) {missing}; found {list(frame.columns)} "
            "(expected instruction, context, response, category)"
        )
    frame = frame.copy()
    frame["context"] = frame["context"].fillna("").astype(str)
    for column in ("instruction", "response"):
        empty = frame[column].isna() | (frame[column].astype(str).str.strip() == "")
        if empty.any():
            rows = ", ".join(str(i) for i in frame.index[empty][:5])
            raise InputError(f"{where}: empty {column} in record(s) {rows}")
        frame[column] = frame[column].astype(str)
    if frame.empty:
        raise InputError(f"{where}: no records")
    return frame
