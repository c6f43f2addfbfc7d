"""Sampled decoding: k continuations per prompt, the same whatever the batch size, the prompt
order or a resume after a kill; transformers' warpers do the filtering (top_k 1 is greedy); the
file carries a sample column and its settings."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from finetox.cli import main
from finetox.demo.tiny_lm import build_tiny_lm
from finetox.generation import decoding, generate_file, part_folder
from finetox.generation.sampling import Sampling, row_seed
from finetox.io import InputError, UserError
from tests.test_generation import prompt_table, sample_texts

SAMPLING = {"k": 4, "temperature": 1.0, "top_p": 0.9, "top_k": 0, "seed": 7}


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("models") / "tiny", seed=0)


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.parquet"
    prompt_table(sample_texts(9, seed=3)).to_parquet(path)
    return path


def sampled(lm_dir, prompts, out, **kwargs):
    kwargs = {"max_new_tokens": 8, "batch_size": 1, "sampling": SAMPLING, **kwargs}
    return generate_file(str(lm_dir), prompts, out, **kwargs)


def test_the_same_text_whatever_the_batch_size_and_the_prompt_order(lm_dir, prompts, tmp_path):
    one = sampled(lm_dir, prompts, tmp_path / "one.parquet", batch_size=1)
    seven = sampled(lm_dir, prompts, tmp_path / "seven.parquet", batch_size=7)
    assert one.equals(seven)
    shuffled = pd.read_parquet(prompts).iloc[::-1]
    shuffled.to_parquet(tmp_path / "reversed.parquet")
    reverse = sampled(lm_dir, tmp_path / "reversed.parquet", tmp_path / "r.parquet", batch_size=5)
    key = ["prompt_id", "sample"]
    assert reverse.sort_values(key).reset_index(drop=True).equals(one)
    # sampling happened: the k samples of a prompt differ, and another seed draws other text
    assert one.groupby("prompt_id")["generation"].nunique().min() > 1
    other = sampled(lm_dir, prompts, tmp_path / "o.parquet", sampling={**SAMPLING, "seed": 8})
    assert (other["generation"] != one["generation"]).mean() > 0.5


def test_the_file_has_k_rows_per_prompt_and_records_its_settings(lm_dir, prompts, tmp_path):
    out = tmp_path / "gen.parquet"
    frame = sampled(lm_dir, prompts, out)
    texts = pd.read_parquet(prompts)
    assert list(frame["prompt_id"]) == [pid for pid in texts["prompt_id"] for _ in range(4)]
    assert list(frame["sample"]) == [0, 1, 2, 3] * len(texts)
    assert list(frame.columns[:3]) == ["prompt_id", "sample", "subset"]
    metadata = json.loads(pq.read_schema(out).metadata[b"finetox"])
    assert metadata["decoding"] == "sampled" and metadata["max_new_tokens"] == 8
    assert metadata["sampling"] == SAMPLING


def test_a_crashed_sampled_run_resumes_to_the_same_text(lm_dir, prompts, tmp_path, monkeypatch):
    expected = sampled(lm_dir, prompts, tmp_path / "whole.parquet", batch_size=3)
    real, batches = decoding._generate_batch, []

    def crash_after_four(*args, **kwargs):
        if len(batches) == 4:
            raise KeyboardInterrupt  # the job is killed
        batches.append(len(args[2]))
        return real(*args, **kwargs)

    out = tmp_path / "resumed.parquet"
    monkeypatch.setattr(decoding, "_generate_batch", crash_after_four)
    with pytest.raises(KeyboardInterrupt):
        sampled(lm_dir, prompts, out, batch_size=5)
    assert not out.exists() and len(list(part_folder(out).glob("batch-*.parquet"))) == 4
    batches.clear()
    monkeypatch.setattr(decoding, "_generate_batch", real)
    resumed = sampled(lm_dir, prompts, out, batch_size=2)  # another batch size too
    assert resumed.equals(expected) and pd.read_parquet(out).equals(expected)
    assert not part_folder(out).exists()


def test_parts_of_other_sampling_settings_are_not_reused(lm_dir, prompts, tmp_path, monkeypatch):
    out = tmp_path / "gen.parquet"
    real = decoding._generate_batch

    calls = []

    def one_batch_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(decoding, "_generate_batch", one_batch_then_crash)
    with pytest.raises(KeyboardInterrupt):
        sampled(lm_dir, prompts, out)
    monkeypatch.setattr(decoding, "_generate_batch", real)
    other = {**SAMPLING, "temperature": 0.7}
    frame = sampled(lm_dir, prompts, out, sampling=other)
    fresh = sampled(lm_dir, prompts, tmp_path / "fresh.parquet", sampling=other)
    assert frame.equals(fresh)


def test_top_k_one_is_greedy_decoding(lm_dir, prompts, tmp_path):
    """transformers' TopKLogitsWarper leaves one token: every sample is the greedy text."""
    greedy = generate_file(str(lm_dir), prompts, tmp_path / "g.parquet", max_new_tokens=8)
    one = sampled(lm_dir, prompts, tmp_path / "k1.parquet", sampling={**SAMPLING, "top_k": 1})
    expected = greedy.loc[greedy.index.repeat(4), "generation"].reset_index(drop=True)
    assert one["generation"].equals(expected)


