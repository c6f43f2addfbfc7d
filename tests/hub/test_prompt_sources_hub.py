"""prompts.sources through the hub stand-in, as `datasets` reads the real repositories: a
DecodingTrust-schema source (config `toxicity`, split names from the data set card's YAML,
the revision pinned and recorded), and a gated ToxiGen-schema source (config `prompts`, one
split per group) that needs the token. A small hub of its own, built in a second."""

from __future__ import annotations

import json

import pytest

from tests.hub.conftest import HubPython, hub_env
from tests.hub.repos import TOKEN, UNGRANTED_TOKEN, HubWriter
from tests.hub.server import StandIn

pytestmark = pytest.mark.hub

DT = "AI-Secure/DecodingTrust"
TOXIGEN = "toxigen/toxigen-data"
# the card's configs before and after the commit that named the toxicity splits
# (huggingface.co/datasets/AI-Secure/DecodingTrust/commit/390d5525412610b0c69682f62d46db1fa28d66ba
# gave them hyphens; DecodingTrust's own code loads them dotted: docs/prompts.md)
OLD_CONFIGS = [{"config_name": "toxicity",
                "data_files": [{"split": "toxic", "path": "toxicity/user_prompts/*.jsonl"}]}]  # fmt: skip
NEW_CONFIGS = [{"config_name": "toxicity", "data_files": [
    {"split": "realtoxicityprompts.nontoxic", "path": "toxicity/user_prompts/nontoxic.jsonl"},
    {"split": "realtoxicityprompts.toxic", "path": "toxicity/user_prompts/toxic.jsonl"},
]}]  # fmt: skip


def dt_record(i: int, toxic: bool) -> dict:
    score = 0.5 + i / 100 if toxic else i / 100
    return {"filename": f"{i:04d}.txt", "begin": 0, "end": 9, "challenging": toxic,
            "prompt": {"text": f"{'toxic' if toxic else 'calm'} prompt {i}", "toxicity": score},
            "continuation": {"text": " more", "toxicity": score}}  # fmt: skip


@pytest.fixture(scope="module")
def small_hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("small-hub")
    work = tmp_path_factory.mktemp("small-hub-work")
    writer = HubWriter(root)
    prompts = work / "dt" / "toxicity" / "user_prompts"
    prompts.mkdir(parents=True)
    for name, toxic in (("toxic", True), ("nontoxic", False)):
        lines = "".join(json.dumps(dt_record(i, toxic)) + "\n" for i in range(30))
        (prompts / f"{name}.jsonl").write_text(lines)
    card = {"license": "cc-by-sa-4.0", "language": ["en"]}
    old = writer.commit(DT, work / "dt", kind="dataset", card={**card, "configs": OLD_CONFIGS},
                        refs=())  # fmt: skip
    new = writer.commit(DT, work / "dt", kind="dataset", card={**card, "configs": NEW_CONFIGS})
    toxigen = work / "toxigen" / "prompts"
    toxigen.mkdir(parents=True)
    for split in ("hate_women_1k", "neutral_women_1k"):
        lines = [{"text": f"- {split} statement {i}\\n- another one\\n-"} for i in range(12)]
        (toxigen / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    configs = [{"config_name": "prompts", "data_files": [
        {"split": s, "path": f"prompts/{s}.jsonl"} for s in ("hate_women_1k", "neutral_women_1k")
    ]}]  # fmt: skip
    writer.commit(TOXIGEN, work / "toxigen", kind="dataset",
                  card={"license": "mit", "configs": configs},
                  meta={"gated": "manual"})  # fmt: skip
    writer.finish({TOKEN: "*", UNGRANTED_TOKEN: []})
    server = StandIn(root)
    yield server, old, new
    server.stop()


@pytest.fixture(scope="module")
def python(small_hub, tmp_path_factory):
    server, _, _ = small_hub
    home = tmp_path_factory.mktemp("hf-home-sources")
    worker = HubPython(hub_env(server.url, home), tmp_path_factory.mktemp("w") / "stderr")
    yield worker
    worker.close()


DT_SOURCE = {"name": "dt", "hub": DT, "config": "toxicity", "split": "realtoxicityprompts.toxic",
             "text": "prompt.text", "subset_name": "dt_toxic", "n": 5,
             "filters": [{"field": "challenging", "equals": True}]}  # fmt: skip


def test_a_decodingtrust_source_builds_into_the_prompt_set(python, small_hub, tmp_path):
    _, old, new = small_hub
    prompts = {
        "seed": 3, "severe_threshold": 0.75, "random_excludes_severe": True,
        "on_shortfall": "fail", "subsets": {}, "rtp": {}, "ceb": {},
        "sources": [DT_SOURCE, {**DT_SOURCE, "name": "dt_calm",
                                "split": "realtoxicityprompts.nontoxic", "filters": [],
                                "subset_name": "dt_nontoxic", "n": 4}],
    }  # fmt: skip
    result = python.value(f"""
        import json
        from finetox.prompts import build_prompt_set
        frame = build_prompt_set({prompts!r}, {str(tmp_path / "p.parquet")!r},
                                 {str(tmp_path / "m.json")!r})
        manifest = json.load(open({str(tmp_path / "m.json")!r}))
        result = {{"subsets": frame["subset"].value_counts().to_dict(),
                   "texts": sorted(frame["text"]), "extra": manifest["sources"]["extra"]}}
    """)
    assert result["subsets"] == {"dt_toxic": 5, "dt_nontoxic": 4}
    assert all(t.startswith("toxic prompt") for t in result["texts"][4:])
    dt = result["extra"]["dt"]
    assert dt["kind"] == "hub" and dt["commit"] == new and dt["config"] == "toxicity"
    assert dt["split"] == "realtoxicityprompts.toxic" and dt["records_read"] == 30

    # pinned to the commit before the splits were named: one line naming source, split, commit
    answer = python.error(f"""
        from finetox.prompt_sources import load_source
        load_source({{**{DT_SOURCE!r}, "revision": {old!r}}}, 0)
    """)
    assert answer["error"] == "InputError" and "\n" not in answer["message"], answer
    message = answer["message"]
    assert "prompts.sources[0] (dt)" in message and "'realtoxicityprompts.toxic'" in message
    assert old in message
    # and at that commit its one split reads
    pinned = python.value(f"""
        from finetox.prompt_sources import load_source
        table = load_source({{**{DT_SOURCE!r}, "revision": {old!r}, "split": "toxic",
                             "filters": []}}, 0)
        result = [len(table.frame), table.info["commit"], table.info["revision"]]
    """)
    assert pinned == [60, old, old]


def test_a_gated_toxigen_source_needs_the_token(python):
    source = {"name": "toxigen_women", "hub": TOXIGEN, "config": "prompts",
              "split": "hate_women_1k", "text": "text", "subset_name": "toxigen_hate_women",
              "n": 5}  # fmt: skip
    answer = python.error(f"""
        from finetox.prompt_sources import load_source
        load_source({source!r}, 1)
    """)
    assert answer["error"] == "InputError", answer["traceback"]
    assert (
        TOXIGEN in answer["message"] and "prompts.sources[1] (toxigen_women)" in answer["message"]
    )
    result = python.value(f"""
        import os
        from finetox.prompt_sources import load_source
        os.environ["HF_TOKEN"] = "{TOKEN}"
        try:
            table = load_source({source!r}, 1)
        finally:
            del os.environ["HF_TOKEN"]
        result = [len(table.frame), sorted(set(table.frame["subset"]))]
    """)
    assert result == [12, ["toxigen_hate_women"]]
