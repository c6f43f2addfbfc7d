from pathlib import Path

from finetox.logs import to_log
from finetox.results.reproduction import write_reproduction

with to_log(snakemake.log[0]):
    write_reproduction(
        snakemake.params.layout,
        scores=snakemake.input.scores,
        comparisons=snakemake.input.comparisons,
        paper_tables=snakemake.input.paper_tables,
        paper_verdicts=snakemake.input.paper_verdicts,
        out_dir=Path(snakemake.output[0]).parent,
    )
