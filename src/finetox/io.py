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

TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")
METADATA_KEY = "finetox"  # the Parquet key-value metadata key of the stages' outputs


class UserError(ValueError):
    """A problem the user can act on; the CLI prints its message without a traceback."""


class InputError(UserError):
    """Bad user input: the message names the file and the problem."""


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
    except Exception as error:
        raise InputError(f"{path}: cannot be read as parquet: {error}") from error
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
            raise InputError(
                f"{path}: unknown table format {suffix!r}; use one of {TABLE_SUFFIXES}"
            )
    except InputError:
        raise
    except Exception as error:  # pandas raises many kinds; name the file whatever it was
        raise InputError(f"{path}: cannot be read as {suffix[1:]}: {error}") from error
    if columns:
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {missing}; found {list(frame.columns)}")
    return frame


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write Parquet, JSONL or CSV by suffix, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif suffix == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            raise InputError(
                f"{path}: unknown table format {suffix!r}; use one of {TABLE_SUFFIXES}"
            )


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
