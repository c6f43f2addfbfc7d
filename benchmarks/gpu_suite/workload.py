"""The workloads, seeded: prompts of the study's lengths, Dolly-like tuning records, both as words
of the model's id tokenizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .models import Vocabulary
from .sizes import Sizes

PROMPT_MIX = (
    "5/6 RTP-like (lognormal, median 14 tokens, 3-48), 1/6 CEB-like (normal 90 +- 25, 40-160); "
    "random ids of the model's vocabulary; bos added; seeded"
)


def prompt_lengths(n: int, seed: int = 17) -> np.ndarray:
    """Tokens per prompt (bos not counted), the study's mix in a file's order: 5/6 RTP-like
    fragments (median 14 tokens, 3 to 48) and 1/6 CEB-like passages (about 90, 40 to 160)."""
    rng = np.random.default_rng(seed)
    n_ceb = n // 6
    rtp = np.clip(np.round(rng.lognormal(np.log(14), 0.45, n - n_ceb)), 3, 48)
    ceb = np.clip(np.round(rng.normal(90, 25, n_ceb)), 40, 160)
    return rng.permutation(np.concatenate([rtp, ceb]).astype(int))


def words(rng: np.random.Generator, vocabulary: Vocabulary, n: int) -> str:
    """n random words of the vocabulary: n tokens."""
    return " ".join(f"t{i}" for i in rng.integers(vocabulary.first, vocabulary.stop, size=n))


def prompt_texts(lengths: np.ndarray, vocabulary: Vocabulary, seed: int = 18) -> list[str]:
    rng = np.random.default_rng(seed)
    return [words(rng, vocabulary, int(n)) for n in lengths]


def describe_workload(lengths: np.ndarray, sizes: Sizes) -> dict[str, Any]:
    return {
        "prompts": sizes.prompts,
        "max_new_tokens": sizes.max_new_tokens,
        "prompt_tokens": {
            "min": int(lengths.min()),
            "median": float(np.median(lengths)),
            "mean": float(lengths.mean()),
            "max": int(lengths.max()),
        },
        "mix": PROMPT_MIX,
    }


def spread_sample(lengths: list[int], k: int) -> list[int]:
    """k prompt indices from the shortest to the longest (so a batch of them is padded)."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    picks = np.linspace(0, len(order) - 1, min(k, len(order))).round().astype(int)
    return [order[i] for i in dict.fromkeys(picks.tolist())]


def dolly_like(n: int, sizes: Sizes, vocabulary: Vocabulary, seed: int = 19) -> pd.DataFrame:
    """Dolly-shaped records: lognormal total lengths, context in 30% of them (as in Dolly)."""
    rng = np.random.default_rng(seed)
    total = np.clip(
        np.round(rng.lognormal(np.log(sizes.dolly_median), sizes.dolly_sigma, n)),
        6,
        sizes.dolly_max,
    ).astype(int)
    rows = []
    for length in total:
        instruction = max(2, round(length * rng.uniform(0.08, 0.2)))
        context = round(length * rng.uniform(0.4, 0.7)) if rng.random() < 0.3 else 0
        response = max(1, length - instruction - context)
        rows.append(
            {
                "instruction": words(rng, vocabulary, instruction),
                "context": words(rng, vocabulary, context) if context else "",
                "response": words(rng, vocabulary, response),
                "category": "open_qa",
            }
        )
    return pd.DataFrame(rows)


def describe_dolly_like(sizes: Sizes) -> str:
    return (
        f"lognormal total lengths: median {sizes.dolly_median} tokens, sigma {sizes.dolly_sigma}, "
        f"at most {sizes.dolly_max}; context in 30% of the records"
    )
