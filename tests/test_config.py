"""The study config: the paper's graph, defaults, and every bad-config case with its named error."""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from finetox.config import (
    ConfigError,
    build_study,
    config_reference,
    load_study,
    load_study_file,
    section_defaults,
    update_reference,
)
from finetox.pairs import Pair
from tests.conftest import REPO


@pytest.fixture(scope="module")
def paper_yaml() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def paper(paper_yaml) -> dict:
    return copy.deepcopy(paper_yaml)


def problems_of(config: dict, workdir=REPO) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_study(config, workdir=workdir)
    return caught.value.problems


def test_paper_study_graph(paper):
    study = load_study(paper, workdir=REPO)
    roles = Counter(spec.role for spec in study.models.values())
    assert roles == {"base": 4, "instruct": 6, "community": 12, "dolly": 6}
    kinds = Counter(c.kind for c in study.comparisons)
    assert kinds == {"base_vs_instruct": 4, "instruct_vs_dolly": 6, "instruct_vs_community": 12}
    assert len(study.config["families"]) == 6
    pair = study.comparison("gemma-2b__vs__gemma-2b-it")
    assert (pair.a, pair.b, pair.family) == ("gemma-2b", "gemma-2b-it", "gemma-2b")
    dolly = study.model("gemma-2-2b-it-dolly")
    assert dolly.source == "google/gemma-2-2b-it" and dolly.adapter == "gemma-2-2b-it-dolly"
    assert dolly.load_in_4bit == "as_trained"
    assert set(study.tuned_sources()) == {
        s.name for s in study.models.values() if s.role == "dolly"
    }
    assert study.model("phi3-mini-4k-instruct").source == "microsoft/Phi-3-mini-4k-instruct"


def test_paper_defaults_are_filled():
    study = load_study(
        {"families": {"f": {"instruct": {"slug": "m", "id": "org/model"}}}}, workdir=REPO
    )
    config = study.config
    assert config["prompts"]["subsets"] == {
        "severe": 1000,
        "random": 1000,
        "race": 100,
        "gender": 100,
        "age": 100,
        "religion": 100,
    }
    assert config["prompts"]["severe_threshold"] == 0.75
    assert config["generation"]["max_new_tokens"] == 50
    assert config["generation"]["prompt_format"] == "raw"
    tune = config["tune"]
    assert (tune["r"], tune["alpha"], tune["dropout"], tune["learning_rate"]) == (16, 16, 0.0, 2e-4)
    assert (tune["per_device_batch_size"], tune["gradient_accumulation_steps"], tune["seed"]) == (
        2,
        8,
        3407,
    )
    assert (
        config["scoring"]["classifiers"][0]["id"]
        == "facebook/roberta-hate-speech-dynabench-r4-target"
    )
    assert config["compare"]["priors"]["nu_minus_one_mean"] == 29.0
    assert config["families"]["f"]["dolly"] is True
    assert [c.name for c in study.comparisons] == ["m__vs__m-dolly"]


def test_demo_config_is_valid():
    study = load_study(yaml.safe_load((REPO / "config" / "demo.yaml").read_text()), workdir=REPO)
    assert set(study.models) == {
        "tiny-base",
        "tiny-instruct",
        "tiny-instruct-dolly",
        "tiny-community-same",
        "tiny-community-toxic",
        "tiny-instruct-dolly-step-5",
        "tiny-instruct-dolly-step-10",
        "tiny-instruct-dolly-step-20",
    }
    assert len(study.comparisons) == 7


def test_prompt_formats_are_separate_models(paper):
    paper["generation"]["prompt_format"] = ["raw", "chat_template"]
    study = load_study(paper, workdir=REPO)
    assert len(study.models) == 56
    assert "gemma-2b-it--chat" in study.models and "gemma-2b-it" in study.models
    chat_pairs = [c for c in study.comparisons if c.prompt_format == "chat_template"]
    assert len(chat_pairs) == 22
    assert all(c.a.endswith("--chat") and c.b.endswith("--chat") for c in chat_pairs)
    # one adapter serves both formats of a Dolly model
    assert len(study.tuned_sources()) == 6


