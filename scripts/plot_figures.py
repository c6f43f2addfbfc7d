from pathlib import Path

from finetox.figures import plot_figures
from finetox.logs import to_log

with to_log(snakemake.log[0]):
    plot_figures(
        snakemake.params.layout,
        scores=snakemake.input.scores,
        comparisons=snakemake.input.comparisons,
        out_dir=Path(snakemake.output[0]).parent,
    )
