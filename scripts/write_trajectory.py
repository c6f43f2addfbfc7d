from pathlib import Path

from finetox.logs import to_log
from finetox.results.trajectory import write_trajectory

with to_log(snakemake.log[0]):
    write_trajectory(
        snakemake.params.layout,
        scores=snakemake.input.scores,
        comparisons=snakemake.input.comparisons,
        adapters=snakemake.input.adapters,
        tables_dir=Path(snakemake.output.tables[0]).parent,
        figures_dir=Path(snakemake.output.figures[0]).parent,
    )
