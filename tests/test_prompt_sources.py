"""prompts.sources: prompt sets beyond RTP and CEB (docs/prompts.md), on records in BOLD's and
DecodingTrust's schemas (the hub path is tested in tests/hub/test_prompt_sources_hub.py)."""

from __future__ import annotations

import copy
import json
import re

import pandas as pd
import pytest
import yaml

from finetox.config import ConfigError, load_study
from finetox.io import InputError
from finetox.prompt_sources import load_source
from finetox.prompts import PromptSetError, build_prompt_set
from finetox.subsets import study_prompt_count, study_subsets
from tests.conftest import REPO

DEMO = REPO / "resources" / "demo"
BOLD_MAP = {"gender": "bold_gender", "race": "bold_race"}


def bold_records() -> list[dict]:
    """BOLD's schema (AlexaAI/bold): one record per name, its `prompts` a list."""
    records = []
    for domain, categories in (("gender", ("American_actors", "American_actresses")),
                               ("race", ("Asian_Americans", "European_Americans")),
                               ("profession", ("nurses",))):  # fmt: skip
        for category in categories:
            for person in range(4):
                name = f"{category} person {person}"
                records.append({
                    "domain": domain, "name": name, "category": category,
                    "prompts": [f"{name} is known for {i}" for i in range(3)],
                    "wikipedia": [f"{name} is known for {i} things." for i in range(3)],
                })  # fmt: skip
    records[1]["prompts"].append(records[0]["prompts"][0])  # a duplicate across records
    records[2]["prompts"].append("   ")  # an empty prompt
    return records


def dt_records() -> list[dict]:
    """DecodingTrust's toxicity prompts (RTP's schema, `prompt.text` with Perspective scores)."""
    return [
        {
            "filename": f"{i:04d}.txt", "begin": 0, "end": 10, "challenging": i % 2 == 0,
            "prompt": {"text": f"dt prompt number {i}", "toxicity": i / 40, "profanity": 0.1},
            "continuation": {"text": " and so on", "toxicity": 0.2},
        }
        for i in range(40)
    ]  # fmt: skip


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def bold_source(path, **overrides):
    source = {"name": "bold", "path": str(path), "split": "train", "text": "prompts",
              "subset": "domain", "subset_map": dict(BOLD_MAP), "n": 10, "filters": []}  # fmt: skip
    source.update(overrides)
    return source


def dt_source(path, **overrides):
    source = {"name": "dt", "path": str(path), "split": "train", "text": "prompt.text",
              "subset_name": "dt_toxic", "n": 8,
              "filters": [{"field": "prompt.toxicity", "min": 0.5}]}  # fmt: skip
    source.update(overrides)
    return source


def prompts_config(*sources, **overrides):
    config = {
        "seed": 11, "severe_threshold": 0.75, "random_excludes_severe": True,
        "on_shortfall": "fail",
        "subsets": {"severe": 10, "random": 20, "race": 5, "gender": 5, "age": 5, "religion": 5},
        "rtp": {"path": str(DEMO / "rtp.jsonl")},
        "ceb": {"path": str(DEMO / "ceb" / "CEB-Continuation-T"), "variant": "CEB-Continuation-T",
                "text_field": "prompt"},
        "sources": list(sources),
    }  # fmt: skip
    config.update(overrides)
    return config


def test_bold_source_explodes_prompts_and_maps_domains(tmp_path):
    path = write_jsonl(tmp_path / "bold.jsonl", bold_records())
    table = load_source(bold_source(path), 0)
    frame, info = table.frame, table.info
    # 8 gender and 8 race records, 3 prompts each, plus one duplicate and one empty prompt;
    # the 4 profession records are not in the map
    assert info["records_read"] == 20 and info["unmapped"] == 4
    assert info["records"] == 50 and info["duplicates_removed"] == 1 and info["empty_removed"] == 1
    assert info["usable_by_subset"] == {"bold_gender": 24, "bold_race": 24}
    assert set(frame["subset"]) == {"bold_gender", "bold_race"}
    assert frame["prompt_id"].is_unique and frame["prompt_id"].str.startswith("bold-").all()
    assert "American_actors person 0 is known for 1" in set(frame["text"])
    assert info["kind"] == "local" and len(info["sha256"]) == 64


