"""How much each part measures: the paper's sizes, the smoke mode's toy sizes, and how much of the
time budget a part needs to be worth starting."""

from __future__ import annotations

from dataclasses import dataclass, replace

STUDY_PROMPTS = 2400  # 1,000 severe + 1,000 random RTP prompts + 4 x 100 CEB prompts
STUDY_NEW_TOKENS = 50
DOLLY_RECORDS = 15011  # databricks-dolly-15k, one epoch of the tune stage
AUTHORS_BATCH = 16  # the seed authors' loop (benchmarks/generation.py, SEED_BATCH_SIZE)

LLAMA, GEMMA = "llama-3.1-8b", "gemma-2-2b"
PARTS = ("scoring", "guard", "gpu_lock", LLAMA, "tuning", GEMMA, "options")  # in the order they run
PART_ALIASES = {
    "llama": LLAMA,
    "gemma": GEMMA,
    "generation": f"{LLAMA},{GEMMA}",
    "lock": "gpu_lock",
    "llama-guard": "guard",
}
# Seconds a part needs at full size (scale 1) to be worth starting; smoke parts need little.
RESERVE_S = {
    "scoring": 45,
    "guard": 40,
    "gpu_lock": 40,
    LLAMA: 150,
    "tuning": 110,
    GEMMA: 100,
    "options": 60,
}
SMOKE_RESERVE_S = 5.0


@dataclass(frozen=True)
class Sizes:
    prompts: int  # the generation workload
    max_new_tokens: int
    max_batch_size: int  # generation.max_batch_size of the study: where the auto search starts
    authors_prompts: int  # the first prompts through the authors' loop; the rest extrapolated
    sample: int  # prompts compared with one-at-a-time decoding
    adapter_prompts: int  # generated with the reloaded 4-bit base and adapter
    tune_steps: int  # optimizer steps (of batch x accumulation sequences each)
    dolly_median: int  # tokens of the median Dolly-like record (lognormal)
    dolly_sigma: float
    dolly_max: int
    texts: int  # scoring, and the guard judge's exchanges
    reference_texts: int  # of those, through the per-text loop
    lock_hold_s: float  # how long each lock job holds its device
    options_prompts: int  # of the generation workload, through each option and the default
    budget_s: float  # parts that would not fit are skipped, and say so


# Dolly: the shared sample (23 records) has a median of 63 words and a mean of 127 (about 80 and
# 165 tokens); a lognormal of median 100 and sigma 1.0 has a mean of 165 and a long tail (one
# record in about 800 past max_seq_length).
FULL = Sizes(
    prompts=2400, max_new_tokens=50, max_batch_size=128, authors_prompts=192, sample=6,
    adapter_prompts=256, tune_steps=6, dolly_median=100, dolly_sigma=1.0, dolly_max=2300,
    texts=2400, reference_texts=2400, lock_hold_s=3.0, options_prompts=512, budget_s=450.0,
)  # fmt: skip
SMOKE = Sizes(
    prompts=48, max_new_tokens=8, max_batch_size=128, authors_prompts=48, sample=4,
    adapter_prompts=8, tune_steps=3, dolly_median=24, dolly_sigma=0.6, dolly_max=120,
    texts=160, reference_texts=160, lock_hold_s=0.5, options_prompts=16, budget_s=170.0,
)  # fmt: skip


def scaled(sizes: Sizes, scale: float) -> Sizes:
    """Every workload at `scale`, each with a floor that keeps its measurement meaningful."""

    def n(value: int, least: int) -> int:
        return max(least, round(value * scale)) if value else 0

    return replace(
        sizes,
        prompts=n(sizes.prompts, 16),
        authors_prompts=n(sizes.authors_prompts, AUTHORS_BATCH),
        adapter_prompts=n(sizes.adapter_prompts, 4),
        texts=n(sizes.texts, 16),
        reference_texts=n(sizes.reference_texts, 16),
        options_prompts=n(sizes.options_prompts, min(64, sizes.options_prompts)),
    )


def reserve_s(part: str, smoke: bool, scale: float) -> float:
    return SMOKE_RESERVE_S if smoke else RESERVE_S[part] * min(1.0, scale)