def test_per_model_prompt_format(paper):
    paper["families"]["gemma-2b"]["instruct"]["prompt_format"] = "chat_template"
    study = load_study(paper, workdir=REPO)
    assert "gemma-2b-it--chat" in study.models and "gemma-2b-it" not in study.models


def test_quant_control_and_extra_pairs(paper):
    paper["families"]["phi3-mini"]["quant_control"] = True
    paper["comparisons"]["extra"] = [{"a": "llama2-7b", "b": "llama2-7b-chat-uncensored"}]
    study = load_study(paper, workdir=REPO)
    quant = study.model("phi3-mini-4k-instruct-4bit")
    assert quant.role == "instruct_4bit" and quant.load_in_4bit is True
    names = [c.name for c in study.comparisons]
    assert "phi3-mini-4k-instruct__vs__phi3-mini-4k-instruct-4bit" in names
    assert names[-1] == "llama2-7b__vs__llama2-7b-chat-uncensored"


def test_dolly_follows_the_comparison_switch(paper):
    paper["comparisons"]["instruct_vs_dolly"] = False
    study = load_study(paper, workdir=REPO)
    assert not any(spec.role == "dolly" for spec in study.models.values())


def test_settings_hold_only_the_models_own_values(paper):
    study = load_study(paper, workdir=REPO)
    settings = study.model("gemma-2b-it").settings()
    assert settings["source"] == "google/gemma-2b-it"
    assert "families" not in settings and "community" not in settings
    changed = copy.deepcopy(paper)
    changed["families"]["llama2-7b"]["community"][0]["dtype"] = "float16"
    assert load_study(changed, workdir=REPO).model("gemma-2b-it").settings() == settings


def test_generation_settings_travel_one_route(paper):
    paper["families"]["gemma-2b"]["instruct"]["batch_size"] = 4
    study = load_study(paper, workdir=REPO)
    shared = study.generation_settings()
    assert shared == {"max_new_tokens": 50, "max_batch_size": 128, "on_long_prompt": "error"}
    own = study.model("gemma-2b-it").settings()
    assert own["batch_size"] == 4 and not set(shared) & set(own)


def test_on_long_prompt_is_checked_and_reaches_generation(paper):
    paper["generation"] = {"on_long_prompt": "truncate_left"}
    assert load_study(paper, workdir=REPO).generation_settings()["on_long_prompt"] == (
        "truncate_left"
    )
    paper["generation"] = {"on_long_prompt": "truncate"}
    (problem,) = problems_of(paper)
    assert "generation.on_long_prompt" in problem and "truncate_left" in problem


def test_comparisons_are_pairs(paper):
    study = load_study(paper, workdir=REPO)
    pair = study.comparison("gemma-2b__vs__gemma-2b-it")
    assert pair == Pair("gemma-2b", "gemma-2b-it", "base_vs_instruct", "gemma-2b", "raw")
    assert Pair.from_record(pair.record()) == pair


def test_section_defaults_fill_every_schema_default():
    tune = section_defaults("tune")
    assert (tune["r"], tune["data"]["hub"], tune["max_records"]) == (
        16,
        "databricks/databricks-dolly-15k",
        None,
    )
    compare = section_defaults("compare")
    assert compare["hdi_prob"] == 0.95 and compare["priors"]["sigma_beta"] == 10.0
    assert section_defaults("compare") is not compare  # a fresh copy each time
    with pytest.raises(KeyError, match="lora"):
        section_defaults("lora")


@pytest.mark.parametrize(("old", "new"), [("lora", "tune"), ("estimation", "compare")])
def test_renamed_sections_name_their_new_name(paper, old, new):
    paper[old] = paper.pop(new)
    problems = problems_of(paper)
    assert f"{old}: renamed to '{new}'" in problems
    assert not any(p.startswith(f"{old}: unknown key") for p in problems)


