"""Resumable work folders: generation's finished batches and tuning's checkpoints, and the
lock that keeps two runs off one output.

A job that may be killed keeps what it has finished in a folder stamped with the fingerprint of
everything that shapes the result (settings, inputs, model files). A rerun reuses the folder only
when its stamp matches; otherwise the folder is cleared and the job starts afresh.

Two runs writing the same output at once would overwrite each other's work, so a run first takes
the lock file `{out}.lock` beside its output (`output_lock`): an exclusive flock, held until the
run ends and released by the kernel even when the process is killed. The file records the
holder (pid, host, command, start); a second run refuses at once and names them. A lock file
left by a killed run is no longer locked and the next run takes it over.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import logging
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from finetox.io import UserError, atomic_path

log = logging.getLogger("finetox.resume")

STAMP = "fingerprint.json"


def _canonical(fingerprint: dict[str, Any]) -> Any:
    """The fingerprint as it reads back from its stamp."""
    return json.loads(json.dumps(fingerprint, default=str))


def _stamp_matches(stamp: Path, fingerprint: dict[str, Any]) -> bool:
    try:
        return json.loads(stamp.read_text()) == _canonical(fingerprint)
    except (OSError, ValueError):  # no stamp, or one cut short by a kill
        return False


def stamp_matches(folder: str | os.PathLike, fingerprint: dict[str, Any]) -> bool:
    """True when `folder` holds work of a run with this fingerprint (read only)."""
    return _stamp_matches(Path(folder) / STAMP, fingerprint)


def open_resumable(folder: str | os.PathLike, fingerprint: dict[str, Any]) -> bool:
    """Make `folder` ready for the work `fingerprint` describes; True when it holds work of an
    earlier run with the same fingerprint (to be resumed), False when it starts empty."""
    folder = Path(folder)
    stamp = folder / STAMP
    if folder.exists():
        if _stamp_matches(stamp, fingerprint):
            return True
        if any(folder.iterdir()):
            log.warning("%s: made with other settings or inputs; starting afresh", folder)
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    with atomic_path(stamp) as tmp:
        tmp.write_text(json.dumps(fingerprint, indent=1, default=str) + "\n")
    return False


# ---------------------------------------------------------------------------------------------
# One run per output

LOCK_SUFFIX = ".lock"


class OutputBusy(UserError):
    """Another run holds the output's lock."""


def lock_path(out: str | os.PathLike) -> Path:
    return Path(f"{out}{LOCK_SUFFIX}")


def _holder(handle: IO[str]) -> dict[str, Any]:
    """What the lock file says about the run that took it ({} when it says nothing yet)."""
    handle.seek(0)
    try:
        holder = json.loads(handle.read() or "{}")
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _describe(holder: dict[str, Any]) -> str:
    """'finetox generate, pid 123 on host, since ...' from a lock file's record."""
    if not holder.get("pid"):
        return "it has not written its pid yet"
    since = f", since {holder['started']}" if holder.get("started") else ""
    return (
        f"{holder.get('command') or 'finetox'}, pid {holder['pid']} on "
        f"{holder.get('host') or 'an unknown host'}{since}"
    )


def _same_file(handle: IO[str], path: Path) -> bool:
    """The locked file is still the one at `path` (its holder may have removed it meanwhile)."""
    try:
        mine, there = os.fstat(handle.fileno()), os.stat(path)
    except FileNotFoundError:
        return False
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _take(lock: Path, out: Path, command: str) -> IO[str]:
    """The open, flocked lock file with this run's record in it; OutputBusy when another holds it."""
    while True:
        handle = open(lock, "a+", encoding="utf-8")  # noqa: SIM115 (held until the run ends)
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            handle.close()
            raise OutputBusy(
                f"{out}: another run ({_describe(holder)}) is writing it (lock file {lock}); "
                "wait for that run to end or stop it, or choose another output"
            ) from None
        except OSError as error:
            if error.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                handle.close()
                raise
            log.warning("%s: this file system cannot lock files (%s); two runs writing %s at "
                        "once are not prevented", lock, error.strerror, out)  # fmt: skip
            return handle
        if _same_file(handle, lock):
            break
        handle.close()  # its holder removed it between our open and our lock: take the new one
    left = _holder(handle)
    if left.get("pid"):
        log.warning("%s: taking over the lock left by a run that is no longer running (%s)",
                    lock, _describe(left))  # fmt: skip
    handle.seek(0)
    handle.truncate()
    record = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    handle.write(json.dumps(record) + "\n")
    handle.flush()
    return handle


@contextlib.contextmanager
def output_lock(out: str | os.PathLike, command: str) -> Iterator[Path]:
    """Hold `{out}.lock` for the block (`command` says who holds it): refuse at once (OutputBusy, naming the lock file and its
    holder's pid and host) when another run holds it; remove it when the block ends."""
    out = Path(out)
    lock = lock_path(out)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = _take(lock, out, command)
    try:
        yield lock
    finally:
        if _same_file(handle, lock):
            with contextlib.suppress(OSError):
                lock.unlink()
        handle.close()
