"""Where a running or finished workflow stands, read from its jobs' logs (`finetox progress`).

Every job writes one log (`logs/{rule}/{wildcard}.log`; `{results_dir}/logs/...` for a study with
its own results_dir, finetox.paths) through finetox.logs.to_log: its tqdm progress bars, e.g.

    tiny-base:  45%|████▌     | 1080/2400 [00:10<00:12, 104.10prompt/s]

(`2.50s/prompt` where an item takes more than a second), its log lines, and last the summary
`finetox: done in 12.3 s` or `finetox: failed after 12.3 s` and the traceback. A rerun appends
to the same log, so only the last attempt counts. The jobs of a study come from its config (the
one the last Snakemake run in the folder was given, else config/config.yaml).

A job is
- waiting: no log yet;
- running: its last attempt has no summary yet, and a Snakemake holds the folder (its lock) or
  the log was written within STALE_AFTER seconds;
- stopped: no summary, no Snakemake and a silent log (killed, or Snakemake stopped);
- done / failed: the last attempt's summary says so (failed: with the exception's last line),
  or failed where the last Snakemake run's own log reports the job's error and its log has no
  summary (a job killed for its memory or time, or one that died before its log began).

Items: prompts for generate, texts for score (prompts x classifiers), optimizer steps for tune,
subsets for compare; the other rules have none.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from finetox import paths

# rule -> (the unit of its work's tqdm bar, the word shown; tune's Trainer bar has no name)
ITEMS = {
    "generate": ("prompt", "prompt"),
    "score": ("text", "text"),
    "tune": ("it", "step"),
    "compare": ("subset", "subset"),
}
# the order a study runs its rules in
RULES = (
    "build_prompt_set", "build_demo_classifier", "build_demo_lms", "tune", "generate", "score",
    "compare", "write_tables", "plot_figures",
)  # fmt: skip
STATES = ("done", "running", "failed", "stopped", "waiting")
STALE_AFTER = 600.0  # seconds without output after which a job no Snakemake runs is stopped

BAR = re.compile(
    r"(?P<percent>\d+)%\|[^|\r\n]*\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
    r"\[(?P<elapsed>[\d:]+)<(?P<remaining>[\d:]+|\?),\s*"
    r"(?:(?P<rate>[\d.]+|\?)(?P<unit>\w+)/s|(?P<inverse>[\d.]+)s/(?P<inverse_unit>\w+))"
    r"[^\]\r\n]*\]"
)
SUMMARY = re.compile(r"\bfinetox: (?P<kind>done in|failed after) (?P<seconds>[\d.]+) s\s*$")
STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d{3} [A-Z]+ ")
CONFIG_FILES = re.compile(r"^\s*Config file\(s\): (?P<files>\[.*\])\s*$", re.MULTILINE)
# a job's start or its failure in Snakemake's own log, with the job's lines below it
JOB_BLOCK = re.compile(
    r"^(?:(?P<error>Error in rule)|(?:local)?rule) \w+:\n(?P<body>(?:    .*\n)+)", re.MULTILINE
)


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


@dataclass(frozen=True)
class Job:
    rule: str
    wildcard: str | None
    log: str  # relative to the workflow's folder


@dataclass
class Row:
    job: Job
    state: str
    done: int | None = None
    total: int | None = None
    unit: str = ""
    rate: float | None = None
    elapsed: float | None = None
    left: float | None = None
    note: str = ""


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


# ---------------------------------------------------------------------------------------------
# A job's row


def _work(
    rule: str, bars: Sequence[Bar], parts: int
) -> tuple[int, int, float | None, float | None]:
    """(done, total, rate, seconds left) of a job's work bars; `parts`: how many bars of equal
    size the job runs one after another (score: one per classifier)."""
    unit = ITEMS[rule][0]
    latest: dict[str, Bar] = {}  # the last refresh of each bar, by name
    for bar in bars:
        if bar.unit == unit and (rule != "tune" or not bar.desc):
            latest.pop(bar.desc, None)
            latest[bar.desc] = bar
    if not latest:
        return 0, 0, None, None
    seen = list(latest.values())
    current, unseen = seen[-1], max(parts - len(seen), 0)
    done = sum(bar.n for bar in seen)
    total = sum(bar.total for bar in seen) + unseen * current.total
    left = current.remaining
    if left is not None and unseen:
        left = left + unseen * current.total / current.rate if current.rate else None
    return done, total, current.rate, left


def job_row(
    job: Job,
    directory: Path,
    *,
    now: float,
    snakemake_running: bool,
    snakemake_failed: bool = False,
    parts: int = 1,
) -> Row:
    """`snakemake_failed`: Snakemake's log says the job failed (it may have died before writing
    its summary, or before writing anything)."""
    path = directory / job.log
    attempt = read_attempt(path.read_text(errors="replace")) if path.is_file() else None
    if attempt is None or (snakemake_failed and not attempt.outcome):
        if not snakemake_failed:
            return Row(job, "waiting")
        attempt = attempt or Attempt()
        attempt.outcome = "failed"
        attempt.error = f"Snakemake: error in rule {job.rule} (see .snakemake/log/)"
    if attempt.outcome:
        state = attempt.outcome
    else:
        silent = now - path.stat().st_mtime
        state = "running" if snakemake_running or silent < STALE_AFTER else "stopped"
    row = Row(job, state, note=attempt.error)
    if job.rule in ITEMS and attempt.bars:
        row.done, row.total, row.rate, row.left = _work(job.rule, attempt.bars, parts)
        row.unit = ITEMS[job.rule][1]
        if not row.total:
            row.done = row.total = None
    if attempt.outcome:
        row.elapsed, row.left = attempt.seconds, None
    else:
        row.elapsed = now - attempt.started if attempt.started else None
        if state == "stopped":
            row.left = None
            row.note = f"no output for {duration(now - path.stat().st_mtime)}"
    return row


# ---------------------------------------------------------------------------------------------
# The jobs of a study


def study_jobs(study: Any) -> list[Job]:
    """Every job the workflow runs for a study (finetox.config.Study), in the order it runs."""
    root = study.results_dir
    wildcards = {
        "build_prompt_set": [None],
        "build_demo_classifier": [None] if study.config["demo"]["build_models"] else [],
        "build_demo_lms": [None] if study.config["demo"]["build_models"] else [],
        "tune": list(study.tuned_sources()),
        "generate": study.model_names,
        "score": study.model_names,
        "compare": [comparison.name for comparison in study.comparisons],
        "write_tables": [None],
        "plot_figures": [None],
    }
    return [
        Job(rule, wildcard, paths.log(rule, wildcard, root))
        for rule in RULES
        for wildcard in wildcards[rule]
    ]


def logged_jobs(directory: Path) -> list[Job]:
    """Without a study: the jobs that wrote a log under logs/ or a results folder's logs/."""
    folders = [directory / paths.LOGS, *sorted(directory.glob(f"{paths.RESULTS}/**/logs"))]
    jobs = []
    for folder in folders:
        for log in sorted(folder.rglob("*.log")):
            relative = log.relative_to(folder)
            rule, wildcard = (
                (relative.parts[0], log.stem) if len(relative.parts) > 1 else (log.stem, None)
            )
            jobs.append(Job(rule, wildcard, log.relative_to(directory).as_posix()))
    order = {rule: i for i, rule in enumerate(RULES)}
    return sorted(jobs, key=lambda job: order.get(job.rule, len(order)))


