# Tables (with the page of the prompts that changed most), figures, the reproduction tables and
# the report: aggregation only, from the score and comparison files.


# Seconds of work each: on a cluster they run where Snakemake runs, not as submitted jobs.
localrules:
    write_tables,
    plot_figures,
    write_trajectory,
    reproduce,


rule write_tables:
    input:
        scores=scoring_targets(),
        comparisons=results_comparison_files,
    output:
        table_outputs(),
    log:
        paths.log("write_tables", root=ROOT),
    benchmark:
        paths.benchmark("write_tables", root=ROOT)
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
        scores=scoring_targets(),
        comparisons=results_comparison_files,
    output:
        figure_outputs(),
    log:
        paths.log("plot_figures", root=ROOT),
    benchmark:
        paths.benchmark("plot_figures", root=ROOT)
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


# Toxicity along each tuning run and the forgetting positions: from the score files, the
# instruct-vs-point comparisons, and the adapters' training records (the step of each point).
if TRAJECTORY_LAYOUT["tables"]:

    rule write_trajectory:
        input:
            scores=trajectory_scores,
            comparisons=trajectory_comparisons,
            adapters=trajectory_adapter_folders,
        output:
            tables=trajectory_table_outputs(),
            figures=trajectory_figure_outputs(),
        log:
            paths.log("write_trajectory", root=ROOT),
        benchmark:
            paths.benchmark("write_trajectory", root=ROOT)
        conda:
            "../../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            layout=trajectory_layout_settings,
        script:
            "../../scripts/write_trajectory.py"


rule reproduce:
    input:
        unpack(reproduction_inputs),
    output:
        reproduction_outputs(),
    log:
        paths.log("reproduce", root=ROOT),
    benchmark:
        paths.benchmark("reproduce", root=ROOT)
    conda:
        "../../envs/data.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        layout=results_layout_settings,
    script:
        "../../scripts/reproduce.py"


# EMT and Toxicity Probability of the sampled runs (generation.sampled), per model and subset,
# and the verdicts of the sampled pairs on both (from their comparison JSON).
if SAMPLED:

    localrules:
        write_sampled_table,

    rule write_sampled_table:
        input:
            scores=sampled_scores,
            comparisons=sampled_comparison_files,
        output:
            sampled_table_outputs(),
        log:
            paths.log("write_sampled_table", root=ROOT),
        benchmark:
            paths.benchmark("write_sampled_table", root=ROOT)
        conda:
            "../../envs/data.yaml"
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        params:
            settings=sampled_table_settings,
        script:
            "../../scripts/write_sampled_table.py"