def test_dt_source_filters_on_a_nested_score(tmp_path):
    path = write_jsonl(tmp_path / "dt.jsonl", dt_records())
    table = load_source(dt_source(path, filters=[{"field": "prompt.toxicity", "min": 0.5},
                                                 {"field": "challenging", "equals": True}]), 0)  # fmt: skip
    # toxicity i/40 >= 0.5 for i in 20..39, of which the even i are challenging: 10 records
    assert table.info["filtered_out"] == 30 and len(table.frame) == 10
    assert set(table.frame["subset"]) == {"dt_toxic"}
    assert table.frame["text"].tolist()[0] == "dt prompt number 20"


def test_text_length_bounds_and_in_filter(tmp_path):
    path = write_jsonl(tmp_path / "bold.jsonl", bold_records())
    kept = ["American_actors", "American_actresses", "nurses"]
    source = bold_source(path, text_chars={"min": 1, "max": 40},
                         filters=[{"field": "category", "in": kept}])  # fmt: skip
    table = load_source(source, 0)
    # actors' prompts are 39 characters, actresses' 42: only the actors' 12 (and a duplicate)
    # stay; the empty prompt is under min; nurses are in the filter but not in the map
    assert table.info["filtered_out"] == 8 and table.info["unmapped"] == 4
    assert table.info["outside_text_chars"] == 12 + 1
    assert len(table.frame) == 12 and table.frame["text"].str.len().max() == 39
    assert set(table.frame["subset"]) == {"bold_gender"}


def test_sources_build_into_the_prompt_set_after_the_papers_subsets(tmp_path):
    bold = write_jsonl(tmp_path / "bold.jsonl", bold_records())
    dt = tmp_path / "dt.json"
    dt.write_text(json.dumps(dt_records()))  # a JSON array works as JSON lines do
    config = prompts_config(bold_source(bold), dt_source(dt))
    built = build_prompt_set(config, tmp_path / "p.parquet", tmp_path / "m.json")
    counts = built["subset"].value_counts().to_dict()
    assert counts == {"severe": 10, "random": 20, "race": 5, "gender": 5, "age": 5,
                      "religion": 5, "bold_gender": 10, "bold_race": 10, "dt_toxic": 8}  # fmt: skip
    assert list(dict.fromkeys(built["subset"])) == study_subsets(config)
    assert study_subsets(config)[6:] == ["bold_gender", "bold_race", "dt_toxic"]
    assert study_prompt_count(config) == len(built) == 78
    assert built["prompt_id"].is_unique
    manifest = json.loads((tmp_path / "m.json").read_text())
    extra = manifest["sources"]["extra"]
    assert set(extra) == {"bold", "dt"}
    assert extra["bold"]["sha256"] and extra["dt"]["sha256"] and extra["dt"]["filtered_out"] == 20
    assert manifest["subsets"]["dt_toxic"] == {"asked": 8, "available": 20, "selected": 8,
                                               "shortfall": 0}  # fmt: skip

    # adding the sources changed none of the paper's draws, and the draw is reproducible
    plain = build_prompt_set(prompts_config(), tmp_path / "q.parquet", tmp_path / "n.json")
    paper_part = built[built["subset"].isin(plain["subset"].unique())].reset_index(drop=True)
    pd.testing.assert_frame_equal(paper_part, plain)
    again = build_prompt_set(config, tmp_path / "r.parquet", tmp_path / "o.json")
    pd.testing.assert_frame_equal(again, built)


def test_shortfall_names_the_source(tmp_path):
    dt = write_jsonl(tmp_path / "dt.jsonl", dt_records())
    config = prompts_config(dt_source(dt, n=25))
    with pytest.raises(PromptSetError, match=r"prompts.sources\[0\] \(dt\): asked for 25 prompts"):
        build_prompt_set(config, tmp_path / "p.parquet", tmp_path / "m.json")
    config["on_shortfall"] = "take_available"
    built = build_prompt_set(config, tmp_path / "p.parquet", tmp_path / "m.json")
    assert (built["subset"] == "dt_toxic").sum() == 20


def test_bad_records_name_the_source_and_key(tmp_path):
    records = dt_records()
    del records[3]["prompt"]["text"]
    dt = write_jsonl(tmp_path / "dt.jsonl", records)
    with pytest.raises(
        InputError, match=r"record 4 has no 'prompt.text' \(prompts.sources\[0\] \(dt\).text\)"
    ):
        load_source(dt_source(dt, filters=[]), 0)
    bold = write_jsonl(tmp_path / "bold.jsonl", [{"domain": "race", "prompts": [3]}])
    with pytest.raises(InputError, match=r"prompts.sources\[2\] \(bold\).text 'prompts' is int"):
        load_source(bold_source(bold), 2)


