# The jobs' resources. Host memory and runtime of the model jobs, sized per model from params_b
# (billions of parameters) unless the model sets mem_mb / runtime itself; a retry asks for more.

DEFAULT_PARAMS_B = 7.0


def _model_size(spec):
    return spec.params_b if spec.params_b is not None else DEFAULT_PARAMS_B


def _mem_mb(spec, attempt):
    if spec.mem_mb:
        return spec.mem_mb * attempt
    # 16-bit weights (2 bytes per parameter) pass through host memory, plus room for Python and data
    return int((_model_size(spec) * 2 * 1024 + 4096) * attempt)


def model_mem_mb(wildcards, attempt):
    return _mem_mb(STUDY.model(wildcards.model), attempt)


def model_runtime(wildcards, attempt):
    spec = STUDY.model(wildcards.model)
    if spec.runtime:
        return spec.runtime * attempt
    return int((30 + 10 * _model_size(spec)) * attempt)


def tune_mem_mb(wildcards, attempt):
    return _mem_mb(TUNED_SOURCES[wildcards.tuned], attempt)


def tune_runtime(wildcards, attempt):
    spec = TUNED_SOURCES[wildcards.tuned]
    if spec.runtime:
        return spec.runtime * attempt
    # one epoch of Dolly (15k records) on one GPU: about an hour per few billion parameters
    return int((60 + 30 * _model_size(spec)) * attempt)


def scoring_mem_mb(wildcards, attempt):
    # one classifier at a time (RoBERTa-sized: under 1.5 GB of weights) and the generations
    return 6000 * attempt


def scoring_runtime(wildcards, attempt):
    # a few minutes per classifier for the paper's 2,400 generations on one GPU
    return (15 + 15 * len(config["scoring"]["classifiers"])) * attempt


# One compare job per pair: it compiles the BEST model once and fits every subset with it.


def compare_threads(wildcards):
    # chains sample in parallel threads, which pays on the paper's 2,400 scores per model; a
    # small prompt set is bound by compiling (one thread), so two jobs at once beat two threads
    prompts = study_prompt_count(config["prompts"])
    return min(config["compare"]["chains"], 4) if prompts >= 1000 else 1


def compare_mem_mb(wildcards, attempt):
    # measured: about 0.5 GB peak (numba's compiler most of it; the draws take a few MB)
    return 2000 * attempt


def compare_runtime(wildcards, attempt):
    # minutes: compiling takes under a minute, 7 fits of 2 x 2,400 scores a few more, per
    # classifier (every view is computed for each)
    return (20 + 10 * len(config["scoring"]["classifiers"])) * attempt
