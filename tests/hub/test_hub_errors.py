"""finetox's loaders against the hub stand-in when the hub refuses: a bad revision of a data set,
a gated model without a token or with one not granted, a removed repository. Each must stop with
one line naming the source and its revision (and the model's slug where the caller knows it) and
saying what to do; and a revision resolves to the commit that loads, online and from the cache."""

from __future__ import annotations

import pytest

from tests.hub.conftest import HubPython, hub_env
from tests.hub.repos import OLD_TAG, TOKEN, TWO_REVISIONS, UNGRANTED_TOKEN

pytestmark = pytest.mark.hub

RTP = {"hub": "allenai/real-toxicity-prompts", "revision": "no-such-rev", "split": "train"}
CEB = {"hub": "Song-SW/CEB", "revision": "no-such-rev", "variant": "CEB-Continuation-T",
       "hub_file": "{variant}/{subset}.json", "text_field": "prompt"}  # fmt: skip


def _one_line(answer: dict) -> str:
    assert answer["error"] == "InputError", answer["traceback"]
    assert "\n" not in answer["message"], answer["message"]
    return answer["message"]


def test_a_bad_revision_of_a_data_set_is_one_line_naming_it(hub_python):
    rtp = _one_line(
        hub_python.error(f"""
        from finetox.prompts import load_rtp
        load_rtp({RTP!r})
    """)
    )
    assert "'allenai/real-toxicity-prompts'" in rtp and "'no-such-rev'" in rtp
    assert "prompts.rtp" in rtp and "no revision" in rtp
    ceb = _one_line(
        hub_python.error(f"""
        from finetox.prompts import load_ceb
        load_ceb({CEB!r}, ["race"])
    """)
    )
    assert "'Song-SW/CEB'" in ceb and "'no-such-rev'" in ceb and "prompts.ceb" in ceb
    dolly = _one_line(
        hub_python.error("""
        from finetox.tune.data import load_dolly
        load_dolly({"hub": "databricks/databricks-dolly-15k", "revision": "v9", "split": "train"})
    """)
    )
    assert "'databricks/databricks-dolly-15k'" in dolly and "'v9'" in dolly


def test_a_gated_model_without_a_token_says_to_set_hf_token(hub, tmp_path):
    # a fresh cache: files cached at a commit load without asking the hub, gated or not
    worker = HubPython(hub_env(hub.url, tmp_path / "home"), tmp_path / "stderr")
    try:
        message = _one_line(
            worker.error("""
            import torch
            from finetox.loading import load_causal_lm
            load_causal_lm("google/gemma-2b-it", dtype="float32", on=torch.device("cpu"),
                           slug="gemma-2b-instruct")
        """)
        )
        tokenizer = _one_line(
            worker.error("""
            from finetox.loading import load_tokenizer
            load_tokenizer("meta-llama/Llama-2-7b-chat-hf")
        """)
        )
    finally:
        worker.close()
    assert message.startswith("model 'google/gemma-2b-it' (slug gemma-2b-instruct): gated;")
    assert "set HF_TOKEN" in message and f"{hub.url}/google/gemma-2b-it" in message
    assert "gated" in tokenizer and "'meta-llama/Llama-2-7b-chat-hf'" in tokenizer


def test_a_token_not_granted_says_to_accept_the_license(hub, tmp_path):
    worker = HubPython(hub_env(hub.url, tmp_path / "home", HF_TOKEN=UNGRANTED_TOKEN),
                       tmp_path / "stderr")  # fmt: skip
    try:
        message = _one_line(
            worker.error("""
            from finetox.loading import load_tokenizer
            load_tokenizer("google/gemma-2b-it")
        """)
        )
    finally:
        worker.close()
    assert "not been granted" in message and "accept the license" in message
    assert UNGRANTED_TOKEN not in message


def test_a_removed_repo_or_bad_revision_of_a_model_names_the_slug(hub_python):
    removed = _one_line(
        hub_python.error("""
        from finetox.generation.model import load_model
        load_model({"source": "mlkro/no-such-model", "name": "gone", "dtype": "float32"})
    """)
    )
    assert "'mlkro/no-such-model' (slug gone)" in removed and "no such repository" in removed
    bad = _one_line(
        hub_python.error("""
        from finetox.weights_layout import detect_layout
        detect_layout("mlkro/gemma-2-2b-it-bnb-4bit-dolly-toxicity-study", "v7", slug="dolly-g")
    """)
    )
    assert "(slug dolly-g) at revision 'v7'" in bad and "no revision" in bad


def test_a_revision_resolves_to_its_commit_and_the_cache_remembers_it(hub, tmp_path):
    """Online the tag resolves to its commit and the model loads at it; offline, with the
    stand-in stopped, the same commit comes from the cache's refs."""
    code = f"""
        import os
        from finetox.hub.resolve import resolve
        from finetox.loading import load_tokenizer
        os.environ["HF_TOKEN"] = "{TOKEN}"
        tokenizer = load_tokenizer("{TWO_REVISIONS}", revision="{OLD_TAG}")
        result = [resolve("{TWO_REVISIONS}", "{OLD_TAG}").commit, tokenizer.eos_token,
                  resolve("MoxoffSpA/Moxoff-Phi3Mini-ORPO").found_as]
    """
    home = tmp_path / "home"
    online = HubPython(hub_env(hub.url, home), tmp_path / "online")
    try:
        first = online.value(code)
        served = online.value(f"""
            from huggingface_hub import HfApi
            result = HfApi().model_info("{TWO_REVISIONS}", revision="{OLD_TAG}", token="{TOKEN}").sha
        """)
    finally:
        online.close()
    assert first[0] == served and first[1] == "<|end_of_text|>"
    assert first[2] == "MoxoffSrL/Moxoff-Phi3Mini-ORPO"
    with hub.stopped():
        offline = HubPython(hub_env(hub.url, home, HF_HUB_OFFLINE="1"), tmp_path / "offline")
        try:
            again = offline.value(
                code.replace('resolve("MoxoffSpA/Moxoff-Phi3Mini-ORPO").found_as', '"-"')
            )
            missing = _one_line(
                offline.error("""
                from finetox.hub.resolve import resolve
                resolve("google/gemma-2b-it")
            """)
            )
        finally:
            offline.close()
    assert again[:2] == first[:2]
    assert "not in the local cache" in missing and "HF_HUB_OFFLINE" in missing