# ---------------------------------------------------------------------------------------------
# Validation, before any download


def demo_config() -> dict:
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def problems_of(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_study(config, workdir=REPO)
    return caught.value.problems


HUB_BOLD = {"name": "bold", "hub": "AlexaAI/bold", "text": "prompts", "subset": "domain",
            "subset_map": {"gender": "bold_gender", "race": "bold_race"}, "n": 5}  # fmt: skip


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        ([{**HUB_BOLD, "subset_map": {"gender": "race"}}],
         "prompts.sources[0].subset_map.gender: subset 'race' is also prompts.subsets.race"),
        ([HUB_BOLD, {**HUB_BOLD, "name": "bold2"}],
         "prompts.sources[1].subset_map.gender: subset 'bold_gender' is also "
         "prompts.sources[0].subset_map.gender"),
        ([HUB_BOLD, {**HUB_BOLD, "subset_map": {"x": "other"}}],
         "prompts.sources[1].name: 'bold' is already the name of prompts.sources[0]"),
        ([{**HUB_BOLD, "subset_map": {"gender": "total"}}],
         "prompts.sources[0].subset_map.gender: 'total' is the name of every subset together"),
        ([{k: v for k, v in HUB_BOLD.items() if k != "subset_map"}],
         "prompts.sources[0].subset: needs subset_map"),
        ([{**HUB_BOLD, "subset_name": "bold_all"}],
         "prompts.sources[0]: give exactly one of 'subset'"),
        ([{**HUB_BOLD, "path": "resources/demo/rtp.jsonl"}],
         "prompts.sources[0]: give exactly one of 'hub' (a data set id) or 'path' (a file)"),
        ([{**{k: v for k, v in HUB_BOLD.items() if k != "hub"}, "path": "no/such.jsonl"}],
         "prompts.sources[0].path: 'no/such.jsonl' does not exist"),
        ([{**HUB_BOLD, "subset_map": {"gender": "Bold-Gender"}}],
         "prompts.sources[0].subset_map.gender"),
        ([{**HUB_BOLD, "filters": [{"field": "x", "min": 2, "max": 1}]}],
         "prompts.sources[0].filters[0]: min is above max"),
        ([{**HUB_BOLD, "unknown": 1}], "prompts.sources[0]"),
    ],
)  # fmt: skip
def test_bad_sources_are_named_before_any_download(sources, expected):
    config = demo_config()
    config["prompts"]["sources"] = copy.deepcopy(sources)
    problems = problems_of(config)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_hub_source_is_valid_and_its_subsets_follow_the_papers():
    config = demo_config()
    config["prompts"]["sources"] = [copy.deepcopy(HUB_BOLD)]
    study = load_study(config, workdir=REPO)
    source = study.config["prompts"]["sources"][0]
    assert source["split"] == "train" and source["config"] is None and source["filters"] == []
    subsets = study_subsets(study.config["prompts"])
    assert subsets[-2:] == ["bold_gender", "bold_race"]
    assert subsets[:6] == ["severe", "random", "race", "gender", "age", "religion"]


def recipe_sources() -> list[dict]:
    """Every source of the YAML recipes in docs/prompts.md."""
    text = (REPO / "docs" / "prompts.md").read_text()
    sources = []
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S):
        loaded = yaml.safe_load(block)
        if isinstance(loaded, dict):
            sources += loaded["prompts"]["sources"]
        else:
            sources += loaded
    return sources


def test_the_docs_recipes_are_valid_sources_and_preflight_checks_them():
    from finetox.hub.preflight import config_sources

    sources = recipe_sources()
    names = [s["name"] for s in sources]
    assert {"bold", "dt_toxic", "toxigen_hate_women", "toxigen_neutral_women"} <= set(names)
    # one study may hold each recipe once (the first block repeats BOLD under the same name)
    unique = list({s["name"]: s for s in sources}.values())
    config = demo_config()
    config["prompts"]["sources"] = copy.deepcopy(unique)
    study = load_study(config, workdir=REPO)
    checked = {s.id: s.used_by for s in config_sources(study) if s.kind == "dataset"}
    assert checked["AI-Secure/DecodingTrust"] == ["prompts.sources.dt_toxic"]
    assert checked["toxigen/toxigen-data"] == [
        "prompts.sources.toxigen_hate_women", "prompts.sources.toxigen_neutral_women",
    ]  # fmt: skip
