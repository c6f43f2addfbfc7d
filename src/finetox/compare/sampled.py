"""Comparing two sampled runs (k scored samples per prompt; docs/sampled.md).

Both files must come from the same decoding (greedy, or sampled with the same k, temperature,
top_p, top_k and max_new_tokens; the seed may differ). Each file then becomes one row per prompt
(`collapse`): its highest score among the k samples and whether any of them is toxic, so the
compare stage's views read as the field's metrics: the paired and rate views of the "any of k
toxic" flags are the change in Toxicity Probability, BEST's change in mean score is a model of
the change in Expected Maximum Toxicity. Beside them, EMT's change has its own paired view: a
Bayesian bootstrap over prompts of the per-prompt differences of the maxima (`emt_view`), with
its HDI, the ROPE compare.rope.emt and the HDI + ROPE verdict.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from finetox.compare.decision import Decision, decide, not_fitted
from finetox.compare.pairing import CompareError
from finetox.compare.sampled_metrics import bootstrap_means, sample_count
from finetox.scores_file import TEXT_COLUMNS, Scores

# the settings two sampled runs must share to be compared (the seed may differ)
SHARED = ("temperature", "top_p", "top_k", "max_new_tokens")
EMT_COLUMNS = [
    "k", "emt_a", "emt_b", "emt_change", "emt_hdi_low", "emt_hdi_high", "emt_p_increase",
    "emt_p_equivalent", "emt_verdict", "emt_paper_credible", "rope_emt",
]  # fmt: skip


def decoding(scores: Scores) -> dict[str, Any]:
    """How a scores file's generations were decoded: {"decoding": "greedy"}, or "sampled" with
    k (from its sample column) and, where its metadata has them, the sampling settings."""
    if "sample" not in scores.frame.columns:
        return {"decoding": "greedy"}
    record = scores.metadata.get("generation") or {}
    settings = record.get("sampling") or {}
    found = {"decoding": "sampled", "k": sample_count(scores.frame, scores.path)}
    found.update({key: settings[key] for key in SHARED if key in settings})
    if "max_new_tokens" in record:
        found["max_new_tokens"] = record["max_new_tokens"]
    return found


def _described(found: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value}" for key, value in found.items() if key != "decoding")


def check_same_decoding(a: Scores, b: Scores) -> dict[str, Any] | None:
    """The sampled decoding both files share, None when both are greedy; CompareError naming
    both files when they differ (greedy against sampled, another k or other settings)."""
    first, second = decoding(a), decoding(b)
    if first["decoding"] != second["decoding"]:
        raise CompareError(
            f"{a.path} is {first['decoding']} but {b.path} is {second['decoding']}: compare "
            "greedy runs with greedy runs and sampled runs with sampled runs"
        )
    if first["decoding"] == "greedy":
        return None
    differ = [key for key in ("k", *SHARED) if key in first and key in second
              and first[key] != second[key]]  # fmt: skip
    if differ:
        raise CompareError(
            f"{a.path} ({_described(first)}) and {b.path} ({_described(second)}) were sampled "
            f"differently ({', '.join(differ)}); EMT and Toxicity Probability move with k and "
            "the decoding: compare runs sampled alike"
        )
    return first


def collapse(scores: Scores) -> Scores:
    """One row per prompt: score the highest of its samples, toxic whether any is; the texts
    (prompt, generation) of its highest-scoring sample."""
    frame = scores.frame
    best = frame.loc[frame.groupby("prompt_id", sort=False)["score"].idxmax()]
    grouped = frame.groupby("prompt_id", sort=False)
    table = pd.DataFrame(
        {
            "prompt_id": best["prompt_id"].to_numpy(),
            "subset": best["subset"].to_numpy(),
            "score": best["score"].to_numpy(),
            "toxic": grouped["toxic"].any().loc[best["prompt_id"]].to_numpy(),
        }
    )
    for text in TEXT_COLUMNS:
        if text in best.columns:
            table[text] = best[text].to_numpy()
    return replace(scores, frame=table)


def emt_view(
    pairs: pd.DataFrame, hdi_prob: float, rope: float, seed: int
) -> tuple[float, float, Decision]:
    """(EMT of A, EMT of B, over the paired prompts; the decision on the change B - A) from
    paired rows (score_a, score_b: each prompt's maxima): the exact mean difference, and its HDI
    from a Bayesian bootstrap of the per-prompt differences."""
    if pairs.empty:
        missing = float("nan")
        return missing, missing, not_fitted()
    differences = pairs["score_b"].to_numpy(float) - pairs["score_a"].to_numpy(float)
    draws = bootstrap_means(differences, seed)
    decision = decide(draws, hdi_prob, rope, mean=float(differences.mean()))
    return float(pairs["score_a"].mean()), float(pairs["score_b"].mean()), decision


def emt_fields(pairs: pd.DataFrame, k: int, hdi_prob: float, rope: float, seed: int) -> dict:
    """A comparison row's EMT_COLUMNS for the paired prompts of one subset."""
    emt_a, emt_b, decision = emt_view(pairs, hdi_prob, rope, seed)
    return {"k": k, "emt_a": emt_a, "emt_b": emt_b, **decision.record("emt"), "rope_emt": rope}


def sampled_json(row: pd.Series) -> dict[str, Any]:
    """A subset's "k", "emt" and "toxicity_probability" entries of the comparison JSON; the
    Toxicity Probability change is the paired view of the "any of k toxic" flags."""

    def number(value: Any) -> float | None:
        return None if pd.isna(value) else float(value)

    return {
        "k": int(row["k"]),
        "emt": {
            "a": number(row["emt_a"]),
            "b": number(row["emt_b"]),
            "change": number(row["emt_change"]),
            "hdi": [number(row["emt_hdi_low"]), number(row["emt_hdi_high"])],
            "verdict": row["emt_verdict"],
        },
        "toxicity_probability": {
            "a_pct": 100 * float(row["rate_a"]),
            "b_pct": 100 * float(row["rate_b"]),
            "change_pp": number(row["paired_change_pp"]),
            "hdi_pp": [number(row["paired_hdi_low_pp"]), number(row["paired_hdi_high_pp"])],
            "verdict": row["paired_verdict"],
        },
    }
