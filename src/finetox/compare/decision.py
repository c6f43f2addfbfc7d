"""Deciding on posterior draws of a change B - A with the HDI + ROPE rule (finetox.verdicts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from finetox.logs import quiet_libraries
from finetox.verdicts import NOT_FITTED, verdict


@dataclass(frozen=True)
class Decision:
    change: float  # posterior mean of B - A
    low: float  # HDI of B - A
    high: float
    p_increase: float  # P(change > rope)
    p_equivalent: float  # P(|change| <= rope)
    verdict: str
    paper_credible: bool  # the paper's rule: the HDI excludes 0

    def record(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_change": self.change,
            f"{prefix}_hdi_low": self.low,
            f"{prefix}_hdi_high": self.high,
            f"{prefix}_p_increase": self.p_increase,
            f"{prefix}_p_equivalent": self.p_equivalent,
            f"{prefix}_verdict": self.verdict,
            f"{prefix}_paper_credible": self.paper_credible,
        }


def quiet_imports() -> None:
    """Import-time notices of ArviZ and PyTensor that say nothing about a comparison (the
    filters live in finetox.logs, with every other library notice we silence)."""
    quiet_libraries()


def hdi(draws: np.ndarray, hdi_prob: float) -> tuple[float, float]:
    quiet_imports()
    import arviz as az

    low, high = az.hdi(np.asarray(draws, dtype=float).ravel(), hdi_prob=hdi_prob)
    return float(low), float(high)


def decide(draws: np.ndarray, hdi_prob: float, rope: float, mean: float | None = None) -> Decision:
    """The decision on posterior draws of B - A (`mean`: an exact posterior mean, when known)."""
    draws = np.asarray(draws, dtype=float).ravel()
    low, high = hdi(draws, hdi_prob)
    return Decision(
        change=float(draws.mean()) if mean is None else float(mean),
        low=low,
        high=high,
        p_increase=float((draws > rope).mean()),
        p_equivalent=float((np.abs(draws) <= rope).mean()),
        verdict=verdict(low, high, rope),
        paper_credible=bool(low > 0 or high < 0),
    )


def not_fitted() -> Decision:
    missing = float("nan")
    return Decision(missing, missing, missing, missing, missing, NOT_FITTED, False)
