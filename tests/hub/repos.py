"""The repositories the hub stand-in serves: every hub id of config/config.yaml as a tiny model
of its family's architecture (tests/toy_architectures.py), the classifier as finetox's demo
RoBERTa, the authors' published Dolly models in both layouts, and the three data sets in their
hub layouts. `build_hub(root)` writes them as server.py reads them: manifest.json and
commits/{sha}/ (one folder of files per commit).

What follows the real repositories and what is this stand-in's own choice:
- Llama and Gemma repositories are gated (manual approval), as on the hub; Unsloth's bnb-4bit
  repositories, which the published adapters name as their base, are not.
- Special tokens: each repository declares its tokenizer's eos in tokenizer_config.json and
  special_tokens_map.json. meta-llama/Meta-Llama-3.1-8B-Instruct's is <|eot_id|> since its
  tokenizer update of August 2024 (its older revision, kept here as the tag `v1.0` and the
  branch `original-tokenizer`, has <|end_of_text|>); the community fine-tunes copy their
  instruct model's tokenizer; the base model Meta-Llama-3.1-8B's eos is <|end_of_text|>. Base
  models carry no chat template.
- Community models: their instruct model with its weights perturbed, and a model card naming
  it as base_model, from which the hub derives the tag base_model:finetune:ID. The downloads and
  likes figures are the stand-in's own (for ordering tests), as are the extra listing-only
  repositories under the `standin-*` owners (a GGUF quantization, a merge, a LoRA adapter, a
  gated fine-tune, two forks whose slugs collide) that `finetox discover` must sort and filter.
- Published Dolly models (mlkro/...): their real layouts were not found; here the Llama-2,
  Llama-3.1 and Gemma ones are LoRA adapters on the Unsloth bnb-4bit repository their name
  points to (Llama-3.1's with its own tokenizer, the others without), Gemma-2's and Phi-3.5's are
  full weights, and Phi-3's are full weights in shards with model.safetensors.index.json. The
  Unsloth bases are served unquantized (the instruct toy; no quantization_config).
- TheTravellingEngineer/llama2-7b-chat-hf-guanaco has no generation_config.json (a missing
  optional file).
- Data sets, in the layouts public code downloads them from: allenai/real-toxicity-prompts
  holds prompts.jsonl (.../real-toxicity-prompts/resolve/main/prompts.jsonl),
  databricks/databricks-dolly-15k holds databricks-dolly-15k.jsonl, and Song-SW/CEB one folder
  per task (CEB-{Recognition,Selection,Continuation,Conversation}-{S,T}/{axis}.json, as CEB's
  README lists them, and "CEB Classification/CEB-Credit/{axis}.json", a folder name with a
  space); each repository has a README.md. Records come from ../shared/data where present (RTP,
  Dolly, CEB-Continuation-T), else from finetox.demo.synthetic.
- Renamed organisations: MoxoffSpA -> MoxoffSrL and HODACHI -> AXCXEPT answer with a redirect.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.hub.server import git_blob_sha1

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yaml"
# a token that may read every gated repository, and one the hub knows but that was not granted
TOKEN = "hf_standinGrantedToken0000000000000000"
UNGRANTED_TOKEN = "hf_standinUngrantedToken00000000000000"
RENAMED = {
    "MoxoffSpA/Moxoff-Phi3Mini-ORPO": "MoxoffSrL/Moxoff-Phi3Mini-ORPO",
    "HODACHI/EZO-Common-T2-2B-gemma-2-it": "AXCXEPT/EZO-Common-T2-2B-gemma-2-it",
    "HODACHI/Borea-Phi-3.5-mini-Instruct-Jp": "AXCXEPT/Borea-Phi-3.5-mini-Instruct-Jp",
}
FAMILY_TOYS = {
    "llama2-7b": "llama-2",
    "llama3.1-8b": "llama-3.1",
    "gemma-2b": "gemma",
    "gemma-2-2b": "gemma-2",
    "phi3-mini": "phi-3",
    "phi3.5-mini": "phi-3.5",
}
GATED_OWNERS = ("meta-llama", "google")
NO_GENERATION_CONFIG = "TheTravellingEngineer/llama2-7b-chat-hf-guanaco"
TWO_REVISIONS = "meta-llama/Meta-Llama-3.1-8B-Instruct"
OLD_TAG, OLD_BRANCH = "v1.0", "original-tokenizer"
# published Dolly models: layout, and the Unsloth base an adapter names
PUBLISHED = {
    "llama2-7b": ("adapter", "unsloth/llama-2-7b-chat-bnb-4bit", False),
    "llama3.1-8b": ("adapter", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", True),
    "gemma-2b": ("adapter", "unsloth/gemma-2b-it-bnb-4bit", False),
    "gemma-2-2b": ("full", None, True),
    "phi3-mini": ("sharded", None, True),
    "phi3.5-mini": ("full", None, True),
}  # (layout, adapter base, has a tokenizer)
CLASSIFIER_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                     "sep_token": "</s>", "pad_token": "<pad>", "cls_token": "<s>",
                     "mask_token": "<mask>"}  # fmt: skip
CREATED = "2024-07-23T15:00:00.000Z"
# Song-SW/CEB's folders as its README lists the data sets (CEB-{task}-{S,T}, the classification
# ones under "CEB Classification/")
CEB_TASKS = tuple(
    f"CEB-{task}-{kind}"
    for task in ("Recognition", "Selection", "Continuation", "Conversation")
    for kind in "ST"
)


# ---------------------------------------------------------------------------------------------
# Writing the hub folder


@dataclass
class HubWriter:
    """Collects repositories and their commits, then writes manifest.json."""

    root: Path
    repos: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    renamed: list[dict[str, str]] = field(default_factory=list)

    def commit(
        self,
        repo_id: str,
        folder: Path,
        *,
        kind: str = "model",
        refs: tuple[str, ...] = ("main",),
        card: dict[str, Any] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> str:
        """Add `folder`'s files (and a README.md from `card`) as a commit of `repo_id` that the
        refs point to; returns its sha. The first commit of a repository sets its metadata."""
        entry = self.repos.setdefault(
            (kind, repo_id),
            {"id": repo_id, "type": kind, "meta": dict(meta or {}), "refs": {}, "commits": []},
        )
        parent = entry["commits"][-1] if entry["commits"] else ""
        files = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
        readme = _readme(card, repo_id) if card is not None else None
        digest = hashlib.sha1(f"{kind}/{repo_id}\0{parent}\0".encode())
        for path in sorted(files):
            digest.update(f"{path}\0{git_blob_sha1(files[path].read_bytes())}\0".encode())
        if readme is not None:
            digest.update(b"README.md\0" + readme.encode())
        sha = digest.hexdigest()
        target = self.root / "commits" / sha
        shutil.copytree(folder, target)
        if readme is not None:
            (target / "README.md").write_text(readme)
            entry["meta"]["cardData"] = card
        entry["commits"].append(sha)
        for ref in refs:
            entry["refs"][ref] = sha
        return sha

    def rename(self, old: str, new: str, kind: str = "model") -> None:
        self.renamed.append({"type": kind, "old": old, "new": new})

    def finish(self, tokens: dict[str, Any]) -> None:
        manifest = {"repos": list(self.repos.values()), "renamed": self.renamed, "tokens": tokens}
        (self.root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def _readme(card: dict[str, Any], repo_id: str) -> str:
    front = yaml.safe_dump(card, sort_keys=False) if card else ""
    return f"---\n{front}---\n\n# {repo_id}\n\nServed by finetox's hub stand-in (tests/hub).\n"


def model_meta(card: dict[str, Any], *, downloads: int, likes: int = 0, gated=False,
               library: str = "transformers", model_type: str | None = None,
               pipeline: str = "text-generation", extra: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    """What the hub's API says of a model: its tags derived from the card as the hub derives
    them (base_model:ID and base_model:RELATION:ID), downloads, likes, gated."""
    tags = [library, *(("safetensors",) if library == "transformers" else ()), *extra]
    if model_type:
        tags.append(model_type)
    tags.append(pipeline)
    bases = card.get("base_model") or []
    for base in [bases] if isinstance(bases, str) else bases:
        tags += [
            f"base_model:{base}",
            f"base_model:{card.get('base_model_relation', 'finetune')}:{base}",
        ]
    if card.get("license"):
        tags.append(f"license:{card['license']}")
    return {"downloads": downloads, "likes": likes, "gated": gated, "tags": tags,
            "library_name": library, "pipeline_tag": pipeline, "createdAt": CREATED}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Model folders


def _special_tokens_map(folder: Path, eos: str | None = None) -> None:
    """special_tokens_map.json beside tokenizer_config.json, both naming the same tokens (eos
    replaced where given), as the hub's repositories declare them."""
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    if eos is not None:
        config["eos_token"] = eos
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    keys = (
        "bos_token",
        "eos_token",
        "unk_token",
        "pad_token",
        "sep_token",
        "cls_token",
        "mask_token",
    )
    tokens = {key: config[key] for key in keys if config.get(key)}
    (folder / "special_tokens_map.json").write_text(json.dumps(tokens, indent=2) + "\n")


