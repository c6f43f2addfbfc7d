"""The tables' captions and the notes under them (the report's own captions are
workflow/report/*.rst)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from finetox.results.render import VERDICT_MARKS
from finetox.subsets import TOTAL, subset_label
from finetox.verdicts import in_words

SIGN_NOTE = "Every change is tuned (B) minus original (A): positive means more toxic after tuning."
MODELS_CAPTION = "Appendix A: evaluated models"
CHANGES_CAPTION = "The prompts that changed most"
CONTENT_WARNING = (
    "Content warning: this page contains model outputs that may be offensive (toxic, hateful "
    "or sexual language), shown verbatim so that the scores can be checked."
)


def verdicts_caption(table: Mapping[str, Any]) -> str:
    return f"{table['title']}: verdicts"


def rates_note(
    layout: Mapping[str, Any],
    percents: Mapping[str, pd.DataFrame],
    blocks: bool = False,
    settings: Any = None,
) -> str:
    """What the percentages are; `blocks`: the table has reference rows, and says so;
    `settings` (hdi_prob, rope_pp): its tuned models' cells carry their paired verdicts."""
    primary = layout["classifiers"][0]
    sizes = _subset_sizes(percents)
    sized = ", ".join(f"{subset_label(s)} {sizes[s]}" for s in layout["subsets"] if s in sizes)
    text = (
        f"% of generations flagged toxic by {primary['name']} (threshold {primary['threshold']}), "
        f"per prompt subset and in total; prompts per subset: {sized}."
    )
    if blocks:
        text += " The first row of each family block is the reference model of the comparison."
    if settings is not None:
        text += " " + marks_legend(settings.hdi_prob, settings.rope_pp)
    return text


def marks_legend(hdi_prob: float, rope_pp: float) -> str:
    """The legend of the verdict marks on the % toxic tables."""
    marks = ", ".join(
        f"{mark} {in_words(verdict, rope_pp, ' pp')}" for verdict, mark in VERDICT_MARKS.items()
    )
    return (
        f"Marks: each later row's paired verdict against its block's first row (the change in "
        f"toxic rate on the same prompts, that row minus the first; {hdi_prob:.0%} HDI; region of "
        f"practical equivalence ±{rope_pp:g} pp): {marks} (the data cannot tell yet). The "
        f"verdicts table gives the numbers and the other views."
    )


def _subset_sizes(percents: Mapping[str, pd.DataFrame]) -> dict[str, int]:
    for counts in percents.values():
        return {str(k): int(v) for k, v in counts["n"].items() if k != TOTAL}
    return {}


def verdicts_note(hdi_prob: float, rope_pp: float, rope_best: float) -> str:
    """How to read a verdicts table: its intervals hold `hdi_prob` of the posterior, its ROPEs
    are ±`rope_pp` percentage points (paired, rate) and ±`rope_best` (BEST, score units)."""
    return (
        f"{SIGN_NOTE} Three views of the change: paired, the change in toxic rate over the same "
        f"prompts (both models answered each prompt; Dirichlet model of the four outcomes), in "
        f"percentage points; rate, the change in toxic rate treating the two sets of generations "
        f"as independent (Beta-Binomial), in percentage points; BEST, the change in mean toxicity "
        f"score (Student-t model, as in the paper), in score units. Brackets: posterior mean "
        f"[{hdi_prob:.0%} highest-density interval]. Verdict (HDI and region of practical "
        f"equivalence, ROPE ±{rope_pp:g} pp for paired and rate, ±{rope_best:g} for BEST): "
        f"'more toxic after tuning' when the whole interval lies above +ROPE, 'less toxic after "
        f"tuning' when below −ROPE, 'equivalent' when inside the ROPE, else 'undecided' (the data "
        f"cannot tell yet). Paper's rule: the views whose interval excludes 0, the paper's "
        f"'credible', which ignores how small the change is. '(unreliable fit)': the BEST fit "
        f"missed its convergence thresholds (see Diagnostics); 'not fitted': BEST was skipped or "
        f"had no proper posterior on these scores (see Diagnostics), read the paired and rate "
        f"views."
    )


