"""transformers, peft and datasets (as pinned) against the hub stand-in, in a worker process
whose HF_ENDPOINT, HF_HOME and HF_HUB_DISABLE_XET are set before they are imported: loading by
id and by revision, gated repositories with and without the token, a renamed repository, a
missing optional file, the published LoRA adapter, the three data sets, the cache read offline
with the stand-in stopped, and finetox's own loaders."""

from __future__ import annotations

import json

import pytest

from tests.hub.conftest import HubPython, hub_env
from tests.hub.repos import NO_GENERATION_CONFIG, OLD_TAG, TOKEN, TWO_REVISIONS

pytestmark = pytest.mark.hub

PHI = "microsoft/Phi-3-mini-4k-instruct"
ADAPTER = "mlkro/llama-2-7b-chat-bnb-4bit-dolly-toxicity-study"
PUBLISHED_ADAPTER = "mlkro/Meta-Llama-3.1-8B-Instruct-bnb-4bit-toxicity-study"  # with a tokenizer
PUBLISHED_SHARDED = "mlkro/Phi-3-mini-4k-instruct-bnb-4bit-dolly-toxicity-study"


def test_transformers_loads_by_id_and_a_pinned_revision(hub_python):
    result = hub_python.value(f"""
        from huggingface_hub import HfApi, constants
        from transformers import AutoModelForCausalLM, AutoTokenizer
        api = HfApi()
        shas = {{rev: api.model_info("{TWO_REVISIONS}", revision=rev).sha for rev in ("main", "{OLD_TAG}")}}
        main = AutoTokenizer.from_pretrained("{TWO_REVISIONS}", token="{TOKEN}")
        old = AutoTokenizer.from_pretrained("{TWO_REVISIONS}", revision="{OLD_TAG}", token="{TOKEN}")
        model = AutoModelForCausalLM.from_pretrained("{TWO_REVISIONS}", revision="{OLD_TAG}", token="{TOKEN}")
        # transformers 5 keeps no _commit_hash on the config: the cache's refs say what resolved
        refs = constants.HF_HUB_CACHE + "/models--meta-llama--Meta-Llama-3.1-8B-Instruct/refs/"
        result = {{"eos": [main.eos_token, old.eos_token], "shas": shas,
                   "commit": open(refs + "{OLD_TAG}").read(), "type": model.config.model_type,
                   "generation_eos": model.generation_config.eos_token_id}}
    """)
    assert result["eos"] == ["<|eot_id|>", "<|end_of_text|>"]
    assert result["commit"] == result["shas"][OLD_TAG] != result["shas"]["main"]
    assert result["type"] == "llama"
    assert len(result["generation_eos"]) == 3  # Llama-3.1's three end ids


def test_a_gated_repo_refuses_without_the_token_and_loads_with_it(hub_python):
    refused = hub_python.error("""
        from transformers import AutoTokenizer
        AutoTokenizer.from_pretrained("google/gemma-2b-it")
    """)
    assert "GatedRepoError" in refused["mro"] + refused["causes"], refused["traceback"]
    loaded = hub_python.value(f"""
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tokenizer = AutoTokenizer.from_pretrained("google/gemma-2b-it", token="{TOKEN}")
        model = AutoModelForCausalLM.from_pretrained("google/gemma-2b-it", token="{TOKEN}")
        result = [tokenizer.eos_token, type(model).__name__]
    """)
    assert loaded == ["<eos>", "GemmaForCausalLM"]


def test_a_renamed_repo_loads_under_its_old_name(hub_python):
    result = hub_python.value("""
        from transformers import AutoModelForCausalLM
        from huggingface_hub import HfApi
        model = AutoModelForCausalLM.from_pretrained("MoxoffSpA/Moxoff-Phi3Mini-ORPO")
        result = [type(model).__name__, HfApi().model_info("MoxoffSpA/Moxoff-Phi3Mini-ORPO").id]
    """)
    assert result == ["Phi3ForCausalLM", "MoxoffSrL/Moxoff-Phi3Mini-ORPO"]


