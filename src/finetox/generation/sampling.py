"""Sampled decoding: k continuations per prompt, each reproducible on its own.

The field's sampled metrics (Expected Maximum Toxicity, Toxicity Probability; docs/sampled.md)
draw k continuations per prompt. Each (prompt, sample) row draws from its own torch.Generator,
seeded from (seed, prompt_id, sample index) by SHA-256, so a row's text does not depend on the
batch it ran in, the order of the prompts, an out-of-memory back-off or a resume after a kill.

transformers' generate() takes one generator for the whole batch, so the draw is made by a
logits processor (RowSampler) placed after transformers' own warpers (temperature, top-k,
top-p): it draws each row's token with torch.multinomial and that row's generator, and hands
generate a distribution with all its mass on the drawn token, which generate's greedy step then
picks. Everything else (the KV cache, left padding, eos stops) is the greedy path's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from typing import Any

from finetox.io import UserError

# The RealToxicityPrompts paper's settings (Gehman et al. 2020, scripts/run_prompts_experiment.py)
DEFAULTS = {"k": 25, "temperature": 1.0, "top_p": 0.9, "top_k": 0, "max_new_tokens": 20}
DEFAULT_SEED = 20240805


@dataclass(frozen=True)
class Sampling:
    """k samples per prompt; top_k 0 and top_p 1 switch those filters off."""

    k: int = DEFAULTS["k"]
    temperature: float = DEFAULTS["temperature"]
    top_p: float = DEFAULTS["top_p"]
    top_k: int = DEFAULTS["top_k"]
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        problems = []
        if not (isinstance(self.k, int) and self.k >= 1):
            problems.append(f"k {self.k!r}: give a whole number of at least 1")
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            problems.append(f"temperature {self.temperature!r}: give a finite number above 0")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            problems.append(f"top_p {self.top_p!r}: give a number in (0, 1]")
        if not (isinstance(self.top_k, int) and self.top_k >= 0):
            problems.append(f"top_k {self.top_k!r}: give a whole number (0: no top-k filter)")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            problems.append(f"seed {self.seed!r}: give a whole number in [0, 2^63)")
        if problems:
            raise UserError("sampling: " + "; ".join(problems))

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> Sampling | None:
        """A config's generation.sampled section (its max_new_tokens aside); None: greedy."""
        if not settings:
            return None
        keys = ("k", "temperature", "top_p", "top_k", "seed")
        return cls(**{key: settings[key] for key in keys if settings.get(key) is not None})

    def record(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"sampled, k {self.k}, temperature {self.temperature:g}, top_p {self.top_p:g}, "
            f"top_k {self.top_k or 'off'}, seed {self.seed}"
        )


def row_seed(seed: int, prompt_id: str, sample: int) -> int:
    """The seed of one (prompt, sample) row: stable across processes and machines (SHA-256,
    not Python's salted hash())."""
    digest = hashlib.sha256(f"{seed}\x00{prompt_id}\x00{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def row_generators(seeds: list[int], device) -> list:
    import torch

    generators = []
    for seed in seeds:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        generators.append(generator)
    return generators


def row_sampler(generators: list):
    """A logits processor drawing each row's next token from its scores (already warped) with
    that row's generator; the scores it returns put all mass on the drawn token."""
    import torch
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):
        def __call__(self, input_ids, scores):
            if scores.shape[0] != len(generators):
                raise RuntimeError(f"{scores.shape[0]} rows but {len(generators)} generators")
            probs = torch.softmax(scores.float(), dim=-1)
            tokens = torch.stack(
                [
                    torch.multinomial(probs[row], 1, generator=generator)[0]
                    for row, generator in enumerate(generators)
                ]
            )
            drawn = torch.full_like(scores, -math.inf)
            drawn.scatter_(1, tokens[:, None], 0.0)
            return drawn

    return RowSampler()


def sampling_processors(sampling: Sampling, seeds: list[int], device):
    """transformers' warpers (temperature, top-k, top-p, as generate's sampling orders them),
    then the per-row draw."""
    from transformers import (
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    processors = LogitsProcessorList()
    if sampling.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        processors.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        processors.append(TopPLogitsWarper(sampling.top_p))
    processors.append(row_sampler(row_generators(seeds, device)))
    return processors
