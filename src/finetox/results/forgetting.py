"""Where a tuned model lands between its instruct model and its base model.

position = (rate_tuned - rate_instruct) / (rate_base - rate_instruct): 0 where the instruct model
is, 1 back at the base model, above 1 beyond it, below 0 safer than the instruct model. Its
posterior comes from draws of the three rates' Beta(1 + k, 1 + n - k) posteriors (the rate view
of the compare stage). Where base and instruct do not differ credibly (the HDI of their
difference holds 0), the denominator is noise and the position is undefined: said, not printed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetox.compare.decision import hdi

DRAWS = 200_000  # as the compare stage's rate view: HDI ends stable to about 0.01


@dataclass(frozen=True)
class Rate:
    """A model's toxic count `k` of `n` generations on one subset."""

    k: int
    n: int

    def draws(self, rng: np.random.Generator, size: int = DRAWS) -> np.ndarray:
        return rng.beta(1 + self.k, 1 + self.n - self.k, size)


@dataclass(frozen=True)
class Position:
    mean: float  # nan where undefined
    low: float
    high: float
    defined: bool
    gap_pp: float  # base - instruct, posterior mean, percentage points
    gap_low_pp: float
    gap_high_pp: float

    @property
    def note(self) -> str:
        if self.defined:
            return ""
        return (
            f"undefined: base and instruct do not differ credibly (base - instruct "
            f"{self.gap_pp:+.1f} pp, HDI [{self.gap_low_pp:+.1f}, {self.gap_high_pp:+.1f}])"
        )


def forgetting_position(
    tuned: Rate, instruct: Rate, base: Rate, *, hdi_prob: float, seed: int
) -> Position:
    """The position of `tuned` between `instruct` (0) and `base` (1), with its HDI."""
    rng = np.random.default_rng(seed)
    t, i, b = tuned.draws(rng), instruct.draws(rng), base.draws(rng)
    gap = b - i
    gap_low, gap_high = hdi(gap, hdi_prob)
    values = 100 * float(gap.mean()), 100 * gap_low, 100 * gap_high
    if gap_low <= 0 <= gap_high:
        nan = float("nan")
        return Position(nan, nan, nan, False, *values)
    position = (t - i) / gap
    low, high = hdi(position, hdi_prob)
    return Position(float(position.mean()), low, high, True, *values)
