"""A published model loads as it is published: a LoRA adapter on the base its adapter_config.json
names (a plain base, and a pre-quantized 4-bit one as Unsloth's), or full weights, with the
published tokenizer when there is one; each generated through the real code from local folders,
with what was detected recorded in the generations file; the hub's listing pinned to its commit;
and a folder that cannot be read or holds both layouts refused before anything loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from finetox.cli import main
from finetox.demo.tiny_lm import build_tiny_lm
from finetox.generation import generate, generate_file, load_model, model_settings
from finetox.io import InputError
from finetox.loading import folder_sha256
from finetox.weights_layout import detect_layout

TEXTS = ["the baker walked to the", "you are such a", "my cousin said that", "ünïcödé — “hi”"]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HUB_ID = "mlkro/gemma-2b-it-bnb-4bit-dolly-toxicity-study"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return build_tiny_lm(tmp_path_factory.mktemp("published") / "base", seed=0)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("prompts") / "prompts.parquet"
    frame = pd.DataFrame(
        {"prompt_id": [f"p{i}" for i in range(len(TEXTS))], "subset": "random", "text": TEXTS}
    )
    frame.to_parquet(path)
    return path


def tuned(base: Path, **load):
    """A LoRA model on `base` whose adapter changes the continuations (lora_B starts at zero)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, **load)
    config = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )  # fmt: skip
    model = get_peft_model(model, config)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def adapter(base, tmp_path_factory) -> tuple[Path, object]:
    """An adapter folder as peft saves it (no tokenizer), and the model it was saved from."""
    model = tuned(base)
    folder = tmp_path_factory.mktemp("published") / "adapter"
    model.save_pretrained(folder)
    return folder, model


def generations(out: Path) -> tuple[list[str], dict]:
    frame = pd.read_parquet(out)
    return list(frame["generation"]), json.loads(pq.read_schema(out).metadata[b"finetox"])


def run(source: Path | str, prompts: Path, out: Path, layout: str | None = "detect", **kwargs):
    settings = {"name": out.stem, "source": str(source), "layout": layout}
    generate_file(settings, prompts, out, max_new_tokens=8, **kwargs)
    return generations(out)


def expected(model, tokenizer_source: Path) -> list[str]:
    _, tokenizer = load_model(model_settings(str(tokenizer_source)))
    return [c.generation for c in generate(model, tokenizer, TEXTS, max_new_tokens=8)]


# ---------------------------------------------------------------------------------------------
# The two layouts, generated


def test_an_adapter_folder_loads_on_the_base_its_config_names(base, adapter, prompts, tmp_path):
    folder, model = adapter
    texts, metadata = run(folder, prompts, tmp_path / "published.parquet")
    assert texts == expected(model, base)
    plain, _ = run(base, prompts, tmp_path / "base.parquet", layout=None)
    assert texts != plain
    record = metadata["model"]
    assert record["source"] == str(folder) and record["commit"] == "sha256:" + folder_sha256(folder)
    assert record["layout"] == {
        "setting": "detect",
        "kind": "adapter",
        "base": {"source": str(base), "revision": None, "commit": "sha256:" + folder_sha256(base)},
        "tokenizer_from": "base",
        "loaded_in_4bit": False,
    }
    assert metadata["adapter"] is None and metadata["adapter_commit"] is None


def test_a_full_weights_folder_loads_as_it_is(base, adapter, prompts, tmp_path):
    from transformers import AutoTokenizer

    _, model = adapter
    merged = tmp_path / "merged"
    model.merge_and_unload().save_pretrained(merged)  # the Dolly model as full weights
    AutoTokenizer.from_pretrained(base).save_pretrained(merged)
    texts, metadata = run(merged, prompts, tmp_path / "published.parquet")
    same, _ = run(merged, prompts, tmp_path / "as_any_model.parquet", layout=None)
    assert texts == same
    plain, _ = run(base, prompts, tmp_path / "base.parquet", layout=None)
    assert texts != plain
    assert metadata["model"]["commit"] == "sha256:" + folder_sha256(merged)
    assert metadata["model"]["layout"] == {
        "setting": "detect", "kind": "full", "base": None, "tokenizer_from": "published",
        "loaded_in_4bit": False,
    }  # fmt: skip