BAD_CASES = [
    (
        "trailing whitespace in a hub id",
        lambda c: c["families"]["gemma-2-2b"]["community"][0].update(
            id="IlyaGusev/gemma-2-2b-it-abliterated "
        ),
        "families.gemma-2-2b.community[0].id: 'IlyaGusev/gemma-2-2b-it-abliterated ' has leading or trailing whitespace",
    ),
    (
        "hub id with a space inside",
        lambda c: c["families"]["phi3.5-mini"]["community"][1].update(id="AXCXEPT/Borea Phi"),
        "families.phi3.5-mini.community[1].id: 'AXCXEPT/Borea Phi' is not a hub id",
    ),
    (
        "duplicate slug",
        lambda c: c["families"]["gemma-2b"]["community"][1].update(slug="gemma-2b-it"),
        "families.gemma-2b.community[1].slug: 'gemma-2b-it' is already used by families.gemma-2b.instruct.slug",
    ),
    (
        "slug colliding with a derived Dolly slug",
        lambda c: c["families"]["gemma-2b"]["community"][0].update(slug="gemma-2b-it-dolly"),
        "'gemma-2b-it-dolly' is already used by",
    ),
    (
        "slug with capitals",
        lambda c: c["families"]["gemma-2b"]["base"].update(slug="Gemma-2B"),
        "families.gemma-2b.base.slug: 'Gemma-2B' does not match",
    ),
    (
        "community model without an instruct model",
        lambda c: c["families"]["phi3-mini"].pop("instruct"),
        "families.phi3-mini.community: community fine-tunes are compared with the instruct model, but family 'phi3-mini' has none",
    ),
    (
        "Dolly model without an instruct model",
        lambda c: (
            c["families"]["phi3-mini"].pop("instruct"),
            c["families"]["phi3-mini"].update(dolly=True),
        ),
        "families.phi3-mini.dolly: the Dolly model is tuned from the instruct model, but family 'phi3-mini' has none",
    ),
    (
        "unknown subset name",
        lambda c: c["prompts"]["subsets"].update(sever=10),
        "prompts.subsets.sever: unknown key; did you mean 'severe'?",
    ),
    (
        "threshold out of range",
        lambda c: c["prompts"].update(severe_threshold=1.5),
        "prompts.severe_threshold: 1.5 is greater than the maximum of 1",
    ),
    (
        "negative subset size",
        lambda c: c["prompts"]["subsets"].update(race=-5),
        "prompts.subsets.race: -5 is less than the minimum of 0",
    ),
    (
        "every subset empty",
        lambda c: c["prompts"].update(subsets={"severe": 0}),
        "prompts.subsets: every subset is empty",
    ),
    (
        "classifier threshold out of range",
        lambda c: c["scoring"]["classifiers"][0].update(threshold=2),
        "scoring.classifiers[0].threshold: 2 is greater than the maximum of 1",
    ),
    (
        "local path that does not exist",
        lambda c: c["prompts"]["rtp"].update(path="data/rtp.jsonl"),
        "prompts.rtp.path: 'data/rtp.jsonl' does not exist",
    ),
    (
        "model path that does not exist",
        lambda c: (
            c["families"]["gemma-2b"]["base"].update(path="models/gemma", id=None)
            or c["families"]["gemma-2b"]["base"].pop("id")
        ),
        "families.gemma-2b.base.path: 'models/gemma' does not exist",
    ),
    (
        "both id and path",
        lambda c: c["families"]["gemma-2b"]["base"].update(path="config"),
        "families.gemma-2b.base: give exactly one of 'id' (hub) or 'path' (local folder)",
    ),
    (
        "unknown dtype",
        lambda c: c["families"]["phi3-mini"]["instruct"].update(dtype="fp16"),
        "families.phi3-mini.instruct.dtype: 'fp16' is not one of ['auto', 'float32', 'bfloat16', 'float16']",
    ),
    (
        "unknown prompt format",
        lambda c: c["generation"].update(prompt_format="chat"),
        "generation.prompt_format: 'chat' is not one of ['raw', 'chat_template']",
    ),
    (
        "misspelt key",
        lambda c: c["generation"].update(batchsize=8),
        "generation.batchsize: unknown key; did you mean 'batch_size'?",
    ),
    (
        "extra pair naming an unknown model",
        lambda c: c["comparisons"].update(extra=[{"a": "gemma-2b", "b": "gema-2b-it"}]),
        "comparisons.extra[0].b: 'gema-2b-it' is not a model of this study; did you mean 'gemma-2b-it'?",
    ),
    (
        "base listed while its comparison is off",
        lambda c: c["comparisons"].update(base_vs_instruct=False),
        "families.llama2-7b.base: family 'llama2-7b' lists a base model but comparisons.base_vs_instruct is off",
    ),
    (
        "wrong type",
        lambda c: c["tune"].update(r="sixteen"),
        "tune.r: 'sixteen' is not of type 'integer'",
    ),
    (
        "missing families",
        lambda c: c.pop("families"),
        "(top level): 'families' is a required property",
    ),
]


