"""Generation: batched greedy decoding equals one prompt at a time, original order, the token cut,
chat templates, automatic batch sizes, resuming after a kill, adapters, the CLI on real RTP
prompts, and errors a user can act on."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from finetox.cli import main
from finetox.demo.synthetic import CEB_WRAPPER, clean_sentence, toxic_sentence
from finetox.demo.tiny_lm import build_tiny_lm
from finetox.generation import (
    OUTPUT_COLUMNS,
    encode_prompts,
    generate,
    generate_file,
    load_model,
    model_settings,
    part_folder,
)
from finetox.generation import decoding as generation
from finetox.io import InputError, UserError
from finetox.loading import folder_sha256
from finetox.prompts import rtp_frame

BIN = Path(sys.executable).parent


def sample_texts(n: int, seed: int = 0) -> list[str]:
    """Prompts of very different lengths: fragments, paragraphs, CEB wrappers, odd characters."""
    rng = np.random.default_rng(seed)
    texts = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            texts.append(clean_sentence(rng)[: int(rng.integers(3, 40))])
        elif kind == 1:
            texts.append(" ".join(toxic_sentence(rng) for _ in range(int(rng.integers(1, 4)))))
        elif kind == 2:
            texts.append(CEB_WRAPPER.format(text=clean_sentence(rng)))
        else:
            texts.append(f"ünïcödé — “{clean_sentence(rng)}” 🙂")
    return texts


def prompt_table(texts: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "prompt_id": [f"p{i:03d}" for i in range(len(texts))],
            "subset": ["random" if i % 2 else "severe" for i in range(len(texts))],
            "text": texts,
        }
    )


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """An untrained tiny LLaMA with its trained tokenizer (seconds)."""
    return build_tiny_lm(tmp_path_factory.mktemp("models") / "tiny", seed=0)


@pytest.fixture(scope="module")
def lm(lm_dir):
    return load_model(model_settings(str(lm_dir), dtype="float32"))


STOP = "generation_config"  # the tests of stopping_lm stop at its extra eos id


def one_at_a_time(model, tokenizer, texts, **kwargs):
    return [generate(model, tokenizer, [text], batch_size=1, **kwargs)[0] for text in texts]


@pytest.fixture(scope="module")
def stopping_lm(lm_dir):
    """The tiny model with a second eos id: a token its greedy continuations emit at different
    points, so some rows of a batch stop early and others run to the length limit."""
    model, tokenizer = load_model(model_settings(str(lm_dir), dtype="float32"))
    texts = sample_texts(24)
    runs = one_at_a_time(model, tokenizer, texts, max_new_tokens=24)
    counts: dict[int, set[int]] = {}
    for run in runs:
        for position, token in enumerate(run.token_ids):
            if position >= 2:
                counts.setdefault(token, set()).add(run.token_ids.index(token))
    # a token that first shows up at several different positions in a minority of the runs
    candidates = sorted(
        (token for token, firsts in counts.items() if len(firsts) >= 2),
        key=lambda token: sum(token in run.token_ids for run in runs),
    )
    assert candidates, "the tiny model's continuations offer no token to stop at"
    model.generation_config.eos_token_id = [tokenizer.eos_token_id, candidates[0]]
    return model, tokenizer


def test_batched_greedy_equals_one_prompt_at_a_time(stopping_lm):
    model, tokenizer = stopping_lm
    texts = sample_texts(24)
    single = one_at_a_time(model, tokenizer, texts, max_new_tokens=24, stop=STOP)
    for batch_size in (5, "auto"):
        batched = generate(
            model, tokenizer, texts, max_new_tokens=24, batch_size=batch_size, stop=STOP
        )
        assert [b.token_ids for b in batched] == [s.token_ids for s in single]
        assert batched == single
    reasons = {s.stop_reason for s in single}
    assert reasons == {"eos", "length"}, reasons  # both kinds of stop were exercised
    lengths = {s.n_prompt_tokens for s in single}
    assert max(lengths) > 3 * min(lengths)  # and very different prompt lengths


def test_the_reserved_kv_cache_changes_no_token(stopping_lm, monkeypatch):
    """Decoding writes into room reserved once instead of concatenating each step: the same
    tokens as transformers' own cache."""
    model, tokenizer = stopping_lm
    texts = sample_texts(16, seed=21)
    layer_class, updates = generation._reserved_layer_class(), []
    update = layer_class.update
    monkeypatch.setattr(
        layer_class, "update", lambda self, *a, **k: updates.append(1) or update(self, *a, **k)
    )
    reserved = generate(model, tokenizer, texts, max_new_tokens=20, batch_size=6, stop=STOP)
    assert updates  # the reserved cache was used
    monkeypatch.setattr(generation, "_reserved_cache", lambda model, config: None)
    assert generate(model, tokenizer, texts, max_new_tokens=20, batch_size=6, stop=STOP) == reserved