def test_an_adapter_on_a_pre_quantized_4bit_base(base, prompts, tmp_path):
    """Unsloth's bnb-4bit bases: the base's config carries its quantization, transformers
    reads it, and the adapter is applied on the 4-bit model."""
    pytest.importorskip("bitsandbytes")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    quantized = tmp_path / "base-bnb-4bit"
    four_bit = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                  bnb_4bit_compute_dtype=torch.float32)  # fmt: skip
    AutoModelForCausalLM.from_pretrained(
        base, quantization_config=four_bit, device_map={"": "cpu"}
    ).save_pretrained(quantized)
    AutoTokenizer.from_pretrained(base).save_pretrained(quantized)
    folder = tmp_path / "adapter"
    tuned(quantized).save_pretrained(folder)
    texts, metadata = run(folder, prompts, tmp_path / "published.parquet")
    model = AutoModelForCausalLM.from_pretrained(quantized, dtype=torch.float32)
    assert texts == expected(PeftModel.from_pretrained(model, folder).eval(), quantized)
    layout = metadata["model"]["layout"]
    assert layout["loaded_in_4bit"] is True and layout["base"]["source"] == str(quantized)


def test_the_tokenizer_comes_from_the_published_folder_when_it_has_one(base, adapter, tmp_path):
    from transformers import AutoTokenizer

    folder = tmp_path / "with-tokenizer"
    shutil.copytree(adapter[0], folder)
    AutoTokenizer.from_pretrained(base).save_pretrained(folder)
    layout = detect_layout(str(folder))
    assert (layout.kind, layout.tokenizer_from) == ("adapter", "published")
    model, tokenizer = load_model(model_settings(str(folder), dtype="float32"), layout=layout)
    assert Path(tokenizer.name_or_path) == folder
    assert Path(model.peft_config["default"].base_model_name_or_path) == base


