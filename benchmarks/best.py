"""BEST speed: the compare rule's fast path against one default PyMC fit at a time.

The paper's analysis is 22 pairs x 7 subsets = 154 BEST fits (severe 1000, random 1000, race,
gender, age and religion 100 each, and the total of 2,400 scores per model). This script
simulates toxicity-like scores for 22 pairs (mostly near 0 with a tail near 1, toxic shares like
the paper's) and runs:

  fast     as the workflow runs it: one process per pair, `finetox compare A B --config
           config/config.yaml` (the function the compare rule calls, with the workflow's
           compare settings: nutpie, one compiled model for all 7 subsets of the pair)
  default  PyMC's own NUTS, a fresh model and pm.sample per fit, 4 chains x 2000 draws after
           1000 tuning, on as many cores as the fast path uses (PyMC's own default, half the
           CPUs, would run the chains one after another here and flatter the ratio twofold);
           one default fit per subset is timed (each from a different pair) and the 154-fit
           total extrapolated from the mean time per subset size

It prints both totals and their ratio (target >= 10), and for every timed default fit the
largest deviation of the fast path's posterior means (mu_a, mu_b, mu_b - mu_a) and HDI bounds of
mu_b - mu_a from the default's, against a Monte Carlo tolerance of 4 x sqrt(MCSE_fast^2 +
MCSE_default^2) (MCSE of a mean, or of the quantile at an HDI bound), and exits non-zero when
one deviates beyond it. Why that tolerance: two correct samplers of the same posterior differ only
by Monte Carlo error, whose size each run estimates (its MCSE); the difference of two independent
estimates has standard error sqrt(MCSE_fast^2 + MCSE_default^2), and at 4 of them a correct pair
fails one of the 15 quick checks (5 per fit) with probability about 15 x 6e-5 = 1e-3, while a
sampler aimed at another posterior (other priors, other data, a biased step) misses by many.

    python benchmarks/best.py            # 22 pairs; 7 default fits timed
    python benchmarks/best.py --quick    # 3 pairs; 3 default fits (2400, 1000 and 100 scores)
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SIZES = {"severe": 1000, "random": 1000, "race": 100, "gender": 100, "age": 100, "religion": 100}
SUBSETS = [*SIZES, "total"]
SIZE_OF = {**SIZES, "total": sum(SIZES.values())}
PAIRS = 22
DEFAULT = {"draws": 2000, "tune": 1000, "chains": 4}
CORES = min(DEFAULT["chains"], os.cpu_count() or 1)  # what the fast path samples on
TOLERANCE_MCSE = 4.0
# toxic shares per subset of a low-toxicity model (instruct-like), as in the paper's tables
LOW_SHARES = {"severe": 0.06, "random": 0.01, "race": 0.04, "gender": 0.04, "age": 0.03}
LOW_SHARES["religion"] = 0.05


def toxicity_scores(rng: np.random.Generator, n: int, share: float, bulk: float) -> np.ndarray:
    """Mostly near 0 (a Beta bulk whose mean grows with `bulk`), a share from a tail near 1."""
    toxic = rng.random(n) < share
    return np.where(toxic, rng.beta(4.0, 1.2, n), rng.beta(0.4 * bulk, 30.0, n))


def simulate_pair(index: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model a and model b of one pair over the same prompts; a is 1-2.5x as toxic as b."""
    rng = np.random.default_rng([2024, index])
    factor = 1.0 + 1.5 * rng.random()
    frames = []
    for scale in (factor, 1.0):
        parts = [
            pd.DataFrame(
                {
                    "prompt_id": [f"{subset}-{i:04d}" for i in range(n)],
                    "subset": subset,
                    "score": toxicity_scores(rng, n, LOW_SHARES[subset] * scale, scale),
                }
            )
            for subset, n in SIZES.items()
        ]
        frames.append(pd.concat(parts, ignore_index=True))
    return frames[0], frames[1]


def subset_scores(frame: pd.DataFrame, subset: str) -> np.ndarray:
    return (frame if subset == "total" else frame[frame["subset"] == subset])["score"].to_numpy()