def test_eos_stops_are_counted_and_cut(stopping_lm):
    model, tokenizer = stopping_lm
    stops = set(model.generation_config.eos_token_id)
    for c in generate(
        model, tokenizer, sample_texts(24), max_new_tokens=24, batch_size=7, stop=STOP
    ):
        if c.stop_reason == "eos":
            assert c.token_ids[-1] in stops and not stops & set(c.token_ids[:-1])
            assert c.n_new_tokens == len(c.token_ids) <= 24
        else:
            assert c.n_new_tokens == 24 and not stops & set(c.token_ids)
        assert c.generation == tokenizer.decode(c.token_ids, skip_special_tokens=True)


def test_the_stop_rule_decides_which_eos_ids_end_a_continuation(stopping_lm):
    """tokenizer_eos (the authors' one id) runs on past the extra eos id the model's
    generation_config lists; generation_config stops at it."""
    model, tokenizer = stopping_lm
    extra = model.generation_config.eos_token_id[1]
    texts = sample_texts(24)
    own = generate(model, tokenizer, texts, max_new_tokens=24, stop="generation_config")
    authors = generate(model, tokenizer, texts, max_new_tokens=24)  # tokenizer_eos by default
    stopped = [i for i, c in enumerate(own) if c.stop_reason == "eos" and c.token_ids[-1] == extra]
    assert stopped
    for i in stopped:
        assert extra in authors[i].token_ids[:-1] or authors[i].stop_reason == "length"
        assert authors[i].n_new_tokens > own[i].n_new_tokens
        assert authors[i].token_ids[: own[i].n_new_tokens] == own[i].token_ids
    assert all(c.stop_reason == "length" or c.token_ids[-1] == tokenizer.eos_token_id
               for c in authors)  # fmt: skip
    assert generation.eos_ids(generation.greedy_config(model, tokenizer, 5)) == {
        tokenizer.eos_token_id
    }
    with pytest.raises(UserError, match="stop 'never'"):
        generate(model, tokenizer, texts[:1], stop="never")


def test_results_come_back_in_the_input_order(lm):
    model, tokenizer = lm
    texts = sample_texts(12, seed=3)
    forward = generate(model, tokenizer, texts, max_new_tokens=6, batch_size=4)
    backward = generate(model, tokenizer, texts[::-1], max_new_tokens=6, batch_size=4)
    assert forward == backward[::-1]
    assert [c.n_prompt_tokens for c in forward] == [len(tokenizer(t)["input_ids"]) for t in texts]


def test_the_continuation_is_cut_by_token_position_not_by_characters(lm):
    """The paper's loop decoded prompt + continuation and dropped len(prompt) characters. Where
    decoding does not give the prompt back (here NFKC normalization, as in many tokenizers,
    turns "…" into "..."), that cut keeps characters of the prompt; the token cut does not."""
    model, tokenizer = lm
    texts = ["wait… the baker ﬁxed the old boat", "my cousin visited the market"]
    for text, continuation in zip(
        texts, generate(model, tokenizer, texts, max_new_tokens=8), strict=True
    ):
        prompt_ids = tokenizer(text)["input_ids"]
        whole = tokenizer.decode(
            prompt_ids + list(continuation.token_ids), skip_special_tokens=True
        )
        character_cut = whole[len(text) :]
        token_cut = tokenizer.decode(continuation.token_ids, skip_special_tokens=True)
        assert continuation.generation == token_cut
        if "…" in text:
            assert character_cut == "oat" + token_cut  # "..." and "fi": 3 characters more
        else:
            assert character_cut == token_cut


def test_chat_template_puts_the_prompt_in_the_user_turn(lm):
    model, tokenizer = lm
    texts = ["the baker walked to", "shut up , you"]
    ids = encode_prompts(tokenizer, texts, "chat_template")
    for text, row in zip(texts, ids, strict=True):
        rendered = tokenizer.decode(row)
        assert rendered == f"<s>[INST] {text} [/INST]"
        assert row.count(tokenizer.bos_token_id) == 1 and row[0] == tokenizer.bos_token_id
    raw = generate(model, tokenizer, texts, max_new_tokens=4)
    chat = generate(model, tokenizer, texts, max_new_tokens=4, prompt_format="chat_template")
    assert all(c.n_prompt_tokens > r.n_prompt_tokens for c, r in zip(chat, raw, strict=True))
    assert chat == [
        generate(model, tokenizer, [t], max_new_tokens=4, prompt_format="chat_template")[0]
        for t in texts
    ]


