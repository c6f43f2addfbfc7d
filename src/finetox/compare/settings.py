"""The compare stage's settings, taken as resolved by the config layer (`compare` section)."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Priors:
    mu_mean: float
    mu_sd: float
    sigma_beta: float
    nu_minus_one_mean: float


@dataclass(frozen=True)
class Rope:
    """Half-widths of the regions of practical equivalence around a change of 0."""

    rate_pp: float  # paired and rate views, percentage points
    best: float  # BEST, score units
    emt: float = 0.01  # the change in Expected Maximum Toxicity (sampled runs), score units


@dataclass(frozen=True)
class Settings:
    """The `compare` section of a study config."""

    hdi_prob: float
    rope: Rope
    chains: int
    draws: int
    warmup: int
    seed: int
    sampler: str
    priors: Priors
    r_hat_max: float
    ess_min: float

    @classmethod
    def from_section(cls, section: Mapping[str, Any], **overrides: Any) -> Settings:
        """From a complete `compare` section (the config layer fills and checks it); overrides
        that are not None win (the CLI's options, checked by its argument types); `rope_pp`,
        `rope_best` and `rope_emt` override the ROPE's half-widths."""
        given = {key: value for key, value in overrides.items() if value is not None}
        rope = Rope(
            rate_pp=given.pop("rope_pp", section["rope"]["rate_pp"]),
            best=given.pop("rope_best", section["rope"]["best"]),
            emt=given.pop("rope_emt", section["rope"].get("emt", Rope.emt)),
        )
        values = {**section, **given, "rope": rope, "priors": Priors(**section["priors"])}
        return cls(**{name: values[name] for name in cls.__dataclass_fields__})

    @classmethod
    def defaults(cls, **overrides: Any) -> Settings:
        from finetox.config import section_defaults

        return cls.from_section(section_defaults("compare"), **overrides)

    def record(self) -> dict[str, Any]:
        return asdict(self)


def subset_seed(seed: int, subset: str) -> int:
    """A seed per subset, independent of which other subsets a file has."""
    sequence = np.random.SeedSequence([seed, zlib.crc32(subset.encode())])
    return int(sequence.generate_state(1)[0])