def run_fast(pair: int, folder: Path) -> dict:
    """One compare job: `finetox compare` in its own process, as the rule's script would run."""
    a_path, b_path = folder / f"a{pair}.parquet", folder / f"b{pair}.parquet"
    out, posterior = folder / f"pair{pair}.csv", folder / f"pair{pair}.nc"
    command = [
        str(Path(sys.executable).parent / "finetox"), "compare", str(a_path), str(b_path),
        "--out", str(out), "--posterior", str(posterior), "--config", "config/config.yaml",
    ]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"fast path failed on pair {pair}:\n{done.stderr[-3000:]}")
    compiled = re.search(r"compiled the BEST model in ([\d.]+) s", done.stderr)
    fits = re.search(r"subsets compared in ([\d.]+) s", done.stderr)
    return {
        "wall": wall,
        "compile": float(compiled.group(1)) if compiled else float("nan"),
        "fits": float(fits.group(1)) if fits else float("nan"),
        "table": pd.read_csv(out, keep_default_na=False),
        "posterior": posterior,
    }


def run_default(y_a: np.ndarray, y_b: np.ndarray, seed: int):
    """A default PyMC fit: a fresh model, compiled and sampled by pm.sample."""
    import pymc as pm

    from finetox.compare import Settings
    from finetox.compare.best import best_model

    logging.getLogger("pymc").setLevel(logging.WARNING)
    started = time.perf_counter()
    with best_model(y_a, y_b, Settings.defaults().priors):
        idata = pm.sample(**DEFAULT, cores=CORES, random_seed=seed, progressbar=False)
    return time.perf_counter() - started, idata


def scalar(value) -> float:
    return float(np.asarray(value).reshape(-1)[0])


