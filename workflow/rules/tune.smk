# The tune stage: Dolly LoRA tuning of instruct models, and the points along each run.


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


# The adapter at one point of a finished run: a kept checkpoint's, or trained on from the
# nearest earlier one to the point's step.
rule tune_point:
    input:
        unpack(tune_inputs),
        final=final_adapter,
    output:
        directory(paths.trajectory_adapter("{tuned}", "{point}", ROOT)),
    log:
        paths.log("tune_point", "{tuned}/{point}", ROOT),
    benchmark:
        paths.benchmark("tune_point", "{tuned}/{point}", ROOT)
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=tune_mem_mb,
        runtime=tune_runtime,
    params:
        model=tune_model_settings,
        tune=tune_recipe,
        checkpoints=tune_checkpoints,
    script:
        "../../scripts/tune_point.py"
