"""A real one-node SLURM for the tests: munge, slurmctld and slurmd, with two fake `gpu` GRES.

The recipe of ../shared/SLURM.md, made self-contained: the munge key, socket and logs, the SLURM
config, state, spool and logs all live in one temporary folder; the daemons are stopped by the PIDs
in their pid files. Installs `slurm-wlm` and `munge` with apt-get when they are missing (CI runs as
root on a clean Debian machine). Anything that prevents a working cluster raises SlurmUnavailable
with what went wrong, so the test fails with a clear message instead of skipping.

One system path is touched: /etc/slurm/slurm.conf becomes a link to the temporary config while the
cluster runs. The SLURM executor plugin starts each job's step with `srun` after removing every
SLURM_* variable from its environment, SLURM_CONF included (snakemake-executor-plugin-slurm issue
#164), so `srun` inside a job only finds the config at its default path.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
COMMANDS = ("munged", "munge", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun")
FAKE_GPUS = ("/dev/null", "/dev/zero")  # any file will do: SLURM only hands out its index


class SlurmUnavailable(RuntimeError):
    """SLURM could not be installed or started here."""


def run(command: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def ensure_installed() -> None:
    """Install slurm-wlm and munge with apt-get when a command is missing (needs root)."""
    missing = [name for name in COMMANDS if shutil.which(name) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SlurmUnavailable(
            f"SLURM commands missing ({', '.join(missing)}) and cannot install them here "
            "(needs root and apt-get): apt-get install slurm-wlm munge"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "slurm-wlm", "munge"]):
        done = run(command, timeout=900, env=env)
        if done.returncode != 0:
            raise SlurmUnavailable(
                f"'{' '.join(command)}' failed ({done.returncode}):\n{tail(done.stdout + done.stderr)}"
            )
    still = [name for name in COMMANDS if shutil.which(name) is None]
    if still:
        raise SlurmUnavailable(f"installed slurm-wlm and munge, still missing: {', '.join(still)}")


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def memory_mb() -> int:
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1)) // 1024


def slurm_conf(root: Path, host: str, munge_socket: Path) -> str:
    cpus = max(os.cpu_count() or 1, 2)
    return f"""\
# A one-node test cluster written by tests/slurm_cluster.py (recipe: ../shared/SLURM.md)
ClusterName=finetox-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
# jobs that ask for no memory get 1 GB per CPU, not the whole node
DefMemPerCPU=1024
ReturnToService=2
# without accounting, finished jobs are only visible to squeue for MinJobAge seconds
MinJobAge=600
GresTypes=gpu
# the node's CPUs and memory as declared here, even where slurmd measures them differently
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb()} Gres=gpu:{len(FAKE_GPUS)} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def gres_conf(host: str) -> str:
    # A GRES without a File makes the node INVALID ("gres/gpu count reported lower than configured").
    return "".join(f"NodeName={host} Name=gpu File={path}\n" for path in FAKE_GPUS)


def wait_for(check, timeout: float, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    details = "\n".join(f"--- {log}\n{tail(log.read_text())}" for log in logs if log.exists())
    raise SlurmUnavailable(f"{what} (waited {timeout:.0f} s)\n{details}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie child still answers signal 0
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def stop_by_pid_file(pid_file: Path, timeout: float = 20) -> None:
    if not pid_file.exists():
        return
    try:
        pid = int(pid_file.read_text().split()[0])
    except (ValueError, IndexError):
        return
    if not alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)


@dataclass
class SlurmCluster:
    root: Path
    host: str
    conf: Path

    @property
    def env(self) -> dict[str, str]:
        """Environment for SLURM commands run from the tests."""
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    @property
    def controller_log(self) -> Path:
        return self.root / "slurmctld.log"

    def command(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return run(list(args), timeout=timeout, env=self.env)

    def node_state(self) -> str:
        done = self.command("sinfo", "-h", "-N", "-o", "%T")
        return done.stdout.strip() if done.returncode == 0 else ""

    def finished_jobs(self) -> dict[int, int]:
        """SLURM job id -> exit status, from the controller's log (there is no accounting)."""
        pattern = re.compile(r"_job_complete: JobId=(\d+) WEXITSTATUS (\d+)")
        return {
            int(job): int(status)
            for job, status in pattern.findall(self.controller_log.read_text())
        }

    def active_jobs(self) -> list[str]:
        done = self.command("squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING", "-o", "%i")
        return done.stdout.split() if done.returncode == 0 else []

    def stop(self) -> None:
        """Cancel what still runs, then stop slurmd, slurmctld and munged by their PIDs."""
        if self.active_jobs():
            self.command("scancel", "--user", getpass.getuser())
            deadline = time.monotonic() + 30
            while self.active_jobs() and time.monotonic() < deadline:
                time.sleep(0.5)
        for name in ("slurmd.pid", "slurmctld.pid", "munge/munged.pid"):
            stop_by_pid_file(self.root / name)
        if DEFAULT_CONF.is_symlink() and DEFAULT_CONF.resolve() == self.conf.resolve():
            DEFAULT_CONF.unlink()


def start_munge(root: Path) -> Path:
    folder = root / "munge"
    folder.mkdir(mode=0o700)
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    munge_socket = folder / "munge.socket"
    started = run(
        [
            "munged",
            "--force",
            f"--socket={munge_socket}",
            f"--key-file={key}",
            f"--pid-file={folder / 'munged.pid'}",
            f"--log-file={folder / 'munged.log'}",
            f"--seed-file={folder / 'munged.seed'}",
        ]
    )
    if started.returncode != 0:
        raise SlurmUnavailable(f"munged did not start:\n{tail(started.stdout + started.stderr)}")

    def credential_round_trip() -> bool:
        encoded = run(["munge", "-n", "-S", str(munge_socket)])
        if encoded.returncode != 0:
            return False
        return run(["unmunge", "-S", str(munge_socket)], input=encoded.stdout).returncode == 0

    wait_for(credential_round_trip, 20, "munge does not answer", [folder / "munged.log"])
    return munge_socket


def start_cluster(root: Path) -> SlurmCluster:
    """Bring up munge, slurmctld and slurmd in `root`; the caller must call .stop()."""
    ensure_installed()
    if DEFAULT_CONF.exists() or DEFAULT_CONF.is_symlink():
        raise SlurmUnavailable(
            f"{DEFAULT_CONF} already exists (a real SLURM here?); the test cluster will not replace it"
        )
    host = socket.gethostname().split(".")[0]
    for name in ("state", "spool", "etc"):
        (root / name).mkdir(parents=True)
    cluster = SlurmCluster(root=root, host=host, conf=root / "etc" / "slurm.conf")
    try:
        munge_socket = start_munge(root)
        cluster.conf.write_text(slurm_conf(root, host, munge_socket))
        (root / "etc" / "gres.conf").write_text(gres_conf(host))
        DEFAULT_CONF.parent.mkdir(parents=True, exist_ok=True)
        DEFAULT_CONF.symlink_to(cluster.conf)
        logs = [cluster.controller_log, root / "slurmd.log"]
        for daemon in (
            ["slurmctld", "-c", "-f", str(cluster.conf)],
            ["slurmd", "-f", str(cluster.conf)],
        ):
            started = run(daemon, env=cluster.env)
            if started.returncode != 0:
                raise SlurmUnavailable(
                    f"{daemon[0]} did not start:\n{tail(started.stdout + started.stderr)}"
                )
        wait_for(
            lambda: cluster.node_state() == "idle",
            60,
            f"the node is not idle (state: {cluster.node_state() or 'unknown'})",
            logs,
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