def deviations(fast: dict[str, np.ndarray], default: dict[str, np.ndarray], hdi_prob: float):
    """Per quantity: (|fast - default|, tolerance) with tolerance from both samplers' MCSE."""
    import arviz as az

    rows = {}
    for name in ("mu_a", "mu_b", "change"):
        mcse = [scalar(az.mcse(d[name], method="mean")) for d in (fast, default)]
        gap = abs(float(fast[name].mean()) - float(default[name].mean()))
        rows[f"mean {name}"] = (gap, TOLERANCE_MCSE * float(np.hypot(*mcse)))
    bounds = [az.hdi(d["change"].ravel(), hdi_prob=hdi_prob) for d in (fast, default)]
    for side, label in ((0, "hdi_low change"), (1, "hdi_high change")):
        mcse = []
        for draws, bound in zip((fast, default), bounds, strict=True):
            prob = float(np.clip((draws["change"] <= bound[side]).mean(), 0.001, 0.999))
            mcse.append(scalar(az.mcse(draws["change"], method="quantile", prob=prob)))
        gap = abs(float(bounds[0][side]) - float(bounds[1][side]))
        rows[label] = (gap, TOLERANCE_MCSE * float(np.hypot(*mcse)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 pairs, 3 default fits")
    parser.add_argument("--pairs", type=int, help=f"pairs run by the fast path (default {PAIRS})")
    parser.add_argument("--workdir", help="keep the score files and outputs here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("pymc").setLevel(logging.WARNING)
    import arviz as az

    from finetox.compare import Settings
    from finetox.compare.best import best_draws
    from finetox.compare.settings import subset_seed
    from finetox.config import load_study_file

    pairs = args.pairs or (3 if args.quick else PAIRS)
    # the default fits timed: one per subset, each from another pair (quick: one per size)
    sampled = ["total", "severe", "race"] if args.quick else SUBSETS
    sampled = [(subset, index % pairs) for index, subset in enumerate(sampled)]
    folder = Path(args.workdir or tempfile.mkdtemp(prefix="best-benchmark-"))
    folder.mkdir(parents=True, exist_ok=True)
    frames = {}
    for pair in range(pairs):
        frames[pair] = simulate_pair(pair)
        for side, frame in zip("ab", frames[pair], strict=True):
            frame.to_parquet(folder / f"{side}{pair}.parquet", index=False)
    settings = Settings.from_section(load_study_file(REPO / "config/config.yaml").config["compare"])
    print(
        f"fast: finetox compare per pair, {settings.sampler}, {settings.chains} chains x "
        f"{settings.draws} draws after {settings.warmup} warm-up (config/config.yaml)"
    )
    print(
        f"default: pm.sample per fit, {DEFAULT['chains']} chains x {DEFAULT['draws']} draws "
        f"after {DEFAULT['tune']} tuning, {CORES} cores"
    )
    fast = {}
    for pair in range(pairs):
        fast[pair] = run_fast(pair, folder)
        result = fast[pair]
        print(
            f"  fast pair {pair + 1:2d}/{pairs}: {result['wall']:6.1f} s (compile "
            f"{result['compile']:.1f} s, 7 fits {result['fits']:.1f} s)",
            flush=True,
        )
    default_times: dict[int, list[float]] = {}
    checks = []
    for subset, pair in sampled:
        frame_a, frame_b = frames[pair]
        y_a, y_b = subset_scores(frame_a, subset), subset_scores(frame_b, subset)
        seconds, idata = run_default(y_a, y_b, subset_seed(settings.seed, subset))
        default_times.setdefault(SIZE_OF[subset], []).append(seconds)
        group = az.from_netcdf(fast[pair]["posterior"])[f"posterior_{subset}"]
        fast_draws = {name: group[name].to_numpy() for name in ("mu_a", "mu_b", "change")}
        default_draws = best_draws(idata)
        checks.append((subset, pair, deviations(fast_draws, default_draws, settings.hdi_prob)))
        print(
            f"  default fit {subset:8s} (pair {pair + 1:2d}, {len(y_a)} + {len(y_b)} scores): "
            f"{seconds:6.1f} s",
            flush=True,
        )

    fast_total = sum(result["wall"] for result in fast.values())
    fast_fits = sum(result["fits"] for result in fast.values())
    fast_compile = sum(result["compile"] for result in fast.values())
    per_size = {size: float(np.mean(times)) for size, times in default_times.items()}
    fits_per_size = {size: 0 for size in per_size}
    for subset in SUBSETS:
        fits_per_size[SIZE_OF[subset]] += pairs
    default_total = sum(per_size[size] * count for size, count in fits_per_size.items())
    n_fits = pairs * len(SUBSETS)
    timed = sum(len(times) for times in default_times.values())
    print()
    print(f"{n_fits} BEST fits ({pairs} pairs x 7 subsets) on simulated toxicity-like scores")
    print(
        f"  fast    {fast_total:8.1f} s  measured: {pairs} processes (compile {fast_compile:.1f} s, "
        f"fits {fast_fits:.1f} s, imports and I/O the rest)"
    )
    sizes = ", ".join(f"{size} scores {per_size[size]:.1f} s" for size in sorted(per_size))
    print(
        f"  default {default_total:8.1f} s  extrapolated from {timed} timed fits (mean per fit: "
        f"{sizes})"
    )
    print(f"  ratio   {default_total / fast_total:8.1f}x  (target >= 10)")
    print(
        f"  fits alone: {default_total / fast_fits:.1f}x (the fast path's sampling time, "
        "without its per-process compile and imports)"
    )
    print()
    print(
        "deviation of the fast path from the default (posterior means of mu_a, mu_b, mu_b - mu_a;"
        f" {settings.hdi_prob:.0%} HDI of mu_b - mu_a); tolerance {TOLERANCE_MCSE:g} x combined MCSE"
    )
    worst = (0.0, 0.0, "")
    for subset, pair, rows in checks:
        gap_name = max(rows, key=lambda name: rows[name][0] / rows[name][1])
        gap, tolerance = rows[gap_name]
        largest = max(rows, key=lambda name: rows[name][0])
        print(
            f"  {subset:8s} pair {pair + 1:2d}: largest |deviation| {rows[largest][0]:.2e} "
            f"({largest}, tolerance {rows[largest][1]:.2e}); nearest its tolerance: "
            f"{gap_name} {gap:.2e} (tolerance {tolerance:.2e})"
        )
        if gap / tolerance > worst[0]:
            worst = (gap / tolerance, gap, f"{subset}, pair {pair + 1}, {gap_name}")
    print(
        f"  largest deviation relative to its tolerance: {worst[0]:.2f} ({worst[2]}: "
        f"{worst[1]:.2e}); {'NOT all' if beyond_tolerance(checks) else 'all'} within Monte Carlo "
        "error"
    )
    print(f"files: {folder}")
    outside = beyond_tolerance(checks)
    if outside:
        sys.exit(f"FAILED: the fast path deviates beyond Monte Carlo error: {'; '.join(outside)}")


def beyond_tolerance(checks) -> list[str]:
    """The checks whose deviation exceeds its tolerance (a NaN exceeds it), named."""
    return [
        f"{subset} pair {pair + 1} {name} {gap:.2e} > {tolerance:.2e}"
        for subset, pair, rows in checks
        for name, (gap, tolerance) in rows.items()
        if not gap <= tolerance
    ]


if __name__ == "__main__":
    main()
