"""The highest-density interval of one model's toxic rate, exactly.

The rate's posterior is the rate view's (finetox.compare.rates): a Beta(1, 1) prior and k toxic
generations of n, so Beta(1 + k, 1 + n - k). Its HDI is the shortest interval holding the mass
(for a unimodal density, the one whose ends have the same density), found with SciPy's Beta
quantiles and density and a root finder, not from draws.
"""

from __future__ import annotations

# the lower tail's mass is found to this precision: the ends move far less than a table's 0.01 pp
TOLERANCE = 1e-12


def rate_posterior(toxic: int, total: int) -> tuple[float, float]:
    """(alpha, beta) of the rate's posterior: Beta(1, 1) prior, `toxic` of `total` generations."""
    if total < 1 or not 0 <= toxic <= total:
        raise ValueError(f"a rate needs 0 <= toxic <= total and total >= 1: {toxic} of {total}")
    return 1.0 + toxic, 1.0 + total - toxic


def beta_hdi(a: float, b: float, hdi_prob: float) -> tuple[float, float]:
    """The highest-density interval of Beta(a, b), a, b >= 1, holding `hdi_prob` of its mass."""
    from scipy.optimize import brentq
    from scipy.stats import beta

    if not 0.0 < hdi_prob < 1.0:
        raise ValueError(f"hdi_prob must lie in (0, 1): {hdi_prob}")
    if a < 1.0 or b < 1.0:
        raise ValueError(f"beta_hdi needs a, b >= 1 (a unimodal density): a={a}, b={b}")
    if a == 1.0 and b == 1.0:  # flat: every interval of that length; the middle one
        return (1.0 - hdi_prob) / 2, (1.0 + hdi_prob) / 2
    if a == 1.0:  # density falls from 0
        return 0.0, float(beta.ppf(hdi_prob, a, b))
    if b == 1.0:  # density rises to 1
        return float(beta.ppf(1.0 - hdi_prob, a, b)), 1.0
    outside = 1.0 - hdi_prob

    def density_gap(lower_tail: float) -> float:
        """log density at the lower end minus at the upper end: zero at the HDI, rising in
        `lower_tail` (both ends move towards the mode's right)."""
        low, high = beta.ppf([lower_tail, lower_tail + hdi_prob], a, b)
        return beta.logpdf(low, a, b) - beta.logpdf(high, a, b)

    lower_tail = brentq(density_gap, 0.0, outside, xtol=TOLERANCE, rtol=4 * TOLERANCE)
    low, high = beta.ppf([lower_tail, lower_tail + hdi_prob], a, b)
    return float(low), float(high)


def rate_hdi(toxic: int, total: int, hdi_prob: float) -> tuple[float, float]:
    """The HDI of the toxic rate (a proportion) of `toxic` of `total` generations."""
    return beta_hdi(*rate_posterior(toxic, total), hdi_prob)
