"""The posterior file of a comparison: ArviZ InferenceData (NetCDF) with one group per subset,
`posterior_{subset}`, holding BEST's draws and the rate and paired posteriors' parameters.
`arviz.from_netcdf(path)` opens it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from finetox.compare.best import DRAW_VARIABLES
from finetox.compare.settings import Settings
from finetox.io import atomic_path
from finetox.scores_file import Scores

CELL_DIM = "cell"


def group_name(subset: str) -> str:
    return f"posterior_{subset}"


def subset_group(draws: Mapping[str, np.ndarray], parameters: Mapping[str, Any]):
    """One subset's group: BEST draws (chain, draw), rate Beta parameters, paired Dirichlet ones."""
    import xarray as xr

    variables = {name: (("chain", "draw"), draws[name]) for name in DRAW_VARIABLES}
    for name, value in parameters["rate"].items():
        variables[name] = ((), value)
    variables["paired_alpha"] = ((CELL_DIM,), np.asarray(parameters["paired"], dtype=float))
    return xr.Dataset(
        variables,
        coords={
            "chain": np.arange(draws["mu_a"].shape[0]),
            "draw": np.arange(draws["mu_a"].shape[1]),
            CELL_DIM: ["both", "only_a", "only_b", "neither"],
        },
    )


def inference_data(
    subsets: Sequence[str],
    groups: Sequence[Any],
    a: Scores,
    b: Scores,
    settings: Settings,
):
    import arviz as az

    idata = az.InferenceData(
        **{group_name(s): group for s, group in zip(subsets, groups, strict=True)}
    )
    attrs = {
        "a": a.path,
        "b": b.path,
        "score_column_a": a.column,
        "score_column_b": b.column,
        "toxic_a": a.toxic_from,
        "toxic_b": b.toxic_from,
        "change": "B - A (positive: B, the tuned model, more toxic); BEST: mu_b - mu_a",
        "rate_posterior": "Beta(rate_alpha, rate_beta) per model: Beta(1, 1) prior, binomial counts",
        "paired_posterior": "Dirichlet(paired_alpha) over (both, only_a, only_b, neither): "
        "Dirichlet(1, 1, 1, 1) prior, paired counts; change = p(only_b) - p(only_a)",
        "settings": json.dumps(settings.record()),
    }
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata


def write_posterior(idata, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        idata.to_netcdf(str(tmp), engine="h5netcdf")
