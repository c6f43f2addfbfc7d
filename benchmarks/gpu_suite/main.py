"""The command: its arguments, the parts in order within the time budget, a failed part recorded
while the others go on."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import __doc__ as SUITE_DOC
from .lock import run_lock_job
from .measure import free_memory
from .report import JSON_NAME, MARKDOWN_NAME
from .shapes import SHAPES
from .sizes import GEMMA, LLAMA, PART_ALIASES, PARTS, reserve_s
from .suite import REPO, Suite

log = logging.getLogger("gpu_suite")
QUIET_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",  # nothing to download: every model is a local folder
    "TOKENIZERS_PARALLELISM": "false",
    "FINETOX_PROGRESS_INTERVAL": "600",
    "TQDM_DISABLE": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="benchmarks/gpu_suite", description=SUITE_DOC.split("\n\n")[0]
    )
    parser.add_argument("--smoke", action="store_true", help="toy sizes (runs on a CPU)")
    parser.add_argument(
        "--out",
        default=str(REPO / "benchmarks" / "out"),
        help=f"folder for {JSON_NAME} and {MARKDOWN_NAME} (default: benchmarks/out, git-ignored)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of every workload")
    parser.add_argument(
        "--budget-s", type=float, help="seconds; parts that would not fit are skipped"
    )
    parser.add_argument(
        "--only", default=",".join(PARTS), help=f"parts to run, of {','.join(PARTS)}"
    )
    parser.add_argument("--tune-model", choices=sorted(SHAPES), default=LLAMA)
    parser.add_argument("--threads", type=int, help="CPU threads of torch")
    parser.add_argument(
        "--workdir",
        help="where the models are written (default: /dev/shm if it has room, else the temp dir)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the models and files")
    parser.add_argument("--lock-job", help=argparse.SUPPRESS)  # one lock job's process
    args = parser.parse_args(argv)
    only = [part.strip() for part in args.only.split(",") if part.strip()]
    args.only = [p for part in only for p in PART_ALIASES.get(part, part).split(",")]
    unknown = sorted(set(args.only) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part(s) {unknown}; parts: {', '.join(PARTS)}")
    if not 0 < args.scale <= 1:
        parser.error("--scale: a fraction in (0, 1]")
    return args


def part_runners() -> dict[str, Callable[[Suite], None]]:
    from .generation import measure_generation
    from .guard import measure_guard
    from .lock import measure_gpu_lock
    from .options import measure_options
    from .scoring import measure_scoring
    from .tuning import measure_tuning

    return {
        "scoring": measure_scoring,
        "guard": measure_guard,
        "gpu_lock": measure_gpu_lock,
        LLAMA: lambda suite: measure_generation(suite, LLAMA),
        "tuning": measure_tuning,
        GEMMA: lambda suite: measure_generation(suite, GEMMA),
        "options": measure_options,
    }


def run_part(suite: Suite, name: str, measure: Callable[[Suite], None]) -> None:
    """Run one part unless it was not asked for or would not fit the budget; a failure is
    recorded and the suite goes on."""
    if name not in suite.args.only:
        return
    reserve = reserve_s(name, suite.smoke, suite.args.scale)
    if suite.left() < reserve:
        reason = (
            f"time budget: {suite.left():.0f} s of {suite.sizes.budget_s:.0f} s left, {name} "
            f"needs about {reserve:.0f} s"
        )
        suite.skip(None, name, reason)
        log.warning("skipping %s: %s", name, reason)
        suite.write()
        return
    log.info("== %s (%.0f s in)", name, suite.elapsed())
    started = time.monotonic()
    try:
        measure(suite)
    except Exception as error:
        log.exception("%s failed", name)
        suite.record_error(name, error, traceback.format_exc())
    finally:
        free_memory()
        suite.result["suite"].setdefault("part_s", {})[name] = time.monotonic() - started
        suite.write()


def run_suite(suite: Suite) -> int:
    """Every part in order, then the study's estimate and the targets; 1 if any part failed."""
    from .estimate import estimate_study, judge_targets
    from .machine import describe_machine

    suite.result["machine"] = describe_machine(suite.cuda)
    suite.write()
    for name, measure in part_runners().items():
        run_part(suite, name, measure)
    try:
        estimate_study(suite)
    except Exception as error:
        log.exception("estimate failed")
        suite.record_error("estimate", error)
    judge_targets(suite)
    suite.write()
    log.info(
        "wrote %s and %s (%.0f s)",
        suite.out / JSON_NAME,
        suite.out / MARKDOWN_NAME,
        suite.elapsed(),
    )
    return 1 if suite.result["errors"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.lock_job:
        return run_lock_job(Path(args.lock_job))
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    suite = Suite(args)
    try:
        return run_suite(suite)
    finally:
        suite.clean_up()
