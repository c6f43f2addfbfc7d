# Tables, figures and the report: aggregation only, from the score and comparison files.


# Seconds of work each: on a cluster they run where Snakemake runs, not as submitted jobs.
localrules:
    write_tables,
    plot_figures,


rule write_tables:
    input:
        scores=results_score_files,
        comparisons=results_comparison_files,
    output:
        table_outputs(),
    log:
        "logs/write_tables.log",
    benchmark:
        "results/benchmarks/write_tables.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        layout=results_layout_settings,
    script:
        "../../scripts/write_tables.py"


rule plot_figures:
    input:
        scores=results_score_files,
        comparisons=results_comparison_files,
    output:
        figure_outputs(),
    log:
        "logs/plot_figures.log",
    benchmark:
        "results/benchmarks/plot_figures.tsv"
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        layout=results_layout_settings,
    script:
        "../../scripts/plot_figures.py"