def test_missing_repo_and_bad_revision_fail_with_the_hub_errors(hub_python):
    missing = hub_python.error("""
        from transformers import AutoConfig
        AutoConfig.from_pretrained("mlkro/no-such-model")
    """)
    assert "RepositoryNotFoundError" in missing["mro"] + missing["causes"]
    bad = hub_python.error(f"""
        from transformers import AutoConfig
        AutoConfig.from_pretrained("{PHI}", revision="no-such-revision")
    """)
    assert "RevisionNotFoundError" in bad["mro"] + bad["causes"]


def test_a_missing_generation_config_is_treated_as_absent(hub_python, hub):
    result = hub_python.value(f"""
        from transformers import AutoModelForCausalLM
        model = AutoModelForCausalLM.from_pretrained("{NO_GENERATION_CONFIG}")
        result = [model.generation_config.eos_token_id, model.config.eos_token_id,
                  model.generation_config.do_sample, model.generation_config.temperature]
    """)
    asked = [r for r in hub.requests if r["path"].startswith(f"/{NO_GENERATION_CONFIG}/resolve/")]
    assert any(r["path"].endswith("/generation_config.json") for r in asked)  # and got 404
    assert result[0] == result[1]  # from config.json, not from a generation_config.json
    # the Llama-2 chat generation config samples at temperature 0.6; the default does not
    assert not result[2] and result[3] != 0.6


def test_peft_loads_the_published_adapter_on_the_base_it_names(hub_python):
    result = hub_python.value(f"""
        import json, torch
        from huggingface_hub import hf_hub_download
        from peft import PeftModel
        from transformers import AutoModelForCausalLM, AutoTokenizer
        config = json.load(open(hf_hub_download("{ADAPTER}", "adapter_config.json")))
        base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
        tokenizer = AutoTokenizer.from_pretrained(config["base_model_name_or_path"])
        ids = tokenizer("the baker walked to the", return_tensors="pt")["input_ids"]
        with torch.no_grad():
            before = base(input_ids=ids).logits
            tuned = PeftModel.from_pretrained(base, "{ADAPTER}")
            after = tuned(input_ids=ids).logits
        result = [config["base_model_name_or_path"], float((after - before).abs().max())]
    """)
    assert result[0] == "unsloth/llama-2-7b-chat-bnb-4bit"
    assert result[1] > 1e-3  # the adapter changes the logits


def test_datasets_loads_the_three_data_sets_from_their_hub_layouts(hub_python, shared_data):
    result = hub_python.value("""
        import datasets
        rtp = datasets.load_dataset("allenai/real-toxicity-prompts", split="train")
        dolly = datasets.load_dataset("databricks/databricks-dolly-15k", split="train")
        race = datasets.load_dataset("Song-SW/CEB", data_files="CEB-Continuation-T/race.json",
                                     split="train")
        credit = datasets.load_dataset("Song-SW/CEB",
                                       data_files="CEB Classification/CEB-Credit/gender.json",
                                       split="train")
        result = {"rtp": rtp.to_list(), "dolly": dolly.to_list(), "race": race.to_list(),
                  "credit": len(credit)}
    """)
    rtp_lines = (shared_data / "rtp" / "toxic.jsonl").read_text().splitlines()
    rtp_lines += (shared_data / "rtp" / "nontoxic.jsonl").read_text().splitlines()
    rtp = [json.loads(line) for line in rtp_lines if line.strip()]
    assert len(result["rtp"]) == len(rtp) == 587
    assert [r["prompt"]["text"] for r in result["rtp"]] == [r["prompt"]["text"] for r in rtp]
    dolly = [json.loads(line) for line in (shared_data / "dolly" / "dolly_sample.jsonl").open()]
    assert result["dolly"] == dolly
    race = json.loads((shared_data / "ceb" / "CEB-Continuation-T" / "race.json").read_text())
    assert result["race"] == race
    assert result["credit"] > 0


