"""One GPU per job on a machine with several: a lease held for the life of the job's process.

Snakemake counts GPUs (`--resources gpu=N`; each GPU rule asks for `gpu=1`) but does not tell a
job which device is its own (snakemake issue #281), so every job would see every GPU and start on
the first. Before CUDA starts, a GPU job therefore takes the first device of the pool whose lock
file it can lock and narrows CUDA_VISIBLE_DEVICES to it. The kernel drops the lock when the process
ends, however it ends, so a crashed job never keeps a GPU. Since Snakemake runs at most N GPU jobs
at once, a free device is there for each.

The pool: FINETOX_GPUS (device ids as CUDA_VISIBLE_DEVICES takes them, e.g. "0,1,2,3"), else the
devices CUDA_VISIBLE_DEVICES already lists, else every NVIDIA GPU of the machine. Under SLURM, or
with one GPU, nothing changes: the scheduler has already given the job its device.
"""

from __future__ import annotations

import fcntl
import logging
import os
import tempfile
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from finetox.io import UserError

log = logging.getLogger("finetox.devices")

POOL_VARIABLE = "FINETOX_GPUS"
LOCK_DIR_VARIABLE = "FINETOX_GPU_LOCK_DIR"
WAIT_VARIABLE = "FINETOX_GPU_WAIT"  # seconds a job waits for a free GPU before it fails
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")  # one entry per GPU; reading it starts no CUDA


class NoFreeGpu(UserError):
    pass


@dataclass
class Lease:
    device: str
    lock: IO[str]  # kept open: closing it, or the process ending, frees the device


_lease: Lease | None = None


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def gpu_pool(env: MutableMapping[str, str], nvidia_gpus: Path = NVIDIA_GPUS) -> list[str]:
    """The devices this machine's GPU jobs share; empty where a scheduler assigns them."""
    if env.get("SLURM_JOB_ID"):
        return []
    if env.get(POOL_VARIABLE) is not None:
        return _ids(env[POOL_VARIABLE])
    if env.get("CUDA_VISIBLE_DEVICES") is not None:
        return _ids(env["CUDA_VISIBLE_DEVICES"])
    if nvidia_gpus.is_dir():
        return [str(index) for index in range(len(list(nvidia_gpus.iterdir())))]
    return []


def default_lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"finetox-gpu-locks-{os.getuid()}"


def _try_lock(path: Path) -> IO[str] | None:
    handle = open(path, "a+")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def claim_gpu(
    env: MutableMapping[str, str] | None = None,
    *,
    lock_dir: Path | None = None,
    nvidia_gpus: Path = NVIDIA_GPUS,
    poll_s: float = 2.0,
) -> str | None:
    """Lease one device of the pool to this process and make it the only visible one.

    Returns the device id, or None where there is nothing to choose (no GPU, one GPU, SLURM).
    Must run before anything starts CUDA; calling it again returns the same device.
    """
    global _lease
    env = os.environ if env is None else env
    if _lease is not None:
        return _lease.device
    pool = gpu_pool(env, nvidia_gpus)
    if len(pool) <= 1:
        return None
    lock_dir = Path(lock_dir or env.get(LOCK_DIR_VARIABLE) or default_lock_dir())
    lock_dir.mkdir(parents=True, exist_ok=True)
    wait_s = float(env.get(WAIT_VARIABLE, 600))
    deadline = time.monotonic() + wait_s
    waited = False
    while True:
        for device in pool:
            lock = _try_lock(lock_dir / f"gpu-{device}.lock")
            if lock is not None:
                _lease = Lease(device, lock)
                env["CUDA_VISIBLE_DEVICES"] = device
                log.info("using GPU %s of %s (lock in %s)", device, ",".join(pool), lock_dir)
                return device
        if time.monotonic() >= deadline:
            raise NoFreeGpu(
                f"no free GPU among {','.join(pool)} after {wait_s:.0f} s: other jobs hold every "
                f"lock in {lock_dir}; run with --resources gpu={len(pool)} at most, or set "
                f"{POOL_VARIABLE} to the GPUs this run may use"
            )
        if not waited:
            log.info("all GPUs of %s are taken; waiting for one", ",".join(pool))
            waited = True
        time.sleep(poll_s)


def release_gpu() -> None:
    """Give the device back before the process ends (tests; jobs just exit)."""
    global _lease
    if _lease is not None:
        _lease.lock.close()
        _lease = None