def test_row_seeds_are_stable_and_distinct():
    assert row_seed(1, "p1", 0) == row_seed(1, "p1", 0) == 3199004726085095352
    seeds = {row_seed(seed, pid, s) for seed in (1, 2) for pid in ("p1", "p2") for s in range(3)}
    assert len(seeds) == 12


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"k": 0}, "k 0"),
        ({"temperature": 0.0}, "temperature 0.0"),
        ({"top_p": 1.5}, "top_p 1.5"),
        ({"top_k": -1}, "top_k -1"),
        ({"temperature": float("nan")}, "temperature nan"),
    ],
)
def test_bad_sampling_settings_are_named(settings, problem):
    with pytest.raises(UserError, match=problem):
        Sampling(**settings)


def test_the_cli_samples_and_sampling_options_need_samples(lm_dir, prompts, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    arguments = ["generate", "--model", str(lm_dir), "--prompts", str(prompts), "--out", str(out)]
    sampling = ["--samples", "3", "--temperature", "0.9", "--top-p", "0.95", "--seed", "5"]
    assert main([*arguments, *sampling, "--top-k", "40"]) == 0
    assert "27 generations, 3 per prompt" in capsys.readouterr().out
    metadata = json.loads(pq.read_schema(out).metadata[b"finetox"])
    assert metadata["sampling"] == {"k": 3, "temperature": 0.9, "top_p": 0.95, "top_k": 40,
                                    "seed": 5}  # fmt: skip
    assert metadata["max_new_tokens"] == 20  # the RealToxicityPrompts paper's length
    with pytest.raises(SystemExit):
        main([*arguments, "--top-p", "0.9"])
    assert "--top-p need --samples K" in capsys.readouterr().err


def test_scoring_keeps_the_samples_and_the_table_reads_them(lm_dir, prompts, tmp_path):
    """Generations -> scores -> the sampled table: the scores file keeps every (prompt, sample)
    row and carries the sampling settings the table checks against the study's."""
    from finetox.demo.tiny_classifier import build_demo_classifier
    from finetox.results.sampled_table import sampled_rates
    from finetox.scoring import score_file

    classifier = tmp_path / "classifier"
    build_demo_classifier(classifier, seed=0)
    generations = tmp_path / "gen.parquet"
    sampled(lm_dir, prompts, generations)
    scores = tmp_path / "scores.parquet"
    score_file(generations, scores, [{"name": "demo", "path": str(classifier)}])
    frame = pd.read_parquet(scores)
    assert list(frame["sample"]) == list(pd.read_parquet(generations)["sample"])
    settings = {**SAMPLING, "max_new_tokens": 8}
    table = sampled_rates([{"name": "m", "label": "M"}], {"m": scores}, settings, 0.95, 1)
    total = table[table["subset"] == "total"].iloc[0]
    expected = frame.groupby("prompt_id")["score_demo"].max().mean()
    assert total["k"] == 4 and total["emt"] == pytest.approx(expected, abs=1e-12)
    with pytest.raises(InputError, match=r"temperature 1.0 \(config: 0.7\)"):
        sampled_rates([{"name": "m", "label": "M"}], {"m": scores},
                      {**settings, "temperature": 0.7}, 0.95, 1)  # fmt: skip
