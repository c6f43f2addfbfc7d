"""The demo through a real one-node SLURM (profiles/slurm-test): every job that is not a local rule
goes through sbatch and completes, GPU jobs get a GPU from SLURM, and the data equal a local run's.

The cluster comes up inside the test session (tests/slurm_cluster.py) and goes down by its PIDs.
SLURM missing and not installable, or not starting, fails the test with the reason: never a skip.
"""

from __future__ import annotations

import json
import re
import signal
from collections import Counter

import pytest

from tests.slurm_cluster import SlurmUnavailable, start_cluster
from tests.workflow_runs import (
    DEMO_RESULTS,
    copy_checkout,
    data_files,
    difference,
    failure,
    jobs_of,
    planned,
    snakemake,
)

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # a CI timeout stops pytest with SIGTERM: as an interrupt, the daemons still get stopped
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        try:
            cluster = start_cluster(tmp_path_factory.mktemp("slurm"))
        except SlurmUnavailable as error:
            pytest.fail(f"could not bring up the test SLURM cluster: {error}", pytrace=False)
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def slurm_run(cluster, demo_run, tmp_path_factory):
    # the local run's sources, so both runs run the same code
    root = copy_checkout(tmp_path_factory.mktemp("slurm-run") / "finetox", repo=demo_run)
    result = snakemake(
        root,
        "--profile",
        "profiles/slurm-test",
        "--configfile",
        "config/demo.yaml",
        env=cluster.env,
    )
    output = result.stdout + result.stderr
    (root / "slurm-run.out").write_text(output)
    if result.returncode != 0:
        pytest.fail(f"the demo through SLURM failed in {root}: {failure(result)}", pytrace=False)
    return root, output


def test_every_cluster_job_was_submitted_with_sbatch_and_completed(cluster, slurm_run):
    root, output = slurm_run
    jobs = jobs_of(output)
    assert Counter(job.rule for job in jobs.values()) == planned(output)
    remote = {jobid: job for jobid, job in jobs.items() if not job.local}
    assert remote, "no job went to SLURM"
    unsubmitted = [f"{job.rule} (job {jobid})" for jobid, job in remote.items() if not job.slurm_id]
    assert not unsubmitted, f"not submitted with sbatch: {unsubmitted}"
    finished = cluster.finished_jobs()
    outcome = {job.slurm_id: finished.get(job.slurm_id) for job in remote.values()}
    assert all(status == 0 for status in outcome.values()), f"SLURM exit statuses: {outcome}"

    gpu_jobs = [job for job in remote.values() if job.gpu]
    assert gpu_jobs, "no job asked for a GPU"
    for job in remote.values():
        details = cluster.command("scontrol", "show", "job", "-d", str(job.slurm_id)).stdout
        assert ("JOB_GRES=gpu:1" in details) == job.gpu, f"{job.rule} {job.slurm_id}:\n{details}"

    report = {
        "slurm_jobs": {
            str(job.slurm_id): {
                "rule": job.rule,
                "output": job.outputs[0] if job.outputs else "",
                "gpu": job.gpu,
                "exit": outcome[job.slurm_id],
            }
            for job in sorted(remote.values(), key=lambda job: job.slurm_id)
        },
        "local_rules": sorted(job.rule for job in jobs.values() if job.local),
        "elapsed": re.findall(r"Elapsed time: (\S+)", output)[-1:],
    }
    (root / "slurm-jobs.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


def test_outputs_equal_a_local_run(slurm_run, demo_run):
    root, _ = slurm_run
    local, cluster = data_files(demo_run / DEMO_RESULTS), data_files(root / DEMO_RESULTS)
    assert cluster == local
    differences = {
        name: problem
        for name in local
        if (problem := difference(demo_run / DEMO_RESULTS / name, root / DEMO_RESULTS / name))
    }
    assert not differences, differences
