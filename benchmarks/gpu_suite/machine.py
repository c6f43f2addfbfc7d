"""What the suite ran on: the device, the versions, the commit."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import subprocess
from typing import Any

from .suite import REPO

MORE_VERSIONS = ("accelerate", "tokenizers", "safetensors", "numpy", "pandas")


def command_output(command: list[str], timeout: float) -> str | None:
    with contextlib.suppress(Exception):
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        return done.stdout.strip()
    return None


def describe_gpu() -> dict[str, Any]:
    import torch

    props = torch.cuda.get_device_properties(0)
    info: dict[str, Any] = {
        "gpu_memory_gib": props.total_memory / 2**30,
        "capability": f"{props.major}.{props.minor}",
        "multiprocessors": props.multi_processor_count,
        "bf16": torch.cuda.is_bf16_supported(),
    }
    query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
    driver = command_output(query, timeout=20)
    if driver is not None:
        info["driver"] = driver
    return info


def describe_machine(cuda: bool) -> dict[str, Any]:
    import torch

    from finetox.loading import versions

    info: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "cuda": cuda,
        "cuda_version": torch.version.cuda,
        "gpu_count": torch.cuda.device_count() if cuda else 0,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "load_average": os.getloadavg()[0],
        "versions": versions(),
    }
    for package in MORE_VERSIONS:
        with contextlib.suppress(Exception):
            info["versions"][package] = importlib.metadata.version(package)
    if cuda:
        info.update(describe_gpu())
    commit = command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], timeout=10)
    if commit is not None:
        info["commit"] = commit
    return info
