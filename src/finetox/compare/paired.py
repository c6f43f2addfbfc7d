"""The paired view: both models answered the same prompts, so each prompt falls in one of four
cells by its two toxic flags (both toxic, only A, only B, neither). A Dirichlet(1, 1, 1, 1) prior
on the cell probabilities gives the Dirichlet(1 + counts) posterior; the change in toxic rate is
p(only B) - p(only A). Prompts on which the models agree carry no information about the change,
so the interval narrows as agreement grows, where the unpaired rate view cannot see it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finetox.compare.decision import Decision, decide

CELLS = ("both", "only_a", "only_b", "neither")
PAIRED_DRAWS = 200_000


@dataclass(frozen=True)
class PairedCounts:
    both: int
    only_a: int
    only_b: int
    neither: int

    @property
    def n(self) -> int:
        return self.both + self.only_a + self.only_b + self.neither

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.both, self.only_a, self.only_b, self.neither


def paired_counts(toxic_a: np.ndarray, toxic_b: np.ndarray) -> PairedCounts:
    a, b = np.asarray(toxic_a, dtype=bool), np.asarray(toxic_b, dtype=bool)
    return PairedCounts(
        both=int((a & b).sum()),
        only_a=int((a & ~b).sum()),
        only_b=int((~a & b).sum()),
        neither=int((~a & ~b).sum()),
    )


def paired_change_draws(counts: PairedCounts, seed: int, draws: int = PAIRED_DRAWS) -> np.ndarray:
    """Posterior draws of p(only B) - p(only A)."""
    rng = np.random.default_rng(seed)
    cells = rng.dirichlet(1.0 + np.asarray(counts.as_tuple(), dtype=float), size=draws)
    return cells[:, 2] - cells[:, 1]


def paired_change_mean(counts: PairedCounts) -> float:
    """The exact posterior mean: (only_b - only_a) / (n + 4); 0 for identical flags."""
    return (counts.only_b - counts.only_a) / (counts.n + len(CELLS))


def compare_paired(counts: PairedCounts, hdi_prob: float, rope: float, seed: int) -> Decision:
    """The decision on the paired change in toxic rate (a proportion; rope too)."""
    draws = paired_change_draws(counts, seed)
    return decide(draws, hdi_prob, rope, mean=paired_change_mean(counts))
