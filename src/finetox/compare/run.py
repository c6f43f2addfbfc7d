"""One comparison of two models' scores: the three views of the change B - A (paired, rate, BEST)
for every subset and in total (reading the files and writing the outputs: finetox.compare.files)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from finetox.compare.best import (
    BestSampler,
    best_draws,
    improper_reason,
    summarize_best,
    summarize_unfitted,
    unfitted_draws,
)
from finetox.compare.decision import not_fitted
from finetox.compare.paired import compare_paired, paired_counts
from finetox.compare.pairing import (
    CompareError,
    check_pairing,
    duplicate_notes,
    flips,
    paired_rows,
)
from finetox.compare.posterior import inference_data, subset_group
from finetox.compare.rates import compare_rates, rate_posteriors
from finetox.compare.sampled import EMT_COLUMNS, emt_fields
from finetox.compare.settings import Settings, subset_seed
from finetox.logs import progress_interval
from finetox.scores_file import Scores
from finetox.subsets import TOTAL, subset_order

log = logging.getLogger("finetox.compare")

RATE_VIEW_KEYS = (
    "change_pp", "hdi_low_pp", "hdi_high_pp", "p_increase", "p_equivalent", "verdict",
    "paper_credible",
)  # fmt: skip
COLUMNS = [
    "subset", "n_a", "n_b", "n_pairs", "mean_a", "mean_b", "rate_a", "rate_b",
    "both", "only_a", "only_b", "neither",
    *(f"{view}_{key}" for view in ("paired", "rate") for key in RATE_VIEW_KEYS),
    "best_fitted", "best_change", "best_hdi_low", "best_hdi_high", "best_p_increase",
    "best_p_equivalent", "best_verdict", "best_paper_credible",
    "effect_size", "nu_mean", "r_hat_max", "ess_bulk_min", "divergences", "warning",
    "hdi_prob", "rope_pp", "rope_best",
]  # fmt: skip
SKIPPED = "BEST skipped (--no-best)"
NO_PAIRS = "paired view not fitted: no prompt_id in both A and B"
# fewer pairs than this share of the smaller side: the paired view says so
PAIRED_SHARE_WARNING = 0.9
PAIRED_ONLY = ": the paired view rests on them alone"

__all__ = ["COLUMNS", "CompareError", "ComparisonResult", "compare_scores"]


@dataclass
class ComparisonResult:
    table: pd.DataFrame  # one row per subset plus total, COLUMNS
    posterior: Any  # arviz InferenceData, one group per subset
    flips: pd.DataFrame  # every prompt whose toxic flag differs


def compared_subsets(a: Scores, b: Scores) -> list[str]:
    """Every subset the files carry, in the paper's order, then total; both must have each."""
    subsets = subset_order([*a.frame["subset"], *b.frame["subset"]])
    for subset in subsets:
        for side, name in ((a, "A"), (b, "B")):
            if not (side.frame["subset"] == subset).any():
                raise CompareError(f"{side.path} ({name}): no scores in subset {subset!r}")
    return [*subsets, TOTAL]


def _in_subset(frame: pd.DataFrame, subset: str) -> pd.DataFrame:
    return frame if subset == TOTAL else frame[frame["subset"] == subset]


def _as_pp(record: Mapping[str, Any], view: str) -> dict[str, Any]:
    """A rate view's decision record with its change and HDI in percentage points."""
    scaled = {"change": "change_pp", "hdi_low": "hdi_low_pp", "hdi_high": "hdi_high_pp"}
    out = {}
    for key, value in record.items():
        name = key.removeprefix(f"{view}_")
        out[f"{view}_{scaled[name]}" if name in scaled else key] = (
            100 * value if name in scaled else value
        )
    return out


def pairing_warning(n_pairs: int, n_a: int, n_b: int) -> str:
    """Why the paired view is not fitted (no pairs), or rests on few of the prompts ('' when
    at least PAIRED_SHARE_WARNING of the smaller side is paired)."""
    smaller = min(n_a, n_b)
    if n_pairs == 0:
        return NO_PAIRS
    if n_pairs < PAIRED_SHARE_WARNING * smaller:
        return (
            f"only {n_pairs} of {smaller} prompts ({n_pairs / smaller:.0%}) are paired (fewer "
            f"than {PAIRED_SHARE_WARNING:.0%} of the smaller side){PAIRED_ONLY}"
        )
    return ""


def _rate_views(part_a, part_b, pairs, settings: Settings, seed: int):
    """(row fields, posterior parameters, pairing warning) of the paired and the rate view of
    one subset; with no pair the paired view is not fitted."""
    rope = settings.rope.rate_pp / 100
    counts = paired_counts(pairs["toxic_a"], pairs["toxic_b"])
    k_a, k_b, n_a, n_b = (
        int(part_a["toxic"].sum()),
        int(part_b["toxic"].sum()),
        len(part_a),
        len(part_b),
    )
    paired = compare_paired(counts, settings.hdi_prob, rope, seed) if counts.n else not_fitted()
    rate = compare_rates(k_a, n_a, k_b, n_b, hdi_prob=settings.hdi_prob, rope=rope, seed=seed)
    fields = {
        "n_pairs": counts.n,
        **dict(zip(("both", "only_a", "only_b", "neither"), counts.as_tuple(), strict=True)),
        **_as_pp(paired.record("paired"), "paired"),
        **_as_pp(rate.record("rate"), "rate"),
    }
    alphas = rate_posteriors(k_a, n_a, k_b, n_b)
    names = ("rate_alpha_a", "rate_beta_a", "rate_alpha_b", "rate_beta_b")
    parameters = {
        "rate": dict(zip(names, alphas, strict=True)),
        "paired": 1.0 + np.asarray(counts.as_tuple(), dtype=float),
    }
    return fields, parameters, pairing_warning(counts.n, n_a, n_b)


