# The tune stage: Dolly LoRA tuning of instruct models.


rule tune:
    input:
        unpack(tune_inputs),
    output:
        directory(paths.adapter("{tuned}", ROOT)),
    log:
        paths.log("tune", "{tuned}", ROOT),
    benchmark:
        paths.benchmark("tune", "{tuned}", ROOT)
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=tune_mem_mb,
        runtime=tune_runtime,
    params:
        model=tune_model_settings,
        tune=tune_settings,
        checkpoints=tune_checkpoints,
    script:
        "../../scripts/tune.py"
