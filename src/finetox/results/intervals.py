"""Intervals and probabilities of toxic rates' Beta posteriors, computed, not drawn.

The rate's posterior is the rate view's (finetox.compare.rates): a Beta(1, 1) prior and k toxic
generations of n, so Beta(1 + k, 1 + n - k). Its HDI is the shortest interval holding the mass
(for a unimodal density, the one whose ends have the same density), found with SciPy's Beta
quantiles and density and a root finder. The difference of two independent rates (ours − the
paper's, base − instruct) has its HDI from a numerical convolution of the two Betas, and
P(one rate > the other) in closed form: no Monte Carlo draws, so no seed moves them.
"""

from __future__ import annotations

import numpy as np

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


# the difference of two Betas is found on a grid this fine (cells per standard deviation of the
# narrower one): its HDI ends move by under 1/GRID_PER_SD of a standard deviation
GRID_PER_SD = 250
# each Beta's grid spans its quantiles [TAIL, 1 - TAIL]: the mass left out is far below any HDI's
TAIL = 1e-10


def difference_hdi(
    first: tuple[float, float], second: tuple[float, float], hdi_prob: float
) -> tuple[float, float, float]:
    """(mean, HDI low, HDI high) of X − Y, X ~ Beta(*first) and Y ~ Beta(*second) independent.

    Deterministic: the density of X − Y is the convolution of the two Betas' masses on a common
    grid (each cell's mass from the exact CDF), and the HDI is the shortest run of cells holding
    `hdi_prob` (the highest cells first; X − Y is unimodal, so they are one run)."""
    from scipy.signal import fftconvolve
    from scipy.stats import beta

    if not 0.0 < hdi_prob < 1.0:
        raise ValueError(f"hdi_prob must lie in (0, 1): {hdi_prob}")
    step = min(float(beta.std(*first)), float(beta.std(*second))) / GRID_PER_SD
    masses, starts = [], []
    for a, b in (first, second):
        low, high = beta.ppf([TAIL, 1.0 - TAIL], a, b)
        edges = low + step * np.arange(int(np.ceil((high - low) / step)) + 1)
        masses.append(np.diff(beta.cdf(edges, a, b)))
        starts.append(float(low))
    # cell i of X minus cell j of Y lies in cell i - j + (len(Y) - 1) of the difference
    mass = np.clip(fftconvolve(masses[0], masses[1][::-1]), 0.0, None)
    mass /= mass.sum()
    centres = starts[0] - starts[1] - (len(masses[1]) - 1) * step + step * np.arange(len(mass))
    order = np.argsort(mass)[::-1]
    kept = order[: int(np.searchsorted(np.cumsum(mass[order]), hdi_prob)) + 1]
    mean = first[0] / sum(first) - second[0] / sum(second)
    return mean, float(centres[kept].min()), float(centres[kept].max())


def probability_greater(first: tuple[float, float], second: tuple[float, float]) -> float:
    """P(X > Y) for X ~ Beta(*first), Y ~ Beta(*second) independent, exactly: the closed form
    for an integer first shape (Evan Miller's, as in Bayesian A/B testing), summed in logs."""
    from scipy.special import betaln, logsumexp

    (a_x, b_x), (a_y, b_y) = first, second
    if a_x != int(a_x) or a_x < 1:
        raise ValueError(f"probability_greater needs an integer first shape >= 1: {a_x}")
    i = np.arange(int(a_x))
    terms = betaln(a_y + i, b_x + b_y) - np.log(b_x + i) - betaln(1 + i, b_x) - betaln(a_y, b_y)
    return float(min(1.0, np.exp(logsumexp(terms))))
