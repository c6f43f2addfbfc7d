"""Hardening of the stages at run time (issue 15): no bad input accepted in silence, errors before
expensive work, one run per output, damaged score files named, outputs with the umask's mode.

Each test checks the exact message a user reads."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from finetox.cli import main
from finetox.compare import COLUMNS, Settings, compare_scores
from finetox.demo.tiny_lm import build_tiny_lm
from finetox.generation import generate_file, read_prompts
from finetox.io import InputError, UserError, check_writable, read_table, write_table
from finetox.loading import check_model_folder
from finetox.resume import OutputBusy, lock_path, output_lock
from finetox.scores_file import Scores, read_scores, toxic_counts

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory) -> Path:
    """An untrained tiny LLaMA with its tokenizer (seconds)."""
    return build_tiny_lm(tmp_path_factory.mktemp("models") / "tiny", seed=0)


def prompts_file(folder: Path, n: int = 3) -> Path:
    path = folder / "prompts.parquet"
    pd.DataFrame(
        {
            "prompt_id": [f"p{i}" for i in range(n)],
            "subset": ["race"] * n,
            "text": [f"The person number {i} said" for i in range(n)],
        }
    ).to_parquet(path)
    return path


def scores_frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "prompt_id": [f"p{i:03d}" for i in range(n)],
            "subset": ["race" if i % 2 else "age" for i in range(n)],
            "score": rng.beta(0.5, 4.0, n),
        }
    )


def err(capsys) -> str:
    """The command's one-line message (log lines of the run above it left out)."""
    lines = capsys.readouterr().err.strip().splitlines()
    return lines[-1] if lines else ""


def forbid(monkeypatch, target: str) -> None:
    """Make `target` fail the test when called: the check must come before it."""

    def called(*args, **kwargs):
        raise AssertionError(f"{target} ran before the check")

    monkeypatch.setattr(target, called)


# ---------------------------------------------------------------------------------------------
# 1. Null prompt ids and subsets; prompts counted twice


def test_a_null_prompt_id_or_subset_names_the_file_and_rows(tmp_path):
    path = tmp_path / "prompts.parquet"
    pd.DataFrame(
        {"prompt_id": ["a", None, "c", None], "subset": ["x"] * 4, "text": ["t"] * 4}
    ).to_parquet(path)
    with pytest.raises(InputError) as error:
        read_prompts(path)
    assert str(error.value) == (
        f"{path}: 2 row(s) have no prompt_id (null or empty): row 2, 4 "
        "(counting from 1 after the header)"
    )
    csv = tmp_path / "prompts.csv"  # an empty CSV field is a missing value
    csv.write_text("prompt_id,subset,text\na,x,hello\nb,,there\n")
    with pytest.raises(InputError) as error:
        read_prompts(csv)
    assert str(error.value) == (
        f"{csv}: 1 row(s) have no subset (null or empty): row 2 (counting from 1 after the header)"
    )


