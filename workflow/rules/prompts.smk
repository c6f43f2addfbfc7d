rule build_prompt_set:
    input:
        prompt_source_files,
    output:
        prompts=paths.prompt_set(ROOT),
        manifest=paths.prompt_manifest(ROOT),
    log:
        paths.log("build_prompt_set", root=ROOT),
    benchmark:
        paths.benchmark("build_prompt_set", root=ROOT)
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
