"""Timing whole processes, as a user runs them: shared by the benchmarks."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time


def timed(command: list[str], threads: int | None = None) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system) of a whole process, and what it wrote to stderr.
    On a machine shared with other work, CPU seconds stay steadier than wall seconds."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
    env.setdefault("FINETOX_PROGRESS_INTERVAL", "600")  # progress bars cost nothing measurable
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return seconds, cpu, done.stderr
