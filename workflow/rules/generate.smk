# The generate stage: greedy continuations per model.


rule generate:
    input:
        prompts=paths.prompt_set(ROOT),
        model=local_model_for,
        adapter=adapter_for,
    output:
        paths.generations("{model}", ROOT),
    log:
        paths.log("generate", "{model}", ROOT),
    benchmark:
        paths.benchmark("generate", "{model}", ROOT)
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=model_mem_mb,
        runtime=model_runtime,
    params:
        model=generation_model_settings,
        generation=generation_settings,
    script:
        "../../scripts/generate.py"
