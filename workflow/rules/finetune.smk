# Dolly LoRA tuning of instruct models.


rule finetune_lora:
    input:
        unpack(tuning_inputs),
    output:
        directory("results/adapters/{dolly}"),
    log:
        "logs/finetune_lora/{dolly}.log",
    benchmark:
        "results/benchmarks/finetune_lora/{dolly}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=tuning_mem_mb,
        runtime=tuning_runtime,
    params:
        model=tuning_model_settings,
        lora=lora_settings,
        checkpoints=tuning_checkpoints,
    script:
        "../../scripts/finetune_lora.py"
