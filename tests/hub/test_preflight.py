"""`finetox preflight` against the stand-in: every problem of a config in one run (a removed
repository, a bad revision, gated repositories without a token), the sizes it sums equal to the
files the stand-in serves, the bases of published adapters, and --offline against the cache
alone with the stand-in stopped."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO
from tests.hub.conftest import HubPython, hub_env
from tests.hub.repos import TOKEN, served_id

pytestmark = pytest.mark.hub

CONFIG = REPO / "config" / "config.yaml"
GATED = ["meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-7b-chat-hf", "meta-llama/Meta-Llama-3.1-8B",
         "meta-llama/Meta-Llama-3.1-8B-Instruct", "google/gemma-2b", "google/gemma-2b-it",
         "google/gemma-2-2b", "google/gemma-2-2b-it"]  # fmt: skip


def preflight(hub, home, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import sys; from finetox.cli import main; sys.exit(main())",
         "preflight", *args],
        capture_output=True, text=True, env=hub_env(hub.url, home, **env), cwd=REPO, timeout=300,
    )  # fmt: skip


def edited(tmp_path, change, name="config.yaml"):
    config = yaml.safe_load(CONFIG.read_text())
    change(config)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_every_problem_of_a_config_at_once(hub, tmp_path):
    def break_it(config):
        phi = config["families"]["phi3-mini"]
        phi["community"][1]["id"] = "Essacheez/removed-model"
        phi["instruct"]["revision"] = "no-such-rev"

    result = preflight(hub, tmp_path / "home", str(edited(tmp_path, break_it)))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("finetox preflight: ") for line in lines)
    removed = [line for line in lines if "Essacheez/removed-model" in line]
    assert len(removed) == 1 and "no such repository" in removed[0]
    assert "(used by phi3-mini-alpaca-style)" in removed[0]  # the slug that names it
    bad = [line for line in lines if "at revision 'no-such-rev'" in line]
    assert len(bad) == 1 and "'microsoft/Phi-3-mini-4k-instruct'" in bad[0]
    gated = [line for line in lines if ": gated; set HF_TOKEN" in line]
    assert sorted(re.search(r"model '([^']+)'", line)[1] for line in gated) == sorted(GATED)
    assert len(lines) == 1 + 1 + len(GATED) + 1  # and the count line
    assert lines[-1].startswith(f"finetox preflight: {2 + len(GATED)} problem(s)")
    assert not result.stdout


def test_a_token_not_granted_is_a_problem_per_gated_repository(hub, tmp_path):
    from tests.hub.repos import UNGRANTED_TOKEN

    result = preflight(hub, tmp_path / "home", str(CONFIG), HF_TOKEN=UNGRANTED_TOKEN)
    assert result.returncode == 2
    refused = [line for line in result.stderr.splitlines() if "not been granted" in line]
    assert len(refused) == len(GATED)
    assert UNGRANTED_TOKEN not in result.stderr + result.stdout


@pytest.fixture(scope="module")
def published_on(tmp_path_factory):
    folder = tmp_path_factory.mktemp("preflight-config")

    def switch(config):
        config["comparisons"]["instruct_vs_dolly_published"] = True

    return edited(folder, switch)


def test_the_table_sums_the_served_files(hub, hub_root, published_on, tmp_path):
    result = preflight(hub, tmp_path / "home", str(published_on), HF_TOKEN=TOKEN)
    assert result.returncode == 0, result.stderr
    worker = HubPython(hub_env(hub.url, tmp_path / "home", HF_TOKEN=TOKEN), tmp_path / "log")
    try:
        sources = worker.value(f"""
            from finetox.hub.preflight import preflight
            result = [[s.kind, s.id, s.commit, s.files, s.used_by, s.problem]
                      for s in preflight({str(published_on)!r})]
        """)
    finally:
        worker.close()
    manifest = json.loads((hub_root / "manifest.json").read_text())
    served = {(r["type"], r["id"]): r for r in manifest["repos"]}
    assert all(problem is None for *_, problem in sources)
    ids = {source[1] for source in sources}
    # 28 models less the 6 Dolly ones (their instruct repositories), 6 published, their 3
    # adapter bases, the classifier, 3 data sets
    assert len(sources) == 22 + 6 + 3 + 1 + 3
    assert {"unsloth/llama-2-7b-chat-bnb-4bit", "unsloth/gemma-2b-it-bnb-4bit"} <= ids
    total = 0
    for kind, repo_id, commit, files, _, _ in sources:
        repo = served[(kind, served_id(repo_id))]
        assert commit == repo["refs"]["main"]
        folder = hub_root / "commits" / commit
        for name, size in files.items():
            assert size == (folder / name).stat().st_size, (repo_id, name)
        total += sum(files.values())
        on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
        if kind == "dataset" and repo_id != "Song-SW/CEB":
            assert set(files) == on_disk - {".gitattributes"}
        elif kind == "model":
            weights = {n for n in on_disk if n.endswith((".safetensors", ".bin"))}
            assert weights <= set(files) and "README.md" not in files
    ceb = next(s for s in sources if s[1] == "Song-SW/CEB")
    assert sorted(ceb[3]) == [f"CEB-Continuation-T/{axis}.json"
                              for axis in ("age", "gender", "race", "religion")]  # fmt: skip
    sharded = next(s for s in sources if s[1].startswith("mlkro/Phi-3-mini"))
    assert "model.safetensors.index.json" in sharded[3] and len(
        [n for n in sharded[3] if n.endswith(".safetensors")]) > 1  # fmt: skip
    adapter = next(
        s for s in sources if s[1] == "mlkro/llama-2-7b-chat-bnb-4bit-dolly-toxicity-study"
    )
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(adapter[3])
    # the printed total is the sum of the files, nothing cached yet
    summary = result.stdout.splitlines()[-2]
    assert summary.startswith(f"{len(sources)} repositories, ") and "to download" in summary
    shown = re.search(r"in all; to download: ([\d.]+) MiB", summary)[1]
    assert shown == f"{total / 2**20:.1f}"
    assert "GPU hours: not estimated" in result.stdout.splitlines()[-1]


def small_config(config):
    """One family (Phi-3-mini: no gated repository), its community models, the classifier and
    the prompt data sets; nothing tuned."""
    config["families"] = {"phi3-mini": config["families"]["phi3-mini"]}
    config["families"]["phi3-mini"].pop("dolly_published")
    config["comparisons"].update(base_vs_instruct=False, instruct_vs_dolly=False)


def test_offline_checks_the_cache_alone(hub, tmp_path):
    config = edited(tmp_path, small_config)
    home = tmp_path / "home"
    fill = HubPython(hub_env(hub.url, home), tmp_path / "fill")
    try:
        listed = fill.value(f"""
            from finetox.hub.preflight import preflight
            from huggingface_hub import hf_hub_download
            sources = preflight({str(config)!r})
            for source in sources:  # what a run would fetch, fetched
                for name in source.files:
                    hf_hub_download(source.id, name, revision=source.commit, repo_type=source.kind)
            result = [[s.id, s.commit, sorted(s.files), s.problem] for s in sources]
        """)
    finally:
        fill.close()
    assert [row[3] for row in listed] == [None] * len(listed)
    with hub.stopped():
        offline = preflight(hub, home, str(config), "--offline")
        assert offline.returncode == 0, offline.stderr
        table = offline.stdout.splitlines()
        for repo_id, commit, files, _ in listed:
            row = next(line for line in table if line.startswith(("model ", "dataset "))
                       and line.split()[1] == repo_id)  # fmt: skip
            assert commit[:12] in row and f" {len(files)} " in row
        assert "all in the local cache" in table[-2]
        # a weight file lost from the cache is a problem, named
        phi = home / "hub" / "models--microsoft--Phi-3-mini-4k-instruct" / "snapshots"
        for weights in phi.rglob("*.safetensors"):
            weights.unlink()
        missing = preflight(hub, home, str(config), "--offline")
    assert missing.returncode == 2
    lines = missing.stderr.splitlines()
    assert len(lines) == 2 and "'microsoft/Phi-3-mini-4k-instruct'" in lines[0]
    assert "no weights" in lines[0]


def test_offline_without_a_cache_names_every_source(hub, tmp_path):
    config = edited(tmp_path, small_config)
    with hub.stopped():
        result = preflight(hub, tmp_path / "empty", str(config), "--offline")
    assert result.returncode == 2
    lines = result.stderr.splitlines()[:-1]
    assert len(lines) == 1 + 2 + 1 + 2  # instruct, community, classifier, RTP and CEB
    assert all("not in the local cache" in line for line in lines)


def test_the_workflow_step_raises_every_problem_or_writes_what_it_found(hub, tmp_path):
    """require_ready, what the workflow's first step calls: a ConfigError with one line per
    gated repository without the token; with it, the JSON of the sources (no token in it)."""
    code = f"""
        from finetox.config import load_study_file
        from finetox.hub.preflight import require_ready
        require_ready(load_study_file({str(CONFIG)!r}), {str(tmp_path / "preflight.json")!r})
        result = "ready"
    """
    worker = HubPython(hub_env(hub.url, tmp_path / "home"), tmp_path / "no-token")
    try:
        refused = worker.error(code)
    finally:
        worker.close()
    assert refused["error"] == "ConfigError"
    lines = refused["message"].splitlines()
    assert len(lines) == len(GATED) and all(": gated; set HF_TOKEN" in line for line in lines)
    assert not (tmp_path / "preflight.json").exists()
    worker = HubPython(hub_env(hub.url, tmp_path / "home", HF_TOKEN=TOKEN), tmp_path / "token")
    try:
        assert worker.value(code) == "ready"
    finally:
        worker.close()
    written = (tmp_path / "preflight.json").read_text()
    assert TOKEN not in written
    sources = json.loads(written)["sources"]
    assert len(sources) == 26 and all(len(s["commit"]) == 40 for s in sources)
