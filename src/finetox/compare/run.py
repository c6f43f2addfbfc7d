"""One comparison of two models' scores: both files read and checked, BEST and the rate view
fitted for every subset and in total, the table (CSV) and the draws (NetCDF) written."""

from __future__ import annotations

import json
import logging
import os
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
from finetox.compare.rates import compare_rates, rate_posteriors
from finetox.compare.settings import Settings, subset_seed
from finetox.io import UserError, atomic_path, write_table
from finetox.logs import progress_interval
from finetox.scores_file import Scores, read_scores
from finetox.subsets import TOTAL, subset_order

log = logging.getLogger("finetox.compare")

COLUMNS = [
    "subset",
    "n_a",
    "n_b",
    "mean_a",
    "mean_b",
    "rate_a",
    "rate_b",
    "diff_mean",
    "diff_hdi_low",
    "diff_hdi_high",
    "p_diff_gt_0",
    "credible",
    "effect_size",
    "nu_mean",
    "r_hat_max",
    "ess_bulk_min",
    "divergences",
    "rate_diff_mean",
    "rate_diff_hdi_low",
    "rate_diff_hdi_high",
    "p_rate_diff_gt_0",
    "rate_credible",
    "warning",
    "hdi_prob",  # the interval mass of every HDI in the row; the tables take their labels from it
]
DRAW_VARIABLES = ("mu_a", "mu_b", "sigma_a", "sigma_b", "nu", "diff", "effect_size", "diverging")


class CompareError(UserError):
    """Inputs that cannot be compared (the message says which file and why)."""


def check_pairing(a: Scores, b: Scores) -> None:
    """A and B must hold the same prompts, each in the same subset, each once."""
    for side in (a, b):
        dupes = side.frame["prompt_id"].duplicated()
        if dupes.any():
            raise CompareError(
                f"{side.path}: {int(dupes.sum())} prompt_id(s) appear more than once "
                f"(first: {side.frame['prompt_id'][dupes].iloc[0]!r}); compare them anyway "
                "with --allow-unpaired"
            )
    subsets_a = dict(zip(a.frame["prompt_id"], a.frame["subset"], strict=True))
    subsets_b = dict(zip(b.frame["prompt_id"], b.frame["subset"], strict=True))
    only_a = sorted(set(subsets_a) - set(subsets_b))
    only_b = sorted(set(subsets_b) - set(subsets_a))
    moved = sorted(p for p in set(subsets_a) & set(subsets_b) if subsets_a[p] != subsets_b[p])
    if only_a or only_b or moved:
        problems = []
        if only_a:
            problems.append(f"{len(only_a)} prompt(s) only in A (e.g. {only_a[:3]})")
        if only_b:
            problems.append(f"{len(only_b)} prompt(s) only in B (e.g. {only_b[:3]})")
        if moved:
            problems.append(f"{len(moved)} prompt(s) in different subsets (e.g. {moved[:3]})")
        raise CompareError(
            f"{a.path} (A) and {b.path} (B) hold different prompt sets: "
            f"{'; '.join(problems)}; compare them anyway with --allow-unpaired"
        )


@dataclass
class ComparisonResult:
    table: pd.DataFrame  # one row per subset plus total, COLUMNS
    draws: Any  # xarray Dataset of posterior draws, dims (subset, chain, draw)


def _subset_values(frame: pd.DataFrame, subset: str) -> pd.DataFrame:
    return frame if subset == TOTAL else frame[frame["subset"] == subset]


def compared_subsets(a: Scores, b: Scores) -> list[str]:
    """Every subset the files carry, in the paper's order, then total; both must have each."""
    subsets = subset_order([*a.frame["subset"], *b.frame["subset"]])
    for subset in subsets:
        for side, name in ((a, "A"), (b, "B")):
            if not (side.frame["subset"] == subset).any():
                raise CompareError(f"{side.path} ({name}): no scores in subset {subset!r}")
    return [*subsets, TOTAL]


def _compare_subset(
    a: Scores, b: Scores, subset: str, settings: Settings, sampler: BestSampler
) -> tuple[dict[str, Any], dict[str, np.ndarray], tuple[float, ...]]:
    """(table row, BEST draws, rate posterior parameters) of one subset."""
    part_a, part_b = _subset_values(a.frame, subset), _subset_values(b.frame, subset)
    seed = subset_seed(settings.seed, subset)
    improper = improper_reason(part_a["score"], "A") or improper_reason(part_b["score"], "B")
    if improper:
        draws = unfitted_draws(settings)
        best = {**summarize_unfitted(), "warning": f"BEST not fitted: {improper}"}
    else:
        draws = best_draws(sampler.fit(part_a["score"], part_b["score"], seed))
        best = summarize_best(draws, settings)
    k_a, k_b = int(part_a["toxic"].sum()), int(part_b["toxic"].sum())
    n_a, n_b = len(part_a), len(part_b)
    row = {
        "subset": subset,
        "n_a": n_a,
        "n_b": n_b,
        "mean_a": float(part_a["score"].mean()),
        "mean_b": float(part_b["score"].mean()),
        "rate_a": k_a / n_a,
        "rate_b": k_b / n_b,
        **best,
        **compare_rates(k_a, n_a, k_b, n_b, settings.hdi_prob, seed),
        "hdi_prob": settings.hdi_prob,
    }
    return row, draws, rate_posteriors(k_a, n_a, k_b, n_b)


