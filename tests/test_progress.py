"""`finetox progress`: one line per job, read from the jobs' logs, for synthetic partial logs
(running, stopped, failed, rerun) in the formats the stages write, and for a real demo run."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from finetox import paths
from finetox.cli import main
from finetox.progress import (
    STALE_AFTER,
    Job,
    duration,
    job_row,
    parse_bars,
    progress_table,
    workflow_progress,
)
from tests.conftest import REPO
from tests.workflow_runs import DEMO_RESULTS

NOW = time.mktime((2026, 12, 1, 12, 0, 0, 0, 0, -1))


def stamp(seconds_before_now: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S,000", time.localtime(NOW - seconds_before_now))


def bar(desc: str, n: int, total: int, rate: str, elapsed: str = "00:10", left: str = "00:12"):
    percent = int(100 * n / total)
    prefix = f"{desc}: " if desc else ""
    return f"{prefix}{percent:3d}%|####      | {n}/{total} [{elapsed}<{left}, {rate}]"


GENERATE_RUNNING = (
    f"{stamp(30)} INFO finetox.loading: loading my-org/model as bfloat16\n"
    f"{stamp(25)} INFO finetox.generation: m: 2400 prompts, raw format, at most 50 new tokens\n"
    + "\r".join(
        [
            bar("m", 0, 2400, "?prompt/s", "00:00", "?"),
            bar("m", 520, 2400, "98.20prompt/s"),
            bar("m", 1080, 2400, "104.10prompt/s"),
        ]
    )
)
TRACEBACK = (
    f"{stamp(20)} ERROR finetox: failed after 9.5 s\n"
    "Traceback (most recent call last):\n"
    '  File "scripts/generate.py", line 5, in <module>\n'
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
)


def write(folder: Path, job: Job, text: str, age: float = 0.0) -> Path:
    path = folder / job.log
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (NOW - age, NOW - age))
    return path


def row_of(folder: Path, job: Job, *, running: bool = True, parts: int = 1):
    return job_row(job, folder, now=NOW, snakemake_running=running, parts=parts)


GENERATE = Job("generate", "m", paths.log("generate", "m"))
SCORE = Job("score", "m", paths.log("score", "m"))
TUNE = Job("tune", "m-dolly", paths.log("tune", "m-dolly"))
COMPARE = Job("compare", "a__vs__b", paths.log("compare", "a__vs__b"))


def test_tqdm_bars_are_read_in_both_rate_forms():
    bars = parse_bars(
        "tiny-base:  45%|####5     | 1080/2400 [00:10<00:12, 104.10prompt/s]\r"
        " 13%|#3        | 4/30 [01:02:03<1:10:00,  2.50s/it]{'loss': '2.3'}\r"
        "compare:   0%|          | 0/7 [00:00<?, ?subset/s]2026-12-01 05:52:46,040 INFO x: y\r"
        "compare: 100%|##########| 7/7 [00:07<00:00,  1.03s/subset]\r"
        "tune:  40%|####      | 12/30 [00:36<00:54,  3.00s/step]"
    )
    assert [(b.desc, b.n, b.total, b.unit) for b in bars] == [
        ("tiny-base", 1080, 2400, "prompt"),
        ("", 4, 30, "it"),
        ("compare", 0, 7, "subset"),
        # slower than one a second, with a unit that starts with "s": not 1.03 "s" per second
        ("compare", 7, 7, "subset"),
        ("tune", 12, 30, "step"),
    ]
    assert bars[3].rate == pytest.approx(1 / 1.03) and bars[4].rate == pytest.approx(1 / 3)
    assert bars[0].rate == pytest.approx(104.1) and bars[0].remaining == 12
    assert bars[1].rate == pytest.approx(0.4) and bars[1].elapsed == 3723
    assert bars[1].remaining == 4200
    assert bars[2].rate is None and bars[2].remaining is None


def test_a_running_generate_job_shows_prompts_rate_and_time_left(tmp_path):
    write(tmp_path, GENERATE, GENERATE_RUNNING)
    row = row_of(tmp_path, GENERATE)
    assert (row.state, row.done, row.total, row.unit) == ("running", 1080, 2400, "prompt")
    assert row.rate == pytest.approx(104.1) and row.left == 12 and row.elapsed == 30


def test_a_job_without_summary_is_stopped_when_no_snakemake_runs_and_its_log_is_silent(tmp_path):
    write(tmp_path, GENERATE, GENERATE_RUNNING, age=STALE_AFTER + 60)
    row = row_of(tmp_path, GENERATE, running=False)
    assert row.state == "stopped" and row.left is None
    assert row.note == f"no output for {duration(STALE_AFTER + 60)}"
    # a Snakemake holding the folder (a SLURM job between two refreshes): still running
    assert row_of(tmp_path, GENERATE, running=True).state == "running"


def test_a_failed_job_says_so_with_the_exceptions_last_line(tmp_path):
    write(tmp_path, GENERATE, GENERATE_RUNNING + "\n" + TRACEBACK)
    row = row_of(tmp_path, GENERATE, running=False)
    assert (row.state, row.elapsed, row.done, row.total) == ("failed", 9.5, 1080, 2400)
    assert row.note == "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"


def test_only_the_last_attempt_of_a_rerun_counts(tmp_path):
    rerun = f"{stamp(10)} INFO finetox.generation: m: 1080 of 2400 prompts already done\n" + bar(
        "m", 1500, 2400, "110.00prompt/s", "00:04", "00:08"
    )
    write(tmp_path, GENERATE, GENERATE_RUNNING + "\n" + TRACEBACK + rerun)
    row = row_of(tmp_path, GENERATE)
    assert (row.state, row.done, row.note, row.elapsed) == ("running", 1500, "", 10)
    done = rerun + f"\n{stamp(1)} INFO finetox: done in 12.0 s\n"
    write(tmp_path, GENERATE, GENERATE_RUNNING + "\n" + TRACEBACK + done)
    row = row_of(tmp_path, GENERATE, running=False)
    assert (row.state, row.elapsed, row.left, row.note) == ("done", 12.0, None, "")


def test_score_counts_every_classifiers_texts(tmp_path):
    log = "\n".join(
        [
            f"{stamp(20)} INFO finetox.scoring: loading classifier a: x (hub) as float16",
            bar("scoring a", 160, 160, "800.00text/s", "00:00", "00:00"),
            f"{stamp(10)} INFO finetox.scoring: loading classifier b: y (hub) as float16",
            bar("scoring b", 40, 160, "20.00text/s", "00:02", "00:06"),
        ]
    )
    write(tmp_path, SCORE, log)
    row = row_of(tmp_path, SCORE, parts=3)  # a third classifier is still to come
    assert (row.done, row.total, row.unit) == (200, 480, "text")
    assert row.left == pytest.approx(6 + 160 / 20)


def test_tune_counts_optimizer_steps_not_tokenizing_or_loading(tmp_path):
    log = "\r".join(
        [
            bar("tokenizing", 240, 240, "1259.18record/s", "00:00", "00:00"),
            bar("Loading weights", 20, 20, "7602.51it/s", "00:00", "00:00"),
            bar("", 12, 938, "8.40s/it", "01:40", "2:09:38") + "{'loss': '2.4'}",
        ]
    )
    write(tmp_path, TUNE, log)
    row = row_of(tmp_path, TUNE)
    assert (row.done, row.total, row.unit) == (12, 938, "step")
    assert row.rate == pytest.approx(1 / 8.4) and row.left == 2 * 3600 + 9 * 60 + 38


@pytest.fixture
def study_dir(tmp_path) -> Path:
    """A workflow folder with a study config (the demo's) and the sources its paths name."""
    (tmp_path / "config").mkdir()
    shutil.copy(REPO / "config/demo.yaml", tmp_path / "config/demo.yaml")
    (tmp_path / "resources").symlink_to(REPO / "resources")
    return tmp_path


def test_the_table_has_one_line_per_job_and_the_counts(study_dir):
    tmp_path, root = study_dir, DEMO_RESULTS
    jobs = {
        "build_prompt_set": Job(
            "build_prompt_set", None, paths.log("build_prompt_set", None, root)
        ),
        "generate": Job("generate", "tiny-base", paths.log("generate", "tiny-base", root)),
        "sampled": Job(
            "generate", "tiny-base--sampled", paths.log("generate", "tiny-base--sampled", root)
        ),
        "tune": Job("tune", "tiny-instruct-dolly", paths.log("tune", "tiny-instruct-dolly", root)),
        "compare": Job(
            "compare",
            "tiny-base__vs__tiny-instruct",
            paths.log("compare", "tiny-base__vs__tiny-instruct", root),
        ),
    }
    write(tmp_path, jobs["build_prompt_set"], f"{stamp(60)} INFO finetox: done in 0.1 s\n")
    write(tmp_path, jobs["generate"], GENERATE_RUNNING)
    write(tmp_path, jobs["tune"], TRACEBACK)
    write(tmp_path, jobs["compare"], bar("compare", 3, 7, "1.50subset/s", "00:02", "00:03"))
    # a sampled run's bar counts continuations (k per prompt), not prompts
    write(tmp_path, jobs["sampled"], bar("tiny-base--sampled", 200, 800, "99.75continuation/s",
                                         "00:02", "00:06"))  # fmt: skip
    progress = workflow_progress(tmp_path, tmp_path / "config/demo.yaml", now=NOW)
    table = progress_table(progress)
    lines = table.splitlines()
    assert (
        lines[0] == f"{tmp_path}: config {tmp_path / 'config/demo.yaml'}; no Snakemake is running"
    )
    assert lines[1].split() == [
        "rule", "job", "state", "done/total", "rate", "elapsed", "left"
    ]  # fmt: skip
    # the demo's 51 jobs: 23 (three classifiers built among them), its trajectory's (3 points:
    # tune_point, generate, score and compare each, and write_trajectory) and its sampled runs'
    # (5 models: generate and score each; 4 pairs: compare; write_sampled_table)
    assert lines[-1] == "51 jobs: 1 done, 3 running, 1 failed, 0 stopped, 46 waiting"
    assert len(lines) == 2 + 51 + 1
    by_job = {tuple(line.split()[:2]): line for line in lines[2:-1]}
    assert by_job[("generate", "tiny-base")].split()[2:] == [
        "running", "1080/2400", "prompts", "104.1", "prompts/s", "30s", "12s",
    ]  # fmt: skip
    assert by_job[("generate", "tiny-base--sampled")].split()[2:] == [
        "running", "200/800", "continuations", "99.8", "continuations/s", "-", "6s",
    ]  # fmt: skip
    assert by_job[("tune", "tiny-instruct-dolly")].split()[2:5] == ["failed", "-", "-"]
    assert by_job[("tune", "tiny-instruct-dolly")].endswith(
        "CUDA out of memory. Tried to allocate 2.00 GiB"
    )
    assert by_job[("compare", "tiny-base__vs__tiny-instruct")].split()[2:] == [
        "running", "3/7", "subsets", "1.5", "subsets/s", "-", "3s",
    ]  # fmt: skip
    assert by_job[("score", "tiny-base")].split()[2:] == ["waiting", "-", "-", "-", "-"]


def demo_job(rule: str, wildcard: str) -> Job:
    return Job(rule, wildcard, paths.log(rule, wildcard, DEMO_RESULTS))


def test_jobs_snakemake_reports_failed_are_failed_unless_started_again(study_dir):
    """Killed for memory or time, or dead before its log began: only Snakemake's log says so.
    The config comes from the last run's log too."""
    config = study_dir / "config/demo.yaml"
    snakemake_log = study_dir / ".snakemake/log/2026-12-01T110000.000000.snakemake.log"
    snakemake_log.parent.mkdir(parents=True)

    def block(head: str, job: Job) -> str:
        return f"{head}:\n    jobid: 3\n    log: {job.log} (check log file(s) for error details)\n"

    base, instruct, dolly = (
        demo_job("generate", m) for m in ("tiny-base", "tiny-instruct", "tiny-instruct-dolly")
    )
    snakemake_log.write_text(
        f"  Config file(s): [PosixPath('{config}')]\n\n"
        + block("rule generate", base)
        + block("Error in rule generate", base)
        + block("Error in rule generate", instruct)
        + block("Error in rule generate", dolly)
        + block("rule generate", dolly)  # retried (--retries)
    )
    write(study_dir, base, GENERATE_RUNNING)  # no summary: killed
    write(study_dir, dolly, GENERATE_RUNNING)
    progress = workflow_progress(study_dir, now=NOW)
    assert progress.config == [str(config)]
    rows = {row.job: row for row in progress.rows}
    assert (rows[base].state, rows[base].done, rows[base].total) == ("failed", 1080, 2400)
    assert rows[base].note == "Snakemake: error in rule generate (see .snakemake/log/)"
    assert rows[instruct].state == "failed"  # no log at all
    assert rows[dolly].state == "running"
    assert progress.count("failed") == 2


def test_watch_refreshes_until_no_snakemake_holds_the_folder(study_dir, capsys, monkeypatch):
    lock = study_dir / ".snakemake/locks/0.input.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")
    waits = []

    def sleep(seconds):  # Snakemake lets go of the folder during the second wait, however slow
        waits.append(seconds)  # the machine is (a timer raced the refreshes on a loaded one)
        if len(waits) == 2:
            lock.unlink()

    monkeypatch.setattr("finetox.cli.progress.time.sleep", sleep)
    config = str(study_dir / "config/demo.yaml")
    assert main(["progress", str(study_dir), "--config", config, "--watch", "0.1"]) == 0
    tables = capsys.readouterr().out.split("\n\n")
    assert waits == [0.1, 0.1] and len(tables) == 3, tables
    assert "; a Snakemake is running" in tables[0].splitlines()[0]
    assert "; no Snakemake is running" in tables[-1].splitlines()[0]
    assert all(
        table.strip().endswith("0 done, 0 running, 0 failed, 0 stopped, 51 waiting")
        for table in tables
    )


