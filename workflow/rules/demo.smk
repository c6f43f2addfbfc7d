# Tiny local models for the offline demo and tests (config: demo.build_models).


if config["demo"]["build_models"]:

    rule build_demo_classifier:
        output:
            directory(paths.demo_model(paths.DEMO_CLASSIFIER, ROOT)),
        log:
            paths.log("build_demo_classifier", root=ROOT),
        benchmark:
            paths.benchmark("build_demo_classifier", root=ROOT)
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

    rule build_demo_multilabel:
        output:
            directory(paths.demo_model(paths.DEMO_MULTILABEL, ROOT)),
        log:
            paths.log("build_demo_multilabel", root=ROOT),
        benchmark:
            paths.benchmark("build_demo_multilabel", root=ROOT)
        conda:
            "../../envs/models.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=config["demo"]["seed"],
        script:
            "../../scripts/build_demo_multilabel.py"

    rule build_demo_guard:
        output:
            directory(paths.demo_model(paths.DEMO_GUARD, ROOT)),
        log:
            paths.log("build_demo_guard", root=ROOT),
        benchmark:
            paths.benchmark("build_demo_guard", root=ROOT)
        conda:
            "../../envs/models.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            seed=config["demo"]["seed"],
        script:
            "../../scripts/build_demo_guard.py"

    rule build_demo_lms:
        output:
            base=directory(paths.demo_model("base", ROOT)),
            instruct=directory(paths.demo_model("instruct", ROOT)),
            same=directory(paths.demo_model("community-same", ROOT)),
            toxic=directory(paths.demo_model("community-toxic", ROOT)),
        log:
            paths.log("build_demo_lms", root=ROOT),
        benchmark:
            paths.benchmark("build_demo_lms", root=ROOT)
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
