"""The paper's published numbers (resources/paper/): its % toxic per model (Tables 1-3) and the
verdicts it states (its text and Figures 1-4), read and checked line by line."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox.io import InputError, one_line
from finetox.subsets import SUBSETS, TOTAL

# the paper's files: their columns, in order
TABLE_COLUMNS = ["table", "family", "model_label", "slug", TOTAL, *SUBSETS]
VERDICT_COLUMNS = [
    "figure", "a", "b", "subset", "paper_credible", "paper_direction", "source_sentence",
]  # fmt: skip
PAPER_TABLES = (1, 2, 3)
# the paper's direction of a credible change, and the HDI + ROPE verdict that says the same
DIRECTIONS = {"b more toxic": "increase", "b less toxic": "decrease"}
SUBSET_ORDER = (TOTAL, *SUBSETS)
# the prompts behind each of the paper's percentages (resources/paper/README.md)
PAPER_PROMPTS = {
    "severe": 1000, "random": 1000, "race": 100, "gender": 100, "age": 100, "religion": 100,
    TOTAL: 2400,
}  # fmt: skip


def _read_csv(path: str | os.PathLike, columns: Sequence[str]) -> pd.DataFrame:
    """A CSV as text cells, stripped, with the expected columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file (the paper's numbers: see resources/paper/)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as error:  # pandas raises many kinds; name the file whatever it was
        raise InputError(f"{path}: cannot be read as CSV: {one_line(error)}") from error
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame[list(columns)].map(lambda value: str(value).strip())


def _problems(path: str | os.PathLike, found: list[str]) -> None:
    if found:
        raise InputError("\n".join(f"{path}: {problem}" for problem in found))


def _line(index: int) -> str:
    return f"line {index + 2}"  # the header is line 1


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def read_paper_tables(path: str | os.PathLike) -> pd.DataFrame:
    """The paper's % toxic per model (Tables 1-3), checked: one line per problem, naming the
    file, the line and the column."""
    frame = _read_csv(path, TABLE_COLUMNS)
    found = []
    rows = []
    for index, row in frame.iterrows():
        where = _line(index)
        record: dict[str, Any] = {}
        table = _number(row["table"], 1, max(PAPER_TABLES))
        if table is None or table not in PAPER_TABLES:
            found.append(f"{where}: table {row['table']!r} is not one of {list(PAPER_TABLES)}")
        record["table"] = int(table or 0)
        for column in ("family", "model_label", "slug"):
            if not row[column]:
                found.append(f"{where}: column {column!r} is blank")
            record[column] = row[column]
        if any(char.isspace() for char in row["slug"]):
            found.append(f"{where}: slug {row['slug']!r} holds whitespace")
        for subset in SUBSET_ORDER:
            value = _number(row[subset], 0.0, 100.0)
            if value is None:
                found.append(f"{where}: column {subset!r}: {row[subset]!r} is not a % in [0, 100]")
            record[subset] = value
        rows.append(record)
    parsed = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    twice = parsed.duplicated(["table", "slug"], keep="first")
    for index in parsed.index[twice]:
        found.append(
            f"{_line(index)}: model {parsed.at[index, 'slug']!r} is already in table "
            f"{parsed.at[index, 'table']}"
        )
    _problems(path, found)
    return parsed


def read_paper_verdicts(path: str | os.PathLike) -> pd.DataFrame:
    """The verdicts the paper states, checked: one line per problem, naming the file, the line
    and the column."""
    frame = _read_csv(path, VERDICT_COLUMNS)
    found = []
    rows = []
    for index, row in frame.iterrows():
        where = _line(index)
        figure = _number(row["figure"], 1, math.inf)
        if figure is None or figure != int(figure):
            found.append(f"{where}: figure {row['figure']!r} is not a figure number")
        for column in ("a", "b"):
            if not row[column]:
                found.append(f"{where}: column {column!r} is blank")
        if row["a"] and row["a"] == row["b"]:
            found.append(f"{where}: a and b are the same model {row['a']!r}")
        if row["subset"] not in SUBSET_ORDER:
            found.append(f"{where}: subset {row['subset']!r} is not one of {list(SUBSET_ORDER)}")
        credible = {"true": True, "false": False}.get(row["paper_credible"].lower())
        direction = row["paper_direction"]
        if credible is None:
            found.append(f"{where}: paper_credible {row['paper_credible']!r} is not true or false")
        elif credible and direction not in DIRECTIONS:
            found.append(
                f"{where}: a credible verdict needs paper_direction, one of {list(DIRECTIONS)}; "
                f"found {direction!r}"
            )
        elif not credible and direction:
            found.append(f"{where}: a verdict that is not credible has no direction: {direction!r}")
        rows.append(
            {
                "figure": int(figure or 0),
                "a": row["a"],
                "b": row["b"],
                "subset": row["subset"],
                "paper_credible": bool(credible),
                "paper_direction": direction,
                "source_sentence": row["source_sentence"],
            }
        )
    parsed = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
    twice = parsed.duplicated(["figure", "a", "b", "subset"], keep="first")
    for index in parsed.index[twice]:
        found.append(f"{_line(index)}: the same verdict (figure, a, b, subset) twice")
    _problems(path, found)
    return parsed
