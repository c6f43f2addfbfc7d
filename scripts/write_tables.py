from pathlib import Path

from finetox.logs import to_log
from finetox.results.write import write_tables

with to_log(snakemake.log[0]):
    write_tables(
        snakemake.params.layout,
        scores=snakemake.input.scores,
        comparisons=snakemake.input.comparisons,
        out_dir=Path(snakemake.output[0]).parent,
    )
