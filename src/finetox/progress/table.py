"""The progress table `finetox progress` prints."""

from __future__ import annotations

from collections.abc import Sequence

from finetox.progress.jobs import STATES, Progress, Row, duration

# The table


def _rate(row: Row) -> str:
    if not row.rate:
        return "-"
    if row.rate >= 1:
        return f"{row.rate:.1f} {row.unit}s/s"
    return f"{1 / row.rate:.1f} s/{row.unit}"


def _items(row: Row) -> str:
    if row.total is None:
        return "-"
    return f"{row.done}/{row.total} {row.unit}s"


def progress_table(progress: Progress) -> str:
    """The rows as an aligned table, a header line above and the counts below."""
    header = ("rule", "job", "state", "done/total", "rate", "elapsed", "left", "")
    lines = [
        (
            row.job.rule,
            row.job.wildcard or "-",
            row.state,
            _items(row),
            _rate(row),
            duration(row.elapsed),
            duration(row.left),
            row.note,
        )
        for row in progress.rows
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header))]
    right = {3, 4, 5, 6}  # numbers

    def layout(cells: Sequence[str]) -> str:
        text = "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )
        return text.rstrip()

    source = f"config {', '.join(progress.config)}" if progress.config else "jobs from their logs"
    runs = "a Snakemake is running" if progress.snakemake_running else "no Snakemake is running"
    out = [f"{progress.directory}: {source}; {runs}"]
    if progress.note:
        out.append(progress.note)
    out += [layout(header), *(layout(line) for line in lines)]
    counts = ", ".join(f"{progress.count(state)} {state}" for state in STATES)
    out.append(f"{len(progress.rows)} jobs: {counts}")
    return "\n".join(out)
