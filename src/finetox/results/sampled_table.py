"""tables/sampled_rates: the field's sampled metrics per model and subset (docs/sampled.md):
Expected Maximum Toxicity with its Bayesian-bootstrap HDI, Toxicity Probability with its exact
Beta HDI and the toxic fraction of all samples, with k and the decoding in the caption."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import paths
from finetox.compare.sampled import decoding
from finetox.compare.sampled_metrics import BOOTSTRAP_DRAWS, model_metrics, per_prompt
from finetox.compare.settings import subset_seed
from finetox.io import InputError
from finetox.results.write import write_table_files
from finetox.scores_file import Scores, read_scores
from finetox.subsets import TOTAL, subset_label, subset_order

log = logging.getLogger("finetox.results")

NAME = "sampled_rates"
COLUMNS = [
    "model", "label", "subset", "k", "prompts", "emt", "emt_hdi_low", "emt_hdi_high",
    "toxic_prompts", "toxicity_probability_pct", "tp_hdi_low_pct", "tp_hdi_high_pct",
    "toxic_fraction_pct", "threshold",
]  # fmt: skip


def _checked(scores: Scores, sampling: Mapping[str, Any]) -> int:
    """The file's k, which must be the study's (a file from other settings is stale)."""
    found = decoding(scores)
    if found["decoding"] != "sampled":
        raise InputError(f"{scores.path}: greedy generations; the sampled table needs k samples")
    differ = [key for key in ("k", "temperature", "top_p", "top_k", "max_new_tokens")
              if key in found and key in sampling and found[key] != sampling[key]]  # fmt: skip
    if differ:
        shown = ", ".join(f"{key} {found[key]} (config: {sampling[key]})" for key in differ)
        raise InputError(f"{scores.path}: sampled with {shown}; generate it again")
    return found["k"]


def model_rows(
    model: Mapping[str, str], scores: Scores, k: int, hdi_prob: float, seed: int
) -> list[dict[str, Any]]:
    """One row per subset (the paper's order) and total of one model's sampled scores."""
    prompts = per_prompt(scores.frame)
    rows = []
    for subset in [*subset_order(prompts["subset"]), TOTAL]:
        part = prompts if subset == TOTAL else prompts[prompts["subset"] == subset]
        metrics = model_metrics(part, k, hdi_prob, subset_seed(seed, subset))
        rows.append(
            {
                "model": model["name"], "label": model["label"], "subset": subset, "k": k,
                "prompts": metrics.prompts, "emt": metrics.emt, "emt_hdi_low": metrics.emt_low,
                "emt_hdi_high": metrics.emt_high, "toxic_prompts": metrics.toxic_prompts,
                "toxicity_probability_pct": 100 * metrics.toxicity_probability,
                "tp_hdi_low_pct": 100 * metrics.tp_low, "tp_hdi_high_pct": 100 * metrics.tp_high,
                "toxic_fraction_pct": 100 * metrics.toxic_fraction, "threshold": scores.threshold,
            }
        )  # fmt: skip
    return rows


def sampled_rates(
    models: Sequence[Mapping[str, str]], score_files: Mapping[str, str | os.PathLike],
    sampling: Mapping[str, Any], hdi_prob: float, seed: int,
) -> pd.DataFrame:  # fmt: skip
    """The table's numbers: one row per model (in `models`' order) and subset."""
    rows = []
    for model in models:
        scores = read_scores(score_files[model["name"]])
        k = _checked(scores, sampling)
        rows += model_rows(model, scores, k, hdi_prob, seed)
    return pd.DataFrame(rows, columns=COLUMNS)


def decoding_text(sampling: Mapping[str, Any]) -> str:
    """k and the decoding, as every sampled table's caption states them."""
    top_k = sampling["top_k"] or "off"
    return (
        f"k = {sampling['k']} samples per prompt, temperature {sampling['temperature']:g}, top_p "
        f"{sampling['top_p']:g}, top_k {top_k}, at most {sampling['max_new_tokens']} new tokens"
    )


def caption(sampling: Mapping[str, Any]) -> str:
    return (
        "Sampled decoding: Expected Maximum Toxicity and Toxicity Probability "
        f"({decoding_text(sampling)})"
    )


def note(sampling: Mapping[str, Any], hdi_prob: float, thresholds: Iterable[float]) -> str:
    shown = ", ".join(sorted({f"{t:g}" for t in thresholds if t is not None})) or "0.5"
    percent = f"{100 * hdi_prob:g}%"
    return (
        f"EMT: the mean over prompts of the highest score among each prompt's {sampling['k']} "
        f"samples, with its {percent} HDI from a Bayesian bootstrap over prompts (Dirichlet(1, "
        f"..., 1) weights, {BOOTSTRAP_DRAWS:,} draws). Toxicity Probability: % of prompts with "
        f"at least one toxic sample among {sampling['k']} (toxic: score > {shown}; HELM and "
        f"lm-evaluation-harness count >= 0.5), with its exact {percent} Beta HDI. Toxic "
        "fraction: % of all samples that are toxic. Both metrics grow with k: compare them only "
        "with numbers of the same k and decoding (HELM measured EMT 0.58 at k = 25 against 0.38 "
        "at k = 5 on one model)."
    )


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The reader's table: model, subset, each number with its HDI in brackets."""
    return pd.DataFrame(
        {
            "Model": frame["label"],
            "Subset": [subset_label(s) for s in frame["subset"]],
            "k": frame["k"],
            "EMT [HDI]": [
                f"{r.emt:.3f} [{r.emt_hdi_low:.3f}, {r.emt_hdi_high:.3f}]"
                for r in frame.itertuples()
            ],
            "Toxicity Probability % [HDI]": [
                f"{r.toxicity_probability_pct:.1f} [{r.tp_hdi_low_pct:.1f}, {r.tp_hdi_high_pct:.1f}]"
                for r in frame.itertuples()
            ],
            "Toxic fraction %": [f"{v:.1f}" for v in frame["toxic_fraction_pct"]],
        }
    )


def write_sampled_table(
    models: Sequence[Mapping[str, str]], scores: Iterable[str | os.PathLike],
    sampling: Mapping[str, Any], *, hdi_prob: float, seed: int,
    out_dir: str | os.PathLike | None = None,
) -> list[Path]:  # fmt: skip
    """tables/sampled_rates.{csv,md,tex,html} from the sampled runs' scores files (named
    {model}.parquet, as the workflow writes them)."""
    files = {Path(path).stem: path for path in scores}
    missing = [model["name"] for model in models if model["name"] not in files]
    if missing:
        raise InputError(f"no scores file for sampled run(s) {missing}")
    frame = sampled_rates(models, files, sampling, hdi_prob, seed)
    stem = Path(out_dir or paths.tables_dir()) / NAME
    written = write_table_files(
        frame, display(frame), stem, caption(sampling),
        note(sampling, hdi_prob, frame["threshold"]),
    )  # fmt: skip
    log.info("%s: %d models, k %d: %s", NAME, len(models), sampling["k"], ", ".join(
        f"{r.label} EMT {r.emt:.3f}, Toxicity Probability {r.toxicity_probability_pct:.1f}%"
        for r in frame[frame["subset"] == TOTAL].itertuples()))  # fmt: skip
    return written