def _perturb(folder: Path, seed: int) -> None:
    """Different weights of the same architecture (another model of the family)."""
    import torch
    from safetensors.torch import load_file, save_file

    for path in sorted(folder.glob("*.safetensors")):
        tensors = load_file(path)
        generator = torch.Generator().manual_seed(seed)
        for name, tensor in tensors.items():
            if tensor.is_floating_point():
                noise = torch.randn(tensor.shape, generator=generator, dtype=tensor.dtype)
                tensors[name] = tensor + 0.05 * noise * (tensor.std() if tensor.numel() > 1 else 1)
        save_file(tensors, path, metadata={"format": "pt"})


def _variant(toy: Path, out: Path, seed: int | None, *, chat_template=True, generation=True):
    shutil.copytree(toy, out)
    if seed is not None:
        _perturb(out, seed)
    if not chat_template:
        (out / "chat_template.jinja").unlink(missing_ok=True)
    if not generation:
        (out / "generation_config.json").unlink()
    return out


def _eos_generation(folder: Path, eos: str) -> None:
    """generation_config.json whose eos is the tokenizer's single `eos` token (a base model)."""
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    ids = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    path = folder / "generation_config.json"
    config = json.loads(path.read_text())
    config["eos_token_id"] = ids[eos]
    path.write_text(json.dumps(config, indent=2) + "\n")


