"""The options part: generation options worth having while a GPU is there (a static KV cache with
and without torch.compile, each SDPA backend alone, eager attention, larger auto batch limits),
each timed against finetox's default path on the same prompts. An option is kept only when its
tokens are identical to the default's and it is at least 5% faster."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .measure import (
    GenerationRun,
    free_memory,
    identical_continuations,
    peak_gib,
    timed_generation,
    warm_up,
)
from .sizes import LLAMA
from .suite import Suite

KEEP_IF_RATIO_AT_LEAST = 1.05
NEEDS_S = {"compiles": 150.0, "plain": 20.0, "smoke": 2.0}  # torch.compile takes a minute or more
IDENTICAL_NOTE = (
    "identical tokens compare every prompt's tokens with the baseline's; in bfloat16 a "
    "different batch or kernel may flip a near tie, so identical_share is given beside it "
    "(the generation section's one-at-a-time check shows the same noise)"
)


@dataclass
class Option:
    setup: Callable[[], Any] = contextlib.nullcontext  # returns a context held while it runs
    teardown: Callable[[], None] = lambda: None
    settings: dict[str, Any] = field(default_factory=dict)  # generate_batches' own settings
    compiles: bool = False  # warm up (compile) on other prompts first, outside the clock
    needs_cuda: str | None = None  # why it cannot run without CUDA


def static_cache(model, compile_: bool) -> Option:
    import torch

    config = model.generation_config
    before = (config.cache_implementation, config.disable_compile)

    def setup():
        config.cache_implementation = "static"
        config.disable_compile = not compile_
        return contextlib.nullcontext()

    def teardown():
        config.cache_implementation, config.disable_compile = before
        torch.compiler.reset()

    # generate compiles the forward on CUDA only; elsewhere this would time an uncompiled run
    needs_cuda = "transformers' automatic torch.compile (CUDA only)" if compile_ else None
    return Option(setup, teardown, compiles=compile_, needs_cuda=needs_cuda)


def sdpa_backend(backend_name: str, needs_cuda: str | None = None) -> Option:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return Option(lambda: sdpa_kernel([getattr(SDPBackend, backend_name)]), needs_cuda=needs_cuda)


def eager_attention(model) -> Option:
    before = getattr(model.config, "_attn_implementation", "sdpa")

    def setup():
        model.set_attn_implementation("eager")
        return contextlib.nullcontext()

    return Option(setup, lambda: model.set_attn_implementation(before))


def option_variants(model, max_batch_size: int) -> dict[str, Option]:
    variants = {
        "auto_batch_256": Option(settings={"max_batch_size": 256}),
        "auto_batch_512": Option(settings={"max_batch_size": 512}),
        "sdpa_flash": sdpa_backend("FLASH_ATTENTION"),
        "sdpa_efficient": sdpa_backend("EFFICIENT_ATTENTION", "a CUDA kernel"),
        "sdpa_cudnn": sdpa_backend("CUDNN_ATTENTION", "a cuDNN kernel"),
        "sdpa_math": sdpa_backend("MATH"),
        "eager_attention": eager_attention(model),
        "static_cache": static_cache(model, compile_=False),
        "static_cache_compile": static_cache(model, compile_=True),
    }
    if max_batch_size >= 256:  # the default already starts there
        variants.pop("auto_batch_256")
    return variants


def not_measured(reason: str) -> dict[str, Any]:
    return {
        "ratio": None,
        "identical_tokens": None,
        "identical_share": None,
        "kept": False,
        "not_measured": reason,
    }


def why_not_run(suite: Suite, option: Option) -> str | None:
    """Why `option` is not measured in this run, or None."""
    if not suite.cuda and option.needs_cuda:
        return f"no CUDA: needs {option.needs_cuda}"
    if suite.smoke and option.compiles:
        return "smoke mode: torch.compile takes minutes"
    needs = NEEDS_S["smoke" if suite.smoke else "compiles" if option.compiles else "plain"]
    if suite.left() < needs:
        return f"time budget: {suite.left():.0f} s left"
    return None


def measure_option(model, tokenizer, prompts, other_prompts, sizes, option: Option, default):
    """`option` on the prompts the default path ran: its time against the default's (ratio above
    1: faster), whether every prompt got the same tokens, and kept or not."""
    record: dict[str, Any] = {}
    try:
        with option.setup():
            if option.compiles:
                started = time.perf_counter()
                timed_generation(model, tokenizer, other_prompts, sizes, **option.settings)
                record["warm_up_s"] = time.perf_counter() - started
            run = timed_generation(model, tokenizer, prompts, sizes, **option.settings)
    except Exception as error:
        return {
            **not_measured("failed"),
            **record,
            "error": f"{type(error).__name__}: {error}"[:800],
        }
    finally:
        with contextlib.suppress(Exception):
            option.teardown()
    equal = identical_continuations(run.continuations, default.continuations)
    record.update(
        {
            "wall_s": run.seconds,
            "ratio": default.seconds / run.seconds,
            "identical_tokens": equal == len(prompts),
            "identical_share": equal / len(prompts),
            "auto_batch_size": run.batch_sizes[0],
            "peak_gpu_mem_gib": peak_gib(),
        }
    )
    record["kept"] = bool(record["identical_tokens"] and record["ratio"] >= KEEP_IF_RATIO_AT_LEAST)
    return record


def measure_options(suite: Suite) -> None:
    from finetox.generation import encode_prompts, load_model, model_settings

    sizes, entry = suite.sizes, suite.result["options"]
    folder = suite.model_folder(LLAMA)
    _, texts = suite.prompts(LLAMA)
    model, tokenizer = load_model(model_settings(str(folder)))
    k = min(sizes.options_prompts, sizes.prompts)
    prompts = encode_prompts(tokenizer, texts[:k])
    other_prompts = encode_prompts(tokenizer, texts[k : 2 * k] or texts[:k])
    warm_up(model, tokenizer, prompts, sizes)
    default = timed_generation(model, tokenizer, prompts, sizes)
    record_default(entry, model, default, k)
    for name, option in option_variants(model, sizes.max_batch_size).items():
        reason = why_not_run(suite, option)
        if reason:
            suite.skip(entry, name, reason, where="options")
            entry[name] = not_measured(reason)
            continue
        entry[name] = measure_option(
            model, tokenizer, prompts, other_prompts, sizes, option, default
        )
        suite.write()
    del model
    free_memory()


def record_default(entry: dict, model, default: GenerationRun, prompts: int) -> None:
    entry["model"] = LLAMA
    entry["prompts"] = prompts
    entry["baseline"] = {
        "wall_s": default.seconds,
        "tokens_per_s": default.new_tokens / default.seconds,
        "auto_batch_size": default.batch_sizes[0],
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
    }
    entry["note"] = IDENTICAL_NOTE
    entry["kept_when"] = (
        f"identical tokens and ratio (baseline wall_s / the option's) >= {KEEP_IF_RATIO_AT_LEAST}"
    )
