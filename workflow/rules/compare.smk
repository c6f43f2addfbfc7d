# Pairwise comparisons: BEST and toxic rates, per subset and in total.


rule compare:
    input:
        unpack(comparison_scores),
    output:
        **paths.comparison_files("{pair}"),
    log:
        paths.log("compare", "{pair}"),
    benchmark:
        paths.benchmark("compare", "{pair}")
    conda:
        "../../envs/stats.yaml"
    threads: compare_threads
    resources:
        mem_mb=compare_mem_mb,
        runtime=compare_runtime,
    params:
        compare=config["compare"],
        pair=pair_record,
    script:
        "../../scripts/compare.py"
