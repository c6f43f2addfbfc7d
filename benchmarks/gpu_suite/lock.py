"""The GPU-lock part: processes that take a device as every stage job does (finetox.loading's
device, with finetox.devices' lock), with the workstation profile's settings. Two jobs at once get
different GPUs; with every GPU taken, a second job waits until the first ends, then runs."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .suite import REPO, Suite

PACKAGE = Path(__file__).resolve().parent
WORKSTATION_PROFILE = REPO / "profiles" / "workstation" / "config.yaml"
LOCK_WAIT_S = "120"
BUSY = "busy"  # a device id a process of the suite holds: a GPU taken by another job


class LockJob:
    """A lock job as a process (this package with --lock-job): it reports through a status file
    and works on its device until released."""

    def __init__(self, status: Path, env: dict[str, str]):
        self.status = status
        self.release_file = status.with_suffix(".release")
        status.unlink(missing_ok=True)
        self.release_file.unlink(missing_ok=True)
        command = [sys.executable, str(PACKAGE), "--lock-job", str(status)]
        self.process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def read(self) -> dict[str, Any]:
        try:
            return json.loads(self.status.read_text())
        except (OSError, ValueError):
            return {}

    def wait_for(self, key: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read().get(key) is not None:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"lock job {self.status.stem}: no {key}: {self.stderr()}")

    def release(self) -> None:
        self.release_file.touch()

    def result(self, zero: float, timeout: float = 180) -> dict[str, Any]:
        """What the job reported, its times in seconds since `zero`."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
        status = self.read()
        if self.process.returncode != 0 or "t_done" not in status:
            raise RuntimeError(f"lock job {self.status.stem} failed: {self.stderr()}")
        return {k: v - zero if k.startswith("t_") else v for k, v in status.items()}

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        return (self.process.stderr.read() or "")[-1500:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)