def test_finetox_loaders_read_the_hub(hub_python, hub):
    """finetox's own hub path (loading.py, weights_layout.py, prompts.py, tune/data.py), read
    without change, through the stand-in."""
    result = hub_python.value(f"""
        import os
        from finetox.loading import load_tokenizer
        from finetox.weights_layout import detect_layout
        from finetox.prompts import load_ceb, load_rtp
        from finetox.tune.data import load_dolly
        os.environ["HF_TOKEN"] = "{TOKEN}"
        try:
            tokenizer = load_tokenizer("{TWO_REVISIONS}", revision="{OLD_TAG}")
            layouts = {{}}
            for repo in ("mlkro/llama-2-7b-chat-bnb-4bit-dolly-toxicity-study",
                         "mlkro/Meta-Llama-3.1-8B-Instruct-bnb-4bit-toxicity-study",
                         "mlkro/gemma-2-2b-it-bnb-4bit-dolly-toxicity-study",
                         "mlkro/Phi-3-mini-4k-instruct-bnb-4bit-dolly-toxicity-study"):
                layout = detect_layout(repo)
                layouts[repo] = [layout.kind, layout.base, layout.tokenizer_from, layout.commit]
            rtp = load_rtp({{"hub": "allenai/real-toxicity-prompts", "revision": None,
                            "split": "train"}})
            ceb = load_ceb({{"hub": "Song-SW/CEB", "revision": None,
                            "variant": "CEB-Continuation-T", "hub_file": "{{variant}}/{{subset}}.json",
                            "text_field": "prompt"}}, ["race", "age"])
            dolly = load_dolly({{"hub": "databricks/databricks-dolly-15k", "revision": None,
                                "split": "train"}})
        finally:
            del os.environ["HF_TOKEN"]
        result = {{"eos": tokenizer.eos_token, "layouts": layouts, "rtp": [len(rtp.frame), rtp.info.get("commit")],
                   "ceb": {{k: len(v.frame) for k, v in ceb.items()}},
                   "dolly": [len(dolly.records), dolly.available]}}
    """)
    assert result["eos"] == "<|end_of_text|>"
    layouts = result["layouts"]
    assert layouts["mlkro/llama-2-7b-chat-bnb-4bit-dolly-toxicity-study"][:3] == [
        "adapter", "unsloth/llama-2-7b-chat-bnb-4bit", "base",
    ]  # fmt: skip
    assert layouts["mlkro/Meta-Llama-3.1-8B-Instruct-bnb-4bit-toxicity-study"][2] == "published"
    assert layouts["mlkro/gemma-2-2b-it-bnb-4bit-dolly-toxicity-study"][0] == "full"
    assert layouts["mlkro/Phi-3-mini-4k-instruct-bnb-4bit-dolly-toxicity-study"][0] == "full"
    assert result["rtp"][0] > 0 and len(result["rtp"][1]) == 40
    assert set(result["ceb"]) == {"race", "age"} and min(result["ceb"].values()) > 0
    assert result["dolly"] == [23, 23]


# each check of the offline runs: its result, or the error it raised (as text)
OFFLINE_CHECKS = f"""
    import datasets
    from huggingface_hub import hf_hub_download
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from finetox.generation.model import load_model
    from finetox.prompts import load_rtp
    from finetox.weights_layout import detect_layout

    def transformers_model():
        tokenizer = AutoTokenizer.from_pretrained("{PHI}")
        model = AutoModelForCausalLM.from_pretrained("{PHI}")
        return [tokenizer.eos_token, float(sum(p.double().sum() for p in model.parameters()))]

    def datasets_rtp():
        rtp = datasets.load_dataset("allenai/real-toxicity-prompts", split="train")
        return [len(rtp), rtp[0]]

    def ceb_file():
        path = hf_hub_download("Song-SW/CEB", "CEB-Continuation-T/race.json", repo_type="dataset")
        return open(path).read()[:200]

    def finetox_rtp():
        table = load_rtp({{"hub": "allenai/real-toxicity-prompts", "revision": None, "split": "train"}})
        return len(table.frame)

    def finetox_published():
        layouts = {{}}
        for repo in ("{PUBLISHED_ADAPTER}", "{PUBLISHED_SHARDED}"):
            layout = detect_layout(repo)
            load_model({{"source": repo, "dtype": "float32"}}, layout=layout)
            layouts[repo] = layout.identity()
        return layouts

    result = {{}}
    for check in (transformers_model, datasets_rtp, ceb_file, finetox_rtp, finetox_published):
        try:
            result[check.__name__] = {{"ok": check()}}
        except Exception as error:
            result[check.__name__] = {{"error": f"{{type(error).__name__}}: {{error}}"}}
"""