def test_the_command_refuses_a_missing_folder(capsys, tmp_path):
    assert main(["progress", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.slow
def test_progress_of_a_finished_demo_run(demo_run, capsys):
    """Every job of the demo done, with its items from the real logs."""
    assert main(["progress", str(demo_run)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert (
        lines[0] == f"{demo_run}: config {demo_run / 'config/demo.yaml'}; no Snakemake is running"
    )
    assert lines[-1] == "51 jobs: 51 done, 0 running, 0 failed, 0 stopped, 0 waiting"
    cells = {tuple(line.split()[:2]): line.split()[2:] for line in lines[2:-1]}
    assert cells[("generate", "tiny-base")][:3] == ["done", "180/180", "prompts"]
    assert cells[("generate", "tiny-base--sampled")][:3] == ["done", "900/900", "continuations"]
    # each of the demo's three classifiers scores the 180 texts
    assert cells[("score", "tiny-base")][:3] == ["done", "540/540", "texts"]
    assert cells[("tune", "tiny-instruct-dolly")][:3] == ["done", "30/30", "steps"]
    assert cells[("compare", "tiny-base__vs__tiny-instruct")][:3] == ["done", "9/9", "subsets"]
    assert cells[("write_tables", "-")][:2] == ["done", "-"]


@pytest.mark.slow
def test_progress_of_real_logs_cut_short(demo_run, tmp_path):
    """The demo's own logs cut inside their work: running, with the items done so far."""
    for name in (
        "generate/tiny-base",
        "tune/tiny-instruct-dolly",
        "compare/tiny-base__vs__tiny-instruct",
    ):
        rule, wildcard = name.split("/")
        job = Job(rule, wildcard, paths.log(rule, wildcard, DEMO_RESULTS))
        text = (demo_run / job.log).read_text()
        finished = row_of(demo_run, job, running=False)
        assert finished.state == "done" and finished.done == finished.total > 0
        # before the work bar's first refresh at N/N (so before the summary too)
        end = text.index(f" {finished.total}/{finished.total} [")
        cut = text[: max(text.rfind("\r", 0, end), text.rfind("\n", 0, end)) + 1]
        write(tmp_path, job, cut)
        row = row_of(tmp_path, job)
        assert row.state == "running", (name, cut[-300:])
        assert row.total == finished.total and 0 <= row.done < row.total, (name, row)
        assert row.unit == {"generate": "prompt", "tune": "step", "compare": "subset"}[rule]
