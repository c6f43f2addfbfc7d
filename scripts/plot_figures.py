from pathlib import Path

from finetox.logs import to_log
from finetox.results.figures import plot_figures

with to_log(snakemake.log[0]):
    plot_figures(
        snakemake.params.layout,
        scores=snakemake.input.scores,
        comparisons=snakemake.input.comparisons,
        out_dir=Path(snakemake.output[0]).parent,
    )
