"""What a run of the suite knows: its sizes and folders, the models built so far, the result as it
grows, and the clock against the time budget."""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .measure import NO_CUDA, cuda_available
from .models import Vocabulary, build_lm
from .report import write_report
from .sizes import FULL, SMOKE, Sizes, scaled
from .workload import describe_workload, prompt_lengths, prompt_texts

REPO = Path(__file__).resolve().parents[2]
WORKDIR_NEED_GIB = {"smoke": 4, "full": 30}  # the models it writes, with room to spare


def default_workdir(need_gib: float) -> str | None:
    """/dev/shm where it has room (saving and loading 16 GB of weights at memory speed, not a
    disk's), else the temp dir."""
    shm = Path("/dev/shm")
    with contextlib.suppress(OSError):
        if os.access(shm, os.W_OK) and shutil.disk_usage(shm).free > need_gib * 2**30:
            return str(shm)
    return None


def empty_result(args: argparse.Namespace, sizes: Sizes, work: Path) -> dict[str, Any]:
    """The JSON's sections, in their order; the parts fill them in."""
    return {
        "suite": {
            "mode": "smoke" if args.smoke else "full",
            "scale": args.scale,
            "sizes": asdict(sizes),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join([Path(sys.executable).name, *sys.argv]),
            "parts": list(args.only),
            "workdir": str(work),
        },
        "machine": {},
        "generation": {"workload": {}, "models": {}},
        "tuning": {},
        "scoring": {},
        "guard": {},
        "gpu_lock": {},
        "options": {},
        "estimate": {},
        "targets": {},
        "skipped": [],
        "errors": [],
    }


class Suite:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.smoke: bool = args.smoke
        self.sizes = scaled(SMOKE if args.smoke else FULL, args.scale)
        if args.budget_s:
            self.sizes = replace(self.sizes, budget_s=args.budget_s)
        self.cuda = cuda_available()
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        need = WORKDIR_NEED_GIB["smoke" if self.smoke else "full"]
        workdir = args.workdir or default_workdir(need)
        self.work = Path(tempfile.mkdtemp(prefix="finetox-gpu-suite-", dir=workdir))
        self.started = time.monotonic()
        self.env_at_start = dict(os.environ)  # before this process takes a GPU for itself
        self.folders: dict[str, Path] = {}
        self.vocabularies: dict[str, Vocabulary] = {}
        self.result = empty_result(args, self.sizes, self.work)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.sizes.budget_s - self.elapsed()

    def skip(self, section: dict | None, key: str, reason: str, *, where: str = "") -> None:
        """Record that `key` was not measured, and why: in its section and in the list."""
        if section is not None:
            section.setdefault("skipped", {})[key] = reason
        what = f"{where}.{key}" if where else key
        self.result["skipped"].append({"what": what, "reason": reason})

    def skip_without_cuda(self, section: dict, key: str, where: str) -> None:
        if not self.cuda:
            self.skip(section, key, NO_CUDA, where=where)

    def record_error(self, part: str, error: Exception, traceback: str | None = None) -> None:
        record = {"part": part, "error": f"{type(error).__name__}: {error}"[:2000]}
        if traceback is not None:
            record["traceback"] = traceback[-4000:]
        self.result["errors"].append(record)

    def write(self) -> None:
        """The JSON and the Markdown as they stand: a run stopped later still leaves them."""
        self.result["suite"]["wall_s"] = self.elapsed()
        rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        self.result["machine"]["peak_host_rss_mib"] = rss_kib / 1024
        write_report(self.out, self.result)

    def run_dtype(self):
        """The device and dtype every stage would pick here (bfloat16 on a recent GPU)."""
        from finetox.loading import device, resolve_dtype

        on = device()
        return on, resolve_dtype("auto", on)

    def model_folder(self, name: str) -> Path:
        """The random-weight model of `name`'s shape, built and saved once."""
        if name not in self.folders:
            on, dtype = self.run_dtype()
            folder = self.work / name
            built = build_lm(folder, name, self.smoke, on, dtype)
            self.vocabularies[name] = built.pop("vocabulary")
            self.folders[name] = folder
            self.result["generation"]["models"].setdefault(name, {})["model"] = built
        return self.folders[name]

    def prompts(self, name: str) -> tuple[np.ndarray, list[str]]:
        """The generation workload in `name`'s vocabulary: token lengths and texts."""
        lengths = prompt_lengths(self.sizes.prompts)
        self.result["generation"]["workload"] = describe_workload(lengths, self.sizes)
        return lengths, prompt_texts(lengths, self.vocabularies[name])

    def clean_up(self) -> None:
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)
