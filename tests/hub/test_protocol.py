"""huggingface_hub (as pinned) against the hub stand-in, in this process through `endpoint=`
and a temporary cache_dir: the repositories config.yaml names, files and their metadata,
snapshots, the errors and what the client makes of them, gated access, renamed repositories,
revisions, tree listings, paths-info and the model listing."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.hub.repos import (
    CONFIG,
    NO_GENERATION_CONFIG,
    OLD_BRANCH,
    OLD_TAG,
    RENAMED,
    TOKEN,
    TWO_REVISIONS,
    UNGRANTED_TOKEN,
    configured_ids,
)

pytestmark = pytest.mark.hub

SHA = re.compile(r"[0-9a-f]{40}")
CEB = "Song-SW/CEB"
LLAMA31 = "meta-llama/Meta-Llama-3.1-8B-Instruct"
PHI = "microsoft/Phi-3-mini-4k-instruct"


def raw(method: str, url: str, headers: dict | None = None):
    """One request, redirects not followed: (status, headers, body)."""
    split = urlsplit(url)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=30)
    connection.request(method, split.path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.headers, body


@pytest.fixture
def api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.url, token=False)


@pytest.fixture
def download(hub, tmp_path):
    """hf_hub_download against the stand-in into a fresh cache."""
    from huggingface_hub import hf_hub_download

    def fetch(repo_id, filename, **kwargs):
        kwargs.setdefault("token", False)
        return hf_hub_download(repo_id, filename, endpoint=hub.url, cache_dir=tmp_path, **kwargs)

    return fetch


def test_every_id_of_the_paper_config_is_served(api):
    ids = configured_ids(yaml.safe_load(CONFIG.read_text()))
    assert (len(ids["model"]), len(ids["published"]), len(ids["dataset"])) == (22, 6, 3)
    for repo_id in ids["model"] + ids["published"] + ids["classifier"]:
        info = api.model_info(repo_id)
        assert SHA.fullmatch(info.sha), repo_id
        assert info.id == RENAMED.get(repo_id, repo_id)
        assert "config.json" in {s.rfilename for s in info.siblings} or any(
            s.rfilename == "adapter_config.json" for s in info.siblings
        ), repo_id
    for repo_id in ids["dataset"]:
        assert SHA.fullmatch(api.dataset_info(repo_id).sha)


def test_a_file_downloads_with_its_metadata(hub, api, download):
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    path = download(PHI, "config.json")
    data = Path(path).read_bytes()
    assert json.loads(data)["model_type"] == "phi3"
    metadata = get_hf_file_metadata(hf_hub_url(PHI, "config.json", endpoint=hub.url))
    assert metadata.commit_hash == api.model_info(PHI).sha
    assert metadata.etag == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert metadata.size == len(data)
    weights = get_hf_file_metadata(hf_hub_url(PHI, "model.safetensors", endpoint=hub.url))
    blob = Path(download(PHI, "model.safetensors")).read_bytes()
    assert weights.etag == hashlib.sha256(blob).hexdigest()  # an LFS file's etag is its sha256


def test_get_honours_range_and_no_xet_header_is_sent(hub):
    url = hub.resolve_url(PHI, "config.json")
    whole = raw("GET", url)[2]
    status, headers, part = raw("GET", url, {"Range": "bytes=10-19"})
    assert status == 206
    assert part == whole[10:20]
    assert headers["Content-Range"] == f"bytes 10-19/{len(whole)}"
    assert raw("GET", url, {"Range": "bytes=-5"})[2] == whole[-5:]
    status, headers, _ = raw("HEAD", url)
    assert headers["ETag"].startswith('"') and SHA.fullmatch(headers["X-Repo-Commit"])
    assert int(headers["Content-Length"]) == len(whole)
    assert not [h for h in headers if "xet" in h.lower()]
    assert "xet" not in headers.get("Link", "")


def test_snapshot_download_fetches_the_listed_files(hub, api, tmp_path):
    from huggingface_hub import snapshot_download

    repo_id = "mlkro/Phi-3-mini-4k-instruct-bnb-4bit-dolly-toxicity-study"  # sharded
    folder = snapshot_download(repo_id, endpoint=hub.url, cache_dir=tmp_path, token=False)
    listed = {f.path: f for f in api.list_repo_tree(repo_id, recursive=True) if f.size}
    files = {p.name for p in Path(folder).iterdir()}
    assert files == set(listed)
    assert "model.safetensors.index.json" in files
    index = json.loads((Path(folder) / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) <= files
    assert len(set(index["weight_map"].values())) > 1
    assert folder.endswith(api.model_info(repo_id).sha)


def test_a_missing_file_is_entry_not_found_and_its_absence_cached(hub, api, download, tmp_path):
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import EntryNotFoundError
    from huggingface_hub.file_download import _CACHED_NO_EXIST

    with pytest.raises(EntryNotFoundError):
        download(NO_GENERATION_CONFIG, "generation_config.json")
    commit = api.model_info(NO_GENERATION_CONFIG).sha
    cached = try_to_load_from_cache(
        NO_GENERATION_CONFIG, "generation_config.json", cache_dir=tmp_path, revision=commit
    )
    assert cached is _CACHED_NO_EXIST


def test_missing_repo_and_bad_revision_raise_their_errors(api, download):
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    with pytest.raises(RepositoryNotFoundError):
        download("mlkro/no-such-model", "config.json")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("mlkro/no-such-model")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("allenai/no-such-data")
    with pytest.raises(RevisionNotFoundError):
        download(PHI, "config.json", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(PHI, revision="0" * 40)


def test_gated_repo_needs_an_accepted_token(hub, api, download):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError

    assert api.model_info(LLAMA31).gated == "manual"  # its card and listing are public
    with pytest.raises(GatedRepoError) as anonymous:
        download(LLAMA31, "config.json")
    assert anonymous.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as refused:
        download(LLAMA31, "config.json", token=UNGRANTED_TOKEN)
    assert refused.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError, match="Invalid credentials"):
        HfApi(endpoint=hub.url, token="hf_unknown").model_info(PHI)
    assert json.loads(Path(download(LLAMA31, "config.json", token=TOKEN)).read_text())


def test_renamed_repo_redirects_to_its_new_name(hub, api, download):
    old, new = "MoxoffSpA/Moxoff-Phi3Mini-ORPO", "MoxoffSrL/Moxoff-Phi3Mini-ORPO"
    status, headers, _ = raw("HEAD", hub.resolve_url(old, "config.json"))
    assert status == 307
    assert headers["Location"] == f"/{new}/resolve/main/config.json"  # relative
    assert api.model_info(old).id == new
    assert json.loads(Path(download(old, "config.json")).read_text())["model_type"] == "phi3"


def test_a_revision_pin_changes_what_loads(api, download):
    main, old = (
        api.model_info(TWO_REVISIONS).sha,
        api.model_info(TWO_REVISIONS, revision=OLD_TAG).sha,
    )
    assert main != old
    assert api.model_info(TWO_REVISIONS, revision=OLD_BRANCH).sha == old
    assert api.model_info(TWO_REVISIONS, revision=old).sha == old

    def eos(revision):
        path = download(TWO_REVISIONS, "special_tokens_map.json", revision=revision, token=TOKEN)
        return json.loads(Path(path).read_text())["eos_token"]

    assert (eos("main"), eos(OLD_TAG), eos(old)) == (
        "<|eot_id|>",
        "<|end_of_text|>",
        "<|end_of_text|>",
    )


def test_tree_listings_and_paths_info(api):
    root = {(f.path, type(f).__name__) for f in api.list_repo_tree(CEB, repo_type="dataset")}
    assert ("CEB-Continuation-T", "RepoFolder") in root
    assert ("CEB Classification", "RepoFolder") in root
    assert ("README.md", "RepoFile") in root
    assert not any("/" in path for path, _ in root)
    everything = {f.path for f in api.list_repo_tree(CEB, repo_type="dataset", recursive=True)}
    assert {
        f"CEB-Continuation-T/{a}.json" for a in ("race", "gender", "age", "religion")
    } <= everything
    assert "CEB Classification/CEB-Credit/gender.json" in everything
    inside = {f.path for f in api.list_repo_tree(CEB, "CEB-Continuation-T", repo_type="dataset")}
    assert inside == {f"CEB-Continuation-T/{a}.json" for a in ("race", "gender", "age", "religion")}
    infos = api.get_paths_info(
        CEB, ["README.md", "CEB-Continuation-T", "no/such/file"], repo_type="dataset"
    )
    assert sorted((i.path, type(i).__name__) for i in infos) == [
        ("CEB-Continuation-T", "RepoFolder"), ("README.md", "RepoFile"),
    ]  # fmt: skip


def test_model_listing_filters_by_tag_and_sorts_by_downloads(api):
    tag = f"base_model:finetune:{LLAMA31}"
    found = list(api.list_models(filter=tag, sort="downloads"))
    downloads = [m.downloads for m in found]
    assert downloads == sorted(downloads, reverse=True) and len(found) >= 3
    ids = {m.id for m in found}
    assert {
        "VAGOsolutions/Llama-3.1-SauerkrautLM-8b-Instruct",
        "shenzhi-wang/Llama3.1-8B-Chinese-Chat",
    } <= ids
    assert all(tag in m.tags for m in found)
    assert [m.id for m in api.list_models(filter=tag, sort="downloads", limit=2)] == [
        m.id for m in found[:2]
    ]
    quantized = list(api.list_models(filter=f"base_model:quantized:{LLAMA31}"))
    assert {m.library_name for m in quantized} >= {"gguf"}
    gated = [m for m in found if m.gated]
    assert gated and all(m.gated in ("auto", "manual") for m in gated)
    both = list(api.list_models(filter=[tag, "gguf"]))
    assert both == []  # every filter must match


def test_special_tokens_as_the_real_repositories_declare(download):
    """Llama-3.1-8B-Instruct's tokenizer ends a turn with <|eot_id|>, as do the fine-tunes that
    copy it; its base model's eos is <|end_of_text|>; the other families keep their own."""

    def eos(repo_id):
        path = download(repo_id, "special_tokens_map.json", token=TOKEN)
        config = json.loads(
            Path(download(repo_id, "tokenizer_config.json", token=TOKEN)).read_text()
        )
        declared = json.loads(Path(path).read_text())["eos_token"]
        assert config["eos_token"] == declared, repo_id
        return declared

    assert eos(LLAMA31) == "<|eot_id|>"
    assert eos("VAGOsolutions/Llama-3.1-SauerkrautLM-8b-Instruct") == "<|eot_id|>"
    assert eos("shenzhi-wang/Llama3.1-8B-Chinese-Chat") == "<|eot_id|>"
    assert eos("meta-llama/Meta-Llama-3.1-8B") == "<|end_of_text|>"
    assert eos("meta-llama/Llama-2-7b-chat-hf") == "</s>"
    assert eos("google/gemma-2-2b-it") == "<eos>"
    assert eos(PHI) == "<|endoftext|>"
