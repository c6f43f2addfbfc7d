"""tables/sampled_verdicts: the verdicts of every sampled pair (docs/sampled.md), per subset and
in total, read from the pairs' comparison JSON: Toxicity Probability of A and B with the paired
view's change (pp) and its HDI + ROPE verdict, and Expected Maximum Toxicity of A and B with the
change's Bayesian-bootstrap HDI and verdict; k and the decoding in the caption."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finetox import paths
from finetox.io import InputError
from finetox.results.render import interval_text
from finetox.results.sampled_table import decoding_text
from finetox.results.write import write_table_files
from finetox.subsets import TOTAL, subset_label, subset_order
from finetox.verdicts import in_words

log = logging.getLogger("finetox.results")

NAME = "sampled_verdicts"
COLUMNS = [
    "pair", "kind", "family", "family_label", "model_a", "model_b", "label_a", "label_b", "subset", "k",
    "n_pairs", "tp_a_pct", "tp_b_pct", "tp_change_pp", "tp_hdi_low_pp", "tp_hdi_high_pp",
    "tp_verdict", "emt_a", "emt_b", "emt_change", "emt_hdi_low", "emt_hdi_high", "emt_verdict",
]  # fmt: skip
# the decoding settings a comparison records and the study's generation.sampled must agree on
DECODING_KEYS = ("k", "temperature", "top_p", "top_k", "max_new_tokens")
RULE_KEYS = ("hdi_prob", "rope_pp", "rope_emt")


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _checked(path: Path, result: Mapping[str, Any], expected: Mapping[str, Any]) -> None:
    """The comparison is of sampled runs decoded as the study says, decided by its rule."""
    settings = result.get("settings") or {}
    found = settings.get("decoding")
    if not found or found.get("decoding") != "sampled":
        raise InputError(f"{path}: not a comparison of sampled runs (no settings.decoding)")
    differ = [
        f"{key} {found[key]} (config: {expected[key]})"
        for key in DECODING_KEYS
        if key in found and key in expected and found[key] != expected[key]
    ] + [
        f"{key} {settings.get(key)} (config: {expected[key]})"
        for key in RULE_KEYS
        if settings.get(key) != expected[key]
    ]
    if differ:
        raise InputError(f"{path}: compared with {', '.join(differ)}; compare it again")


def pair_rows(pair: Mapping[str, Any], result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per subset (the paper's order) and total of one sampled comparison's JSON."""
    subsets = result["subsets"]
    rows = []
    for subset in [*subset_order(subsets), TOTAL]:
        entry = subsets[subset]
        tp, emt = entry["toxicity_probability"], entry["emt"]
        rows.append(
            {
                "pair": pair["name"], "kind": pair["kind"], "family": pair["family"],
                "family_label": pair.get("family_label") or pair["family"],
                "model_a": pair["a"], "model_b": pair["b"], "label_a": pair["label_a"],
                "label_b": pair["label_b"], "subset": subset, "k": entry["k"],
                "n_pairs": entry["n_pairs"], "tp_a_pct": tp["a_pct"], "tp_b_pct": tp["b_pct"],
                "tp_change_pp": _number(tp["change_pp"]),
                "tp_hdi_low_pp": _number(tp["hdi_pp"][0]),
                "tp_hdi_high_pp": _number(tp["hdi_pp"][1]), "tp_verdict": tp["verdict"],
                "emt_a": _number(emt["a"]), "emt_b": _number(emt["b"]),
                "emt_change": _number(emt["change"]), "emt_hdi_low": _number(emt["hdi"][0]),
                "emt_hdi_high": _number(emt["hdi"][1]), "emt_verdict": emt["verdict"],
            }
        )  # fmt: skip
    return rows


def sampled_verdicts(
    pairs: Sequence[Mapping[str, Any]], comparison_files: Mapping[str, str | os.PathLike],
    expected: Mapping[str, Any],
) -> pd.DataFrame:  # fmt: skip
    """The table's numbers: one row per pair (in `pairs`' order) and subset. `expected`: the
    study's sampling settings (k, temperature, top_p, top_k, max_new_tokens) and its rule
    (hdi_prob, rope_pp, rope_emt), which every comparison must have been made with."""
    rows = []
    for pair in pairs:
        path = Path(comparison_files[pair["name"]])
        result = json.loads(path.read_text(encoding="utf-8"))
        _checked(path, result, expected)
        rows += pair_rows(pair, result)
    return pd.DataFrame(rows, columns=COLUMNS)


