"""The highest-density interval of one model's toxic rate, exactly.

The rate's posterior is the rate view's (finetox.compare.rates): a Beta(1, 1) prior and k toxic
generations of n, so Beta(1 + k, 1 + n - k). Its HDI is computed from the Beta distribution
itself (the regularized incomplete beta function by its continued fraction, Numerical Recipes
6.4), not from draws, in plain Python: the results stage's environment has no SciPy.
"""

from __future__ import annotations

import math

# bisection stops when the bracket is this narrow (a rate; far below a table's 0.1 pp)
TOLERANCE = 1e-12
_TINY = 1e-300


def rate_posterior(toxic: int, total: int) -> tuple[float, float]:
    """(alpha, beta) of the rate's posterior: Beta(1, 1) prior, `toxic` of `total` generations."""
    if total < 1 or not 0 <= toxic <= total:
        raise ValueError(f"a rate needs 0 <= toxic <= total and total >= 1: {toxic} of {total}")
    return 1.0 + toxic, 1.0 + total - toxic


def _continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            step = d * c
            h *= step
        if abs(step - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def beta_cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ Beta(a, b): the regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction(b, a, 1.0 - x) / b


def _bisect(function, low: float, high: float) -> float:
    """The root of a function that is increasing on [low, high] (by bisection)."""
    while high - low > TOLERANCE:
        middle = 0.5 * (low + high)
        if function(middle) < 0:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def beta_quantile(q: float, a: float, b: float) -> float:
    """The x with P(X <= x) = q for X ~ Beta(a, b)."""
    return _bisect(lambda x: beta_cdf(x, a, b) - q, 0.0, 1.0)


def beta_hdi(a: float, b: float, hdi_prob: float) -> tuple[float, float]:
    """The highest-density interval of Beta(a, b), a, b >= 1, holding `hdi_prob` of its mass:
    the interval whose two ends have the same density (or an end at 0 or 1 where the density is
    highest there)."""
    if not 0.0 < hdi_prob < 1.0:
        raise ValueError(f"hdi_prob must lie in (0, 1): {hdi_prob}")
    if a < 1.0 or b < 1.0:
        raise ValueError(f"beta_hdi needs a, b >= 1 (a unimodal density): a={a}, b={b}")
    if a == 1.0 and b == 1.0:  # flat: every interval of that length; the middle one
        return (1.0 - hdi_prob) / 2, (1.0 + hdi_prob) / 2
    if a == 1.0:  # density falls from 0
        return 0.0, beta_quantile(hdi_prob, a, b)
    if b == 1.0:  # density rises to 1
        return beta_quantile(1.0 - hdi_prob, a, b), 1.0
    mode = (a - 1.0) / (a + b - 2.0)

    def log_density(x: float) -> float:
        if x <= 0.0 or x >= 1.0:
            return -math.inf
        return (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x)

    def upper(low: float) -> float:
        """The point above the mode with the density of `low` (below it)."""
        level = log_density(low)
        return _bisect(lambda x: level - log_density(x), mode, 1.0)

    def mass_short(low: float) -> float:  # increasing in low: the interval shrinks towards the mode
        return hdi_prob - (beta_cdf(upper(low), a, b) - beta_cdf(low, a, b))

    low = _bisect(mass_short, 0.0, mode)
    return low, upper(low)


def rate_hdi(toxic: int, total: int, hdi_prob: float) -> tuple[float, float]:
    """The HDI of the toxic rate (a proportion) of `toxic` of `total` generations."""
    return beta_hdi(*rate_posterior(toxic, total), hdi_prob)