@pytest.mark.parametrize("case", BAD_CASES, ids=[case[0] for case in BAD_CASES])
def test_bad_config_names_key_and_value(paper, case):
    _name, break_config, expected = case
    break_config(paper)
    problems = problems_of(paper)
    assert any(expected in problem for problem in problems), problems


def test_all_problems_are_reported_at_once(paper):
    for _name, break_config, _expected in BAD_CASES[:3] + BAD_CASES[7:10]:
        break_config(paper)
    problems = problems_of(paper)
    expected = [case[2] for case in BAD_CASES[:3] + BAD_CASES[7:10]]
    for text in expected:
        assert any(text in problem for problem in problems), (text, problems)
    message = str(ConfigError(problems))
    assert all(line.startswith("config error: ") for line in message.splitlines())


def test_demo_paths_are_buildable_only_when_the_demo_builds_them():
    demo = yaml.safe_load((REPO / "config" / "demo.yaml").read_text())
    demo["demo"]["build_models"] = False
    problems = problems_of(demo, workdir=REPO / "tests")  # a folder with no results/
    assert any(
        "families.tiny.base.path: 'results/demo/models/base' does not exist" in p for p in problems
    )


def test_build_study_is_deterministic(paper):
    study = load_study(paper, workdir=REPO)
    again = build_study(study.config)
    assert list(again.models) == list(study.models)
    assert [c.name for c in again.comparisons] == [c.name for c in study.comparisons]


def test_docs_config_reference_is_current(tmp_path):
    readme = (REPO / "docs/configuration.md").read_text()
    copy_ = tmp_path / "configuration.md"
    copy_.write_text(readme)
    update_reference(copy_)
    assert copy_.read_text() == readme, (
        "run: finetox config-reference --update docs/configuration.md"
    )
    for line in config_reference().splitlines()[2:]:
        key = line.split("|")[1].strip().strip("`")
        assert f"`{key}`" in readme


def test_the_paper_config_generates_and_scores_as_the_authors():
    """config/config.yaml follows the authors' code: one eos id, float16 (bfloat16 where a
    model overflows in float16), stripped texts scored, a plain random RTP sample."""
    study = load_study_file(REPO / "config/config.yaml", workdir=REPO)
    config = study.config
    assert config["generation"]["stop"] == "tokenizer_eos"
    assert config["generation"]["dtype"] == "float16"
    assert config["scoring"]["strip"] is True
    assert config["prompts"]["random_excludes_severe"] is False
    gemma2 = [s for s in study.models.values() if s.family == "gemma-2-2b"]
    assert gemma2 and all(s.dtype == "bfloat16" for s in gemma2)
    ids = {s.source for s in study.models.values()}
    assert "SongTonyLi/gemma-2b-it-SFT-D1_chosen-orca" in ids


def test_trajectory_points_are_models_of_their_own(paper):
    paper["tune"]["trajectory"] = {"points": 4}
    study = load_study(paper, workdir=REPO)
    points = [spec for spec in study.models.values() if spec.role == "trajectory"]
    assert len(points) == 6 * 3  # the fourth point is the final adapter, the Dolly model itself
    spec = study.model("gemma-2b-it-dolly-point-1of4")
    assert (spec.adapter, spec.point, spec.source) == (
        "gemma-2b-it-dolly", "point-1of4", "google/gemma-2b-it",
    )  # fmt: skip
    assert spec.label == "Gemma-2B-IT + Dolly LoRA, point 1/4"
    pairs = [pair for pair in study.comparisons if pair.kind == "instruct_vs_trajectory"]
    assert {pair.b for pair in pairs} == {spec.name for spec in points}
    assert all(study.model(pair.a).role == "instruct" for pair in pairs)
    assert set(study.trajectory_points()) == {spec.slug for spec in points}


