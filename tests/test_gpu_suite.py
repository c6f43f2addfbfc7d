"""benchmarks/gpu_suite: the GPU readiness suite. Its smoke mode runs here on a CPU, so the suite
cannot rot between GPU leases; the `gpu` test runs it on CUDA where there is one."""

from __future__ import annotations

import importlib
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "benchmarks" / "gpu_suite"
MODELS = ("llama-3.1-8b", "gemma-2-2b")
# Keys the issue asks for (issue 17), by section.
GENERATION_KEYS = (
    "tokens_per_s", "wall_s", "peak_gpu_mem_gib", "auto_batch_size", "authors_loop_wall_s",
    "ratio", "batched_equals_one_at_a_time", "batched_equals_one_at_a_time_float32", "load_s",
    "wall_s_for_2400_prompts",
)  # fmt: skip
TUNING_KEYS = (
    "steps_per_s",
    "peak_gpu_mem_gib",
    "adapter_reloads_in_4bit",
    "generation_4bit_adapter",
)
SCORING_KEYS = ("texts_per_s", "per_text_loop_texts_per_s", "ratio", "max_abs_diff")
GUARD_KEYS = (
    "texts_per_s", "wall_s", "peak_gpu_mem_gib", "load_s", "template_tokens",
    "median_exchange_tokens", "max_abs_diff_one_at_a_time",
)  # fmt: skip
ESTIMATE_KEYS = ("gpu_hours", "generation_h", "tuning_h", "scoring_h", "models")
OPTION_KEYS = ("ratio", "identical_tokens", "identical_share", "kept")
# Options a CPU runs (the others need CUDA kernels or take minutes to compile there).
CPU_OPTIONS = ("auto_batch_256", "auto_batch_512", "sdpa_flash", "sdpa_math", "eager_attention",
               "static_cache")  # fmt: skip
# Not on the GPU machine (docs/gpu.md): the suite must not need them.
ABSENT_ON_GPU_MACHINE = ("pymc", "snakemake", "datasets", "evaluate", "arviz", "nutpie")
# Runs the suite as `python benchmarks/gpu_suite` does, with those packages absent as there.
AS_ON_THE_GPU_MACHINE = (
    "import runpy, sys\n"
    f"sys.modules.update(dict.fromkeys({ABSENT_ON_GPU_MACHINE!r}))\n"
    f"sys.argv = [{str(PACKAGE)!r}, *sys.argv[1:]]\n"
    f"runpy.run_path({str(PACKAGE)!r}, run_name='__main__')\n"
)


