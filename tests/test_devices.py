"""GPU leases on a workstation: each concurrent GPU job gets its own device, freed when it ends."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from finetox import devices
from finetox.devices import NoFreeGpu, claim_gpu, gpu_pool, release_gpu


@pytest.fixture(autouse=True)
def no_lease():
    release_gpu()
    yield
    release_gpu()


def fake_nvidia(tmp_path: Path, count: int) -> Path:
    folder = tmp_path / "nvidia-gpus"
    for index in range(count):
        (folder / f"0000:0{index}:00.0").mkdir(parents=True)
    return folder


def test_pool_comes_from_finetox_gpus_then_cuda_visible_devices_then_the_driver(tmp_path):
    three = fake_nvidia(tmp_path, 3)
    assert gpu_pool({"FINETOX_GPUS": "2, 3", "CUDA_VISIBLE_DEVICES": "0"}, three) == ["2", "3"]
    assert gpu_pool({"CUDA_VISIBLE_DEVICES": "1,0"}, three) == ["1", "0"]
    assert gpu_pool({}, three) == ["0", "1", "2"]
    assert gpu_pool({}, tmp_path / "no-driver") == []


def test_slurm_jobs_keep_the_device_slurm_gave_them(tmp_path):
    env = {"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "1", "FINETOX_GPUS": "0,1"}
    assert claim_gpu(env, lock_dir=tmp_path) is None
    assert env["CUDA_VISIBLE_DEVICES"] == "1"


def test_one_gpu_or_none_changes_nothing(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "0"}
    assert claim_gpu(env, lock_dir=tmp_path, nvidia_gpus=tmp_path / "none") is None
    assert env == {"CUDA_VISIBLE_DEVICES": "0"}
    assert claim_gpu({}, lock_dir=tmp_path, nvidia_gpus=tmp_path / "none") is None


def test_a_claim_narrows_cuda_visible_devices_and_is_kept(tmp_path):
    env = {"FINETOX_GPUS": "0,1"}
    assert claim_gpu(env, lock_dir=tmp_path) == "0"
    assert env["CUDA_VISIBLE_DEVICES"] == "0"
    assert claim_gpu(env, lock_dir=tmp_path) == "0"  # same process: same device
    assert (tmp_path / "gpu-0.lock").read_text().strip().isdigit()


HOLDER = textwrap.dedent(
    """
    import sys, time
    from finetox.devices import claim_gpu
    env = {"FINETOX_GPUS": "0,1"}
    print(claim_gpu(env, lock_dir=sys.argv[1]), flush=True)
    sys.stdin.read()  # hold the lease until the test closes stdin
    """
)


def hold_a_gpu(lock_dir: Path) -> tuple[subprocess.Popen, str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    return holder, holder.stdout.readline().strip()


def test_concurrent_jobs_get_different_gpus_and_a_finished_job_frees_its_own(tmp_path):
    first, first_device = hold_a_gpu(tmp_path)
    second, second_device = hold_a_gpu(tmp_path)
    try:
        assert {first_device, second_device} == {"0", "1"}
        env = {"FINETOX_GPUS": "0,1", "FINETOX_GPU_WAIT": "0"}
        with pytest.raises(NoFreeGpu, match="no free GPU among 0,1"):
            claim_gpu(env, lock_dir=tmp_path, poll_s=0.01)
        first.kill()  # even a killed job gives its GPU back
        first.wait()
        assert claim_gpu(env, lock_dir=tmp_path) == first_device
    finally:
        for holder in (first, second):
            holder.kill()
            holder.wait()


def test_the_model_stages_claim_before_choosing_their_device(monkeypatch, tmp_path):
    from finetox import loading

    claimed = []
    monkeypatch.setattr(devices, "claim_gpu", lambda: claimed.append(True))
    loading.device()
    assert claimed == [True]


GPU_JOB = textwrap.dedent(
    """
    import os, time
    from finetox.devices import claim_gpu
    started = time.time()
    device = claim_gpu()
    time.sleep(2)
    with open(snakemake.output[0], "w") as out:
        out.write(f"{device} {os.environ['CUDA_VISIBLE_DEVICES']} {started} {time.time()}")
    """
)
GPU_WORKFLOW = textwrap.dedent(
    """
    rule all:
        input: expand("gpu{i}.txt", i=range(4))

    rule gpu_job:
        output: "gpu{i}.txt"
        resources: gpu=1
        script: "job.py"
    """
)


def test_the_workstation_profile_runs_gpu_jobs_one_per_gpu_each_on_its_own(tmp_path):
    from tests.conftest import REPO
    from tests.workflow_runs import failure, snakemake

    (tmp_path / "Snakefile").write_text(GPU_WORKFLOW)
    (tmp_path / "job.py").write_text(GPU_JOB)
    env = {
        **os.environ,
        "FINETOX_GPUS": "0,1",
        "FINETOX_GPU_LOCK_DIR": str(tmp_path / "locks"),
    }
    profile = str(REPO / "profiles" / "workstation")
    result = snakemake(
        tmp_path, "--profile", profile, "--cores", "4", "--resources", "gpu=2", env=env
    )
    assert result.returncode == 0, failure(result)
    jobs = []
    for path in sorted(tmp_path.glob("gpu*.txt")):
        device, visible, started, ended = path.read_text().split()
        assert device == visible and device in {"0", "1"}
        jobs.append((device, float(started), float(ended)))
    assert len(jobs) == 4
    overlapping = [
        (a, b) for i, a in enumerate(jobs) for b in jobs[i + 1 :] if a[1] < b[2] and b[1] < a[2]
    ]
    assert overlapping, "two GPU jobs should run at once with gpu=2"
    assert all(a[0] != b[0] for a, b in overlapping), f"two jobs shared a GPU: {overlapping}"
    at_once = max(sum(s <= start < e for _, s, e in jobs) for _, start, _ in jobs)
    assert at_once <= 2