@pytest.fixture(scope="module")
def offline_runs(hub, tmp_path_factory) -> tuple[dict, dict]:
    """OFFLINE_CHECKS online into a fresh HF_HOME, then again with HF_HUB_OFFLINE=1 and the
    stand-in stopped: (online results, offline results)."""
    home = tmp_path_factory.mktemp("hf-home-offline")
    logs = tmp_path_factory.mktemp("offline-workers")
    online = HubPython(hub_env(hub.url, home), logs / "online")
    try:
        first = online.value(OFFLINE_CHECKS)
    finally:
        online.close()
    with hub.stopped():
        offline = HubPython(hub_env(hub.url, home, HF_HUB_OFFLINE="1"), logs / "offline")
        try:
            second = offline.value(OFFLINE_CHECKS)
        finally:
            offline.close()
    assert all("ok" in check for check in first.values()), first
    return first, second


@pytest.mark.parametrize("check", ["transformers_model", "datasets_rtp", "ceb_file", "finetox_rtp"])
def test_a_second_load_offline_reads_the_cache_with_the_stand_in_stopped(offline_runs, check):
    online, offline = offline_runs
    assert offline[check] == online[check]


def test_finetox_lists_a_published_model_offline_from_the_cache(offline_runs):
    online, offline = offline_runs
    assert offline["finetox_published"] == online["finetox_published"]


def test_finetox_records_the_commit_a_hub_model_was_loaded_from(hub_python):
    result = hub_python.value(f"""
        import os, torch
        from huggingface_hub import HfApi
        from finetox.loading import load_causal_lm, resolved_commit
        os.environ["HF_TOKEN"] = "{TOKEN}"
        try:
            model = load_causal_lm("google/gemma-2-2b-it", dtype="float32", on=torch.device("cpu"))
            result = [resolved_commit("google/gemma-2-2b-it", model),
                      HfApi().model_info("google/gemma-2-2b-it").sha]
        finally:
            del os.environ["HF_TOKEN"]
    """)
    assert result[0] == result[1]


def test_finetox_loads_a_published_adapter_and_the_classifier_from_the_hub(hub_python):
    result = hub_python.value("""
        import torch
        from finetox.generation.model import load_model
        from finetox.scoring import ClassifierSpec, load_classifier, score_texts
        from finetox.weights_layout import detect_layout
        layout = detect_layout("mlkro/gemma-2b-it-bnb-4bit-dolly-toxicity-study")
        model, tokenizer = load_model({"source": layout.source, "dtype": "float32"}, layout=layout)
        spec = ClassifierSpec(name="roberta_hate", source="facebook/roberta-hate-speech-dynabench-r4-target")
        classifier = load_classifier(spec, on=torch.device("cpu"))
        scores = score_texts(classifier, ["you are such a stupid idiot", "the baker walked to the market"],
                             progress=False)
        result = [layout.kind, layout.model[0], type(model).__name__, tokenizer.eos_token,
                  [float(s) for s in scores]]
    """)
    assert result[:4] == [
        "adapter",
        "unsloth/gemma-2b-it-bnb-4bit",
        "PeftModelForCausalLM",
        "<eos>",
    ]
    assert result[4][0] > 0.5 > result[4][1]  # the demo classifier finds the lexicon


def test_finetox_records_the_new_name_of_a_renamed_repo(hub_python, tmp_path):
    """generate follows the rename and its generations file names the repository's new name,
    which Appendix A then shows beside the configured id."""
    result = hub_python.value(f"""
        import pandas as pd
        from finetox.generation import generate_file
        from finetox.io import parquet_metadata

        prompts = pd.DataFrame({{"prompt_id": ["p0", "p1"], "subset": ["random"] * 2,
                                "text": ["The river", "A kind friend"]}})
        prompts.to_parquet("{tmp_path}/prompts.parquet")
        generate_file("MoxoffSpA/Moxoff-Phi3Mini-ORPO", "{tmp_path}/prompts.parquet",
                      "{tmp_path}/gens.parquet", max_new_tokens=3, dtype="float32")
        model = parquet_metadata("{tmp_path}/gens.parquet")["model"]
        result = [model["source"], model["found_as"], len(model["commit"])]
    """)
    assert result == ["MoxoffSpA/Moxoff-Phi3Mini-ORPO", "MoxoffSrL/Moxoff-Phi3Mini-ORPO", 40]