def _log_row(row: Mapping[str, Any], seconds: float) -> None:
    log.info(
        "%s: n %d/%d, diff %+.4f [%+.4f, %+.4f]%s, rate diff %+.1f pp%s, %.1f s%s",
        row["subset"], row["n_a"], row["n_b"], row["diff_mean"], row["diff_hdi_low"],
        row["diff_hdi_high"], " credible" if row["credible"] else "",
        100 * row["rate_diff_mean"], " credible" if row["rate_credible"] else "", seconds,
        f" (warning: {row['warning']})" if row["warning"] else "",
    )  # fmt: skip


def compare_scores(
    a: Scores,
    b: Scores,
    settings: Settings,
    *,
    cores: int | None = None,
    allow_unpaired: bool = False,
    sampler: BestSampler | None = None,
) -> ComparisonResult:
    """BEST and the rate view for every subset the files carry, and for all scores (total)."""
    from tqdm import tqdm

    if not allow_unpaired:
        check_pairing(a, b)
    subsets = compared_subsets(a, b)
    sampler = sampler or BestSampler(settings, cores)
    sampler.prepare()
    rows, draws, rate_parameters = [], [], []
    started = time.perf_counter()
    for subset in tqdm(subsets, desc="BEST", unit="subset", mininterval=progress_interval()):
        fit_started = time.perf_counter()
        row, subset_draws, parameters = _compare_subset(a, b, subset, settings, sampler)
        _log_row(row, time.perf_counter() - fit_started)
        rows.append(row)
        draws.append(subset_draws)
        rate_parameters.append(parameters)
    table = pd.DataFrame(rows, columns=COLUMNS)
    log.info(
        "%d BEST fits (%s, %d chains x %d draws) in %.1f s, %d with warnings",
        len(rows), settings.sampler, settings.chains, settings.draws,
        time.perf_counter() - started, int((table["warning"] != "").sum()),
    )  # fmt: skip
    dataset = _draws_dataset(subsets, draws, rate_parameters, a, b, settings)
    return ComparisonResult(table=table, draws=dataset)


def _draws_dataset(subsets, draws, rate_parameters, a: Scores, b: Scores, settings: Settings):
    import xarray as xr

    dims = ("subset", "chain", "draw")
    variables = {name: (dims, np.stack([d[name] for d in draws])) for name in DRAW_VARIABLES}
    parameters = np.asarray(rate_parameters, dtype=float)
    for index, name in enumerate(("rate_alpha_a", "rate_beta_a", "rate_alpha_b", "rate_beta_b")):
        variables[name] = (("subset",), parameters[:, index])
    dataset = xr.Dataset(variables, coords={"subset": subsets})
    dataset.attrs.update(
        {
            "a": a.path,
            "b": b.path,
            "score_column_a": a.column,
            "score_column_b": b.column,
            "toxic_a": a.toxic_from,
            "toxic_b": b.toxic_from,
            "difference": "a - b (positive: a more toxic)",
            "rate_posterior": "Beta(rate_alpha, rate_beta): Beta(1, 1) prior, binomial counts",
            "settings": json.dumps(settings.record()),
        }
    )
    return dataset


def write_draws(dataset, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf")


def compare_file(
    a: str | os.PathLike,
    b: str | os.PathLike,
    out: str | os.PathLike,
    *,
    settings: Settings,
    posterior: str | os.PathLike | None = None,
    score_column: str | None = None,
    threshold: float | None = None,
    allow_unpaired: bool = False,
    pair: Mapping[str, Any] | None = None,
    cores: int | None = None,
) -> pd.DataFrame:
    """Read two score files, compare them, write the table (CSV) and the draws (NetCDF)."""
    scores_a = read_scores(a, score_column, threshold)
    scores_b = read_scores(b, score_column, threshold)
    log.info(
        "A %s (%s; toxic: %s) vs B %s (%s; toxic: %s)%s",
        a, scores_a.column, scores_a.toxic_from, b, scores_b.column, scores_b.toxic_from,
        f", pair {pair['name']} ({pair.get('kind')})" if pair else "",
    )  # fmt: skip
    result = compare_scores(
        scores_a, scores_b, settings, cores=cores, allow_unpaired=allow_unpaired
    )
    if pair:
        result.draws.attrs["pair"] = json.dumps(dict(pair))
    # the draws first: a finished table then always has its draws beside it
    if posterior:
        write_draws(result.draws, posterior)
    write_table(result.table, out)
    return result.table
