"""BEST (Kruschke 2013), as in the paper: each model's scores Student-t with a shared nu:
    y_j ~ StudentT(nu, mu_j, sigma_j),  mu_j ~ Normal(mu_mean, mu_sd),
    sigma_j ~ HalfCauchy(sigma_beta),   nu - 1 ~ Exponential(mean nu_minus_one_mean).
On toxicity scores, mostly near 0, nu falls to about 1 and mu follows the bulk near 0, not the
toxic rate the tables report (the rate view answers that).

Speed: compiling a model costs far more than sampling a small one, so one compiled model serves
every subset of a pair, its data swapped in through shared data containers (nutpie's
`with_data`); nutpie samples in compiled code with no Python in the loop. `benchmarks/best.py`
measures this path against one default PyMC fit at a time.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from finetox.compare.decision import decide, not_fitted, quiet_imports
from finetox.compare.settings import Priors, Settings

log = logging.getLogger("finetox.compare")

DRAW_VARIABLES = ("mu_a", "mu_b", "sigma_a", "sigma_b", "nu", "change", "effect_size", "diverging")


def best_model(y_a: np.ndarray, y_b: np.ndarray, priors: Priors):
    """The BEST model of the module docstring, its data in shared containers y_a, y_b."""
    quiet_imports()
    import pymc as pm

    with pm.Model(coords={"model": ["a", "b"]}) as model:
        data_a = pm.Data("y_a", np.asarray(y_a, dtype=float))
        data_b = pm.Data("y_b", np.asarray(y_b, dtype=float))
        mu = pm.Normal("mu", mu=priors.mu_mean, sigma=priors.mu_sd, dims="model")
        sigma = pm.HalfCauchy("sigma", beta=priors.sigma_beta, dims="model")
        nu_minus_one = pm.Exponential("nu_minus_one", scale=priors.nu_minus_one_mean)
        nu = pm.Deterministic("nu", nu_minus_one + 1)
        pm.StudentT("obs_a", nu=nu, mu=mu[0], sigma=sigma[0], observed=data_a)
        pm.StudentT("obs_b", nu=nu, mu=mu[1], sigma=sigma[1], observed=data_b)
    return model


@functools.lru_cache(maxsize=4)
def compiled_best_model(priors: Priors):
    """BEST compiled by nutpie, once per process and priors; fits swap their data in."""
    import nutpie

    started = time.perf_counter()
    # placeholder data: every fit replaces them, and nothing compiled depends on their length
    compiled = nutpie.compile_pymc_model(best_model(np.zeros(2), np.zeros(2), priors))
    log.info("compiled the BEST model in %.1f s", time.perf_counter() - started)
    return compiled


class BestSampler:
    """Fits BEST to one pair of score vectors after another.

    nutpie: one compiled model (per process) for every fit, its data swapped in with
    `with_data`. pymc: PyMC's own NUTS sampler (the reference; slow), data swapped with set_data.
    """

    def __init__(self, settings: Settings, cores: int | None = None):
        self.settings = settings
        self.cores = max(1, min(settings.chains, cores or os.cpu_count() or 1))
        self._model = None

    def prepare(self) -> None:
        """Compile now, so that fit times are sampling alone."""
        if self.settings.sampler == "nutpie":
            compiled_best_model(self.settings.priors)

    def fit(self, y_a: np.ndarray, y_b: np.ndarray, seed: int):
        """Posterior draws (arviz InferenceData) of BEST on these scores."""
        y_a, y_b = np.asarray(y_a, dtype=float), np.asarray(y_b, dtype=float)
        if self.settings.sampler == "nutpie":
            return self._fit_nutpie(y_a, y_b, seed)
        return self._fit_pymc(y_a, y_b, seed)

    def _fit_nutpie(self, y_a, y_b, seed):
        import nutpie

        compiled = compiled_best_model(self.settings.priors).with_data(y_a=y_a, y_b=y_b)
        return nutpie.sample(
            compiled,
            draws=self.settings.draws,
            tune=self.settings.warmup,
            chains=self.settings.chains,
            cores=self.cores,
            seed=seed,
            save_warmup=False,
            progress_bar=False,
        )

    def _fit_pymc(self, y_a, y_b, seed):
        import pymc as pm

        if self._model is None:
            self._model = best_model(y_a, y_b, self.settings.priors)
        with self._model:
            pm.set_data({"y_a": y_a, "y_b": y_b})
            return pm.sample(
                draws=self.settings.draws,
                tune=self.settings.warmup,
                chains=self.settings.chains,
                cores=self.cores,
                random_seed=seed,
                progressbar=False,
                compute_convergence_checks=False,
            )


def best_draws(idata) -> dict[str, Any]:
    """The draws the summaries need, as (chain, draw) arrays; change = mu_b - mu_a."""
    posterior = idata.posterior
    mu_a, mu_b = posterior["mu"].sel(model="a"), posterior["mu"].sel(model="b")
    sigma_a, sigma_b = posterior["sigma"].sel(model="a"), posterior["sigma"].sel(model="b")
    change = mu_b - mu_a
    return {
        "mu_a": mu_a.to_numpy(),
        "mu_b": mu_b.to_numpy(),
        "sigma_a": sigma_a.to_numpy(),
        "sigma_b": sigma_b.to_numpy(),
        "nu": posterior["nu"].to_numpy(),
        "change": change.to_numpy(),
        "effect_size": (change / np.sqrt((sigma_a**2 + sigma_b**2) / 2)).to_numpy(),
        "diverging": idata.sample_stats["diverging"].to_numpy().astype(bool),
    }


def summarize_best(draws: Mapping[str, np.ndarray], settings: Settings) -> dict[str, Any]:
    """The decision on the change in location, effect size and sampler diagnostics."""
    quiet_imports()
    import arviz as az

    decision = decide(draws["change"], settings.hdi_prob, settings.rope.best)
    checked = ("mu_a", "mu_b", "sigma_a", "sigma_b", "nu", "change")
    r_hat = max(float(az.rhat(draws[name])) for name in checked)
    ess = min(float(az.ess(draws[name], method="bulk")) for name in checked)
    divergences = int(draws["diverging"].sum())
    return {
        "best_fitted": True,
        **decision.record("best"),
        "effect_size": float(draws["effect_size"].mean()),
        "nu_mean": float(draws["nu"].mean()),
        "r_hat_max": r_hat,
        "ess_bulk_min": ess,
        "divergences": divergences,
        "warning": diagnostics_warning(r_hat, ess, divergences, settings),
    }


def improper_reason(scores: pd.Series | np.ndarray, side: str) -> str | None:
    """Why BEST's posterior is improper on these scores, or None.

    When more than half of one model's scores share one exact value (all equal, as a saturated
    classifier gives), the Student-t likelihood grows without bound as sigma -> 0 at that value
    (with nu near 1, each tied score adds a factor 1/sigma, each other score a factor sigma), so
    there is no posterior to sample: the sampler only runs towards sigma = 0, slowly.
    """
    values = np.asarray(scores, dtype=float)
    uniques, counts = np.unique(values, return_counts=True)
    tied = int(counts.max())
    if tied * 2 > len(values):
        value = float(uniques[counts.argmax()])
        return (
            f"{tied} of {len(values)} scores of {side} are exactly {value:.6g}, which makes its "
            "posterior improper (sigma -> 0), so read the rates"
        )
    return None


def unfitted_draws(settings: Settings) -> dict[str, np.ndarray]:
    """Missing draws (NaN) of the right shape for a subset BEST did not fit."""
    shape = (settings.chains, settings.draws)
    names = ("mu_a", "mu_b", "sigma_a", "sigma_b", "nu", "change", "effect_size")
    draws = {name: np.full(shape, np.nan) for name in names}
    draws["diverging"] = np.zeros(shape, dtype=bool)
    return draws


def summarize_unfitted(reason: str) -> dict[str, Any]:
    missing = float("nan")
    return {
        "best_fitted": False,
        **not_fitted().record("best"),
        "effect_size": missing,
        "nu_mean": missing,
        "r_hat_max": missing,
        "ess_bulk_min": missing,
        "divergences": 0,
        "warning": reason,
    }


def diagnostics_warning(r_hat: float, ess: float, divergences: int, settings: Settings) -> str:
    """What missed its threshold, or '' when the sampler's diagnostics are fine."""
    problems = []
    if not r_hat <= settings.r_hat_max:
        problems.append(f"r_hat {r_hat:.3f} > {settings.r_hat_max:g}")
    if not ess >= settings.ess_min:
        problems.append(f"ess_bulk {ess:.0f} < {settings.ess_min:g}")
    if divergences:
        problems.append(f"{divergences} divergent transition(s)")
    return "; ".join(problems)
