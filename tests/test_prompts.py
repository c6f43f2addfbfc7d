"""Prompt-set construction on synthetic data and on the real RTP and CEB samples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from finetox.io import InputError, frame_sha256, read_table
from finetox.prompts import (
    PromptSetError,
    build_prompt_set,
    ceb_frame,
    load_ceb,
    load_rtp,
    rtp_frame,
    sample_prompt_set,
)
from tests.conftest import REPO

DEMO = REPO / "resources" / "demo"


def rtp_record(text, severe, toxicity=0.5, filename=None):
    return {
        "filename": filename or f"{abs(hash(text))}.txt",
        "begin": 0,
        "end": 10,
        "challenging": False,
        "prompt": {"text": text, "toxicity": toxicity, "severe_toxicity": severe},
        "continuation": {"text": "x"},
    }


def prompts_config(tmp_path, rtp_path, ceb_path, **overrides):
    config = {
        "seed": 11,
        "severe_threshold": 0.75,
        "random_excludes_severe": True,
        "on_shortfall": "fail",
        "subsets": {"severe": 10, "random": 20, "race": 5, "gender": 5, "age": 5, "religion": 5},
        "rtp": {"path": str(rtp_path)},
        "ceb": {"path": str(ceb_path), "variant": "CEB-Continuation-T", "text_field": "prompt"},
    }
    config.update(overrides)
    return config


@pytest.fixture(scope="module")
def synthetic_rtp() -> pd.DataFrame:
    records = [rtp_record(f"severe prompt {i}", 0.76 + i / 1000) for i in range(30)]
    records += [rtp_record(f"borderline {i}", 0.75) for i in range(10)]  # not severe: > is strict
    records += [rtp_record(f"clean prompt {i}", 0.01) for i in range(60)]
    records += [rtp_record("null score", None, toxicity=None)]
    return rtp_frame(records, "synthetic")


@pytest.fixture(scope="module")
def synthetic_ceb() -> dict[str, pd.DataFrame]:
    return {
        subset: ceb_frame(
            [{"prompt": f"{subset} {i}"} for i in range(12)], subset, "prompt", subset
        )
        for subset in ("race", "gender", "age", "religion")
    }


def draw(rtp, ceb, **kwargs):
    subsets = kwargs.pop(
        "subsets", {"severe": 10, "random": 20, "race": 5, "gender": 5, "age": 5, "religion": 5}
    )
    return sample_prompt_set(rtp, ceb, subsets, seed=kwargs.pop("seed", 3), **kwargs)


def test_counts_columns_and_order(synthetic_rtp, synthetic_ceb):
    prompt_set, counts = draw(synthetic_rtp, synthetic_ceb)
    assert list(prompt_set.columns) == [
        "prompt_id",
        "subset",
        "text",
        "source",
        "toxicity",
        "severe_toxicity",
    ]
    assert prompt_set["subset"].value_counts().to_dict() == {
        "random": 20,
        "severe": 10,
        "race": 5,
        "gender": 5,
        "age": 5,
        "religion": 5,
    }
    assert list(dict.fromkeys(prompt_set["subset"])) == [
        "severe",
        "random",
        "race",
        "gender",
        "age",
        "religion",
    ]
    assert counts["severe"] == {"asked": 10, "available": 30, "selected": 10, "shortfall": 0}
    assert prompt_set["prompt_id"].is_unique and prompt_set["text"].is_unique


def test_severe_threshold_is_strict_and_random_excludes_severe(synthetic_rtp, synthetic_ceb):
    prompt_set, counts = draw(synthetic_rtp, synthetic_ceb)
    severe = prompt_set[prompt_set["subset"] == "severe"]
    assert (severe["severe_toxicity"] > 0.75).all()
    random = prompt_set[prompt_set["subset"] == "random"]
    assert not (random["severe_toxicity"] > 0.75).any()
    # the 10 borderline (exactly 0.75), 60 clean and 1 null prompts are Random's pool
    assert counts["random"]["available"] == 71


def test_random_may_include_unselected_severe_prompts_when_asked(synthetic_rtp, synthetic_ceb):
    prompt_set, counts = draw(
        synthetic_rtp,
        synthetic_ceb,
        random_excludes_severe=False,
        subsets={"severe": 10, "random": 91},
    )
    assert counts["random"]["available"] == 91  # all 101 usable minus the 10 drawn for Severe
    assert prompt_set["prompt_id"].is_unique


def test_deterministic_for_a_seed_and_different_across_seeds(synthetic_rtp, synthetic_ceb):
    first, _ = draw(synthetic_rtp, synthetic_ceb, seed=5)
    again, _ = draw(synthetic_rtp, synthetic_ceb, seed=5)
    other, _ = draw(synthetic_rtp, synthetic_ceb, seed=6)
    pd.testing.assert_frame_equal(first, again)
    assert set(first["prompt_id"]) != set(other["prompt_id"])


def test_draw_ignores_source_order(synthetic_rtp, synthetic_ceb):
    shuffled = synthetic_rtp.sample(frac=1.0, random_state=1).reset_index(drop=True)
    a, _ = draw(synthetic_rtp, synthetic_ceb)
    b, _ = draw(shuffled, synthetic_ceb)
    assert a["prompt_id"].tolist() == b["prompt_id"].tolist()


def test_one_subsets_size_does_not_change_another(synthetic_rtp, synthetic_ceb):
    a, _ = draw(synthetic_rtp, synthetic_ceb, subsets={"severe": 10, "random": 20})
    b, _ = draw(synthetic_rtp, synthetic_ceb, subsets={"severe": 25, "random": 20})
    random_ids = lambda frame: frame.loc[frame["subset"] == "random", "prompt_id"].tolist()  # noqa: E731
    assert random_ids(a) == random_ids(b)


def test_shortfall_fails_with_a_named_subset(synthetic_rtp, synthetic_ceb):
    with pytest.raises(
        PromptSetError, match=r"prompts.subsets.severe: asked for 50 prompts .* has 30"
    ):
        draw(synthetic_rtp, synthetic_ceb, subsets={"severe": 50})


def test_shortfall_takes_what_exists_when_asked(synthetic_rtp, synthetic_ceb):
    prompt_set, counts = draw(
        synthetic_rtp,
        synthetic_ceb,
        subsets={"severe": 50, "race": 20},
        on_shortfall="take_available",
    )
    assert counts["severe"] == {"asked": 50, "available": 30, "selected": 30, "shortfall": 20}
    assert counts["race"]["selected"] == 12
    assert len(prompt_set) == 42


def test_dedupe_by_text_and_empty_prompts(tmp_path):
    records = [
        rtp_record("same text", 0.9, filename="a"),
        rtp_record("same text ", 0.9, filename="b"),
    ]
    records += [rtp_record("", 0.1, filename="c"), rtp_record("other", 0.9, filename="d")]
    path = tmp_path / "rtp.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    table = load_rtp({"path": str(path)})
    assert table.info["duplicates_removed"] == 1 and table.info["empty_removed"] == 1
    assert table.frame["text"].tolist() == ["same text", "other"]


def test_null_scores_are_never_severe(synthetic_rtp):
    null_row = synthetic_rtp[synthetic_rtp["text"] == "null score"]
    assert null_row["severe_toxicity"].isna().all()
    prompt_set, _ = sample_prompt_set(synthetic_rtp, {}, {"severe": 30}, seed=1)
    assert "null score" not in prompt_set["text"].tolist()


def test_prompt_ids_are_stable_and_derived_from_the_source():
    record = rtp_record("hello", 0.1, filename="0001.txt")
    assert rtp_frame([record], "x")["prompt_id"][0] == rtp_frame([record], "y")["prompt_id"][0]
    moved = dict(record, begin=5)
    assert rtp_frame([moved], "x")["prompt_id"][0] != rtp_frame([record], "x")["prompt_id"][0]


def test_bad_sources_name_the_file(tmp_path):
    bad = tmp_path / "rtp.jsonl"
    bad.write_text('{"text": "no prompt field"}\n')
    with pytest.raises(InputError, match=r"rtp.jsonl: record 1 has no prompt.text"):
        load_rtp({"path": str(bad)})
    bad.write_text("{not json\n")
    with pytest.raises(InputError, match=r"rtp.jsonl: line 1 is not JSON"):
        load_rtp({"path": str(bad)})
    (tmp_path / "race.json").write_text(json.dumps([{"prompt": "p", "axis": "age"}]))
    with pytest.raises(
        InputError, match=r"race.json: record 1 has axis 'age', expected 'race_ethnicity'"
    ):
        load_ceb({"path": str(tmp_path), "variant": "v"}, ["race"])
    with pytest.raises(InputError, match=r"gender.json does not exist"):
        load_ceb({"path": str(tmp_path), "variant": "v"}, ["gender"])


def test_demo_prompt_set_and_manifest(tmp_path):
    config = prompts_config(tmp_path, DEMO / "rtp.jsonl", DEMO / "ceb" / "CEB-Continuation-T")
    config["subsets"] = {
        "severe": 40,
        "random": 40,
        "race": 20,
        "gender": 20,
        "age": 20,
        "religion": 20,
    }
    out, manifest = tmp_path / "prompt_set.parquet", tmp_path / "manifest.json"
    built = build_prompt_set(config, out, manifest)
    written = read_table(out)
    pd.testing.assert_frame_equal(built, written)
    record = json.loads(manifest.read_text())
    assert record["total"] == 160
    assert record["content_sha256"] == frame_sha256(written)
    raw = [json.loads(line) for line in (DEMO / "rtp.jsonl").read_text().splitlines()]
    texts = [r["prompt"]["text"].strip() for r in raw]
    assert record["sources"]["rtp"]["duplicates_removed"] == len(texts) - len(set(texts)) >= 5
    nulls = sum(r["prompt"]["severe_toxicity"] is None for r in raw)
    assert record["sources"]["rtp"]["null_severe_toxicity"] == nulls >= 4
    assert record["sources"]["rtp"]["sha256"]
    assert set(record["sources"]["ceb"]) == {"race", "gender", "age", "religion"}
    assert record["subsets"]["severe"]["selected"] == 40
    assert (
        written.loc[written["subset"] == "race", "source"].iloc[0] == "ceb:CEB-Continuation-T/race"
    )


def test_real_samples(tmp_path, shared_data):
    rtp_path = tmp_path / "rtp.jsonl"
    rtp_path.write_text(
        (shared_data / "rtp" / "toxic.jsonl").read_text()
        + (shared_data / "rtp" / "nontoxic.jsonl").read_text()
    )
    config = prompts_config(tmp_path, rtp_path, shared_data / "ceb" / "CEB-Continuation-T")
    config["subsets"] = {
        "severe": 78,
        "random": 300,
        "race": 100,
        "gender": 100,
        "age": 100,
        "religion": 100,
    }
    prompt_set = build_prompt_set(config, tmp_path / "p.parquet", tmp_path / "m.json")
    counts = prompt_set["subset"].value_counts().to_dict()
    assert counts == {
        "random": 300,
        "severe": 78,
        "race": 100,
        "gender": 100,
        "age": 100,
        "religion": 100,
    }
    assert (prompt_set.loc[prompt_set["subset"] == "severe", "severe_toxicity"] > 0.75).all()
    assert prompt_set["text"].str.strip().is_unique
    ceb = prompt_set[prompt_set["subset"] == "religion"]
    assert ceb["text"].str.startswith("You are a helpful assistant.").all()
    assert ceb["toxicity"].isna().all()
    # 78 severe-eligible prompts in the samples: one more is a shortfall
    config["subsets"] = {"severe": 79}
    with pytest.raises(PromptSetError, match="the source has 78"):
        build_prompt_set(config, tmp_path / "p2.parquet", tmp_path / "m2.json")
    assert not (tmp_path / "p2.parquet").exists()


def test_real_rtp_duplicates_are_removed(tmp_path, shared_data):
    lines = []
    for name in ("toxic.jsonl", "nontoxic.jsonl"):
        lines += (shared_data / "rtp" / name).read_text().splitlines()
    (tmp_path / "rtp.jsonl").write_text("\n".join(lines) + "\n")
    table = load_rtp({"path": str(tmp_path / "rtp.jsonl")})
    texts = [json.loads(line)["prompt"]["text"].strip() for line in lines]
    assert table.info["duplicates_removed"] == len(texts) - len(set(texts)) > 0
    assert np.isfinite(table.frame["severe_toxicity"]).all()
