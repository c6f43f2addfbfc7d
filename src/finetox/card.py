"""A model-card section from one comparison's JSON (`finetox compare --json`): what was
measured, the change per subset with its interval and verdict, and the caveats."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from finetox.io import InputError
from finetox.subsets import TOTAL, subset_label
from finetox.verdicts import in_words

CAVEATS = (
    "The classifier is a proxy for toxicity: hate-speech classifiers are known to flag text that "
    "mentions some identity groups more often than other text, and to miss implicit toxicity.",
    "The prompts cover what the prompt set covers (RealToxicityPrompts' Severe and Random subsets "
    "and CEB's four identity axes in the paper's study); other uses of the model are not measured.",
    "Continuations are greedy and short (the configured number of new tokens); sampled or longer "
    "outputs may behave differently.",
)


def read_result(path: str | os.PathLike) -> dict[str, Any]:
    try:
        result = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not a comparison JSON ({error})") from error
    missing = [key for key in ("a", "b", "settings", "subsets", "gate") if key not in result]
    if missing:
        raise InputError(f"{path}: not a comparison JSON of finetox compare: no {missing}")
    return result


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1f}"


def _row(name: str, subset: dict[str, Any], rope_pp: float) -> str:
    paired = subset["paired"]
    low, high = paired["hdi_pp"]
    toxic = subset["toxic_pct"]
    return (
        f"| {subset_label(name)} | {subset['n_pairs']} | {toxic['a']:.1f} | {toxic['b']:.1f} | "
        f"{_pp(paired['change_pp'])} [{_pp(low)}, {_pp(high)}] | "
        f"{in_words(paired['verdict'], rope_pp, ' pp')} |"
    )


def model_card(result: dict[str, Any]) -> str:
    """The Markdown section."""
    settings = result["settings"]
    rope_pp, hdi = settings["rope_pp"], settings["hdi_prob"]
    subsets = result["subsets"]
    lines = [
        "## Toxicity before and after fine-tuning",
        "",
        _measured(result),
        "",
        _headline(subsets[TOTAL], rope_pp, hdi),
        "",
        f"| Subset | Prompts | % toxic, original | % toxic, tuned | Change, pp [{hdi:.0%} HDI] | Verdict |",
        "| --- | ---: | ---: | ---: | --- | --- |",
        *(_row(name, subsets[name], rope_pp) for name in [*_order(subsets), TOTAL]),
        "",
        f"Change = tuned − original in toxic rate (percentage points), from the paired posterior "
        f"over the same prompts (Dirichlet(1, 1, 1, 1) over both toxic / only original / only "
        f"tuned / neither). Verdicts use a region of practical equivalence of ±{rope_pp:g} pp: "
        f"*more toxic* when the whole interval lies above +{rope_pp:g} pp, *less toxic* below "
        f"−{rope_pp:g} pp, *equivalent* inside, *undecided* otherwise.",
        "",
        "Caveats:",
        *(f"- {caveat}" for caveat in CAVEATS),
        "",
    ]
    return "\n".join(lines)


def _measured(result: dict[str, Any]) -> str:
    subsets = result["subsets"]
    sizes = ", ".join(
        f"{subset_label(name)} {subsets[name]['n_pairs']}" for name in _order(subsets)
    )
    original, tuned = Path(result["a"]["path"]).stem, Path(result["b"]["path"]).stem
    return (
        f"Measured with finetox on {subsets[TOTAL]['n_pairs']} prompts ({sizes}): greedy "
        f"continuations of the original model (A, `{original}`) and the tuned model (B, "
        f"`{tuned}`), each scored by {_classifier_text(result.get('classifier') or {})}."
    )


def _headline(total: dict[str, Any], rope_pp: float, hdi: float) -> str:
    paired = total["paired"]
    low, high = paired["hdi_pp"]
    return (
        f"**In total: {in_words(paired['verdict'], rope_pp, ' pp')}** "
        f"({total['toxic_pct']['a']:.1f}% → {total['toxic_pct']['b']:.1f}% toxic; paired change "
        f"{_pp(paired['change_pp'])} pp, {hdi:.0%} HDI [{_pp(low)}, {_pp(high)}])."
    )


def _order(subsets: dict[str, Any]) -> list[str]:
    return [name for name in subsets if name != TOTAL]


def _classifier_text(classifier: dict[str, Any]) -> str:
    if not classifier:
        return "the toxicity classifier of the score files"
    name = classifier.get("source") or classifier.get("name")
    threshold = classifier.get("threshold")
    where = f"`{name}`" + (f" (label `{classifier['label']}`)" if classifier.get("label") else "")
    return (
        f"{where}, toxic when its score is above {threshold:g}" if threshold is not None else where
    )
