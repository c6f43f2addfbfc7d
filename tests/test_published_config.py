"""The authors' published Dolly models as an opt-in arm: their ids in config/config.yaml, the one
switch, the models and pairs it derives, Table 2 beside the retrained rows, every bad value
named by its key, and the dry-run plan with the switch on and off."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from finetox.config import ConfigError, load_study
from finetox.pairs import Pair
from finetox.results import results_layout
from finetox.results.tables import rates_table
from tests.conftest import REPO

SWITCH = "instruct_vs_dolly_published"
# the paper's Appendix A, by family
PUBLISHED_IDS = {
    "llama2-7b": "mlkro/llama-2-7b-chat-bnb-4bit-dolly-toxicity-study",
    "llama3.1-8b": "mlkro/Meta-Llama-3.1-8B-Instruct-bnb-4bit-toxicity-study",
    "gemma-2b": "mlkro/gemma-2b-it-bnb-4bit-dolly-toxicity-study",
    "gemma-2-2b": "mlkro/gemma-2-2b-it-bnb-4bit-dolly-toxicity-study",
    "phi3-mini": "mlkro/Phi-3-mini-4k-instruct-bnb-4bit-dolly-toxicity-study",
    "phi3.5-mini": "mlkro/Phi-3.5-mini-instruct-dolly-toxicity-study",
}


@pytest.fixture(scope="module")
def paper_yaml() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def paper(paper_yaml) -> dict:
    return copy.deepcopy(paper_yaml)


@pytest.fixture
def switched_on(paper) -> dict:
    paper["comparisons"][SWITCH] = True
    return paper


def problems_of(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_study(config, workdir=REPO)
    return caught.value.problems


def published(study) -> dict:
    return {s.family: s for s in study.models.values() if s.role == "dolly_published"}


def test_config_yaml_lists_the_six_published_models_and_leaves_them_off(paper):
    listed = {family: spec["dolly_published"] for family, spec in paper["families"].items()}
    ids = {f: v["id"] if isinstance(v, dict) else v for f, v in listed.items()}
    assert ids == PUBLISHED_IDS
    assert paper["comparisons"][SWITCH] is False
    study = load_study(paper, workdir=REPO)
    assert not published(study)
    assert Counter(pair.kind for pair in study.comparisons)["instruct_vs_dolly"] == 6


def test_the_switch_adds_one_model_and_one_pair_per_family(switched_on):
    study = load_study(switched_on, workdir=REPO)
    models = published(study)
    assert {f: s.source for f, s in models.items()} == PUBLISHED_IDS
    gemma = models["gemma-2b"]
    assert (gemma.name, gemma.slug, gemma.local) == ("gemma-2b-it-dolly-published",) * 2 + (False,)
    assert gemma.label == "Gemma-2B-IT + Dolly LoRA (authors' published)"
    assert study.model("gemma-2b-it-dolly").label == "Gemma-2B-IT + Dolly LoRA"
    assert (gemma.adapter, gemma.load_in_4bit, gemma.layout) == (None, False, "detect")
    assert gemma.params_b == 2.5  # the instruct model's size sizes its jobs
    kinds = Counter(pair.kind for pair in study.comparisons)
    assert kinds == {"base_vs_instruct": 4, "instruct_vs_dolly": 12, "instruct_vs_community": 12}
    pair = study.comparison("gemma-2b-it__vs__gemma-2b-it-dolly-published")
    assert pair == Pair(
        "gemma-2b-it", "gemma-2b-it-dolly-published", "instruct_vs_dolly", "gemma-2b", "raw"
    )
    assert set(study.tuned_sources()) == {
        s.name for s in study.models.values() if s.role == "dolly"
    }


def test_a_published_model_has_its_own_settings_only(switched_on):
    study = load_study(copy.deepcopy(switched_on), workdir=REPO)
    settings = published(study)["gemma-2b"].settings()
    assert settings["dtype"] == "float16" and settings["layout"] == "detect"  # generation's
    assert published(study)["gemma-2-2b"].dtype == "bfloat16"  # its own entry's
    switched_on["families"]["gemma-2b"]["instruct"]["dtype"] = "bfloat16"
    switched_on["families"]["gemma-2b"]["instruct"]["batch_size"] = 4
    changed = load_study(switched_on, workdir=REPO)
    assert published(changed)["gemma-2b"].settings() == settings
    # the key is added only where set, so other models' params (and jobs) are unchanged
    assert "layout" not in study.model("gemma-2b-it-dolly").settings()


def test_a_mapping_gives_a_folder_revision_layout_and_per_model_keys(switched_on, tmp_path):
    switched_on["families"]["gemma-2b"]["dolly_published"] = {
        "path": str(tmp_path), "layout": "adapter", "label": "Authors' Gemma", "batch_size": 8,
        "stop": "generation_config", "params_b": 3.0, "prompt_format": ["raw", "chat_template"],
    }  # fmt: skip
    switched_on["families"]["phi3-mini"]["dolly_published"] = {
        "id": PUBLISHED_IDS["phi3-mini"], "revision": "abc123",
    }  # fmt: skip
    study = load_study(switched_on, workdir=REPO)
    gemma = study.model("gemma-2b-it-dolly-published")
    assert (gemma.source, gemma.local, gemma.layout) == (str(tmp_path), True, "adapter")
    assert (gemma.label, gemma.batch_size, gemma.stop, gemma.params_b) == (
        "Authors' Gemma",
        8,
        "generation_config",
        3.0,
    )
    # the chat-format published model has no chat-format instruct model to be compared with
    assert "gemma-2b-it-dolly-published--chat" in study.models
    assert not any(p.b == "gemma-2b-it-dolly-published--chat" for p in study.comparisons)
    assert study.model("phi3-mini-4k-instruct-dolly-published").revision == "abc123"


def test_the_published_arm_runs_without_the_retrained_one(switched_on):
    switched_on["comparisons"]["instruct_vs_dolly"] = False
    study = load_study(switched_on, workdir=REPO)
    assert not study.tuned_sources()
    dolly = [p.b for p in study.comparisons if p.kind == "instruct_vs_dolly"]
    assert dolly == [s.name for s in published(study).values()]


def test_table2_shows_the_published_row_beside_the_retrained_one(switched_on):
    layout = results_layout(load_study(switched_on, workdir=REPO))
    table2 = next(t for t in layout["tables"] if t["kind"] == "instruct_vs_dolly")
    assert [block["models"] for block in table2["blocks"]][2] == [
        "gemma-2b-it", "gemma-2b-it-dolly", "gemma-2b-it-dolly-published",
    ]  # fmt: skip
    assert [len(block["pairs"]) for block in table2["blocks"]] == [2] * 6
    percents = {
        name: _percent_frame(toxic)
        for name, toxic in zip(table2["blocks"][2]["models"], (1, 8, 9), strict=True)
    }
    table2["blocks"] = table2["blocks"][2:3]
    frame = rates_table(table2, layout, percents)
    assert list(frame["Model"]) == [
        "Gemma-2B-IT",
        "Gemma-2B-IT + Dolly LoRA",
        "Gemma-2B-IT + Dolly LoRA (authors' published)",
    ]
    assert list(frame["Total"]) == [1.0, 8.0, 9.0]


def _percent_frame(pct: float):
    import pandas as pd

    subsets = ["total", "severe", "random", "race", "gender", "age", "religion"]
    return pd.DataFrame({"pct": [pct] * len(subsets), "n": [100] * len(subsets)}, index=subsets)


BAD_VALUES = [
    (
        "a hub id with a trailing space",
        lambda c: c["families"]["gemma-2b"].update(dolly_published="mlkro/gemma "),
        "families.gemma-2b.dolly_published: 'mlkro/gemma ' has leading or trailing whitespace",
    ),
    (
        "not a hub id",
        lambda c: c["families"]["gemma-2b"].update(dolly_published="mlkro gemma"),
        "families.gemma-2b.dolly_published: 'mlkro gemma' is not a hub id of the form owner/name "
        "(letters, digits, '.', '_', '-')",
    ),
    (
        "both an id and a path",
        lambda c: c["families"]["gemma-2b"].update(dolly_published={"id": "a/b", "path": "config"}),
        "families.gemma-2b.dolly_published: give exactly one of 'id' (hub) or 'path' (local folder)",
    ),
    (
        "a path that does not exist",
        lambda c: c["families"]["gemma-2b"].update(dolly_published={"path": "no/such/folder"}),
        "families.gemma-2b.dolly_published.path: 'no/such/folder' does not exist (relative to "
        f"{REPO})",
    ),
    (
        "a slug of its own",
        lambda c: c["families"]["gemma-2b"].update(dolly_published={"id": "a/b", "slug": "mine"}),
        "families.gemma-2b.dolly_published.slug: the published model's slug is derived "
        "({instruct slug}-dolly-published); leave it out",
    ),
    (
        "an unknown layout",
        lambda c: c["families"]["gemma-2b"].update(dolly_published={"id": "a/b", "layout": "lora"}),
        "families.gemma-2b.dolly_published.layout: 'lora' is not one of ['detect', 'adapter', 'full']",
    ),
    (
        "an unknown key",
        lambda c: c["families"]["gemma-2b"].update(
            dolly_published={"id": "a/b", "dtyp": "float16"}
        ),
        "families.gemma-2b.dolly_published.dtyp: unknown key; did you mean 'dtype'?",
    ),
    (
        "a number",
        lambda c: c["families"]["gemma-2b"].update(dolly_published=7),
        "families.gemma-2b.dolly_published: 7 is not of type 'string'",
    ),
    (
        "a family without an instruct model",
        lambda c: c["families"]["phi3-mini"].pop("instruct"),
        "families.phi3-mini.dolly_published: the published Dolly model is compared with the "
        "instruct model, but family 'phi3-mini' has none",
    ),
    (
        "a slug the published model derives",
        lambda c: c["families"]["gemma-2b"]["community"][0].update(
            slug="gemma-2b-it-dolly-published"
        ),
        "families.gemma-2b.community[0].slug: 'gemma-2b-it-dolly-published' is already used by "
        "families.gemma-2b.dolly_published (derived)",
    ),
    (
        "the switch not a boolean",
        lambda c: c["comparisons"].update(instruct_vs_dolly_published="yes"),
        "comparisons.instruct_vs_dolly_published: 'yes' is not of type 'boolean'",
    ),
    (
        "the switch on with nothing listed",
        lambda c: [spec.pop("dolly_published") for spec in c["families"].values()],
        "comparisons.instruct_vs_dolly_published: on, but no family lists dolly_published (a hub "
        "id or a local folder of the authors' published model)",
    ),
]


@pytest.mark.parametrize(
    ("change", "expected"), [case[1:] for case in BAD_VALUES], ids=[case[0] for case in BAD_VALUES]
)
def test_bad_values_are_named_by_their_key(switched_on, change, expected):
    change(switched_on)
    problems = problems_of(switched_on)
    assert expected in problems, problems


def test_listed_ids_are_checked_with_the_switch_off(paper):
    paper["families"]["gemma-2b"]["dolly_published"] = "mlkro/gemma "
    assert problems_of(paper) == [
        "families.gemma-2b.dolly_published: 'mlkro/gemma ' has leading or trailing whitespace"
    ]


# ---------------------------------------------------------------------------------------------
# The plan


def test_the_switch_adds_generate_score_and_compare_jobs_and_nothing_else(paper, tmp_path):
    from tests.test_workflow import PAPER_JOBS, job_counts, snakemake

    text = (REPO / "config" / "config.yaml").read_text()
    assert text.count(f"{SWITCH}: false") == 1
    on = tmp_path / "published.yaml"
    on.write_text(text.replace(f"{SWITCH}: false", f"{SWITCH}: true"))
    off_counts = job_counts(snakemake("-n", "--forceall").stdout)
    planned = snakemake("-n", "--forceall", "--configfile", str(on)).stdout
    on_counts = job_counts(planned)
    assert {rule: off_counts.get(rule) for rule in PAPER_JOBS} == PAPER_JOBS
    added = {
        rule: on_counts.get(rule, 0) - off_counts.get(rule, 0) for rule in {*on_counts, *off_counts}
    }
    assert {rule: n for rule, n in added.items() if n} == {"generate": 6, "score": 6, "compare": 6}
    for spec in paper["families"].values():
        slug = spec["instruct"]["slug"]
        assert f"results/generations/{slug}-dolly-published.parquet" in planned
        assert f"results/comparisons/{slug}__vs__{slug}-dolly-published.csv" in planned