def _adapter(toy: Path, family, out: Path, base_id: str, with_tokenizer: bool) -> Path:
    """A LoRA adapter on the toy as peft saves it, naming `base_id` as its base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(toy, dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="CAUSAL_LM",
                        target_modules=list(family.target_modules))  # fmt: skip
    model = get_peft_model(model, config)
    torch.manual_seed(7)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    model.save_pretrained(out)
    adapter_config = json.loads((out / "adapter_config.json").read_text())
    adapter_config["base_model_name_or_path"] = base_id
    (out / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2) + "\n")
    if with_tokenizer:
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                     "chat_template.jinja"):  # fmt: skip
            if (toy / name).exists():
                shutil.copy(toy / name, out / name)
    return out


def _sharded(toy: Path, out: Path) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(toy, dtype=torch.float32)
    model.save_pretrained(out, max_shard_size="150KB")
    AutoTokenizer.from_pretrained(toy).save_pretrained(out)
    _special_tokens_map(out)
    if not (out / "model.safetensors.index.json").exists():
        raise RuntimeError(f"{out}: the sharded model came out in one file")
    return out


# ---------------------------------------------------------------------------------------------
# Data sets


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _datasets(writer: HubWriter, work: Path, shared: Path | None, config: dict) -> None:
    from finetox.demo.synthetic import CEB_DESCRIPTORS, ceb_records, dolly_records, rtp_records

    def shared_file(*parts: str) -> Path | None:
        path = shared.joinpath(*parts) if shared else None
        return path if path and path.exists() else None

    rtp = work / "rtp"
    rtp.mkdir()
    toxic, nontoxic = shared_file("rtp", "toxic.jsonl"), shared_file("rtp", "nontoxic.jsonl")
    if toxic and nontoxic:
        (rtp / "prompts.jsonl").write_text(toxic.read_text() + nontoxic.read_text())
    else:
        (rtp / "prompts.jsonl").write_text(_jsonl(rtp_records()))
    rtp_card = {"language": ["en"], "license": "apache-2.0", "multilinguality": ["monolingual"],
                "size_categories": ["10K<n<100K"], "source_datasets": ["original"],
                "task_categories": ["text-generation"], "pretty_name": "Real Toxicity Prompts"}  # fmt: skip
    writer.commit(config["prompts"]["rtp"]["hub"], rtp, kind="dataset", card=rtp_card,
                  meta={"downloads": 12000, "likes": 60, "createdAt": CREATED})  # fmt: skip

    dolly = work / "dolly"
    dolly.mkdir()
    sample = shared_file("dolly", "dolly_sample.jsonl")
    text = sample.read_text() if sample else _jsonl(dolly_records())
    (dolly / "databricks-dolly-15k.jsonl").write_text(text)
    dolly_card = {"license": "cc-by-sa-3.0", "task_categories": ["question-answering",
                  "summarization"], "language": ["en"], "size_categories": ["10K<n<100K"]}  # fmt: skip
    writer.commit(config["tune"]["data"]["hub"], dolly, kind="dataset", card=dolly_card,
                  meta={"downloads": 25000, "likes": 800, "createdAt": CREATED})  # fmt: skip

    ceb = work / "ceb"
    variant = config["prompts"]["ceb"]["variant"]
    for task in CEB_TASKS:  # the hub's folders: one per task and bias type, a file per axis
        (ceb / task).mkdir(parents=True)
        for number, axis in enumerate(CEB_DESCRIPTORS):
            real = shared_file("ceb", task, f"{axis}.json") if task == variant else None
            # the other tasks hold synthetic records: only their place matters here
            records = json.loads(real.read_text()) if real else ceb_records(axis, seed=11 + number)
            (ceb / task / f"{axis}.json").write_text(json.dumps(records, indent=1))
    credit = ceb / "CEB Classification" / "CEB-Credit"  # a folder name with a space
    credit.mkdir(parents=True)
    for axis in ("age", "gender"):
        (credit / f"{axis}.json").write_text(json.dumps(ceb_records(axis, seed=12), indent=1))
    writer.commit(config["prompts"]["ceb"]["hub"], ceb, kind="dataset",
                  card={"license": "cc-by-sa-4.0", "language": ["en"]},
                  meta={"downloads": 300, "likes": 2, "createdAt": CREATED})  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The whole hub


def configured_ids(config: dict) -> dict[str, list[str]]:
    """Every hub id config.yaml names, by kind: model, published, classifier, dataset."""
    ids: dict[str, list[str]] = {"model": [], "published": [], "classifier": [], "dataset": []}
    for spec in config["families"].values():
        for role in ("base", "instruct"):
            if role in spec:
                ids["model"].append(spec[role]["id"])
        ids["model"] += [entry["id"] for entry in spec.get("community", [])]
        published = spec.get("dolly_published")
        if published:
            ids["published"].append(published["id"] if isinstance(published, dict) else published)
    ids["classifier"] = [c["id"] for c in config["scoring"]["classifiers"]]
    ids["dataset"] = [config["prompts"]["rtp"]["hub"], config["prompts"]["ceb"]["hub"],
                      config["tune"]["data"]["hub"]]  # fmt: skip
    return ids


def served_id(repo_id: str) -> str:
    return RENAMED.get(repo_id, repo_id)


def _gated(repo_id: str) -> str | bool:
    return "manual" if repo_id.split("/")[0] in GATED_OWNERS else False


def build_hub(root: Path, shared: Path | None) -> Path:
    """Build every repository under `root` (which must not exist); returns root."""
    import torch

    from finetox.demo.tiny_classifier import build_demo_classifier
    from tests.toy_architectures import FAMILIES, build_toy

    config = yaml.safe_load(CONFIG.read_text())
    root.mkdir(parents=True)
    work = root / "work"
    writer = HubWriter(root)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        seed = 100
        for family_key, spec in config["families"].items():
            family = FAMILIES[FAMILY_TOYS[family_key]]
            toy = build_toy(family, work / "toys" / family_key)
            _special_tokens_map(toy)
            model_type = json.loads((toy / "config.json").read_text())["model_type"]
            instruct_id = spec["instruct"]["id"]
            base_id = spec["base"]["id"] if "base" in spec else None

            if base_id:
                seed += 1
                base = _variant(toy, work / base_id, seed, chat_template=False)
                if family.name == "llama-3.1":
                    _special_tokens_map(base, eos="<|end_of_text|>")
                    _eos_generation(base, "<|end_of_text|>")
                card = {"license": "other", "language": ["en"], "library_name": "transformers"}
                writer.commit(base_id, base, card=card, meta=model_meta(
                    card, downloads=400000, likes=900, gated=_gated(base_id), model_type=model_type))  # fmt: skip

            card = {"license": "other", "language": ["en"], "library_name": "transformers"}
            if base_id:
                card["base_model"] = base_id
            meta = model_meta(card, downloads=900000, likes=2000, gated=_gated(instruct_id),
                              model_type=model_type, extra=("conversational",))  # fmt: skip
            if instruct_id == TWO_REVISIONS:  # the tokenizer as first published, then updated
                old = _variant(toy, work / (instruct_id + "@old"), None)
                _special_tokens_map(old, eos="<|end_of_text|>")
                writer.commit(instruct_id, old, refs=(OLD_TAG, OLD_BRANCH), card=card, meta=meta)
            writer.commit(instruct_id, toy, card=card, meta=meta)

            for rank, entry in enumerate(spec.get("community", [])):
                seed += 1
                repo_id = served_id(entry["id"])
                folder = _variant(toy, work / repo_id, seed,
                                  generation=repo_id != NO_GENERATION_CONFIG)  # fmt: skip
                card = {"license": "other", "base_model": instruct_id,
                        "base_model_relation": "finetune", "library_name": "transformers"}  # fmt: skip
                writer.commit(repo_id, folder, card=card, meta=model_meta(
                    card, downloads=1000 * (rank + 1) + seed, likes=rank, model_type=model_type))  # fmt: skip
                if entry["id"] != repo_id:
                    writer.rename(entry["id"], repo_id)

            published = spec.get("dolly_published")
            if published:
                published_id = published["id"] if isinstance(published, dict) else published
                layout, adapter_base, tokenizer = PUBLISHED[family_key]
                out = work / published_id
                if layout == "adapter":
                    _adapter(toy, family, out, adapter_base, tokenizer)
                    unsloth = _variant(toy, work / adapter_base, None)
                    card = {"license": "apache-2.0", "base_model": instruct_id,
                            "base_model_relation": "quantized", "library_name": "transformers"}  # fmt: skip
                    writer.commit(adapter_base, unsloth, card=card, meta=model_meta(
                        card, downloads=50000, model_type=model_type))  # fmt: skip
                    card = {"base_model": adapter_base, "base_model_relation": "adapter",
                            "library_name": "peft", "datasets": [config["tune"]["data"]["hub"]]}  # fmt: skip
                    meta = model_meta(card, downloads=5, library="peft")
                elif layout == "sharded":
                    _sharded(toy, out)
                else:
                    seed += 1
                    _variant(toy, out, seed)
                if layout != "adapter":
                    card = {"base_model": instruct_id, "library_name": "transformers",
                            "datasets": [config["tune"]["data"]["hub"]]}  # fmt: skip
                    meta = model_meta(card, downloads=5, model_type=model_type)
                writer.commit(published_id, out, card=card, meta=meta)

            _listing_only(writer, work, toy, instruct_id, family_key, model_type)

        for classifier_id in configured_ids(config)["classifier"]:
            folder = work / classifier_id
            build_demo_classifier(folder)
            (folder / "finetox_classifier.json").unlink()
            _special_tokens_map(folder)
            card = {"language": ["en"], "library_name": "transformers"}
            writer.commit(classifier_id, folder, card=card, meta=model_meta(
                card, downloads=70000, model_type="roberta", pipeline="text-classification"))  # fmt: skip

        _datasets(writer, work, shared, config)
        for old, new in RENAMED.items():
            if not any(r["old"] == old for r in writer.renamed):
                writer.rename(old, new)
        writer.finish({TOKEN: "*", UNGRANTED_TOKEN: []})
    finally:
        torch.set_num_threads(threads)
    shutil.rmtree(work)
    return root


def _listing_only(writer, work, toy, instruct_id, family_key, model_type) -> None:
    """Repositories that only the model listing meets (for `finetox discover`): for the
    Llama-3.1 instruct model, a GGUF quantization, a merge, a LoRA adapter, a gated fine-tune
    and two forks whose names give slugs already taken, each with its tag, under owners that
    are plainly the stand-in's."""
    if family_key != "llama3.1-8b":
        return
    name = instruct_id.split("/")[1]
    entries = [
        ("standin-quant", f"{name}-GGUF", "quantized", "gguf", 250000, False),
        ("standin-merge", f"{name}-merged-slerp", "merge", "transformers", 3000, False),
        ("standin-lora", f"{name}-lora-chat", "adapter", "peft", 1200, False),
        ("standin-gated", f"{name}-gated-ft", "finetune", "transformers", 8000, "auto"),
        # names whose slugs collide: with a community model of config.yaml, with standin-lora's
        ("standin-fork", "Llama3.1-8B-Chinese-Chat", "finetune", "transformers", 600, False),
        ("standin-fork", f"{name}-lora-chat", "adapter", "peft", 500, False),
    ]
    for owner, repo, relation, library, downloads, gated in entries:
        folder = work / "listing" / owner / repo
        folder.mkdir(parents=True)
        shutil.copy(toy / "config.json", folder / "config.json")
        card = {"base_model": instruct_id, "base_model_relation": relation,
                "library_name": library}  # fmt: skip
        meta = model_meta(card, downloads=downloads, library=library, gated=gated,
                          model_type=model_type)  # fmt: skip
        writer.commit(f"{owner}/{repo}", folder, card=card, meta=meta)


def source_digest(shared: Path | None) -> str:
    """What the built hub depends on: the builders' sources, config.yaml, the shared samples and
    the library versions. A cached build is reused only while this is unchanged."""
    from importlib import metadata

    digest = hashlib.sha256()
    sources = [Path(__file__), REPO / "tests" / "hub" / "server.py", CONFIG,
               REPO / "tests" / "toy_architectures.py", REPO / "tests" / "tune_support.py",
               REPO / "src" / "finetox" / "demo" / "tiny_classifier.py",
               REPO / "src" / "finetox" / "demo" / "synthetic.py"]  # fmt: skip
    if shared and shared.exists():
        sources += sorted(p for p in shared.rglob("*") if p.is_file())
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in ("transformers", "tokenizers", "peft", "torch", "safetensors"):
        digest.update(metadata.version(package).encode())
    return digest.hexdigest()[:16]