def last_run(directory: Path) -> tuple[list[Path], set[str]]:
    """From the log of the last Snakemake run in `directory`: the config files it was given and
    the logs of its jobs that failed (and were not started again since)."""
    runs = sorted((directory / ".snakemake" / "log").glob("*.snakemake.log"), reverse=True)
    for run in runs:
        text = run.read_text(errors="replace")
        match = CONFIG_FILES.search(text)
        if not match:  # not a run (a lint, say)
            continue
        names = re.findall(r"""(?:PosixPath\()?['"]([^'"]+)['"]\)?""", match["files"])
        files = [directory / name for name in names]
        failed: set[str] = set()
        for block in JOB_BLOCK.finditer(text):
            logs = re.search(r"^    log: (.+?)(?: \(check log file.*)?$", block["body"], re.M)
            for log in logs[1].split(", ") if logs else []:
                (failed.add if block["error"] else failed.discard)(log)
        return ([] if not all(file.is_file() for file in files) else files), failed
    return [], set()


def _merged(configs: Iterable[dict]) -> dict:
    """Config files merged as Snakemake merges them: later keys win, mappings recursively."""

    def merge(base: dict, update: dict) -> dict:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value
        return base

    merged: dict = {}
    for config in configs:
        merge(merged, config)
    return merged


def snakemake_holds(directory: Path) -> bool:
    """Whether a Snakemake run holds the folder (its lock files exist while it runs)."""
    locks = directory / ".snakemake" / "locks"
    return locks.is_dir() and any(locks.iterdir())


@dataclass
class Progress:
    directory: Path
    rows: list[Row]
    config: list[str]  # the config files the jobs come from; [] where they come from the logs
    snakemake_running: bool
    note: str = ""

    def count(self, state: str) -> int:
        return sum(row.state == state for row in self.rows)


def workflow_progress(
    directory: str | os.PathLike = ".",
    config: str | os.PathLike | None = None,
    *,
    now: float | None = None,
) -> Progress:
    """One row per job of the workflow run in `directory`."""
    from finetox.config import ConfigError, load_study, load_yaml

    directory = Path(directory)
    now = time.time() if now is None else now
    files, failed = last_run(directory)
    files = [Path(config)] if config else files
    if not files and (directory / "config" / "config.yaml").is_file():
        files = [directory / "config" / "config.yaml"]
    jobs, note, parts = None, "", 1
    if files:
        try:
            study = load_study(_merged(load_yaml(file) for file in files), workdir=directory)
            jobs = study_jobs(study)
            parts = len(study.config["scoring"]["classifiers"])
        except ConfigError as error:
            first = str(error).splitlines()[0]
            note = (
                f"{', '.join(map(str, files))} is not a valid config ({first}): jobs from the logs"
            )
            files = []
    if jobs is None:
        jobs = logged_jobs(directory)
    running = snakemake_holds(directory)
    rows = [
        job_row(
            job,
            directory,
            now=now,
            snakemake_running=running,
            snakemake_failed=job.log in failed,
            parts=parts if job.rule == "score" else 1,
        )
        for job in jobs
    ]
    return Progress(directory, rows, [str(file) for file in files], running, note)


# ---------------------------------------------------------------------------------------------
# The table


def duration(seconds: float | None) -> str:
    """42s, 12m05s, 3h20m; - when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


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
