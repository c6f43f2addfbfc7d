"""The prompt table a generate run reads: prompt_id, subset, text, checked."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from finetox.io import InputError, check_filled, read_table

PROMPT_COLUMNS = ["prompt_id", "subset", "text"]


def read_prompts(path: str | os.PathLike) -> pd.DataFrame:
    """The prompt table (Parquet, JSONL or CSV) with prompt_id, subset, text; checked."""
    frame = read_table(path, columns=PROMPT_COLUMNS)[PROMPT_COLUMNS].copy()
    if frame.empty:
        raise InputError(f"{path}: no prompts")
    check_filled(frame, ["prompt_id", "subset"], path)
    frame["prompt_id"] = frame["prompt_id"].astype(str)
    duplicated = frame.loc[frame["prompt_id"].duplicated(), "prompt_id"].unique()
    if len(duplicated):
        raise InputError(f"{path}: prompt_id not unique: {some(duplicated)}")
    empty = frame.loc[
        ~frame["text"].map(lambda text: isinstance(text, str) and bool(text.strip())), "prompt_id"
    ]
    if len(empty):
        raise InputError(f"{path}: prompts without text: {some(empty)}")
    frame["subset"] = frame["subset"].astype(str)
    return frame.reset_index(drop=True)


def some(values: Sequence[Any], n: int = 5) -> str:
    """The first `n` values, and how many more."""
    values = list(values)
    more = f" and {len(values) - n} more" if len(values) > n else ""
    return ", ".join(map(repr, values[:n])) + more
