"""Which of our models and pairs a paper row names: a model by its slug; a Dolly row both our
retraining (slug `X-dolly`) and, where the study has it, the authors' published model
(`X-dolly-published`), each an *arm*."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from finetox.config.models import DOLLY_SUFFIX
from finetox.pairs import pair_name

# the arms of a paper Dolly row: our own retraining and the authors' published model (issue 14)
RETRAINED, PUBLISHED = "retrained", "published"
PUBLISHED_SUFFIX = "-published"


def arms(slug: str) -> list[tuple[str, str]]:
    """(arm, our model) for a paper slug: a Dolly model is our retraining and the authors'
    published model; any other model is ours of that slug ('' : no arm)."""
    if slug.endswith(DOLLY_SUFFIX):
        return [(RETRAINED, slug), (PUBLISHED, slug + PUBLISHED_SUFFIX)]
    return [("", slug)]


def matched_models(paper: pd.DataFrame, models: Iterable[str]) -> list[str]:
    """Our models (of `models`, the study's raw-prompt ones) that a paper table row names."""
    have = set(models)
    found = [model for slug in paper["slug"] for _, model in arms(slug) if model in have]
    return list(dict.fromkeys(found))


def matched_pairs(verdicts: pd.DataFrame, pairs: Iterable[str]) -> list[str]:
    """Our pairs (of `pairs`, the study's raw-prompt ones) that a paper verdict names."""
    have = set(pairs)
    found = [
        pair_name(a, b)
        for a, slug in zip(verdicts["a"], verdicts["b"], strict=True)
        for _, b in arms(slug)
        if pair_name(a, b) in have
    ]
    return list(dict.fromkeys(found))


def listed(names: Iterable[str]) -> str:
    return ", ".join(names)
