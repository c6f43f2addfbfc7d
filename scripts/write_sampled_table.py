from pathlib import Path

from finetox.logs import to_log
from finetox.results.sampled_table import write_sampled_table

with to_log(snakemake.log[0]):
    settings = snakemake.params.settings
    write_sampled_table(
        settings["models"],
        snakemake.input.scores,
        settings["sampling"],
        hdi_prob=settings["hdi_prob"],
        seed=settings["seed"],
        out_dir=Path(snakemake.output[0]).parent,
    )