def run_lock_job(status: Path, max_hold_s: float = 300) -> int:
    """One GPU job (in its own process): take a device as every stage does, work on it until
    released (a file beside the status), and say when."""
    record: dict[str, Any] = {"pid": os.getpid(), "t_start": time.time()}

    def report() -> None:
        partial = status.with_suffix(".partial")
        partial.write_text(json.dumps(record))
        os.replace(partial, status)

    from finetox.devices import claim_gpu
    from finetox.loading import device

    record["t_ready"] = time.time()
    report()
    on = device()  # claims a device of the pool, narrowing CUDA_VISIBLE_DEVICES to it
    record["t_claimed"] = time.time()
    record["claimed"] = claim_gpu()  # called again: the device it holds, or None
    record["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
    record["cuda"] = on.type == "cuda"
    report()
    released = status.with_suffix(".release")
    until = time.time() + max_hold_s
    if record["cuda"]:
        record.update(work_on_gpu(on, lambda: released.exists() or time.time() > until))
    else:
        while not released.exists() and time.time() < until:
            time.sleep(0.02)
    record["t_done"] = time.time()
    report()
    return 0


def work_on_gpu(on, done) -> dict[str, Any]:
    """Matrix products on the device until done(), so the job really uses the GPU it holds."""
    import torch

    found = {
        "device_count": torch.cuda.device_count(),
        "gpu_uuid": str(getattr(torch.cuda.get_device_properties(0), "uuid", "")),
    }
    a = torch.randn(2048, 2048, device=on, dtype=torch.bfloat16)
    products = 0
    while not done():
        for _ in range(10):
            a = torch.nn.functional.normalize(a @ a, dim=-1)
        torch.cuda.synchronize()
        products += 10
    return {**found, "products": products}


def overlapped(jobs: list[dict[str, Any]]) -> bool:
    a, b = jobs
    return a["t_claimed"] < b["t_done"] and b["t_claimed"] < a["t_done"]


def measure_gpu_lock(suite: Suite) -> None:
    import yaml

    entry = suite.result["gpu_lock"]
    profile = yaml.safe_load(WORKSTATION_PROFILE.read_text())
    entry["workstation_profile"] = {
        "resources": profile.get("resources"),
        "cores": profile.get("cores"),
    }
    env, pool, first_device = lock_environment(suite, entry)
    entry["pool"] = pool
    entry["times"] = "seconds since the part began"
    zero = time.time()
    two_jobs_at_once(suite, entry, env, pool, zero)
    second_job_waits(suite, entry, env, first_device, zero)


def lock_environment(suite: Suite, entry: dict) -> tuple[dict[str, str], list[str], str]:
    """The jobs' environment (as at the suite's start, the lock folder its own), the pool of
    devices they choose from and its first device."""
    from finetox.devices import LOCK_DIR_VARIABLE, POOL_VARIABLE, WAIT_VARIABLE, gpu_pool

    env = dict(suite.env_at_start)
    pool = gpu_pool(dict(env))
    first_device = pool[0] if pool else "0"  # no pool (no NVIDIA listing): CUDA's first GPU
    if not suite.cuda:  # the lock path on device ids alone
        pool = ["0", "1"]
        env[POOL_VARIABLE] = ",".join(pool)
        first_device = "0"
        entry["stand_in"] = (
            f"no CUDA: {POOL_VARIABLE}=0,1 names two devices that do not exist; the lock "
            "path runs, no device is used"
        )
    env[LOCK_DIR_VARIABLE] = str(suite.work / "gpu-locks")
    env[WAIT_VARIABLE] = LOCK_WAIT_S
    return env, pool, first_device


def lock_job(suite: Suite, name: str, env: dict[str, str]) -> LockJob:
    return LockJob(suite.work / f"lock-{name}.json", env)


def two_jobs_at_once(suite: Suite, entry: dict, env: dict, pool: list[str], zero: float) -> None:
    """Two jobs at once, as Snakemake starts them under --resources gpu=2; each works until both
    have their device (so they overlap), then for lock_hold_s more."""
    jobs = [lock_job(suite, f"pair-{i}", env) for i in range(2)]
    try:
        for job in jobs:
            job.wait_for("t_claimed")
        time.sleep(suite.sizes.lock_hold_s)
        for job in jobs:
            job.release()
        pair = [job.result(zero) for job in jobs]
    finally:
        for job in jobs:
            job.stop()
    claimed = [job["claimed"] for job in pair]
    two = entry["two_jobs"] = {"jobs": pair, "overlapped": overlapped(pair)}
    if len(pool) >= 2:
        two["different_devices"] = claimed[0] != claimed[1] and None not in claimed
        return
    two["different_devices"] = None
    two["lock_not_engaged"] = claimed == [None, None]
    reason = (
        f"{len(pool)} GPU in the pool: claim_gpu leaves a single GPU alone (both jobs see it); "
        "the workstation profile's resources gpu=1 makes Snakemake run one GPU job at a time"
    )
    suite.skip(two, "different_devices", reason, where="gpu_lock.two_jobs")


def second_job_waits(suite: Suite, entry: dict, env: dict, first_device: str, zero: float) -> None:
    """Every other device taken: a second job waits until the first ends, then takes its device."""
    from finetox.devices import POOL_VARIABLE

    holder_env = {**env, POOL_VARIABLE: f"{BUSY},{BUSY}"}  # one id twice: a pool of two, locked
    wait_env = {**env, POOL_VARIABLE: f"{first_device},{BUSY}"}
    jobs = [holder := lock_job(suite, "holder", holder_env)]
    try:
        holder.wait_for("t_claimed")
        jobs.append(first := lock_job(suite, "first", wait_env))
        first.wait_for("t_claimed")
        jobs.append(second := lock_job(suite, "second", wait_env))
        second.wait_for("t_ready")  # about to ask for a device: every one is taken
        time.sleep(max(1.0, suite.sizes.lock_hold_s))
        waiting = second.read().get("t_claimed") is None
        first.release()
        second.wait_for("t_claimed")
        second.release()
        a, b = first.result(zero), second.result(zero)
        holder.release()
        holder.result(zero)
    finally:
        for job in jobs:
            job.stop()
    wait = entry["second_waits"] = {
        "pool": wait_env[POOL_VARIABLE],
        "first": a,
        "second": b,
        "second_was_waiting": waiting,
        "second_waited_s": b["t_claimed"] - b["t_ready"],
        "second_started_after_first_ended": b["t_claimed"] >= a["t_done"],
        "same_device": a["claimed"] == b["claimed"] == first_device,
    }
    wait["ok"] = bool(waiting and wait["second_started_after_first_ended"] and wait["same_device"])
    if suite.cuda:
        wait["both_used_the_gpu"] = bool(a.get("cuda") and b.get("cuda"))
