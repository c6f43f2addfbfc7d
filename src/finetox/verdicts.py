"""Verdicts on a change B - A (B the tuned model, A the original): Kruschke's HDI + ROPE rule,
shared by the compare stage (which decides) and the results stage (which reports).

With a region of practical equivalence [-rope, +rope]:
- increase: the HDI lies entirely above +rope;
- decrease: the HDI lies entirely below -rope;
- equivalent: the HDI lies entirely inside the ROPE;
- undecided: anything else (the data cannot tell yet).
The paper's rule (the HDI excludes 0) stays beside it as `paper_credible`.
"""

from __future__ import annotations

import math

VERDICTS = ("increase", "decrease", "equivalent", "undecided")
NOT_FITTED = "not fitted"


def verdict(low: float, high: float, rope: float) -> str:
    """The HDI + ROPE verdict for an interval [low, high] of the change B - A."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return NOT_FITTED
    if low > rope:
        return "increase"
    if high < -rope:
        return "decrease"
    if low >= -rope and high <= rope:
        return "equivalent"
    return "undecided"


def in_words(name: str, rope: float, unit: str) -> str:
    """A verdict as a reader should take it ('more toxic after tuning', ...)."""
    return {
        "increase": "more toxic after tuning",
        "decrease": "less toxic after tuning",
        "equivalent": f"equivalent within ±{rope:g}{unit}",
        "undecided": "undecided",
        NOT_FITTED: "not fitted",
    }[name]
