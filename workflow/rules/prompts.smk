rule build_prompt_set:
    input:
        prompt_source_files,
    output:
        prompts=PROMPT_SET,
        manifest=PROMPT_MANIFEST,
    log:
        "logs/build_prompt_set.log",
    benchmark:
        "results/benchmarks/build_prompt_set.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        prompts=prompt_settings,
    script:
        "../../scripts/build_prompt_set.py"
