"""Where a running or finished workflow stands, read from its jobs' logs (`finetox progress`).

Every job writes one log (`logs/{rule}/{wildcard}.log`; `{results_dir}/logs/...` for a study with
its own results_dir, finetox.paths) through finetox.logs.to_log: its tqdm progress bars, e.g.

    tiny-base:  45%|████▌     | 1080/2400 [00:10<00:12, 104.10prompt/s]

(`2.50s/prompt` where an item takes more than a second), its log lines, and last the summary
`finetox: done in 12.3 s` or `finetox: failed after 12.3 s` and the traceback. A rerun appends
to the same log, so only the last attempt counts. The jobs of a study come from its config (the
one the last Snakemake run in the folder was given, else config/config.yaml).

A job is
- waiting: no log yet;
- running: its last attempt has no summary yet, and a Snakemake holds the folder (its lock) or
  the log was written within STALE_AFTER seconds;
- stopped: no summary, no Snakemake and a silent log (killed, or Snakemake stopped);
- done / failed: the last attempt's summary says so (failed: with the exception's last line),
  or failed where the last Snakemake run's own log reports the job's error and its log has no
  summary (a job killed for its memory or time, or one that died before its log began).

Items: prompts for generate (continuations for a sampled run, k per prompt), texts for score
(prompts x classifiers), optimizer steps for tune, subsets for compare; the other rules have none.
"""

from finetox.progress.jobs import STALE_AFTER, Job, Progress, duration, job_row, workflow_progress
from finetox.progress.logs import parse_bars, read_attempt
from finetox.progress.table import progress_table

__all__ = [
    "STALE_AFTER",
    "Job",
    "Progress",
    "duration",
    "job_row",
    "parse_bars",
    "progress_table",
    "read_attempt",
    "workflow_progress",
]