def test_chat_template_missing_is_a_clear_error(lm):
    model, tokenizer = lm
    template, tokenizer.chat_template = tokenizer.chat_template, None
    try:
        with pytest.raises(UserError, match="no chat template"):
            encode_prompts(tokenizer, ["hello"], "chat_template")
    finally:
        tokenizer.chat_template = template


def test_auto_batch_size_halves_on_out_of_memory_and_goes_on(lm, monkeypatch, caplog):
    model, tokenizer = lm
    texts = sample_texts(20, seed=5)
    expected = generate(model, tokenizer, texts, max_new_tokens=5, batch_size=1)
    real, sizes = generation._generate_batch, []

    def small_memory(model, tokenizer, batch, config, stops):
        sizes.append(len(batch))
        if len(batch) > 4:
            raise torch.OutOfMemoryError(
                "CUDA out of memory. Tried to allocate 2.00 GiB (simulated)"
            )
        return real(model, tokenizer, batch, config, stops)

    monkeypatch.setattr(generation, "_generate_batch", small_memory)
    with caplog.at_level(logging.WARNING, logger="finetox.generation"):
        got = generate(model, tokenizer, texts, max_new_tokens=5, max_batch_size=16)
    assert got == expected
    assert sizes[:3] == [16, 8, 4] and set(sizes[3:]) == {4}
    assert "out of GPU memory with 16 prompts per batch; going on with 8" in caplog.text
    with pytest.raises(torch.OutOfMemoryError):  # a fixed batch size is the user's choice
        generate(model, tokenizer, texts, max_new_tokens=5, batch_size=8)


# ---------------------------------------------------------------------------------------------
# Files


def test_generate_file_writes_the_contract_in_prompt_order(lm_dir, tmp_path):
    texts = sample_texts(10, seed=7)
    prompts = tmp_path / "prompts.parquet"
    prompt_table(texts).to_parquet(prompts)
    out = tmp_path / "gen" / "tiny.parquet"
    frame = generate_file(str(lm_dir), prompts, out, max_new_tokens=6, batch_size=3)
    written = pd.read_parquet(out)
    assert list(written.columns) == OUTPUT_COLUMNS
    assert list(written["prompt_id"]) == [f"p{i:03d}" for i in range(10)]
    assert list(written["prompt"]) == texts
    assert written.equals(frame)
    metadata = json.loads(pq.read_schema(out).metadata[b"finetox"])
    assert metadata["max_new_tokens"] == 6 and metadata["decoding"] == "greedy"
    assert metadata["model"]["source"] == str(lm_dir)
    # what ran: the stop rule and its ids, the torch dtype, the folder's content hash
    tokenizer_eos = load_model(model_settings(str(lm_dir)))[1].eos_token_id
    assert metadata["stop"] == "tokenizer_eos" and metadata["stop_ids"] == [tokenizer_eos]
    assert metadata["model"]["dtype"] == "float32" and metadata["model"]["dtype_setting"] == "auto"
    assert metadata["model"]["commit"] == "sha256:" + folder_sha256(lm_dir)
    assert metadata["adapter_commit"] is None
    assert not part_folder(out).exists()