def suite_module(name: str):
    """A module of the suite's package, imported as the package gpu_suite (as it runs)."""
    if "gpu_suite" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "gpu_suite", PACKAGE / "__init__.py", submodule_search_locations=[str(PACKAGE)]
        )
        package = sys.modules["gpu_suite"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(package)
    return importlib.import_module(f"gpu_suite.{name}")


def run_suite(out: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-c", AS_ON_THE_GPU_MACHINE, "--out", str(out), *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)


def check_value(section: dict, key: str, where: str) -> None:
    """Present; a number must be finite and not negative; null only with a reason."""
    assert key in section, f"{where}: no {key}"
    value = section[key]
    if value is None:
        assert key in section.get("skipped", {}), f"{where}.{key} is null without a reason"
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        assert math.isfinite(value) and value >= 0, f"{where}.{key} = {value}"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu-suite")
    done = run_suite(out, "--smoke")
    assert done.returncode == 0, done.stderr[-4000:]
    document = json.loads((out / "gpu_suite.json").read_text())
    document["_markdown"] = (out / "gpu_suite.md").read_text()
    return document


def test_smoke_has_every_key_with_sane_values(smoke):
    assert smoke["errors"] == []
    assert smoke["suite"]["mode"] == "smoke"
    assert smoke["machine"]["versions"]["finetox"]
    for name in MODELS:
        entry = smoke["generation"]["models"][name]
        for key in GENERATION_KEYS:
            check_value(entry, key, f"generation.{name}")
        assert entry["tokens_per_s"] > 0 and entry["ratio"] > 0
        assert entry["auto_batch_size"] == smoke["generation"]["workload"]["prompts"]
    for key in TUNING_KEYS:
        check_value(smoke["tuning"], key, "tuning")
    for key in SCORING_KEYS:
        check_value(smoke["scoring"], key, "scoring")
    for key in GUARD_KEYS:
        check_value(smoke["guard"], key, "guard")
    assert "## Guard judge: Llama-Guard-3-1B shape" in smoke["_markdown"]
    for key in ESTIMATE_KEYS:
        check_value(smoke["estimate"], key, "estimate")
    assert smoke["estimate"]["models"] == 28
    assert {"generation_8b_s", "scoring_ratio", "study_gpu_hours"} <= set(smoke["targets"])
    for name in CPU_OPTIONS:
        for key in OPTION_KEYS:
            check_value(smoke["options"][name], key, f"options.{name}")
    assert "# finetox GPU suite (smoke" in smoke["_markdown"]


def test_smoke_results_hold_on_a_cpu(smoke):
    """In float32 batching changes no token; the scores equal the per-text loop's."""
    for name in MODELS:
        entry = smoke["generation"]["models"][name]
        assert entry["batched_equals_one_at_a_time"], entry["one_at_a_time"]
        assert entry["authors_loop_identical"] == entry["authors_loop_prompts_measured"]
    assert smoke["scoring"]["max_abs_diff"] < 1e-4
    guard = smoke["guard"]  # the guard scorer on the toy judge: batched = one at a time
    assert guard["texts"] == smoke["suite"]["sizes"]["texts"] and guard["texts_per_s"] > 0
    assert guard["content_as_parts"] and guard["dtype"] == "float32"
    assert guard["max_abs_diff_one_at_a_time"] < 1e-5 and guard["truncated"] == 0
    assert 0 < guard["score_range"][0] <= guard["score_range"][1] < 1
    tuning = smoke["tuning"]
    assert tuning["global_step"] == tuning["steps"]
    assert tuning["ran"] == {
        "load_in_4bit": True,
        "optim": "adamw_8bit",
        "gradient_checkpointing": True,
    }
    assert tuning["adapter_reloads_in_4bit"], tuning["reload"]
    assert tuning["reload"]["adapter_trained"]


def test_smoke_cuda_only_figures_are_skipped_not_made_up(smoke):
    if smoke["machine"]["cuda"]:
        pytest.skip("CUDA is here")
    entries = [smoke["tuning"], smoke["scoring"], smoke["guard"]]
    for entry in [*smoke["generation"]["models"].values(), *entries]:
        assert entry["peak_gpu_mem_gib"] is None
        assert "no CUDA" in entry["skipped"]["peak_gpu_mem_gib"]
    assert "stand_in" in smoke["tuning"] and "stand_in" in smoke["gpu_lock"]
    assert all(target["met"] is None for target in smoke["targets"].values() if "met" in target)


def test_smoke_lock_gives_two_jobs_two_devices_and_makes_a_third_wait(smoke):
    lock = smoke["gpu_lock"]
    assert lock["workstation_profile"]["resources"]["gpu"] >= 1
    two = lock["two_jobs"]
    assert two["overlapped"]
    if len(lock["pool"]) >= 2:
        assert two["different_devices"], two
    wait = lock["second_waits"]
    assert wait["ok"], wait
    assert wait["second_was_waiting"] and wait["second_waited_s"] > 0.5


def test_the_suite_imports_nothing_the_gpu_machine_lacks():
    """At import time, the suite's modules and the finetox modules it uses load none of the
    packages the GPU machine does not have (finetox.config needs jsonschema: docs/gpu.md carries
    it). The smoke run above runs with them absent."""
    code = (
        "import importlib, importlib.util, json, pkgutil, sys\n"
        "spec = importlib.util.spec_from_file_location('gpu_suite', "
        f"{str(PACKAGE / '__init__.py')!r}, submodule_search_locations=[{str(PACKAGE)!r}])\n"
        "sys.modules['gpu_suite'] = package = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(package)\n"
        "names = [m.name for m in pkgutil.iter_modules(package.__path__) if m.name != '__main__']\n"
        "for name in names:\n"
        "    importlib.import_module(f'gpu_suite.{name}')\n"
        "import finetox.config, finetox.devices, finetox.generation, finetox.loading\n"
        "import finetox.scoring, finetox.tune, finetox.demo.tiny_classifier\n"
        f"print(json.dumps(sorted(m for m in {ABSENT_ON_GPU_MACHINE!r} if m in sys.modules)))\n"
        "print(len(names))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    *_, loaded, modules = done.stdout.strip().splitlines()
    assert json.loads(loaded) == [] and int(modules) >= 10


def test_options_are_judged_against_the_default_path(smoke):
    """Every option has its speed ratio and identical tokens against the default path, or says
    why not; it is kept only when identical and faster."""
    options = smoke["options"]
    assert options["model"] == MODELS[0] and options["baseline"]["wall_s"] > 0
    for name, option in options.items():
        if not isinstance(option, dict) or name in ("baseline", "skipped"):
            continue
        if option["ratio"] is None:
            assert option["not_measured"] and option["kept"] is False, (name, option)
            continue
        assert option["ratio"] > 0 and isinstance(option["identical_tokens"], bool), name
        assert option["kept"] == (option["identical_tokens"] and option["ratio"] >= 1.05), name
    for name in ("auto_batch_256", "auto_batch_512"):  # the same batches here: the same tokens
        assert options[name]["identical_tokens"], options[name]
    assert "| static_cache |" in smoke["_markdown"]


def test_a_failing_part_is_recorded_and_the_next_one_runs(tmp_path):
    main, suite_state = suite_module("main"), suite_module("suite")
    suite = suite_state.Suite(main.parse_args(["--smoke", "--out", str(tmp_path)]))
    ran = []

    def failing(suite) -> None:
        raise ValueError("The following model_kwargs are not used by the model: ['cache']")

    try:
        main.run_part(suite, "scoring", failing)
        main.run_part(suite, "gpu_lock", lambda suite: ran.append("gpu_lock"))
    finally:
        suite.clean_up()
    document = json.loads((tmp_path / "gpu_suite.json").read_text())
    [error] = document["errors"]
    assert error["part"] == "scoring" and error["error"].startswith("ValueError: The following")
    assert "failing" in error["traceback"]
    assert ran == ["gpu_lock"] and set(document["suite"]["part_s"]) == {"scoring", "gpu_lock"}
    assert "## Errors" in (tmp_path / "gpu_suite.md").read_text()


def test_configs_are_the_real_architectures():
    shapes = suite_module("shapes")
    llama = shapes.llama_config(smoke=False)
    assert (llama.hidden_size, llama.num_hidden_layers, llama.num_attention_heads) == (4096, 32, 32)
    assert (llama.num_key_value_heads, llama.intermediate_size, llama.vocab_size) == (
        8,
        14336,
        128256,
    )
    assert llama.max_position_embeddings == 131072
    rope = getattr(llama, "rope_parameters", None) or llama.rope_scaling
    assert rope["rope_type"] == "llama3" and rope["factor"] == 8.0
    gemma = shapes.gemma_config(smoke=False)
    assert (gemma.hidden_size, gemma.num_hidden_layers, gemma.num_attention_heads) == (2304, 26, 8)
    assert (gemma.num_key_value_heads, gemma.head_dim, gemma.intermediate_size) == (4, 256, 9216)
    assert (gemma.vocab_size, gemma.sliding_window) == (256000, 4096)
    assert (gemma.attn_logit_softcapping, gemma.final_logit_softcapping) == (50.0, 30.0)
    guard = shapes.guard_config(smoke=False)  # Llama-Guard-3-1B: Llama-3.2-1B's shape
    assert (guard.hidden_size, guard.num_hidden_layers, guard.num_attention_heads) == (2048, 16, 32)
    assert (guard.num_key_value_heads, guard.intermediate_size, guard.vocab_size) == (
        8,
        8192,
        128256,
    )
    assert guard.tie_word_embeddings and guard.head_dim == 64
    for smoke in (shapes.llama_config(smoke=True), shapes.gemma_config(smoke=True)):
        assert smoke.num_key_value_heads < smoke.num_attention_heads  # GQA in the toys too
    assert shapes.llama_config(smoke=True).rope_scaling["rope_type"] == "llama3"
    assert shapes.gemma_config(smoke=True).sliding_window < 40  # shorter than most prompts


def test_workload_lengths_and_id_tokenizer():
    import numpy as np

    workload, models = suite_module("workload"), suite_module("models")
    shapes = suite_module("shapes")
    lengths = workload.prompt_lengths(2400)
    assert len(lengths) == 2400 and lengths.min() >= 3 and lengths.max() <= 160
    assert 10 <= np.median(lengths) <= 20 and (lengths >= 40).sum() >= 400
    assert (workload.prompt_lengths(2400) == lengths).all()  # seeded
    vocabulary = models.id_tokenizer(shapes.llama_config(smoke=True), "llama")
    tokenizer = vocabulary.tokenizer
    ids = tokenizer("t5 t2047 t0")["input_ids"]
    assert ids == [tokenizer.bos_token_id, 5, 2047, 0]
    assert tokenizer.decode([5, 7, tokenizer.eos_token_id], skip_special_tokens=True) == "t5 t7"
    assert tokenizer.pad_token is None  # as Llama-3: finetox pads with eos
    texts = workload.prompt_texts(lengths[:50], vocabulary)
    assert [len(tokenizer(t)["input_ids"]) - 1 for t in texts] == lengths[:50].tolist()


@pytest.mark.gpu
def test_on_cuda(tmp_path):
    """On a GPU, at a small scale: the CUDA-only figures are there and the checks hold."""
    parts = "scoring,guard,gpu_lock,gemma,tuning"
    done = run_suite(tmp_path, "--scale", "0.05", "--only", parts, "--tune-model", "gemma-2-2b")
    document = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert done.returncode == 0, (document["errors"], done.stderr[-3000:])
    gemma = document["generation"]["models"]["gemma-2-2b"]
    assert gemma["peak_gpu_mem_gib"] > 0
    assert gemma["batched_equals_one_at_a_time_float32"], gemma["one_at_a_time_float32"]
    tuning = document["tuning"]
    assert tuning["ran"]["load_in_4bit"] and tuning["ran"]["optim"] == "adamw_8bit"
    assert tuning["peak_gpu_mem_gib"] > 0 and tuning["adapter_reloads_in_4bit"]
    assert document["scoring"]["dtype"] == "float16"
    assert document["scoring"]["max_abs_diff_float32"] < 1e-4
    guard = document["guard"]
    assert guard["dtype"] == "bfloat16" and guard["peak_gpu_mem_gib"] > 0
    assert guard["texts_per_s"] > 0 and guard["model"]["params"] > 1e9
    lock = document["gpu_lock"]
    assert lock["second_waits"]["ok"] and lock["second_waits"]["both_used_the_gpu"]
    if len(lock["pool"]) >= 2:
        assert lock["two_jobs"]["different_devices"]
