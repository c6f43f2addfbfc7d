from finetox.logs import to_log
from finetox.scoring import score_file

with to_log(snakemake.log[0]):
    settings = snakemake.params.scoring
    score_file(
        snakemake.input.generations,
        snakemake.output[0],
        settings["classifiers"],
        batch_size=settings["batch_size"],
        max_batch_tokens=settings["max_batch_tokens"],
        dtype=settings["dtype"],
        strip=settings["strip"],
        threads=snakemake.threads,
    )