def test_trajectory_steps_name_their_points(paper):
    paper["tune"]["trajectory"] = {"steps": [200, 50]}
    study = load_study(paper, workdir=REPO)
    names = [n for n, spec in study.models.items() if spec.family == "llama2-7b"]
    assert names[-4:-2] == ["llama2-7b-chat-dolly-step-50", "llama2-7b-chat-dolly-step-200"]


@pytest.mark.parametrize(
    ("trajectory", "message"),
    [
        ({"steps": [50, 50]}, "tune.trajectory.steps"),
        ({"steps": [0]}, "tune.trajectory.steps"),
        ({"steps": []}, "tune.trajectory.steps"),
        ({"points": 1}, "tune.trajectory.points"),
        ({"points": 4, "steps": [5]}, "tune.trajectory"),
        ({}, "tune.trajectory"),
        ({"every": 5}, "tune.trajectory"),
    ],
)
def test_a_bad_trajectory_is_named(paper, trajectory, message):
    paper["tune"]["trajectory"] = trajectory
    problems = problems_of(paper)
    assert any(problem.startswith(message) for problem in problems), problems


def test_a_trajectory_needs_a_tuning_run(paper):
    paper["tune"]["trajectory"] = {"points": 3}
    paper["comparisons"]["instruct_vs_dolly"] = False
    problems = problems_of(paper)
    assert any("no family has a Dolly model" in problem for problem in problems), problems


# ---------------------------------------------------------------------------------------------
# Sampled decoding (generation.sampled)


def test_sampled_decoding_adds_a_run_per_model_and_pair_and_leaves_greedy_settings_alone(paper):
    off = load_study(copy.deepcopy(paper), workdir=REPO)
    assert off.sampled == {} and off.sampled_comparisons == [] and off.sampling is None
    paper["generation"] = {**paper.get("generation", {}), "sampled": {}}
    on = load_study(paper, workdir=REPO)
    # the RealToxicityPrompts paper's settings by default
    assert on.sampling == {"k": 25, "temperature": 1.0, "top_p": 0.9, "top_k": 0,
                           "max_new_tokens": 20, "seed": 20240805}  # fmt: skip
    assert set(on.sampled) == {f"{name}--sampled" for name in off.models}
    assert {(p.a, p.b, p.kind) for p in on.sampled_comparisons} == {
        (f"{p.a}--sampled", f"{p.b}--sampled", p.kind) for p in off.comparisons
    }
    for name, spec in off.models.items():  # a greedy job's params are what they were
        assert on.model(name).settings() == spec.settings()
        assert on.generation_settings(name) == off.generation_settings(name)
    sampled = on.generation_settings("gemma-2b--sampled")
    assert sampled["max_new_tokens"] == 20 and sampled["sampling"]["k"] == 25
    assert "sampling" not in on.generation_settings("gemma-2b")
    assert on.model("gemma-2b--sampled").settings()["decoding"] == "sampled"


@pytest.mark.parametrize(
    ("sampled", "problem"),
    [
        ({"k": 0}, "generation.sampled.k: 0 is less than the minimum of 1"),
        ({"top_p": 1.5}, "generation.sampled.top_p: 1.5 is greater than the maximum of 1"),
        ({"temperature": 0}, "generation.sampled.temperature: 0 is less than or equal to"),
        ({"n": 5}, "generation.sampled.n: unknown key"),
        (25, "generation.sampled: 25 is not of type 'object', 'null'"),
    ],
)
def test_bad_sampled_settings_are_named(paper, sampled, problem):
    paper["generation"] = {**paper.get("generation", {}), "sampled": sampled}
    assert any(p.startswith(problem) for p in problems_of(paper)), problems_of(paper)