def caption(sampling: Mapping[str, Any]) -> str:
    return (
        "Sampled decoding: verdicts on Toxicity Probability and Expected Maximum Toxicity "
        f"({decoding_text(sampling)})"
    )


def note(expected: Mapping[str, Any]) -> str:
    percent = f"{100 * expected['hdi_prob']:g}%"
    return (
        "Change = B - A (positive: B, the tuned model, more toxic). Toxicity Probability: % of "
        "prompts with at least one toxic sample; its change is the paired view of each "
        "prompt's 'any sample toxic' flag (posterior mean (only B - only A) / (pairs + 4), "
        f"in pp) with its {percent} HDI. EMT: the mean over prompts of each prompt's highest "
        "score; its change is the mean of the per-prompt differences, with the "
        f"{percent} HDI of a Bayesian bootstrap over prompts. Verdicts: HDI + ROPE (the ROPE "
        f"±{expected['rope_pp']:g} pp for Toxicity Probability, ±{expected['rope_emt']:g} for "
        "EMT): more or less toxic after tuning when the HDI lies beyond it, equivalent when "
        "inside, otherwise undecided. Compare these only with numbers of the same k and "
        "decoding."
    )


def display(frame: pd.DataFrame, expected: Mapping[str, Any]) -> pd.DataFrame:
    """The reader's table: A → B for each metric, the change with its HDI, the verdict."""
    hdi = f"{expected['hdi_prob']:.0%} HDI"
    rows = [
        [
            row.family_label or "—",
            row.label_a,
            row.label_b,
            subset_label(row.subset),
            row.k,
            f"{row.tp_a_pct:.1f} → {row.tp_b_pct:.1f}",
            interval_text(row.tp_change_pp, row.tp_hdi_low_pp, row.tp_hdi_high_pp, 1),
            in_words(row.tp_verdict, expected["rope_pp"], " pp"),
            f"{row.emt_a:.3f} → {row.emt_b:.3f}",
            interval_text(row.emt_change, row.emt_hdi_low, row.emt_hdi_high, 3),
            in_words(row.emt_verdict, expected["rope_emt"], ""),
        ]
        for row in frame.itertuples(index=False)
    ]
    columns = [
        "Family", "Original (A)", "Tuned (B)", "Subset", "k",
        "Toxicity Probability % (A → B)", f"Change, pp [{hdi}]", "Toxicity Probability verdict",
        "EMT (A → B)", f"EMT change [{hdi}]", "EMT verdict",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def write_sampled_verdicts(
    pairs: Sequence[Mapping[str, Any]], comparisons: Iterable[str | os.PathLike],
    expected: Mapping[str, Any], *, out_dir: str | os.PathLike | None = None,
) -> list[Path]:  # fmt: skip
    """tables/sampled_verdicts.{csv,md,tex,html} from the sampled pairs' comparison JSON files
    (named {pair}.json, as the workflow writes them)."""
    files = {Path(path).name.removesuffix(".json"): path for path in comparisons}
    missing = [pair["name"] for pair in pairs if pair["name"] not in files]
    if missing:
        raise InputError(f"no comparison JSON for sampled pair(s) {missing}")
    frame = sampled_verdicts(pairs, files, expected)
    stem = Path(out_dir or paths.tables_dir()) / NAME
    written = write_table_files(
        frame, display(frame, expected), stem, caption(expected), note(expected)
    )
    log.info("%s: %d pairs, k %d: %s", NAME, len(pairs), expected["k"], ", ".join(
        f"{r.label_a} -> {r.label_b} Toxicity Probability {r.tp_verdict}, EMT {r.emt_verdict}"
        for r in frame[frame["subset"] == TOTAL].itertuples()))  # fmt: skip
    return written
