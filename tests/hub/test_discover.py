"""`finetox discover` against the stand-in's model listing: the order by downloads across the
relations asked, what is left out (GGUF, quantized unless asked, gated unless asked, models the
config lists), the limit, unique slugs, and --write followed by a dry run that plans exactly the
new models' jobs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.hub.conftest import hub_env

pytestmark = pytest.mark.hub

BASE = "meta-llama/Meta-Llama-3.1-8B-Instruct"
VAGO = "VAGOsolutions/Llama-3.1-SauerkrautLM-8b-Instruct"
CHINESE = "shenzhi-wang/Llama3.1-8B-Chinese-Chat"
LORA = "standin-lora/Meta-Llama-3.1-8B-Instruct-lora-chat"
FORK_LORA = "standin-fork/Meta-Llama-3.1-8B-Instruct-lora-chat"
FORK_CHINESE = "standin-fork/Llama3.1-8B-Chinese-Chat"
GATED = "standin-gated/Meta-Llama-3.1-8B-Instruct-gated-ft"
MERGE = "standin-merge/Meta-Llama-3.1-8B-Instruct-merged-slerp"
UNSLOTH = "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit"
GGUF = "standin-quant/Meta-Llama-3.1-8B-Instruct-GGUF"


@pytest.fixture(scope="module")
def discover(hub, tmp_path_factory):
    home = tmp_path_factory.mktemp("hf-home-discover")
    work = tmp_path_factory.mktemp("discover")

    def run(*args: str, check: bool = True) -> tuple[subprocess.CompletedProcess, list[dict]]:
        out = work / "found.json"
        out.unlink(missing_ok=True)
        result = subprocess.run(
            [sys.executable, "-c", "import sys; from finetox.cli import main; sys.exit(main())",
             "discover", BASE, "--json", str(out), *args],
            capture_output=True, text=True, env=hub_env(hub.url, home), cwd=REPO, timeout=300,
        )  # fmt: skip
        if check:
            assert result.returncode == 0, result.stderr
        return result, json.loads(out.read_text()) if out.exists() else []

    return run


def ids(found: list[dict]) -> list[str]:
    return [entry["id"] for entry in found]


def test_finetunes_and_adapters_by_downloads_without_gated_gguf_or_quantized(discover):
    result, found = discover()
    assert ids(found) == [CHINESE, LORA, VAGO, FORK_CHINESE, FORK_LORA]
    downloads = [entry["downloads"] for entry in found]
    assert downloads == sorted(downloads, reverse=True)
    assert [entry["relation"] for entry in found] == [
        "finetune", "adapter", "finetune", "finetune", "adapter",
    ]  # fmt: skip
    assert set(found[0]) == {"id", "relation", "downloads", "likes", "gated", "library_name",
                             "created_at", "slug"}  # fmt: skip
    assert found[1]["library_name"] == "peft" and found[0]["created_at"] == "2024-07-23"
    # the table shows the same models in the same order, and says what was left out
    table = [line.split()[0] for line in result.stdout.splitlines()[1:-1]]
    assert table == ids(found)
    assert "left out: 1 gated" in result.stdout.splitlines()[-1]


def test_the_limit_the_floor_and_the_gated_switch(discover):
    assert ids(discover("--top", "2")[1]) == [CHINESE, LORA]
    assert ids(discover("--min-downloads", "1150")[1]) == [CHINESE, LORA]
    gated = discover("--include-gated", "--top", "3")[1]
    assert ids(gated) == [GATED, CHINESE, LORA] and gated[0]["gated"] == "auto"


def test_merges_and_quantizations_only_when_asked_and_never_gguf(discover):
    found = discover("--relation", "merge", "quantized")[1]
    assert ids(found) == [UNSLOTH, MERGE]  # the GGUF repo (250,000 downloads) cannot load
    assert GGUF not in ids(discover("--relation", "quantized", "--top", "50")[1])
    assert MERGE not in ids(discover("--top", "50")[1])


def test_slugs_are_unique_against_the_config_and_each_other(discover):
    found = discover("--config", str(REPO / "config" / "config.yaml"))[1]
    # the config's own community models are left out; the forks' slugs collide
    assert ids(found) == [LORA, FORK_CHINESE, FORK_LORA]
    assert [entry["slug"] for entry in found] == [
        "meta-llama-3.1-8b-instruct-lora-chat",
        "llama3.1-8b-chinese-chat-2",  # config.yaml has llama3.1-8b-chinese-chat
        "meta-llama-3.1-8b-instruct-lora-chat-2",
    ]


def test_write_adds_entries_that_a_dry_run_plans_and_nothing_else(discover, tmp_path):
    from tests.test_workflow import job_counts, snakemake

    original = (REPO / "config" / "config.yaml").read_text()
    config = tmp_path / "config.yaml"
    config.write_text(original)
    result, found = discover("--config", str(config), "--family", "llama3.1-8b", "--write",
                             "--top", "2")  # fmt: skip
    assert ids(found) == [LORA, FORK_CHINESE]
    written = config.read_text()
    added = [
        f"      - {{ slug: meta-llama-3.1-8b-instruct-lora-chat, id: {LORA}, params_b: 8.0 }}\n",
        f"      - {{ slug: llama3.1-8b-chinese-chat-2, id: {FORK_CHINESE}, params_b: 8.0 }}\n",
    ]
    anchor = f"id: {CHINESE}, params_b: 8.0 }}\n"
    assert written == original.replace(anchor, anchor + "".join(added), 1)  # the rest unchanged
    assert "2 community model(s) added to llama3.1-8b" in result.stdout
    before = job_counts(snakemake("-n", "--forceall").stdout)
    planned = snakemake("-n", "--forceall", "--configfile", str(config)).stdout
    after = job_counts(planned)
    changed = {rule: after.get(rule, 0) - before.get(rule, 0) for rule in {*after, *before}}
    assert {rule: n for rule, n in changed.items() if n} == {
        "generate": 2,
        "score": 2,
        "compare": 2,
    }
    for slug in ("meta-llama-3.1-8b-instruct-lora-chat", "llama3.1-8b-chinese-chat-2"):
        assert f"results/generations/{slug}.parquet" in planned
        assert f"results/comparisons/llama3.1-8b-instruct__vs__{slug}.csv" in planned
    # a second --write finds them in the config and adds only what it does not list yet
    again, found_again = discover("--config", str(config), "--family", "llama3.1-8b", "--write",
                                  "--top", "2")  # fmt: skip
    assert ids(found_again) == [FORK_LORA]


def test_write_needs_a_family_of_the_config(discover, tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text((REPO / "config" / "config.yaml").read_text())
    result, _ = discover("--config", str(config), "--family", "llama9", "--write", check=False)
    assert result.returncode == 2
    assert "no family 'llama9'" in result.stderr and len(result.stderr.splitlines()) == 1
    result, _ = discover("--write", check=False)
    assert result.returncode == 2 and "--write needs --family" in result.stderr