def _best_view(part_a, part_b, settings: Settings, sampler: BestSampler | None, seed: int):
    """(row fields, draws) of BEST on one subset; not fitted when skipped or improper."""
    if sampler is None:
        return summarize_unfitted(SKIPPED), unfitted_draws(settings)
    improper = improper_reason(part_a["score"], "A") or improper_reason(part_b["score"], "B")
    if improper:
        return summarize_unfitted(f"BEST not fitted: {improper}"), unfitted_draws(settings)
    draws = best_draws(sampler.fit(part_a["score"], part_b["score"], seed))
    return summarize_best(draws, settings), draws


def _compare_subset(a, b, pairs, subset, settings, sampler):
    part_a, part_b = _in_subset(a.frame, subset), _in_subset(b.frame, subset)
    seed = subset_seed(settings.seed, subset)
    rate_fields, parameters, pairing = _rate_views(
        part_a, part_b, _in_subset(pairs, subset), settings, seed
    )
    best_fields, draws = _best_view(part_a, part_b, settings, sampler, seed)
    warning = "; ".join(filter(None, [pairing, best_fields.pop("warning")]))
    row = {
        "subset": subset,
        "n_a": len(part_a),
        "n_b": len(part_b),
        "mean_a": float(part_a["score"].mean()),
        "mean_b": float(part_b["score"].mean()),
        "rate_a": float(part_a["toxic"].mean()),
        "rate_b": float(part_b["toxic"].mean()),
        **rate_fields,
        **best_fields,
        "warning": warning,
        "hdi_prob": settings.hdi_prob,
        "rope_pp": settings.rope.rate_pp,
        "rope_best": settings.rope.best,
    }
    return row, subset_group(draws, parameters)


def _own_warning(row: Mapping[str, Any]) -> str:
    """The row's warning less SKIPPED, which the run says once rather than per subset, and
    less the pairing warning, which has a log line of its own (a WARNING)."""
    return "; ".join(
        part
        for part in row["warning"].split("; ")
        if part and part != SKIPPED and not _is_pairing(part)
    )


def _is_pairing(part: str) -> bool:
    return part == NO_PAIRS or part.endswith(PAIRED_ONLY)


def _log_row(row: Mapping[str, Any], seconds: float) -> None:
    for part in row["warning"].split("; "):
        if _is_pairing(part):
            log.warning("%s: %s", row["subset"], part)
    skipped = SKIPPED in row["warning"].split("; ")
    best = "skipped" if skipped else f"{row['best_change']:+.4f} {row['best_verdict']}"
    log.info(
        "%s: n %d/%d (%d paired); change B - A: paired %+.1f pp [%+.1f, %+.1f] %s; "
        "rate %+.1f pp %s; BEST %s; %.1f s%s",
        row["subset"], row["n_a"], row["n_b"], row["n_pairs"], row["paired_change_pp"],
        row["paired_hdi_low_pp"], row["paired_hdi_high_pp"], row["paired_verdict"],
        row["rate_change_pp"], row["rate_verdict"], best, seconds,
        f" (warning: {_own_warning(row)})" if _own_warning(row) else "",
    )  # fmt: skip


def compare_scores(
    a: Scores,
    b: Scores,
    settings: Settings,
    *,
    cores: int | None = None,
    allow_unpaired: bool = False,
    sampler: BestSampler | None = None,
    best: bool = True,
    k: int | None = None,
) -> ComparisonResult:
    """The three views for every subset the files carry, and for all scores (total); for
    sampled runs (`k` samples per prompt, the files collapsed to one row per prompt by
    finetox.compare.sampled.collapse) also the change in Expected Maximum Toxicity."""
    from tqdm import tqdm

    if not allow_unpaired:
        check_pairing(a, b)
    notes = duplicate_notes(a, b, TOTAL)
    for note in notes.get(TOTAL, []):
        log.warning(note)
    subsets = compared_subsets(a, b)
    pairs = paired_rows(a.frame, b.frame)
    sampler = (sampler or BestSampler(settings, cores)) if best else None
    if sampler:
        sampler.prepare()
    rows, groups, started = [], [], time.perf_counter()
    for subset in tqdm(subsets, desc="compare", unit="subset", mininterval=progress_interval()):
        subset_started = time.perf_counter()
        row, group = _compare_subset(a, b, pairs, subset, settings, sampler)
        if k is not None:
            row.update(emt_fields(_in_subset(pairs, subset), k, settings.hdi_prob,
                                  settings.rope.emt, subset_seed(settings.seed, subset)))  # fmt: skip
        row["warning"] = "; ".join([*notes.get(subset, []), *filter(None, [row["warning"]])])
        _log_row(row, time.perf_counter() - subset_started)
        rows.append(row)
        groups.append(group)
    table = pd.DataFrame(rows, columns=COLUMNS if k is None else [*COLUMNS, *EMT_COLUMNS])
    log.info(
        "%d subsets compared in %.1f s (BEST: %s), %d with warnings",
        len(rows), time.perf_counter() - started,
        f"{settings.sampler}, {settings.chains} chains x {settings.draws} draws" if best else "skipped",
        sum(any(p and p != SKIPPED for p in row["warning"].split("; ")) for row in rows),
    )  # fmt: skip
    posterior = inference_data(subsets, groups, a, b, settings)
    return ComparisonResult(table=table, posterior=posterior, flips=flips(pairs))
