# The score stage: generations scored with toxicity classifiers.


rule score:
    input:
        generations=paths.generations("{model}", ROOT),
        classifiers=classifier_folders,
    output:
        paths.scores("{model}", ROOT),
    log:
        paths.log("score", "{model}", ROOT),
    benchmark:
        paths.benchmark("score", "{model}", ROOT)
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
