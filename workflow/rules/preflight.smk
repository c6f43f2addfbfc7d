# Before the first job: every hub source of the study (models, classifiers, data sets) resolved
# to a commit and its access checked (finetox preflight), every problem at once, one line each,
# and no job starts. Snakemake runs no onstart hook in a dry run, which so needs no network, nor
# in the jobs it spawns (--no-hooks); with HF_HUB_OFFLINE=1 the check is the local cache's.


def preflight_or_stop():
    from finetox.hub.preflight import require_ready

    try:
        require_ready(STUDY)
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2)


onstart:
    preflight_or_stop()
