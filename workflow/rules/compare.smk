# Pairwise comparisons: BEST and toxic rates, per subset and in total, for every classifier.


rule compare:
    input:
        unpack(comparison_scores),
    output:
        **paths.comparison_files("{pair}", ROOT),
    log:
        paths.log("compare", "{pair}", ROOT),
    benchmark:
        paths.benchmark("compare", "{pair}", ROOT)
    conda:
        "../../envs/stats.yaml"
    threads: compare_threads
    resources:
        mem_mb=compare_mem_mb,
        runtime=compare_runtime,
    params:
        compare=compare_settings,
        pair=pair_record,
        classifiers=classifier_names,
    script:
        "../../scripts/compare.py"
