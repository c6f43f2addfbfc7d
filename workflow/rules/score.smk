# Scoring generations with toxicity classifiers.


rule score:
    input:
        generations="results/generations/{model}.parquet",
        classifiers=classifier_folders,
    output:
        "results/scores/{model}.parquet",
    log:
        "logs/score/{model}.log",
    benchmark:
        "results/benchmarks/score/{model}.tsv"
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=scoring_mem_mb,
        runtime=scoring_runtime,
    params:
        scoring=scoring_settings,
    script:
        "../../scripts/score.py"
