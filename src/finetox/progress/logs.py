"""Reading one job's log: its tqdm bars and the summary of its last attempt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

BAR = re.compile(
    r"(?P<percent>\d+)%\|[^|\r\n]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
    r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:]+|\?),\s*"
    # "12.5prompts/s", or tqdm's "1.03s/subset" for less than one a second: "/s" must end the
    # unit, or that would read as 1.03 items of unit "s" per second
    r"(?:(?P<rate>[\d.]+|\?)(?P<unit>\w+)/s(?!\w)|(?P<inverse>[\d.]+)s/(?P<inverse_unit>\w+))"
    r"[^\]\r\n]*\]"
)
SUMMARY = re.compile(r"\bfinetox: (?P<kind>done in|failed after) (?P<seconds>[\d.]+) s\s*$")
STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} [A-Z]+ ")


@dataclass(frozen=True)
class Bar:
    """One refresh of a tqdm bar."""

    desc: str
    n: int
    total: int
    unit: str
    rate: float | None  # items per second
    elapsed: float
    remaining: float | None


@dataclass
class Attempt:
    """The last attempt of a job, as its log tells it."""

    outcome: str | None = None  # "done", "failed", None: no summary yet
    seconds: float | None = None  # from the summary
    error: str = ""  # a failed attempt's last traceback line
    bars: list[Bar] = field(default_factory=list)
    started: float | None = None  # the first log line's time (epoch seconds)


# ---------------------------------------------------------------------------------------------
# Reading one log


def _seconds(clock: str) -> float | None:
    """tqdm's [H:]MM:SS as seconds; None for '?'."""
    if not clock or clock == "?":
        return None
    value = 0.0
    for part in clock.split(":"):
        value = value * 60 + int(part)
    return value


def parse_bars(text: str) -> list[Bar]:
    """Every tqdm bar refresh in `text`, in order."""
    bars = []
    for segment in re.split(r"[\r\n]", text):
        start = 0
        for match in BAR.finditer(segment):
            before = segment[start : match.start()].rstrip()
            desc = before[:-1].strip() if before.endswith(":") else ""
            start = match.end()
            if match["inverse"]:
                inverse = float(match["inverse"])
                rate, unit = (1 / inverse if inverse > 0 else None), match["inverse_unit"]
            else:
                rate = None if match["rate"] == "?" else float(match["rate"])
                unit = match["unit"]
            bars.append(
                Bar(
                    desc=desc,
                    n=int(match["n"]),
                    total=int(match["total"]),
                    unit=unit,
                    rate=rate,
                    elapsed=_seconds(match["elapsed"]) or 0.0,
                    remaining=_seconds(match["remaining"]),
                )
            )
    return bars


def _stamp(line: str) -> float | None:
    match = STAMP.match(line)
    if not match:
        return None
    return datetime.strptime(match["stamp"], "%Y-%m-%d %H:%M:%S").timestamp()


def read_attempt(text: str) -> Attempt:
    """The last attempt in a job's log text (a rerun appends to the log)."""
    lines = re.split(r"\r\n|\r|\n", text)
    summaries = [i for i, line in enumerate(lines) if SUMMARY.search(line)]
    begin, outcome = 0, None
    if summaries:
        last = summaries[-1]
        after = [line for line in lines[last + 1 :] if line.strip()]
        match = SUMMARY.search(lines[last])
        kind = "done" if match["kind"] == "done in" else "failed"
        # what follows a summary: the traceback of a failure, or a new attempt (a log line or a bar)
        restarted = (
            [line for line in after if _stamp(line) or BAR.search(line)]
            if kind == "failed"
            else after
        )
        if restarted:
            begin = lines.index(restarted[0], last + 1)
        else:
            begin = summaries[-2] + 1 if len(summaries) > 1 else 0
            outcome = Attempt(outcome=kind, seconds=float(match["seconds"]))
            if kind == "failed" and after:
                outcome.error = after[-1].strip()
            lines = lines[: last + 1]
    attempt = outcome or Attempt()
    current = lines[begin:]
    attempt.bars = parse_bars("\n".join(current))
    attempt.started = next((stamp for line in current if (stamp := _stamp(line))), None)
    return attempt
