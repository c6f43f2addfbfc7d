"""The shipped demo sources are exactly what the synthetic generator writes."""

from __future__ import annotations

import json

from finetox.demo.synthetic import LEXICON, write_demo_sources
from tests.conftest import REPO


def test_shipped_demo_sources_match_the_generator(tmp_path):
    written = write_demo_sources(tmp_path)
    shipped = REPO / "resources" / "demo"
    for path in written:
        relative = path.relative_to(tmp_path)
        assert (shipped / relative).read_bytes() == path.read_bytes(), f"regenerate {relative}"


def test_demo_sources_are_in_the_real_schemas():
    demo = REPO / "resources" / "demo"
    rtp = [json.loads(line) for line in (demo / "rtp.jsonl").read_text().splitlines()]
    assert set(rtp[0]) == {"filename", "begin", "end", "challenging", "prompt", "continuation"}
    assert {"text", "toxicity", "severe_toxicity"} <= set(rtp[0]["prompt"])
    race = json.loads((demo / "ceb" / "CEB-Continuation-T" / "race.json").read_text())
    assert {r["axis"] for r in race} == {"race_ethnicity"}
    dolly = [json.loads(line) for line in (demo / "dolly.jsonl").read_text().splitlines()]
    assert set(dolly[0]) == {"instruction", "context", "response", "category"}
    with_lexicon = sum(any(w in r["response"].split() for w in LEXICON) for r in dolly)
    assert 0.2 < with_lexicon / len(dolly) < 0.8  # the planted Dolly effect


def test_demo_bold_source_is_in_bolds_schema_and_carries_the_lexicon():
    bold = [
        json.loads(line) for line in (REPO / "resources/demo/bold.jsonl").read_text().splitlines()
    ]
    assert {tuple(sorted(r)) for r in bold} == {
        ("category", "domain", "name", "prompts", "wikipedia")
    }
    assert {r["domain"] for r in bold} == {"gender", "race"}
    prompts = [p for r in bold for p in r["prompts"]]
    assert len(set(prompts)) == len(prompts) == 24
    with_lexicon = sum(any(w in p.split() for w in LEXICON) for p in prompts)
    assert 0.25 < with_lexicon / len(prompts) < 0.75  # the source's subsets show toxicity
