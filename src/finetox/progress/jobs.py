"""A study's jobs and the state of each, from their logs and Snakemake's own log."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetox import paths
from finetox.config.models import SAMPLED_SUFFIX
from finetox.progress.logs import Attempt, Bar, read_attempt
from finetox.results.trajectory_layout import trajectory_layout

# rule -> (the unit of its work's tqdm bar, the word shown; tune's Trainer bar has no name)
ITEMS = {
    "generate": ("prompt", "prompt"),
    "score": ("text", "text"),
    "tune": ("it", "step"),
    "tune_point": ("it", "step"),
    "compare": ("subset", "subset"),
}
# a sampled run's generate bar counts continuations, k per prompt (docs/sampled.md)
SAMPLED_ITEMS = {"generate": ("continuation", "continuation")}
# the order a study runs its rules in
RULES = (
    "build_prompt_set", "build_demo_classifier", "build_demo_multilabel", "build_demo_guard",
    "build_demo_lms", "tune", "tune_point",
    "generate", "score", "compare", "write_tables", "plot_figures", "write_trajectory",
    "reproduce", "write_sampled_table",
)  # fmt: skip
STATES = ("done", "running", "failed", "stopped", "waiting")
STALE_AFTER = 600.0  # seconds without output after which a job no Snakemake runs is stopped

CONFIG_FILES = re.compile(r"^\s*Config file\(s\): (?P<files>\[.*\])\s*$", re.MULTILINE)
# a job's start or its failure in Snakemake's own log, with the job's lines below it
JOB_BLOCK = re.compile(
    r"^(?:(?P<error>Error in rule)|(?:local)?rule) \w+:\n(?P<body>(?:    .*\n)+)", re.MULTILINE
)


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
# A job's row


def _items(job: Job) -> tuple[str, str]:
    """(the unit of the job's work bar, the word shown)."""
    sampled = (job.wildcard or "").endswith(SAMPLED_SUFFIX)
    return SAMPLED_ITEMS[job.rule] if sampled and job.rule in SAMPLED_ITEMS else ITEMS[job.rule]


def _work(
    rule: str, unit: str, bars: Sequence[Bar], parts: int
) -> tuple[int, int, float | None, float | None]:
    """(done, total, rate, seconds left) of a job's work bars of `unit`; `parts`: how many bars
    of equal size the job runs one after another (score: one per classifier)."""
    latest: dict[str, Bar] = {}  # the last refresh of each bar, by name
    for bar in bars:
        if bar.unit == unit and (not rule.startswith("tune") or not bar.desc):
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
        unit, row.unit = _items(job)
        row.done, row.total, row.rate, row.left = _work(job.rule, unit, attempt.bars, parts)
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
        "build_demo_multilabel": [None] if study.config["demo"]["build_models"] else [],
        "build_demo_guard": [None] if study.config["demo"]["build_models"] else [],
        "build_demo_lms": [None] if study.config["demo"]["build_models"] else [],
        "tune": list(study.tuned_sources()),
        "tune_point": [
            f"{spec.adapter}/{spec.point}" for spec in study.trajectory_points().values()
        ],
        "generate": [*study.model_names, *study.sampled_names],
        "score": [*study.model_names, *study.sampled_names],
        "compare": [c.name for c in [*study.comparisons, *study.sampled_comparisons]],
        "write_tables": [None],
        "plot_figures": [None],
        "write_trajectory": [None] if trajectory_layout(study)["tables"] else [],
        "reproduce": [None],
        "write_sampled_table": [None] if study.sampled else [],
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
            # a wildcard is the path below the rule's folder (tune_point/{tuned}/{point}.log)
            if len(relative.parts) > 1:
                rule, wildcard = relative.parts[0], "/".join(relative.with_suffix("").parts[1:])
            else:
                rule, wildcard = log.stem, None
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
