# Generation: greedy continuations per model.


rule generate:
    input:
        prompts=PROMPT_SET,
        model=local_model_for,
        adapter=adapter_for,
    output:
        "results/generations/{model}.parquet",
    log:
        "logs/generate/{model}.log",
    benchmark:
        "results/benchmarks/generate/{model}.tsv"
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
