"""Reading and writing tables and JSON, always atomically, so a killed job never leaves a
half-written result that looks finished."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

# defined where the workflow can import them without pandas; raised and caught from here too
from finetox.errors import InputError, UserError  # noqa: F401

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
METADATA_KEY = "finetox"  # the Parquet key-value metadata key of the stages' outputs


class UnreadableFileError(InputError):
    """A file that exists but cannot be parsed in its format (corrupt, truncated, another format);
    `reason` is the reader's own message, on one line."""

    def __init__(self, path: str | os.PathLike, kind: str, error: BaseException):
        self.path, self.kind, self.reason = str(path), kind, one_line(error)
        super().__init__(f"{path}: cannot be read as {kind}: {self.reason}")


def one_line(error: BaseException | str) -> str:
    """A reader's error message with its line breaks and runs of spaces collapsed."""
    return " ".join(str(error).split())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    # mkstemp makes the file private (0600); a result gets the mode any new file would get
    tmp.chmod(0o666 & ~_umask())
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def apply_umask(path: str | os.PathLike) -> None:
    """Give `path` (a file, or a folder and everything in it) the mode a new file or folder gets
    under the process's umask: folders 0777 & ~umask, files 0666 & ~umask (0777 where the file
    was executable). Temporary folders (mkdtemp: 0700) and some writers (safetensors: 0600)
    make private files; a finished result must be as readable as any other output."""
    mask = _umask()
    path = Path(path)
    entries = [path, *path.rglob("*")] if path.is_dir() else [path]
    for entry in entries:
        if entry.is_symlink():
            continue
        if entry.is_dir():
            entry.chmod(0o777 & ~mask)
        else:
            executable = entry.stat().st_mode & 0o111
            entry.chmod((0o777 if executable else 0o666) & ~mask)


def check_writable(path: str | os.PathLike, what: str, *, folder: bool = False) -> None:
    """Fail now, before any expensive work, when the output `path` (a file, or a folder with
    `folder`) cannot be created: its folder, or the nearest existing folder above it, must be a
    folder this process can write into (tried with a probe file, so a read-only file system is
    caught as well as permissions)."""
    path = Path(path)
    if path.is_dir() and not folder:
        raise UserError(f"{path}: cannot write the {what}: a folder of that name is there")
    if path.exists() and not path.is_dir() and folder:
        raise UserError(f"{path}: cannot write the {what}: a file of that name is there")
    nearest = path.absolute().parent
    while not nearest.exists() and not nearest.is_symlink():
        nearest = nearest.parent
    if not nearest.is_dir():
        raise UserError(f"{path}: cannot write the {what}: {nearest} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".finetox-write-check-", dir=nearest)
    except OSError as error:
        raise UserError(
            f"{path}: cannot write the {what}: {nearest} is not writable "
            f"({error.strerror or one_line(error)})"
        ) from error
    os.close(fd)
    os.unlink(probe)


def write_parquet(frame: pd.DataFrame, path: str | os.PathLike, metadata: Any) -> None:
    """Parquet, atomically, with `metadata` as JSON under the key-value metadata key `finetox`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    schema_metadata = {
        **(table.schema.metadata or {}),
        METADATA_KEY.encode(): json.dumps(metadata).encode(),
    }
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(schema_metadata), tmp)


def parquet_metadata(path: str | os.PathLike) -> Any | None:
    """What `write_parquet` stored in a Parquet file, or None where it stored nothing."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except FileNotFoundError as error:
        raise InputError(f"{path}: no such file") from error
    except Exception as error:
        raise UnreadableFileError(path, "parquet", error) from error
    raw = metadata.get(METADATA_KEY.encode())
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError as error:
        raise InputError(f"{path}: its '{METADATA_KEY}' metadata is not JSON: {error}") from error


def read_table(path: str | os.PathLike, columns: list[str] | None = None) -> pd.DataFrame:
    """Read Parquet, JSONL (or a JSON array) or CSV by suffix; check required columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        elif suffix == ".json":
            frame = pd.read_json(path, dtype=False)
        elif suffix == ".csv":
            frame = pd.read_csv(
                path, keep_default_na=False, na_values=[""], dtype={"prompt_id": str}
            )
        else:
            raise InputError(f"{path}: unknown table format {suffix!r}; {_formats()}")
    except InputError:
        raise
    except Exception as error:  # pandas raises many kinds; name the file whatever it was
        raise UnreadableFileError(path, suffix[1:], error) from error
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


def check_filled(frame: pd.DataFrame, columns: list[str], path: str | os.PathLike) -> None:
    """Every row has a value in each of `columns` (not null, not blank); else an InputError that
    names the file, the column and the rows (numbered from 1, the first row after the header)."""
    for column in columns:
        values = frame[column]
        blank = values.isna() | values.map(lambda v: isinstance(v, str) and not v.strip())
        if blank.any():
            rows = [int(i) + 1 for i in blank.to_numpy().nonzero()[0]]
            listed = ", ".join(map(str, rows[:10])) + (
                f" and {len(rows) - 10} more" if len(rows) > 10 else ""
            )
            raise InputError(
                f"{path}: {len(rows)} row(s) have no {column} (null or empty): "
                f"row {listed} (counting from 1 after the header)"
            )


def _formats() -> str:
    return f"use one of {', '.join(TABLE_SUFFIXES)}"


def check_table_path(path: str | os.PathLike) -> None:
    """A table can be written to `path`: its suffix names one of TABLE_SUFFIXES."""
    if Path(path).suffix.lower() not in TABLE_SUFFIXES:
        raise InputError(f"{path}: unknown table format {Path(path).suffix!r}; {_formats()}")


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write Parquet, JSONL, JSON (an array of rows, as read_table reads it) or CSV by suffix,
    atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    check_table_path(path)
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif suffix == ".json":
            frame.to_json(tmp, orient="records", force_ascii=False, indent=1)
        else:
            frame.to_csv(tmp, index=False)


def write_text(text: str, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(data: object, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a table, independent of file format and Parquet metadata."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()
