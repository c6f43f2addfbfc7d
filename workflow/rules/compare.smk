# Pairwise comparisons: BEST and rate-based.


rule compare:
    input:
        unpack(comparison_scores),
    output:
        table="results/comparisons/{pair}.csv",
        draws="results/comparisons/{pair}.nc",
    log:
        "logs/compare/{pair}.log",
    benchmark:
        "results/benchmarks/compare/{pair}.tsv"
    conda:
        "../../envs/stats.yaml"
    threads: compare_threads
    resources:
        mem_mb=compare_mem_mb,
        runtime=compare_runtime,
    params:
        estimation=config["estimation"],
        pair=comparison_settings,
    script:
        "../../scripts/compare.py"
