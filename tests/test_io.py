"""Atomic writes and table reading."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from finetox.io import InputError, atomic_path, read_table, write_table


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.parquet"
    write_table(pd.DataFrame({"a": [1]}), target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert read_table(target)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_results_get_the_umask_mode_not_a_private_one(tmp_path):
    old = os.umask(0o022)
    try:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv"])
def test_round_trip(tmp_path, suffix):
    frame = pd.DataFrame({"prompt_id": ["001", "b"], "subset": ["x", "y"], "text": ["", "t"]})
    write_table(frame, tmp_path / f"t{suffix}")
    back = read_table(tmp_path / f"t{suffix}", columns=["prompt_id", "text"])
    assert back["prompt_id"].tolist() == ["001", "b"]


def test_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="nope.csv: no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"t.csv: missing column\(s\) \['text'\]"):
        read_table(tmp_path / "t.csv", columns=["text"])
    (tmp_path / "t.xlsx").write_text("")
    with pytest.raises(InputError, match="unknown table format '.xlsx'"):
        read_table(tmp_path / "t.xlsx")
