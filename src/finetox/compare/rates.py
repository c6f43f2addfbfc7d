"""The rate view: a Beta(1, 1) prior on each model's toxic rate, conjugate Beta posteriors, and
the change B - A by Monte Carlo. It treats the two models' generations as independent samples;
the paired view (finetox.compare.paired) uses that both answered the same prompts."""

from __future__ import annotations

import numpy as np

from finetox.compare.decision import Decision, decide

# Monte Carlo draws of each rate posterior: the HDI of the change is then stable to about
# 0.02 percentage points, far below anything a table reports.
RATE_DRAWS = 200_000


def rate_posteriors(k_a: int, n_a: int, k_b: int, n_b: int) -> tuple[float, float, float, float]:
    """Beta(1, 1) prior, binomial counts: the conjugate posteriors' (alpha_a, beta_a, alpha_b, beta_b)."""
    return 1.0 + k_a, 1.0 + n_a - k_a, 1.0 + k_b, 1.0 + n_b - k_b


def compare_rates(
    k_a: int,
    n_a: int,
    k_b: int,
    n_b: int,
    *,
    hdi_prob: float,
    rope: float,
    seed: int,
    draws: int = RATE_DRAWS,
) -> Decision:
    """The decision on rate_b - rate_a (a proportion; rope too)."""
    alpha_a, beta_a, alpha_b, beta_b = rate_posteriors(k_a, n_a, k_b, n_b)
    rng = np.random.default_rng(seed)
    change = rng.beta(alpha_b, beta_b, draws) - rng.beta(alpha_a, beta_a, draws)
    mean = alpha_b / (alpha_b + beta_b) - alpha_a / (alpha_a + beta_a)
    return decide(change, hdi_prob, rope, mean=mean)