def test_a_crashed_run_resumes_without_duplicates_or_gaps(lm_dir, tmp_path, monkeypatch):
    texts = sample_texts(20, seed=11)
    prompts = tmp_path / "prompts.jsonl"
    prompt_table(texts).to_json(prompts, orient="records", lines=True)
    expected = generate_file(str(lm_dir), prompts, tmp_path / "whole.parquet", max_new_tokens=5)

    real, generated = generation._generate_batch, []

    def crash_after_three(model, tokenizer, batch, config, stops):
        if len(generated) == 3:
            raise KeyboardInterrupt  # the job is killed
        generated.append(len(batch))
        return real(model, tokenizer, batch, config, stops)

    out = tmp_path / "resumed.parquet"
    monkeypatch.setattr(generation, "_generate_batch", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        generate_file(str(lm_dir), prompts, out, max_new_tokens=5, batch_size=4)
    assert not out.exists() and len(list(part_folder(out).glob("batch-*.parquet"))) == 3

    def count(model, tokenizer, batch, config, stops):
        generated.append(len(batch))
        return real(model, tokenizer, batch, config, stops)

    generated.clear()
    monkeypatch.setattr(generation, "_generate_batch", count)
    resumed = generate_file(str(lm_dir), prompts, out, max_new_tokens=5, batch_size=4)
    assert sum(generated) == 20 - 12  # only the prompts the crash left
    assert resumed.equals(expected) and pd.read_parquet(out).equals(expected)
    assert not part_folder(out).exists()


def test_parts_made_with_other_settings_are_not_reused(lm_dir, tmp_path):
    prompts = tmp_path / "prompts.csv"
    prompt_table(sample_texts(6, seed=2)).to_csv(prompts, index=False)
    out = tmp_path / "out.parquet"
    generate_file(str(lm_dir), prompts, out, max_new_tokens=3)
    stale = part_folder(out)
    stale.mkdir()
    (stale / "fingerprint.json").write_text(json.dumps({"max_new_tokens": 3}))
    pd.DataFrame(
        {"prompt_id": ["p000"], "generation": ["STALE"], "n_prompt_tokens": [1],
         "n_new_tokens": [1], "stop_reason": ["eos"]}
    ).to_parquet(stale / "batch-00000.parquet")  # fmt: skip
    frame = generate_file(str(lm_dir), prompts, out, max_new_tokens=4)
    assert "STALE" not in set(frame["generation"]) and set(frame["n_new_tokens"]) == {4}


def test_a_killed_process_resumes_where_it_stopped(lm_dir, tmp_path, capsys):
    """A real kill (SIGKILL) of `finetox generate` mid-way, then the same command again."""
    texts = sample_texts(24, seed=13)
    prompts = tmp_path / "prompts.parquet"
    prompt_table(texts).to_parquet(prompts)
    out = tmp_path / "killed.parquet"
    arguments = [
        "generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out),
        "--max-new-tokens", "20", "--batch-size", "1", "--threads", "1",
    ]  # fmt: skip
    env = {**os.environ, "FINETOX_PROGRESS_INTERVAL": "60"}
    process = subprocess.Popen(
        [str(BIN / "finetox"), *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    parts = part_folder(out)
    deadline = time.time() + 120
    while len(list(parts.glob("batch-*.parquet"))) < 2:
        assert process.poll() is None, process.stdout.read().decode()[-2000:]
        assert time.time() < deadline, "no batch finished in two minutes"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()
    done_before = len(list(parts.glob("batch-*.parquet")))
    assert 2 <= done_before < 24
    assert main(arguments) == 0  # the same command again
    assert f"{done_before} of 24 prompts already done" in capsys.readouterr().err
    frame = pd.read_parquet(out)
    assert list(frame["prompt_id"]) == [f"p{i:03d}" for i in range(24)]  # none twice, none lost
    model, tokenizer = load_model(model_settings(str(lm_dir), dtype="float32"))
    expected = generate(model, tokenizer, texts, max_new_tokens=20)
    assert list(frame["generation"]) == [c.generation for c in expected]
    assert not parts.exists()


# ---------------------------------------------------------------------------------------------
# Adapters


def test_a_lora_adapter_is_loaded_on_top_of_the_model(lm_dir, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(lm_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )  # fmt: skip
    tuned = get_peft_model(base, config)
    torch.manual_seed(1)
    with torch.no_grad():  # lora_B starts at zero (a no-op adapter); make it change something
        for name, parameter in tuned.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    adapter = tmp_path / "adapter"
    tuned.save_pretrained(adapter)

    texts = sample_texts(8, seed=17)
    prompts = tmp_path / "prompts.parquet"
    prompt_table(texts).to_parquet(prompts)
    plain = generate_file(str(lm_dir), prompts, tmp_path / "plain.parquet", max_new_tokens=8)
    settings = {"name": "tiny-dolly", "source": str(lm_dir), "load_in_4bit": "as_trained"}
    with_adapter = generate_file(
        settings, prompts, tmp_path / "dolly.parquet", adapter=adapter, max_new_tokens=8
    )
    assert list(with_adapter["generation"]) != list(plain["generation"])
    _, tokenizer = load_model(model_settings(str(lm_dir)))
    tuned.eval()
    expected = generate(tuned, tokenizer, texts, max_new_tokens=8)
    assert list(with_adapter["generation"]) == [c.generation for c in expected]


# ---------------------------------------------------------------------------------------------
# The CLI


def test_cli_on_the_real_rtp_sample(lm_dir, shared_data, tmp_path, capsys):
    records = []
    for name in ("toxic", "nontoxic"):
        path = shared_data / "rtp" / f"{name}.jsonl"
        records += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    frame = rtp_frame(records, "shared rtp").drop_duplicates("prompt_id")
    frame["subset"] = np.where(frame["severe_toxicity"] > 0.75, "severe", "random")
    prompts = tmp_path / "rtp.csv"  # CSV: quotes, commas and newlines in real prompts
    frame[["prompt_id", "subset", "text"]].to_csv(prompts, index=False)
    out = tmp_path / "rtp.jsonl"
    code = main([
        "generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out),
        "--max-new-tokens", "4", "--batch-size", "auto", "--max-batch-size", "64",
    ])  # fmt: skip
    assert code == 0
    assert f"{len(frame)} generations" in capsys.readouterr().out
    written = pd.read_json(out, lines=True, dtype=False)
    assert list(written.columns) == OUTPUT_COLUMNS
    assert list(written["prompt_id"]) == list(frame["prompt_id"])
    assert list(written["prompt"]) == list(frame["text"])
    assert set(written["n_new_tokens"]) <= {1, 2, 3, 4} and len(written) > 500


@pytest.mark.parametrize(
    "table, problem",
    [
        (pd.DataFrame({"prompt_id": ["a"], "text": ["hi"]}), "missing column(s) ['subset']"),
        (pd.DataFrame({"prompt_id": ["a", "a"], "subset": ["x", "x"], "text": ["hi", "yo"]}),
         "prompt_id not unique: 'a'"),
        (pd.DataFrame({"prompt_id": ["a", "b"], "subset": ["x", "x"], "text": ["hi", " "]}),
         "prompts without text: 'b'"),
        (pd.DataFrame({"prompt_id": [], "subset": [], "text": []}), "no prompts"),
    ],
)  # fmt: skip
def test_bad_prompt_tables_are_named(lm_dir, tmp_path, capsys, table, problem):
    prompts = tmp_path / "prompts.parquet"
    table.to_parquet(prompts)
    out = tmp_path / "out.parquet"
    code = main(["generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out)])
    assert code == 2
    assert capsys.readouterr().err.startswith(f"finetox generate: {prompts}: {problem}")
    assert not out.exists()


def test_missing_files_and_folders_are_named(lm_dir, tmp_path, capsys):
    prompts = tmp_path / "prompts.parquet"
    prompt_table(["hello"]).to_parquet(prompts)
    out = str(tmp_path / "out.parquet")
    cases = [
        (["--model", str(lm_dir), "--prompts", str(tmp_path / "nope.csv")], "nope.csv: no such file"),
        (["--model", str(tmp_path / "nowhere"), "--prompts", str(prompts)],
         "nowhere': no such folder, and not a hub id (owner/name)"),
        (["--model", str(lm_dir), "--adapter", str(tmp_path), "--prompts", str(prompts)],
         "no adapter_config.json (not a peft adapter)"),
        (["--model", str(lm_dir), "--adapter", str(tmp_path / "gone"), "--prompts", str(prompts)],
         "gone': no such folder"),
    ]  # fmt: skip
    for arguments, problem in cases:
        assert main(["generate", *arguments, "--out", out]) == 2
        assert problem in capsys.readouterr().err
    (tmp_path / "prompts.txt").write_text("prompt_id,subset,text\n")
    with pytest.raises(InputError, match="unknown table format '.txt'"):
        generate_file(str(lm_dir), tmp_path / "prompts.txt", out)


def test_the_stop_rule_is_part_of_the_parts_fingerprint(lm_dir):
    """Parts made with one stop rule are never resumed under the other."""
    from finetox.generation.parts import fingerprint as _fingerprint

    frame = prompt_table(sample_texts(2))
    prints = {
        stop: _fingerprint(
            model_settings(str(lm_dir), prompt_format="raw", stop=stop), None, frame, 5
        )
        for stop in ("tokenizer_eos", "generation_config")
    }
    assert prints["tokenizer_eos"]["stop"] == "tokenizer_eos"
    assert prints["tokenizer_eos"] != prints["generation_config"]


def test_the_content_hash_follows_the_model_not_its_build_record(tmp_path):
    """Two builds of one model differ only in their build record's timings: same hash."""
    for name, seconds in (("one", 4.4), ("two", 4.3)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"weights")
        (folder / "finetox_classifier.json").write_text(f'{{"build_seconds": {seconds}}}')
    assert folder_sha256(tmp_path / "one") == folder_sha256(tmp_path / "two")
    (tmp_path / "two" / "model.safetensors").write_bytes(b"other weights")
    assert folder_sha256(tmp_path / "one") != folder_sha256(tmp_path / "two")
