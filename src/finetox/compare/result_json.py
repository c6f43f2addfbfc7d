"""The comparison as JSON: the shape `finetox compare --json` writes and `finetox card` reads."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from finetox.compare.sampled import sampled_json

VIEWS = ("paired", "rate", "best")


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def _rate_view(row: pd.Series, prefix: str) -> dict[str, Any]:
    return {
        "change_pp": _number(row[f"{prefix}_change_pp"]),
        "hdi_pp": [_number(row[f"{prefix}_hdi_low_pp"]), _number(row[f"{prefix}_hdi_high_pp"])],
        "p_increase": _number(row[f"{prefix}_p_increase"]),
        "p_equivalent": _number(row[f"{prefix}_p_equivalent"]),
        "verdict": row[f"{prefix}_verdict"],
        "paper_credible": bool(row[f"{prefix}_paper_credible"]),
    }


def _best_view(row: pd.Series) -> dict[str, Any]:
    fitted = bool(row["best_fitted"])
    return {
        "fitted": fitted,
        "change": _number(row["best_change"]) if fitted else None,
        "hdi": [_number(row["best_hdi_low"]), _number(row["best_hdi_high"])] if fitted else None,
        "p_increase": _number(row["best_p_increase"]) if fitted else None,
        "p_equivalent": _number(row["best_p_equivalent"]) if fitted else None,
        "verdict": row["best_verdict"] if fitted else None,
        "paper_credible": bool(row["best_paper_credible"]) if fitted else None,
        "warning": row["warning"] or None,
    }


def _subset(row: pd.Series) -> dict[str, Any]:
    """A subset's entry; sampled runs add "k", "emt" and "toxicity_probability"."""
    sampled = sampled_json(row) if "emt_verdict" in row.index else {}
    return {
        **sampled,
        "n_pairs": int(row["n_pairs"]),
        "toxic_pct": {"a": 100 * float(row["rate_a"]), "b": 100 * float(row["rate_b"])},
        "paired": {
            **{cell: int(row[cell]) for cell in ("both", "only_a", "only_b", "neither")},
            **_rate_view(row, "paired"),
        },
        "rate": _rate_view(row, "rate"),
        "best": _best_view(row),
        "warning": row["warning"] or None,
    }


def result_json(
    table: pd.DataFrame,
    *,
    a: dict[str, Any],
    b: dict[str, Any],
    settings: dict[str, Any],
    gate: dict[str, Any],
    classifier: dict[str, Any] | None = None,
    pair: dict[str, Any] | None = None,
) -> dict[str, Any]:
    result = {
        "a": a,
        "b": b,
        "settings": settings,
        "subsets": {row["subset"]: _subset(row) for _, row in table.iterrows()},
        "gate": gate,
        "direction": "change = B - A (positive: B, the tuned model, more toxic)",
    }
    if classifier:
        result["classifier"] = classifier
    if pair:
        result["pair"] = pair
    return result
