from pathlib import Path

from finetox.logs import to_log
from finetox.results.sampled_table import write_sampled_table
from finetox.results.sampled_verdicts import write_sampled_verdicts

with to_log(snakemake.log[0]):
    settings = snakemake.params.settings
    out_dir = Path(snakemake.output[0]).parent
    write_sampled_table(
        settings["models"],
        snakemake.input.scores,
        settings["sampling"],
        hdi_prob=settings["hdi_prob"],
        seed=settings["seed"],
        out_dir=out_dir,
    )
    if settings["pairs"]:
        rule = {key: settings[key] for key in ("hdi_prob", "rope_pp", "rope_emt")}
        write_sampled_verdicts(
            settings["pairs"],
            snakemake.input.comparisons,
            {**settings["sampling"], **rule},
            out_dir=out_dir,
        )
