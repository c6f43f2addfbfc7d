"""Prompt lengths against the model's context (generation.on_long_prompt): a prompt longer than
the context minus max_new_tokens is an error naming it before the weights load, or is cut on the
left and the cut recorded per row; batching still changes no token."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest
from transformers import GPT2Config, LlamaConfig

from finetox.cli import main
from finetox.demo.tiny_lm import Architecture, build_tiny_lm
from finetox.generation import OUTPUT_COLUMNS, generate_file, load_model, model_settings
from finetox.generation.decoding import encode_prompts, generate_batches
from finetox.generation.lengths import context_length, fit_prompts
from finetox.generation.parts import fingerprint, part_folder
from finetox.io import UserError

CONTEXT = 64  # the tiny model's max_position_embeddings
NEW = 8  # max_new_tokens: prompts of up to CONTEXT - NEW tokens fit
LONG_TEXT = " ".join(
    f"The {n}th person in the queue said hello to the next one." for n in range(12)
)


@pytest.fixture(scope="module")
def short_lm(tmp_path_factory, one_thread):
    """The tiny LLaMA with a context of 64 positions."""
    folder = tmp_path_factory.mktemp("models") / "short"
    return build_tiny_lm(folder, seed=0, architecture=Architecture(max_positions=CONTEXT))


@pytest.fixture(scope="module")
def tokenizer(short_lm):
    return load_model(model_settings(str(short_lm), dtype="float32"))[1]


def prompts_with_long_ones(folder) -> tuple[pd.DataFrame, str]:
    frame = pd.DataFrame(
        {
            "prompt_id": ["short-a", "long-b", "short-c", "long-d", "short-e"],
            "subset": ["random"] * 5,
            "text": [
                "Hello there",
                LONG_TEXT,
                "A cat sat on the mat",
                "Once upon a time, " + LONG_TEXT,
                "It was late",
            ],
        }
    )
    path = folder / "prompts.parquet"
    frame.to_parquet(path)
    return frame, str(path)


def test_the_context_is_max_position_embeddings_else_a_sensible_tokenizer_limit():
    placeholder = SimpleNamespace(model_max_length=int(1e30))  # transformers': none known
    assert context_length(LlamaConfig(max_position_embeddings=4096), placeholder) == (
        4096,
        "max_position_embeddings",
    )
    assert context_length(GPT2Config(n_positions=1024), placeholder)[0] == 1024  # its alias
    no_positions = SimpleNamespace(vocab_size=100)
    assert context_length(no_positions, placeholder)[0] is None
    assert context_length(no_positions, SimpleNamespace(model_max_length=2048)) == (
        2048,
        "the tokenizer's model_max_length",
    )


def test_a_long_prompt_is_an_error_naming_it_before_the_weights_load(
    short_lm, tmp_path, monkeypatch
):
    frame, prompts = prompts_with_long_ones(tmp_path)
    lengths = [len(ids) for ids in encode_prompts(load_model(model_settings(str(short_lm)))[1],
                                                   list(frame["text"]))]  # fmt: skip
    assert lengths[1] > CONTEXT - NEW and lengths[3] > CONTEXT - NEW  # the premise

    def no_weights(*args, **kwargs):
        raise AssertionError("the weights loaded before the lengths were checked")

    monkeypatch.setattr("finetox.generation.run.load_weights", no_weights)
    out = tmp_path / "out.parquet"
    with pytest.raises(UserError) as error:
        generate_file(str(short_lm), prompts, out, max_new_tokens=NEW)
    message = str(error.value)
    assert "\n" not in message
    assert message == (
        f"short ({short_lm}): 2 prompt(s) longer than the {CONTEXT - NEW} tokens its context of "
        f"{CONTEXT} tokens (max_position_embeddings) minus max_new_tokens {NEW} leaves: "
        f"'long-b' ({lengths[1]} tokens), 'long-d' ({lengths[3]} tokens); shorten them, or set "
        "generation.on_long_prompt: truncate_left (finetox generate --on-long-prompt "
        "truncate_left)"
    )
    assert not out.exists() and not part_folder(out).exists()


def test_the_cli_exits_2_on_a_long_prompt_and_truncates_when_asked(short_lm, tmp_path, capsys):
    _, prompts = prompts_with_long_ones(tmp_path)
    out = tmp_path / "out.jsonl"
    args = ["generate", "--model", str(short_lm), "--prompts", prompts, "--out", str(out),
            "--max-new-tokens", str(NEW)]  # fmt: skip
    assert main(args) == 2
    assert "2 prompt(s) longer than the 56 tokens" in capsys.readouterr().err
    assert main([*args, "--on-long-prompt", "truncate_left"]) == 0
    written = pd.read_json(out, lines=True, dtype=False)
    assert list(written.columns) == OUTPUT_COLUMNS
    assert (written["n_prompt_tokens_truncated"] > 0).tolist() == [False, True, False, True, False]


def test_truncate_left_keeps_the_right_end_and_records_the_cut(short_lm, tmp_path):
    frame, prompts = prompts_with_long_ones(tmp_path)
    out = tmp_path / "cut.parquet"
    result = generate_file(
        str(short_lm), prompts, out, max_new_tokens=NEW, on_long_prompt="truncate_left"
    )
    model, tokenizer = load_model(model_settings(str(short_lm), dtype="float32"))
    whole = encode_prompts(tokenizer, list(frame["text"]))
    for row, ids in zip(result.itertuples(), whole, strict=True):
        assert row.n_prompt_tokens <= CONTEXT - NEW
        assert row.n_prompt_tokens + row.n_prompt_tokens_truncated == len(ids)
    long = result["n_prompt_tokens_truncated"] > 0
    assert long.tolist() == [False, True, False, True, False]
    # as many tokens as fit: one more token of the text would not
    assert (result.loc[long, "n_prompt_tokens"] >= CONTEXT - NEW - 1).all()
    assert list(result["prompt"]) == list(frame["text"])  # the prompt column keeps the whole text
    metadata = json.loads(pq.read_schema(out).metadata[b"finetox"])
    assert metadata["on_long_prompt"] == "truncate_left"
    assert metadata["context"] == {"tokens": CONTEXT, "from": "max_position_embeddings"}
    # the kept ids are the bos token and the right end of the text's tokens
    ids, cut = fit_prompts(
        tokenizer, list(frame["text"]), list(frame["prompt_id"]), prompt_format="raw",
        max_new_tokens=NEW, context=(CONTEXT, "max_position_embeddings"),
        on_long_prompt="truncate_left", model="short",
    )  # fmt: skip
    assert cut == list(result["n_prompt_tokens_truncated"])
    for kept, original in zip(ids, whole, strict=True):
        assert kept[0] == original[0] == tokenizer.bos_token_id
        assert kept[-20:] == original[-20:]
    # and the continuation is the one of that right end, generated on its own
    alone = {}
    generate_batches(
        model, tokenizer, [ids[1]], lambda _, runs: alone.update(run=runs[0]),
        max_new_tokens=NEW, batch_size=1,
    )  # fmt: skip
    assert result["generation"].iloc[1] == alone["run"].generation


def test_truncation_keeps_batched_equal_to_one_prompt_at_a_time(short_lm, tmp_path):
    frame, prompts = prompts_with_long_ones(tmp_path)
    runs = [
        generate_file(
            str(short_lm),
            prompts,
            tmp_path / f"batch-{size}.parquet",
            max_new_tokens=NEW,
            batch_size=size,
            on_long_prompt="truncate_left",
            dtype="float32",
        )  # fmt: skip
        for size in (1, 5)
    ]
    assert runs[0].equals(runs[1])
    assert (runs[0]["n_new_tokens"] > 0).all()


def test_chat_template_prompts_are_cut_inside_the_template(short_lm, tokenizer):
    texts = [LONG_TEXT]
    whole = encode_prompts(tokenizer, texts, "chat_template")[0]
    ids, cut = fit_prompts(
        tokenizer, texts, ["long"], prompt_format="chat_template", max_new_tokens=NEW,
        context=(CONTEXT, "max_position_embeddings"), on_long_prompt="truncate_left",
        model="short",
    )  # fmt: skip
    assert len(ids[0]) <= CONTEXT - NEW and cut[0] == len(whole) - len(ids[0]) > 0
    # the template stays whole around the right end of the text
    decoded = tokenizer.decode(ids[0])
    assert decoded.startswith("<s>[INST] ") and decoded.endswith(" [/INST]")
    kept = decoded.removeprefix("<s>[INST] ").removesuffix(" [/INST]")
    assert LONG_TEXT.endswith(kept) and len(kept) > 100


def test_a_context_too_small_for_max_new_tokens_is_named(tokenizer):
    with pytest.raises(UserError, match="max_new_tokens 64 leaves no room for a prompt"):
        fit_prompts(
            tokenizer, ["hi"], ["a"], prompt_format="raw", max_new_tokens=CONTEXT,
            context=(CONTEXT, "max_position_embeddings"), on_long_prompt="error", model="short",
        )  # fmt: skip


def test_on_long_prompt_is_part_of_the_parts_fingerprint(short_lm):
    frame = pd.DataFrame({"prompt_id": ["a"], "subset": ["random"], "text": ["hi"]})
    prints = [
        fingerprint(
            model_settings(
                str(short_lm), prompt_format="raw", stop="tokenizer_eos", on_long_prompt=choice
            ),
            None,
            frame,
            5,
        )  # fmt: skip
        for choice in ("error", "truncate_left")
    ]
    assert prints[0] != prints[1]