def test_the_cli_takes_a_published_model(adapter, prompts, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    arguments = ["--model", str(adapter[0]), "--prompts", str(prompts), "--out", str(out)]
    assert main(["generate", *arguments, "--layout", "detect", "--max-new-tokens", "3"]) == 0
    assert f"{len(TEXTS)} generations" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Folders that cannot be loaded: refused before anything loads


def forbid_loading(monkeypatch) -> None:
    def called(*args, **kwargs):
        raise AssertionError("the model loaded before the check")

    monkeypatch.setattr("finetox.loading.load_causal_lm", called)
    monkeypatch.setattr("finetox.loading.load_tokenizer", called)


def copy_of(folder: Path, dest: Path, *extra: Path) -> Path:
    shutil.copytree(folder, dest)
    for path in extra:
        shutil.copy(path, dest / path.name)
    return dest


def adapter_config_says(folder: Path, **changes) -> None:
    path = folder / "adapter_config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))


BAD_FOLDERS = {
    "both layouts": (
        lambda f, base: copy_of(base, f / "m", *(f / "a").iterdir()),
        "holds both a LoRA adapter (adapter_config.json) and full weights (model.safetensors); "
        "say which to load with layout: adapter or layout: full",
    ),
    "neither": (
        lambda f, base: (f / "m").mkdir() or (f / "m" / "README.md").write_text("hi"),
        "neither a LoRA adapter (adapter_config.json) nor full weights (config.json and "
        "*.safetensors or *.bin) (found: README.md)",
    ),
    "unreadable adapter config": (
        lambda f, base: copy_of(f / "a", f / "m") and (f / "m" / "adapter_config.json").write_text("{"),
        "cannot read adapter_config.json: Expecting property name",
    ),
    "no base named": (
        lambda f, base: adapter_config_says(copy_of(f / "a", f / "m"), base_model_name_or_path=None),
        "adapter_config.json names no base model (base_model_name_or_path)",
    ),
    "a base that is nowhere": (
        lambda f, base: adapter_config_says(copy_of(f / "a", f / "m"), base_model_name_or_path="/no/base"),
        "adapter_config.json names the base '/no/base': no such folder, and not a hub id",
    ),
    "no adapter weights": (
        lambda f, base: (copy_of(f / "a", f / "m") / "adapter_model.safetensors").unlink(),
        "adapter_config.json but no adapter weights (adapter_model.safetensors or adapter_model.bin)",
    ),
    "full weights without a tokenizer": (
        lambda f, base: copy_of(base, f / "m") and [
            (f / "m" / name).unlink() for name in ("tokenizer.json", "tokenizer_config.json")
        ],
        "full weights but no tokenizer files",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_a_folder_that_cannot_be_loaded_is_refused_first(
    case, base, adapter, prompts, tmp_path, monkeypatch
):
    make, problem = BAD_FOLDERS[case]
    shutil.copytree(adapter[0], tmp_path / "a")
    make(tmp_path, base)
    forbid_loading(monkeypatch)
    with pytest.raises(InputError) as caught:
        run(tmp_path / "m", prompts, tmp_path / "out.parquet")
    assert str(caught.value).startswith(f"model {str(tmp_path / 'm')!r}: ")
    assert problem in str(caught.value)
    assert not (tmp_path / "out.parquet").exists()


def test_a_declared_layout_settles_a_folder_holding_both(base, adapter, tmp_path):
    both = copy_of(base, tmp_path / "both", *adapter[0].iterdir())
    assert detect_layout(str(both), declared="adapter").kind == "adapter"
    assert detect_layout(str(both), declared="full").kind == "full"
    with pytest.raises(InputError, match="layout full, but no config.json"):
        detect_layout(str(adapter[0]), declared="full")
    with pytest.raises(InputError, match="layout adapter, but no adapter_config.json"):
        detect_layout(str(base), declared="adapter")


# ---------------------------------------------------------------------------------------------
# The hub: the repository's files at the commit its revision resolves to


@pytest.fixture
def fake_hub(adapter, monkeypatch):
    """The hub as huggingface_hub answers: a listing (model_info) and file downloads; what they
    were asked is kept in `calls`."""
    import huggingface_hub

    calls: list[tuple] = []
    files = ["adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "README.md",
             "checkpoint-60/config.json", "checkpoint-60/model.safetensors"]  # fmt: skip
    config = json.loads((adapter[0] / "adapter_config.json").read_text())
    config.update(base_model_name_or_path="unsloth/gemma-2b-it-bnb-4bit", revision="v1")
    config_file = adapter[0].parent / "hub_adapter_config.json"
    config_file.write_text(json.dumps(config))

    def model_info(self, repo_id, *, revision=None, token=None, **kwargs):
        calls.append(("model_info", repo_id, revision, token))
        return SimpleNamespace(sha=COMMIT, siblings=[SimpleNamespace(rfilename=f) for f in files])

    def hf_hub_download(repo_id, filename, *, revision=None, token=None, **kwargs):
        calls.append(("download", repo_id, filename, revision, token))
        return str(config_file)

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    # resolving writes the revision's commit to the cache's refs/: a cache of the test's own
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(adapter[0].parent / "hub"))
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    return calls


def test_a_hub_repository_is_listed_at_its_revision_and_pinned_to_the_commit(fake_hub):
    import huggingface_hub

    layout = detect_layout(HUB_ID, "main")
    assert fake_hub == [
        ("model_info", HUB_ID, "main", "hf_secret"),
        ("download", HUB_ID, "adapter_config.json", COMMIT, "hf_secret"),
    ]
    # the cache remembers what main resolved to, for a run offline
    ref = Path(huggingface_hub.constants.HF_HUB_CACHE) / f"models--{HUB_ID.replace('/', '--')}"
    assert (ref / "refs" / "main").read_text() == COMMIT
    assert (layout.kind, layout.commit, layout.tokenizer_from) == ("adapter", COMMIT, "published")
    assert layout.model == ("unsloth/gemma-2b-it-bnb-4bit", "v1")
    assert layout.adapter == layout.tokenizer == (HUB_ID, COMMIT)


def test_a_hub_model_loads_base_adapter_and_tokenizer_as_listed(fake_hub, monkeypatch):
    loaded = {}

    def load_tokenizer(source, *, revision=None, **kwargs):
        loaded["tokenizer"] = (source, revision)

    def load_causal_lm(source, *, revision=None, adapter=None, adapter_revision=None, **kwargs):
        loaded["model"] = (source, revision)
        loaded["adapter"] = (adapter, adapter_revision)
        loaded["load_in_4bit"] = kwargs["load_in_4bit"]

    monkeypatch.setattr("finetox.loading.load_tokenizer", load_tokenizer)
    monkeypatch.setattr("finetox.loading.load_causal_lm", load_causal_lm)
    settings = model_settings(HUB_ID, revision="main", load_in_4bit=False)
    load_model(settings, layout=detect_layout(HUB_ID, "main"))
    assert loaded == {
        "tokenizer": (HUB_ID, COMMIT),
        "model": ("unsloth/gemma-2b-it-bnb-4bit", "v1"),  # its own config quantizes it
        "adapter": (HUB_ID, COMMIT),
        "load_in_4bit": False,
    }


def test_a_hub_repository_that_cannot_be_listed_is_named(monkeypatch):
    import huggingface_hub

    def model_info(self, repo_id, **kwargs):
        raise ConnectionError("cannot reach huggingface.co")

    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    with pytest.raises(InputError) as caught:
        detect_layout("mlkro/no-such-model", "v2")
    assert str(caught.value) == (
        "model 'mlkro/no-such-model' at revision 'v2': the hub at https://huggingface.co cannot "
        "be reached (ConnectionError); check the network, or set HF_HUB_OFFLINE=1 to load from "
        "the local cache"
    )


def test_offline_the_cached_snapshot_is_listed(adapter, tmp_path, monkeypatch):
    """Offline, the commit comes from the cache's refs/main (which resolving wrote online) and
    the files from that commit's snapshot; nothing asks the hub."""
    import huggingface_hub

    cache = tmp_path / "hub" / f"models--{HUB_ID.replace('/', '--')}"
    snapshot = copy_of(adapter[0], cache / "snapshots" / COMMIT)
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text(COMMIT)

    def no_hub(*args, **kwargs):
        raise AssertionError("asked the hub while offline")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", no_hub)
    monkeypatch.setattr(
        huggingface_hub, "hf_hub_download", lambda repo, name, **kw: str(snapshot / name)
    )
    layout = detect_layout(HUB_ID)
    assert (layout.kind, layout.commit, layout.revision) == ("adapter", COMMIT, COMMIT)
    (cache / "refs" / "main").unlink()
    with pytest.raises(InputError, match="not in the local cache .* HF_HUB_OFFLINE is set"):
        detect_layout(HUB_ID)


def test_the_layout_joins_the_parts_fingerprint_of_published_models_only(adapter):
    from finetox.generation.parts import fingerprint as _fingerprint

    frame = pd.DataFrame({"prompt_id": ["a"], "subset": ["random"], "text": ["hi"]})
    settings = model_settings(str(adapter[0]), prompt_format="raw", stop="tokenizer_eos")
    plain = _fingerprint(settings, None, frame, 5)
    published = _fingerprint(settings, None, frame, 5, detect_layout(str(adapter[0])))
    assert "layout" not in plain
    assert published["layout"]["kind"] == "adapter"
