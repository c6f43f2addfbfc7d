"""A comparison as a terminal reader sees it: per subset, the change B - A in each view with its
interval and verdict in words, then the gate."""

from __future__ import annotations

import math
import sys
from typing import Any

import pandas as pd

from finetox.subsets import subset_label
from finetox.verdicts import in_words


def _interval(mean: float, low: float, high: float, digits: int) -> str:
    if any(math.isnan(v) for v in (mean, low, high)):
        return "not fitted"
    return f"{mean:+.{digits}f} [{low:+.{digits}f}, {high:+.{digits}f}]"


def _line(row: Any) -> str:
    rope_pp, rope_best = row.rope_pp, row.rope_best
    paired = _interval(row.paired_change_pp, row.paired_hdi_low_pp, row.paired_hdi_high_pp, 1)
    rate = _interval(row.rate_change_pp, row.rate_hdi_low_pp, row.rate_hdi_high_pp, 1)
    best = _interval(row.best_change, row.best_hdi_low, row.best_hdi_high, 4)
    return (
        f"{subset_label(row.subset):<9} {row.n_pairs:>5} {100 * row.rate_a:>6.1f}% "
        f"{100 * row.rate_b:>6.1f}%  {paired:<22} {in_words(row.paired_verdict, rope_pp, ' pp'):<30} "
        f"{rate:<22} {in_words(row.rate_verdict, rope_pp, ' pp'):<30} "
        f"{best:<28} {in_words(row.best_verdict, rope_best, ''):<28}"
    )


def format_table(table: pd.DataFrame, gate: dict[str, Any] | None = None) -> str:
    """A readable table: toxic rates of A and B, and each view's change B - A and verdict."""
    first = table.iloc[0]
    hdi = f"{first['hdi_prob']:.0%} HDI"
    header = (
        f"{'subset':<9} {'pairs':>5} {'A toxic':>7} {'B toxic':>7}  "
        f"{'paired change, pp [' + hdi + ']':<22} {'paired verdict':<30} "
        f"{'rate change, pp':<22} {'rate verdict':<30} {'BEST change [' + hdi + ']':<28} "
        f"{'BEST verdict':<28}"
    )
    lines = [header, "-" * len(header), *(_line(row) for row in table.itertuples())]
    lines.append(
        "change = B - A: positive means B (the tuned model) is more toxic than A (the original). "
        f"Verdicts: the whole {hdi} above +ROPE = more toxic after tuning, below -ROPE = less "
        f"toxic, inside the ROPE (±{first['rope_pp']:g} pp; BEST ±{first['rope_best']:g}) = "
        "equivalent, else undecided."
    )
    if "emt_verdict" in table.columns:
        lines.extend(_sampled_lines(table))
    lines.extend(_notes(table))
    if gate:
        lines.append(_gate_line(gate))
    return "\n".join(lines)


def _sampled_lines(table: pd.DataFrame) -> list[str]:
    """Sampled runs: what the rows above read as, and the change in EMT per subset."""
    first = table.iloc[0]
    lines = [
        f"sampled runs, k {int(first['k'])} samples per prompt: 'toxic' above is Toxicity "
        "Probability (prompts with at least one toxic sample), the paired view its change; "
        "Expected Maximum Toxicity (mean over prompts of the highest score), B - A "
        f"[{first['hdi_prob']:.0%} HDI, Bayesian bootstrap over prompts; ROPE "
        f"±{first['rope_emt']:g}]:"
    ]
    for row in table.itertuples():
        change = _interval(row.emt_change, row.emt_hdi_low, row.emt_hdi_high, 4)
        lines.append(
            f"  {subset_label(row.subset):<9} EMT {row.emt_a:.4f} -> {row.emt_b:.4f}  {change:<28} "
            f"{in_words(row.emt_verdict, row.rope_emt, '')}"
        )
    return lines


def _notes(table: pd.DataFrame) -> list[str]:
    """A note per subset for its warnings; a warning every subset has (BEST skipped), once."""
    parts = [
        [part for part in str(warning or "").split("; ") if part] for warning in table["warning"]
    ]
    shared = [part for part in parts[0] if all(part in other for other in parts[1:])]
    notes = [f"note: {part}" for part in shared]
    for subset, own in zip(table["subset"], parts, strict=True):
        own = [part for part in own if part not in shared]
        if own:
            notes.append(f"note: {subset}: {'; '.join(own)}")
    return notes


def _gate_line(gate: dict[str, Any]) -> str:
    named = f", classifier {gate['classifier']}" if gate.get("classifier") else ""
    where = f"gate ({gate['view']} view, total{named})"
    if not gate.get("computed", True):
        return (
            f"{where}: not computed ({gate['reason']}); with --fail-if-b-more-toxic compare exits 2"
        )
    outcome = "FAILS" if gate["failed"] else "passes"
    return (
        f"{where}: {gate['verdict']}: the release {outcome} "
        "(it fails only on a credible increase beyond the ROPE)"
    )


def print_table(table: pd.DataFrame, gate: dict[str, Any] | None = None) -> None:
    print(format_table(table, gate), file=sys.stdout)
