"""The prompt subsets: their names, order, labels and sources; `total` is all of them together."""

from __future__ import annotations

from collections.abc import Iterable

# The paper's column order.
SUBSETS = ("severe", "random", "race", "gender", "age", "religion")
CEB_SUBSETS = ("race", "gender", "age", "religion")
# CEB's name for each identity axis (the `axis` field of its records and its file names' axes)
CEB_AXES = {
    "race": "race_ethnicity",
    "gender": "gender_and_sex",
    "age": "age",
    "religion": "religion",
}
TOTAL = "total"


def subset_label(subset: str) -> str:
    """How tables and figures name a subset ('Severe', 'Total')."""
    return subset.capitalize()


def subset_order(labels: Iterable[str]) -> list[str]:
    """The paper's order for its subsets, then any other labels as they first appear; no total."""
    labels = list(dict.fromkeys(labels))
    known = [s for s in SUBSETS if s in labels]
    return known + [s for s in labels if s not in SUBSETS and s != TOTAL]
