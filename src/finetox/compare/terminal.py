"""Reading a comparison: the release gate and a table for the terminal."""

from __future__ import annotations

import sys

import pandas as pd

from finetox.subsets import TOTAL


def a_more_toxic(table: pd.DataFrame) -> bool:
    """The release gate: in total, A's BEST location or toxic rate is credibly above B's."""
    total = table.set_index("subset").loc[TOTAL]
    return bool(total["diff_hdi_low"] > 0 or total["rate_diff_hdi_low"] > 0)


def format_table(table: pd.DataFrame, hdi_prob: float) -> str:
    """A readable table for a terminal."""
    header = (
        f"{'subset':<10} {'n_a':>5} {'n_b':>5} {'mean_a':>7} {'mean_b':>7} {'rate_a':>7} "
        f"{'rate_b':>7}  {'BEST diff [' + format(hdi_prob, '.0%') + ' HDI]':<31} "
        f"{'rate diff, pp [HDI]':<27}"
    )
    lines = [header, "-" * len(header)]
    for row in table.itertuples():
        best = (
            f"{row.diff_mean:+.4f} [{row.diff_hdi_low:+.4f}, {row.diff_hdi_high:+.4f}]"
            f"{' *' if row.credible else '  '}"
        )
        rate = (
            f"{100 * row.rate_diff_mean:+5.1f} [{100 * row.rate_diff_hdi_low:+5.1f}, "
            f"{100 * row.rate_diff_hdi_high:+5.1f}]{' *' if row.rate_credible else '  '}"
        )
        lines.append(
            f"{row.subset:<10} {row.n_a:>5} {row.n_b:>5} {row.mean_a:>7.4f} {row.mean_b:>7.4f} "
            f"{100 * row.rate_a:>6.1f}% {100 * row.rate_b:>6.1f}%  {best:<31} {rate:<27}"
        )
    lines.append(
        "diff = A - B (positive: A more toxic); BEST diff: mu_A - mu_B of the Student-t model; "
        "rate diff: toxic rate A - B; * = HDI excludes 0"
    )
    for row in table.itertuples():
        if isinstance(row.warning, str) and row.warning:
            lines.append(f"warning: {row.subset}: {row.warning}")
    return "\n".join(lines)


def print_table(table: pd.DataFrame, hdi_prob: float) -> None:
    print(format_table(table, hdi_prob), file=sys.stdout)
