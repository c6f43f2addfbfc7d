# Tiny local models for the offline demo and tests (config: demo.build_models).


if config["demo"]["build_models"]:

    rule build_demo_classifier:
        output:
            directory("results/demo/models/classifier"),
        log:
            "logs/build_demo_classifier.log",
        benchmark:
            "results/benchmarks/build_demo_classifier.tsv"
        conda:
            "../../envs/models.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=config["demo"]["seed"],
        script:
            "../../scripts/build_demo_classifier.py"

    rule build_demo_lms:
        output:
            base=directory("results/demo/models/base"),
            instruct=directory("results/demo/models/instruct"),
            same=directory("results/demo/models/community-same"),
            toxic=directory("results/demo/models/community-toxic"),
        log:
            "logs/build_demo_lms.log",
        benchmark:
            "results/benchmarks/build_demo_lms.tsv"
        conda:
            "../../envs/models.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=config["demo"]["seed"],
        script:
            "../../scripts/build_demo_lms.py"