def test_a_null_prompt_id_stops_generate_before_anything_is_written(lm_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(
        '{"prompt_id": "a", "subset": "x", "text": "hi"}\n'
        '{"prompt_id": null, "subset": "x", "text": "yo"}\n'
    )
    out = tmp_path / "out.parquet"
    code = main(["generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out)])
    assert code == 2
    assert err(capsys) == (
        f"finetox generate: {prompts}: 1 row(s) have no prompt_id (null or empty): row 2 "
        "(counting from 1 after the header)"
    )
    assert not out.exists() and not lock_path(out).exists()


def test_a_scores_file_with_null_prompt_ids_or_subsets_is_refused(tmp_path):
    frame = scores_frame(4)
    frame.loc[2, "prompt_id"] = None
    path = tmp_path / "scores.parquet"
    frame.to_parquet(path)
    with pytest.raises(InputError) as error:
        read_scores(path)
    assert str(error.value) == (
        f"{path}: 1 row(s) have no prompt_id (null or empty): row 3 "
        "(counting from 1 after the header)"
    )
    frame = scores_frame(4)
    frame.loc[[0, 3], "subset"] = None
    frame.to_parquet(path)
    with pytest.raises(InputError) as error:
        read_scores(path)
    assert str(error.value) == (
        f"{path}: 2 row(s) have no subset (null or empty): row 1, 4 "
        "(counting from 1 after the header)"
    )


def test_prompts_held_twice_are_compared_with_a_note_not_in_silence(caplog):
    """--allow-unpaired: the rate and BEST views count every row (several generations of one
    prompt are several samples), the paired view leaves the prompt out; each says so."""
    frame_a = scores_frame(40, seed=1)
    frame_a = pd.concat([frame_a, frame_a.iloc[[1]]], ignore_index=True)  # p001 (race) twice
    a = Scores("a.parquet", frame_a.assign(toxic=frame_a["score"] > 0.5), "score", "score > 0.5")
    frame_b = scores_frame(40, seed=2)
    b = Scores("b.parquet", frame_b.assign(toxic=frame_b["score"] > 0.5), "score", "score > 0.5")
    with caplog.at_level("WARNING", logger="finetox.compare"):
        table = compare_scores(a, b, Settings.defaults(), allow_unpaired=True, best=False)
    note = (
        "a.parquet (A) holds 1 prompt_id(s) more than once (2 rows; first: 'p001'): the rate "
        "and BEST views count every row, the paired view leaves these prompts out"
    )
    assert note in caplog.messages
    rows = table.table.set_index("subset")
    assert rows.loc["total", "warning"].startswith(note)
    assert rows.loc["race", "warning"].startswith(note)
    assert not rows.loc["age", "warning"].startswith("a.parquet")
    assert rows.loc["race", "n_a"] == 21 and rows.loc["race", "n_pairs"] == 19


# ---------------------------------------------------------------------------------------------
# 2. One run per output


HOLDER = textwrap.dedent(
    """
    import sys, time
    from finetox.resume import output_lock
    with output_lock(sys.argv[1], "finetox generate"):
        print("held", flush=True)
        time.sleep(120)
    """
)


def hold_lock(out: Path) -> subprocess.Popen:
    """Another process holding the output's lock, as a running `finetox generate` does."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_generate_on_the_same_output_refuses_at_once(lm_dir, tmp_path, capsys):
    out = tmp_path / "gen.parquet"
    prompts = prompts_file(tmp_path)
    holder = hold_lock(out)
    try:
        record = json.loads(lock_path(out).read_text())
        assert record["pid"] == holder.pid and record["host"] == socket.gethostname()
        started = time.time()
        code = main(
            ["generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out)]
        )
        assert code == 2 and time.time() - started < 10
        assert err(capsys) == (
            f"finetox generate: {out}: another run (finetox generate, pid {holder.pid} on "
            f"{socket.gethostname()}, since {record['started']}) is writing it (lock file "
            f"{out}.lock); wait for that run to end or stop it, or choose another output"
        )
        assert not out.exists() and not Path(f"{out}.part").exists()
    finally:
        holder.kill()
        holder.wait()


def test_two_generate_processes_on_one_output(lm_dir, tmp_path):
    """Two real `finetox generate` runs: the second refuses at once, the first is untouched."""
    out = tmp_path / "gen.parquet"
    prompts = prompts_file(tmp_path, n=2000)
    command = [
        str(Path(sys.executable).parent / "finetox"), "generate", "--model", str(lm_dir),
        "--prompts", str(prompts), "--out", str(out), "--max-new-tokens", "20",
        "--batch-size", "1", "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "FINETOX_PROGRESS_INTERVAL": "60", "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not list(Path(f"{out}.part").glob("batch-*.parquet")):
            assert first.poll() is None, first.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the first run wrote no batch in two minutes"
            time.sleep(0.05)
        record = json.loads(lock_path(out).read_text())
        assert record["pid"] == first.pid
        second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert first.poll() is None, "the first run ended before the second was refused"
        assert second.returncode == 2
        assert second.stderr.strip().splitlines()[-1] == (
            f"finetox generate: {out}: another run (finetox generate, pid {first.pid} on "
            f"{socket.gethostname()}, since {record['started']}) is writing it (lock file "
            f"{out}.lock); wait for that run to end or stop it, or choose another output"
        )
        assert json.loads(lock_path(out).read_text()) == record  # still the first run's
    finally:
        first.kill()
        first.wait()


def test_a_lock_left_by_a_killed_run_is_taken_over(lm_dir, tmp_path, caplog):
    out = tmp_path / "gen.parquet"
    prompts = prompts_file(tmp_path)
    holder = hold_lock(out)
    holder.send_signal(signal.SIGKILL)  # as kill -9 leaves it: the file stays, its lock is gone
    holder.wait()
    assert lock_path(out).exists()
    with caplog.at_level("WARNING", logger="finetox.resume"):
        frame = generate_file(str(lm_dir), prompts, out, max_new_tokens=2)
    assert len(frame) == 3 and out.exists()
    assert (
        f"{out}.lock: taking over the lock left by a run that is no longer running (finetox "
        f"generate, pid {holder.pid} on {socket.gethostname()}, since "
    ) in caplog.text
    assert not lock_path(out).exists()  # released at the end


def test_the_lock_is_released_when_the_run_fails(lm_dir, tmp_path):
    out = tmp_path / "gen.parquet"
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt_id,subset,text\na,x,\n")
    with pytest.raises(InputError, match="prompts without text"):
        generate_file(str(lm_dir), bad, out)
    assert not lock_path(out).exists()
    with output_lock(out, "finetox generate"):  # free again, for one run at a time
        assert pytest.raises(OutputBusy, output_lock(out, "finetox generate").__enter__)


def test_a_second_tune_on_the_same_adapter_folder_refuses_at_once(lm_dir, tmp_path, monkeypatch):
    from finetox.tune import run as tune_run

    forbid(monkeypatch, "finetox.tune.run._tune")
    out = tmp_path / "tuned" / "tiny-dolly"
    with output_lock(out, "finetox tune"):
        with pytest.raises(OutputBusy) as error:
            tune_run.tune_file(model={"source": str(lm_dir)}, settings={}, out=out)
        record = json.loads(lock_path(out).read_text())
    assert str(error.value) == (
        f"{out}: another run (finetox tune, pid {os.getpid()} on {socket.gethostname()}, since "
        f"{record['started']}) is writing it (lock file {out}.lock); wait for that run to end "
        "or stop it, or choose another output"
    )


# ---------------------------------------------------------------------------------------------
# 3. Unwritable outputs, found before any model is loaded or fitted


def test_check_writable_names_the_path_and_the_folder(tmp_path):
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "sub" / "out.parquet"
    with pytest.raises(UserError) as error:
        check_writable(target, "scores file")
    assert str(error.value) == (
        f"{target}: cannot write the scores file: {tmp_path / 'a-file'} is not a folder"
    )
    with pytest.raises(UserError) as error:
        check_writable(tmp_path, "scores file")
    assert str(error.value) == (
        f"{tmp_path}: cannot write the scores file: a folder of that name is there"
    )
    check_writable(tmp_path / "new" / "deeper" / "out.parquet", "scores file")  # creatable
    assert not (tmp_path / "new").exists()  # and nothing was created to find out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


@pytest.mark.skipif(AS_ROOT, reason="root writes into read-only folders")
def test_a_read_only_folder_is_named(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(UserError) as error:
            check_writable(folder / "new" / "out.csv", "comparison table")
    finally:
        folder.chmod(0o755)
    assert str(error.value) == (
        f"{folder / 'new' / 'out.csv'}: cannot write the comparison table: {folder} is not "
        "writable (Permission denied)"
    )


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs /sys (Linux)")
def test_a_file_system_nobody_may_write_is_named():
    """/sys takes no new files, even from root: a read-only place every Linux machine has."""
    with pytest.raises(UserError) as error:
        check_writable("/sys/finetox/out.parquet", "scores file")
    assert str(error.value).startswith(
        "/sys/finetox/out.parquet: cannot write the scores file: /sys is not writable ("
    )


@pytest.fixture
def blocked(tmp_path) -> tuple[Path, Path]:
    """(an output path whose folder cannot be made: a file is in the way, that file)."""
    in_the_way = tmp_path / "results"
    in_the_way.write_text("a file where a folder should be")
    return in_the_way / "sub" / "out", in_the_way


def test_generate_checks_its_output_before_loading_the_model(
    lm_dir, tmp_path, blocked, capsys, monkeypatch
):
    forbid(monkeypatch, "finetox.generation.run.load_generation_tokenizer")
    forbid(monkeypatch, "finetox.generation.run.load_weights")
    forbid(monkeypatch, "finetox.generation.run.read_prompts")
    out, in_the_way = blocked
    args = ["generate", "--model", str(lm_dir), "--prompts", str(prompts_file(tmp_path))]
    assert main([*args, "--out", f"{out}.parquet"]) == 2
    assert err(capsys) == (
        f"finetox generate: {out}.parquet: cannot write the generations file: {in_the_way} is "
        "not a folder"
    )
    assert main([*args, "--out", str(tmp_path / "out.xlsx")]) == 2
    assert err(capsys) == (
        f"finetox generate: {tmp_path / 'out.xlsx'}: unknown table format '.xlsx'; use one of "
        ".parquet, .jsonl, .json, .csv"
    )


def test_score_checks_its_output_before_loading_the_classifier(
    tmp_path, blocked, capsys, monkeypatch
):
    forbid(monkeypatch, "finetox.scoring.run.load_classifier")
    forbid(monkeypatch, "finetox.scoring.run.read_table")
    out, in_the_way = blocked
    generations = tmp_path / "gen.parquet"
    pd.DataFrame({"prompt_id": ["a"], "generation": ["hi"]}).to_parquet(generations)
    code = main(
        ["score", "--classifier", "org/classifier", "--in", str(generations),
         "--out", f"{out}.parquet"]
    )  # fmt: skip
    assert code == 2
    assert err(capsys) == (
        f"finetox score: {out}.parquet: cannot write the scores file: {in_the_way} is not a folder"
    )


def test_compare_checks_every_output_before_reading_or_fitting(
    tmp_path, blocked, capsys, monkeypatch
):
    forbid(monkeypatch, "finetox.compare.files.read_scores")
    out, in_the_way = blocked
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    scores_frame().to_parquet(a)
    scores_frame(seed=1).to_parquet(b)
    fine = str(tmp_path / "fine.csv")
    cases = [
        (["--out", f"{out}.csv"], f"{out}.csv: cannot write the comparison table"),
        (["--out", fine, "--json", f"{out}.json"], f"{out}.json: cannot write the comparison JSON"),
        (["--out", fine, "--flips", f"{out}.csv"], f"{out}.csv: cannot write the flipped prompts"),
        (["--out", fine, "--posterior", f"{out}.nc"], f"{out}.nc: cannot write the posterior"),
    ]  # fmt: skip
    for options, problem in cases:
        assert main(["compare", str(a), str(b), *options]) == 2
        assert err(capsys) == f"finetox compare: {problem}: {in_the_way} is not a folder"


def test_tune_checks_its_output_before_reading_data_or_loading(lm_dir, blocked, monkeypatch):
    from finetox.tune import run as tune_run

    forbid(monkeypatch, "finetox.tune.run._tune")
    out, in_the_way = blocked
    with pytest.raises(UserError) as error:
        tune_run.tune_file(model={"source": str(lm_dir)}, settings={}, out=out)
    assert str(error.value) == (
        f"{out}: cannot write the adapter folder: {in_the_way} is not a folder"
    )


# ---------------------------------------------------------------------------------------------
# 4. A model folder without weights or tokenizer


def test_a_model_folder_without_weights_says_so(lm_dir, tmp_path, capsys):
    folder = tmp_path / "no-weights"
    shutil.copytree(lm_dir, folder)
    (folder / "model.safetensors").unlink()
    prompts = prompts_file(tmp_path)
    out = tmp_path / "out.parquet"
    code = main(["generate", "--model", str(folder), "--prompts", str(prompts), "--out", str(out)])
    assert code == 2
    assert err(capsys) == (
        f"finetox generate: model '{folder}': the folder has no weights (no *.safetensors or "
        "*.bin file; found: chat_template.jinja, config.json, generation_config.json, "
        "tokenizer.json, tokenizer_config.json); copy the model's weight files into it"
    )


def test_a_model_folder_without_tokenizer_files_says_which(lm_dir, tmp_path, capsys):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(lm_dir, folder)
    (folder / "tokenizer.json").unlink()
    prompts = prompts_file(tmp_path)
    out = tmp_path / "out.parquet"
    code = main(["generate", "--model", str(folder), "--prompts", str(prompts), "--out", str(out)])
    assert code == 2
    message = err(capsys)
    assert message == (
        f"finetox generate: model '{folder}': the folder has no tokenizer files (none of "
        "tokenizer.json, tokenizer.model, vocab.json, vocab.txt, spiece.model; found: "
        "chat_template.jinja, config.json, generation_config.json, model.safetensors, "
        "tokenizer_config.json); save the tokenizer into it with tokenizer.save_pretrained"
    )
    assert "sentencepiece" not in message


def test_model_folder_checks(lm_dir, tmp_path):
    check_model_folder(str(lm_dir))
    check_model_folder("org/a-hub-model")  # the hub answers for hub ids
    sharded = tmp_path / "sharded"
    shutil.copytree(lm_dir, sharded)
    (sharded / "model.safetensors").rename(sharded / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors",
                            "b": "model-00002-of-00002.safetensors"}}  # fmt: skip
    (sharded / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(InputError) as error:
        check_model_folder(str(sharded))
    assert str(error.value) == (
        f"model '{sharded}': model.safetensors.index.json names 1 weight file(s) the folder "
        "lacks: model-00002-of-00002.safetensors"
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError) as error:
        check_model_folder(str(empty), what="classifier")
    assert str(error.value) == (
        f"classifier '{empty}': the folder has no config.json (found: nothing); save the model "
        "into it with save_pretrained"
    )


# ---------------------------------------------------------------------------------------------
# 5. A damaged scores file


@pytest.fixture
def damaged(tmp_path) -> dict[str, Path]:
    good = tmp_path / "good.parquet"
    scores_frame().to_parquet(good)
    not_parquet = tmp_path / "not.parquet"
    not_parquet.write_text("prompt_id,subset,score\n")
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return {"good": good, "not": not_parquet, "truncated": truncated}


def test_a_damaged_scores_file_stops_compare_in_one_line(damaged, tmp_path, capsys):
    expected = {
        "not": "Parquet magic bytes not found in footer. Either the file is corrupted or this is "
        "not a parquet file.",
        "truncated": "Parquet magic bytes not found in footer. Either the file is corrupted or "
        "this is not a parquet file.",
    }
    for name, reason in expected.items():
        out = tmp_path / "out.csv"
        code = main(["compare", str(damaged[name]), str(damaged["good"]), "--out", str(out),
                     "--no-best"])  # fmt: skip
        assert code == 2
        stderr = capsys.readouterr().err
        assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1
        assert stderr.strip() == (
            f"finetox compare: {damaged[name]}: damaged or not a scores file, cannot be read as "
            f"parquet ({reason}); delete it and the workflow scores the model again"
        )
        assert not out.exists()


def test_a_damaged_scores_file_stops_the_results_stage_in_one_line(damaged):
    with pytest.raises(InputError) as error:
        toxic_counts(damaged["truncated"])
    assert str(error.value).startswith(
        f"{damaged['truncated']}: damaged or not a scores file, cannot be read as parquet ("
    )
    assert str(error.value).endswith("; delete it and the workflow scores the model again")
    assert "\n" not in str(error.value)


# ---------------------------------------------------------------------------------------------
# 6. compare --out X.json: the table as JSON, as the formats listed


def test_compare_writes_its_table_as_json_when_asked(damaged, tmp_path, capsys):
    b = tmp_path / "b.parquet"
    scores_frame(seed=3).to_parquet(b)
    out = tmp_path / "table.json"
    code = main(["compare", str(damaged["good"]), str(b), "--out", str(out), "--no-best"])
    assert code == 0, capsys.readouterr().err
    table = read_table(out)
    assert list(table.columns) == ["classifier", *COLUMNS]
    assert list(table["subset"]) == ["race", "age", "total"]
    assert isinstance(json.loads(out.read_text()), list)  # an array of rows
    capsys.readouterr()
    assert main(["compare", str(damaged["good"]), str(b), "--out", str(tmp_path / "t.xlsx")]) == 2
    assert err(capsys) == (
        f"finetox compare: {tmp_path / 't.xlsx'}: unknown table format '.xlsx'; use one of "
        ".parquet, .jsonl, .json, .csv"
    )


def test_every_listed_table_format_round_trips(tmp_path):
    frame = pd.DataFrame({"prompt_id": ["001", "b"], "x": [1.5, float("nan")], "ok": [True, False]})
    for suffix in (".parquet", ".jsonl", ".json", ".csv"):
        write_table(frame, tmp_path / f"t{suffix}")
        back = read_table(tmp_path / f"t{suffix}")
        assert list(back["prompt_id"]) == ["001", "b"], suffix
        assert back["x"].iloc[0] == 1.5 and pd.isna(back["x"].iloc[1]), suffix


# ---------------------------------------------------------------------------------------------
# 7. Outputs with the umask's mode


def modes(folder: Path) -> dict[str, int]:
    return {
        str(path.relative_to(folder.parent)): stat.S_IMODE(path.stat().st_mode)
        for path in [folder, *folder.rglob("*")]
    }


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def assert_public(folder: Path) -> None:
    found = modes(folder)
    wrong = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o755 if (folder.parent / name).is_dir() else 0o644)
    }
    assert not wrong, f"not 0755 folders / 0644 files: {wrong}"
    assert any(name.endswith(".safetensors") for name in found)


def test_a_tuned_adapter_gets_the_umask_mode(tmp_path, umask_022):
    from finetox.tune.run import _save

    class Adapter:
        def save_pretrained(self, folder):
            import torch
            from safetensors.torch import save_file

            save_file({"w": torch.zeros(2)}, str(Path(folder) / "adapter_model.safetensors"))
            (Path(folder) / "adapter_config.json").write_text("{}")

    curve = pd.DataFrame({"step": [1], "loss": [1.0], "learning_rate": [1e-4]})
    out = tmp_path / "tuned" / "tiny-dolly"
    _save(Adapter(), curve, {}, out, {}, time.time())
    assert_public(out)


def test_demo_models_get_the_umask_mode(tmp_path, umask_022, monkeypatch):
    from finetox.demo import tiny_classifier

    lm = build_tiny_lm(tmp_path / "models" / "tiny", seed=0)
    assert_public(lm)
    monkeypatch.setattr(
        tiny_classifier, "train_one_epoch", lambda *args: None
    )  # the saving is tested
    monkeypatch.setattr(tiny_classifier, "heldout_accuracy", lambda *args: 1.0)
    classifier = tmp_path / "models" / "classifier"
    tiny_classifier.build_demo_classifier(classifier, n_train=40)
    assert_public(classifier)


# ---------------------------------------------------------------------------------------------
# 7. Exit codes (issue 21): an internal error of any command is 3, not compare's failed gate (1)


def test_an_internal_error_in_any_command_exits_3_in_one_line(tmp_path, capsys, monkeypatch):
    import tempfile

    import finetox.card

    def broken(path):
        raise KeyError("subsets")

    monkeypatch.setattr(finetox.card, "read_result", broken)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = tmp_path / "r.json"
    result.write_text("{}")
    assert main(["card", str(result)]) == 3
    logs = list(tmp_path.glob("finetox-card-*.log"))
    assert len(logs) == 1 and "KeyError: 'subsets'" in logs[0].read_text()
    assert capsys.readouterr().err == (
        f"finetox card: internal error (KeyError: 'subsets'); the traceback is in {logs[0]}\n"
    )


def test_finetox_help_lists_the_exit_codes(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 done; 2 bad input" in text and "3 internal error" in text