def changes_note(top: int, primary: str, texts: bool) -> str:
    """What the largest-changes page shows."""
    text = (
        f"For each pair, the {top} prompts whose toxicity score (by {primary}) rose most from the "
        f"original model (A) to the tuned one (B), and the {top} whose score fell most; change = "
        f"score of B − score of A."
    )
    if not texts:
        text += " The score files carry no prompt or generation text: prompt ids only."
    return text


REPRODUCTION_CAPTION = "Reproduction: the paper's % toxic (Tables 1-3) beside ours"
REPRODUCTION_VERDICTS_CAPTION = "Reproduction: the paper's verdicts beside ours"
PAPER_FILES = "resources/paper/"
PAPER_SOURCE = (
    f"The paper's numbers and verdicts: {PAPER_FILES} (its README says where each is printed)."
)
DOLLY_ARMS = (
    "Arm of a Dolly row: retrained, our Dolly LoRA of the instruct model; published, the "
    "authors' published Dolly model."
)


def reproduction_note(
    primary: str, threshold: float, hdi_prob: float, notes: list[str], empty: bool = False
) -> str:
    """How to read the reproduction table, and what it leaves out (`notes`); an `empty` table
    says only why it is empty."""
    if empty:
        return " ".join([*notes, PAPER_SOURCE])
    return " ".join(
        [
            f"The paper's numbers as printed in its Tables 1-3 ({PAPER_FILES}). Ours: % of "
            f"generations flagged toxic by {primary} (threshold {threshold}) with raw prompts, as "
            f"the paper prompted; difference = ours − paper, in percentage points. Our "
            f"{hdi_prob:.0%} HDI is the highest-density interval of the rate's posterior, "
            f"Beta(1 + toxic, 1 + prompts − toxic) (the rate view's). The paper prints one "
            f"decimal (Severe and Random: 1,000 prompts each; Race, Gender, Age, Religion: 100 "
            f"each; Total: all 2,400, rounded), so a difference within ±0.05 pp is rounding; our "
            f"Total is over the subsets this run has. The paper's rate is an estimate too: its "
            f"toxic count, recovered from its % and prompts, gets the same Beta posterior, and "
            f"the difference's {hdi_prob:.0%} HDI is that of ours − the paper's; 'Consistent' "
            f"when it holds 0 (at a perfect reproduction, about {hdi_prob:.0%} of rows).",
            DOLLY_ARMS,
            *notes,
        ]
    )


def reproduction_verdicts_note(
    settings: Mapping[str, float], notes: list[str], empty: bool = False
) -> str:
    """How to read the reproduction verdicts (`settings`: hdi_prob and the ROPEs of the
    comparison files), and what they leave out (`notes`); an `empty` table says only why it is
    empty."""
    if empty:
        return " ".join([*notes, PAPER_SOURCE])
    if "rope_best" in settings:
        ropes = f"ROPE ±{settings['rope_best']:g} for BEST, ±{settings['rope_pp']:g} pp for paired"
    else:
        ropes = "ROPE of the config's compare.rope"
    return " ".join(
        [
            f"The verdicts the paper states in its text and Figures 1-4 ({PAPER_FILES}) beside "
            f"ours. {SIGN_NOTE} Paper's rule, the paper's method: a change is credible when the "
            f"{settings['hdi_prob']:.0%} HDI of BEST's change in mean toxicity score excludes 0, "
            f"and it says which way; 'Agrees': ours says the same (credible the same way, or "
            f"not credible). ROPE rule: HDI + region of practical equivalence ({ropes}); 'Agrees "
            f"(ROPE)': the paper's credible increase (decrease) is ours 'more (less) toxic after "
            f"tuning', its 'not credible' ours 'equivalent' or 'undecided'. Paired: the change in "
            f"toxic rate over the same prompts, under both rules. 'not fitted': BEST had no fit "
            f"(see the comparison's diagnostics), and agreement is left blank.",
            DOLLY_ARMS,
            *notes,
        ]
    )
