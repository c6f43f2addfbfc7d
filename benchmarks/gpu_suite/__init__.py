"""GPU readiness: every GPU stage of finetox at the paper's scale, measured in one command.

A lent GPU comes for 15 minutes in all, so this one command answers every GPU question at once and
writes one JSON and a Markdown summary (docs/gpu.md: how to run it there and read it). Real weights
cannot be downloaded there, so the models are random weights with the real architectures' configs
(Llama-3.1-8B, Gemma-2-2B, a RoBERTa-base classifier, Llama-Guard-3-1B): speed and memory are the real models'; the
tokens are not. Prompts are random token ids with RTP-like lengths, spelled as words of a tokenizer
whose vocabulary is the model's ("t123" is id 123), so the tokenizer costs what a real one does and
every id decodes.

  generation  the 2,400 x 50 workload per model through finetox.generation (load_model,
              encode_prompts, generate_batches, the auto batch size from the study's 128):
              tokens/s, wall time, peak GPU memory, the batch size the auto search kept; the seed
              authors' loop (benchmarks/generation.py: batches of 16 in input order) on the first
              prompts, extrapolated to all of them, for the ratio; batched tokens against
              one-prompt-at-a-time on a sample, in the run's dtype and in float32
  tuning      finetox.tune.tune_file with the paper's recipe (config section tune: batch 2 x
              accumulation 8, sequences up to 2048 tokens, NF4 base and 8-bit AdamW on CUDA) on
              Dolly-like records for a fixed number of steps: steps/s, peak GPU memory; the adapter
              loaded again through finetox.generation.load_model must come back on a 4-bit base
  scoring     finetox.scoring.score_texts (float16 on a GPU) against the evaluate-style per-text
              pipeline loop: texts/s, ratio, largest score difference
  guard       a Llama-Guard-3-1B-shaped judge (random weights, a chat template of Llama Guard
              3's layout) through finetox.scoring's guard scorer on conversations of the study's
              lengths: texts/s, peak GPU memory, batched against one at a time on a sample
  gpu_lock    finetox.devices as the workstation profile's jobs use it: two jobs at once get
              different GPUs; with every GPU taken, a second job waits, then runs
  options     a static KV cache with and without torch.compile, SDPA backends, eager attention,
              larger auto batch limits, each against the default path: speed ratio, identical
              tokens, kept or not (in smoke mode the ones a CPU can run, on a few prompts)
  estimate    the GPU hours of the whole 28-model study (config/config.yaml) from the rates

    python benchmarks/gpu_suite --out DIR               # on a GPU: the paper's sizes (~7 min)
    python benchmarks/gpu_suite --out DIR --scale 0.5   # half of every workload
    python benchmarks/gpu_suite --out DIR --only llama,tuning   # some parts only
    python benchmarks/gpu_suite --smoke --out DIR       # toy sizes on a CPU (CI, under a minute)

(`python -m benchmarks.gpu_suite` from the repository root runs the same.) Measurements that need
CUDA (peak GPU memory, the lock on real devices) are recorded as skipped with the reason where
there is none, never made up. In smoke mode on a CPU the tuning runs the CUDA recipe (NF4 base,
8-bit AdamW, gradient checkpointing) through bitsandbytes' CPU backend, and the lock runs on
device ids given in FINETOX_GPUS: stand-ins the JSON names as such.

Modules, one job each:
- sizes: the workload sizes (the paper's, the smoke mode's) and what each part needs of the budget;
- shapes: the real and toy architectures' configs; models: the id tokenizer, random-weight models;
- workload: prompt lengths and texts, Dolly-like records; measure: clocks, GPU memory, counters,
  timed greedy decoding; siblings: the other benchmarks' code the suite reuses;
- the parts: generation, tuning, scoring, guard (the guard judge), lock (the GPU-lock jobs), options, estimate (the study's
  GPU hours and the targets);
- suite: what a run knows (sizes, folders, the result so far, the clock); machine: what it ran on;
  report: the JSON and the Markdown; main: arguments, the budget, the parts in order.
"""
