"""The prompt subsets: their names, order, labels and sources; `total` is all of them together.

The paper's six come first, in its order; the subsets of `prompts.sources` (docs/prompts.md)
follow, source by source, each source's in the order its config names them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
    """How tables and figures name a subset: the paper's capitalised ('Severe', 'Total'), a
    source's as its config names it ('bold_gender')."""
    return subset.capitalize() if subset in (*SUBSETS, TOTAL) else subset


def source_subsets(source: Mapping[str, Any]) -> list[str]:
    """The subsets one entry of prompts.sources fills: its subset_name, or its subset_map's
    values (first appearance first)."""
    if source.get("subset_name"):
        return [source["subset_name"]]
    mapping = source.get("subset_map")
    return list(dict.fromkeys(mapping.values())) if isinstance(mapping, Mapping) else []


def study_subsets(prompts: Mapping[str, Any]) -> list[str]:
    """The subsets of a study (its config's prompts section, defaults filled): the paper's that
    it asks prompts of, in the paper's order, then its sources', in source order."""
    asked = prompts.get("subsets") or {}
    paper = [subset for subset in SUBSETS if asked.get(subset)]
    extra = [s for source in prompts.get("sources") or [] for s in source_subsets(source)]
    return list(dict.fromkeys([*paper, *extra]))


def study_prompt_count(prompts: Mapping[str, Any]) -> int:
    """How many prompts the study asks for: the paper's subsets' and n per source subset."""
    paper = sum(int(n or 0) for n in (prompts.get("subsets") or {}).values())
    sources = prompts.get("sources") or []
    return paper + sum(int(s.get("n") or 0) * len(source_subsets(s)) for s in sources)


def subset_order(labels: Iterable[str]) -> list[str]:
    """The paper's order for its subsets, then any other labels as they first appear; no total."""
    labels = list(dict.fromkeys(labels))
    known = [s for s in SUBSETS if s in labels]
    return known + [s for s in labels if s not in SUBSETS and s != TOTAL]
