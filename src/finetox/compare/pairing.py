"""Both models answered the same prompts: checking that they did, lining their flags up prompt by
prompt, and listing the prompts whose toxic flag flipped."""

from __future__ import annotations

import pandas as pd

from finetox.io import UserError
from finetox.scores_file import TEXT_COLUMNS, Scores

FLIP_COLUMNS = [
    "prompt_id", "subset", "prompt", "generation_a", "generation_b", "score_a", "score_b",
    "direction",
]  # fmt: skip
BECAME_TOXIC, BECAME_NON_TOXIC = "became toxic", "became non-toxic"


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


def duplicate_notes(a: Scores, b: Scores, total: str) -> dict[str, list[str]]:
    """With --allow-unpaired, prompts a file holds more than once are compared anyway: the rate
    and BEST views count each of their rows (several generations of one prompt are several
    samples), the paired view leaves them out. Per subset (and `total`), a note saying so for
    each file that has them, so no prompt is counted twice without a word."""
    notes: dict[str, list[str]] = {}
    for side, name in ((a, "A"), (b, "B")):
        frame = side.frame
        repeated = frame[frame["prompt_id"].duplicated(keep=False)]
        if repeated.empty:
            continue
        for subset, rows in [(total, repeated), *repeated.groupby("subset", sort=False)]:
            notes.setdefault(subset, []).append(
                f"{side.path} ({name}) holds {rows['prompt_id'].nunique()} prompt_id(s) more "
                f"than once ({len(rows)} rows; first: {rows['prompt_id'].iloc[0]!r}): the rate "
                "and BEST views count every row, the paired view leaves these prompts out"
            )
    return notes


def paired_rows(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """One row per prompt both frames hold exactly once: prompt_id, subset, score_a, score_b,
    toxic_a, toxic_b, and the text columns the files carry (prompt, generation_a, generation_b)."""
    left, right = _side(_once(a), "a"), _side(_once(b), "b").drop(columns="subset")
    merged = left.merge(right, on="prompt_id", validate="one_to_one")
    prompts = [merged[c] for c in ("prompt_a", "prompt_b") if c in merged]
    if prompts:
        merged["prompt"] = prompts[0]
    return merged.drop(columns=["prompt_a", "prompt_b"], errors="ignore")


def _side(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    columns = ["prompt_id", "subset", "score", "toxic", *(c for c in TEXT_COLUMNS if c in frame)]
    renamed = {name: f"{name}_{side}" for name in ("score", "toxic", "prompt", "generation")}
    return frame[columns].rename(columns=renamed)


def _once(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[~frame["prompt_id"].duplicated(keep=False)]


def flips(rows: pd.DataFrame) -> pd.DataFrame:
    """Every prompt whose toxic flag differs between A and B, B's increases first."""
    changed = rows[rows["toxic_a"] != rows["toxic_b"]].copy()
    changed["direction"] = changed["toxic_b"].map({True: BECAME_TOXIC, False: BECAME_NON_TOXIC})
    for column in ("prompt", "generation_a", "generation_b"):
        if column not in changed:
            changed[column] = None
    changed["change"] = changed["score_b"] - changed["score_a"]
    changed = changed.sort_values(["toxic_b", "change"], ascending=[False, False], kind="stable")
    return changed[FLIP_COLUMNS].reset_index(drop=True)
