"""The paper's study as configured (config/config.yaml), end to end through the hub stand-in: every
job of the study runs at test size (tests/hub/size_overlay.yaml: sizes only) with HF_ENDPOINT at
the stand-in, the token in HF_TOKEN and a fresh HF_HOME, then the authors' published models in a
second run; then what the outputs record (Appendix A's commits, a pinned revision, a renamed
repository), what never reaches them (the token), a rerun offline from the cache with the
stand-in stopped, and the errors of a missing token, a removed repository and a bad revision.

The whole run takes minutes on two cores: the module is marked slow as well as hub."""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from tests.hub.paper_study import (
    find_model_entry,
    paper_config,
    run,
    run_env,
    sized_config,
    write_config,
)
from tests.hub.repos import (
    GATED_OWNERS,
    OLD_TAG,
    RENAMED,
    TOKEN,
    TWO_REVISIONS,
    configured_ids,
    served_id,
)
from tests.test_workflow import PAPER_JOBS as STUDY_JOBS
from tests.workflow_runs import copy_checkout, failure, jobs_of, planned

pytestmark = [pytest.mark.hub, pytest.mark.slow]

# every job of the paper's study: its per-model and per-pair jobs (tests.test_workflow: 28 models,
# 6 adapters, 22 pairs) and each aggregate once
PAPER_JOBS = {
    **STUDY_JOBS,
    "write_tables": 1,
    "plot_figures": 1,
    "write_trajectory": 1,
    "reproduce": 1,
    "all": 1,
}
# the published models' own jobs, and the aggregations that read every model
PUBLISHED_JOBS = {
    "generate": 6,
    "score": 6,
    "compare": 6,
    "write_tables": 1,
    "plot_figures": 1,
    "write_trajectory": 1,
    "reproduce": 1,
    "all": 1,
}
RENAMED_SLUG = "phi3-mini-moxoff-orpo"  # MoxoffSpA/Moxoff-Phi3Mini-ORPO, now MoxoffSrL's
PINNED_SLUG = "llama3.1-8b-instruct"  # meta-llama/Meta-Llama-3.1-8B-Instruct: main and v1.0
APPENDIX_A = "results/tables/appendix_a_models.csv"
OFFLINE_MODEL = "gemma-2b-it-dolly"  # a gated instruct model and its Dolly adapter


# ---------------------------------------------------------------------------------------------
# The run (tests/hub/test_size_overlay.py checks that the run's config plans config.yaml's study)


@dataclass
class PaperRun:
    work: Path  # beside the copy: Snakemake's outputs, HF_HOME
    root: Path  # the copy of the checkout the runs ran in
    home: Path
    config: str  # the sized study, and with the published models
    published_config: str
    outputs: dict[str, str]  # Snakemake's stdout + stderr by run
    seconds: dict[str, float]

    def env(self, **extra: str) -> dict[str, str]:
        return run_env(self.endpoint, self.home, self.root, **extra)

    endpoint: str = ""


def _run_and_keep(paper: PaperRun, name: str, configfile: str, *args: str, env) -> str:
    started = time.monotonic()
    result = run(paper.root, configfile, *args, env=env)
    paper.seconds[name] = time.monotonic() - started
    output = result.stdout + result.stderr
    (paper.work / f"{name}.txt").write_text(output)
    paper.outputs[name] = output
    if result.returncode != 0:
        pytest.fail(f"snakemake ({name}) failed in {paper.root}: {failure(result)}", pytrace=False)
    return output


@pytest.fixture(scope="module")
def paper_run(hub, tmp_path_factory) -> PaperRun:
    """The sized study run whole with the token, then again with the published models."""
    work = tmp_path_factory.mktemp("paper-run")
    root = copy_checkout(work / "finetox")
    config = sized_config()
    first = write_config(config, root, "paper-sized")
    config["comparisons"]["instruct_vs_dolly_published"] = True
    second = write_config(config, root, "paper-sized-published")
    paper = PaperRun(work, root, work / "hf-home", first, second, {}, {}, endpoint=hub.url)
    env = paper.env(HF_TOKEN=TOKEN)
    _run_and_keep(paper, "paper", first, "--cores", "2", env=env)
    _run_and_keep(paper, "published", second, "--cores", "2", env=env)
    print(f"paper-config run times (s): {paper.seconds}", file=sys.stderr)
    return paper


def test_every_job_of_the_paper_runs(paper_run):
    assert dict(planned(paper_run.outputs["paper"])) == PAPER_JOBS


def test_the_published_models_run_alone_in_the_second_run(paper_run):
    output = paper_run.outputs["published"]
    assert dict(planned(output)) == PUBLISHED_JOBS
    generated = [
        Path(job.outputs[0]).stem for job in jobs_of(output).values() if job.rule == "generate"
    ]
    families = paper_config()["families"].values()
    published = [f"{family['instruct']['slug']}-dolly-published" for family in families]
    assert sorted(generated) == sorted(published)


def _served_commits(hub_root: Path) -> dict[tuple[str, str], str]:
    """(hub id, revision) -> the commit the stand-in serves there, for every model repository;
    renamed ids under their old name as well."""
    manifest = json.loads((hub_root / "manifest.json").read_text())
    commits = {}
    for repo in manifest["repos"]:
        if repo["type"] == "model":
            for ref, sha in repo["refs"].items():
                commits[(repo["id"], ref)] = sha
    for old, new in RENAMED.items():
        commits.update({(old, ref): sha for (id_, ref), sha in list(commits.items()) if id_ == new})
    return commits


def _appendix(paper: PaperRun) -> pd.DataFrame:
    return pd.read_csv(paper.root / APPENDIX_A, keep_default_na=False)


def test_appendix_a_lists_every_model_of_the_study(paper_run):
    appendix = _appendix(paper_run)
    assert len(appendix) == 34
    ids = configured_ids(paper_config())
    assert set(appendix["Hub id or path"]) == set(ids["model"] + ids["published"])


def test_appendix_a_lists_the_commit_the_stand_in_served(paper_run, hub_root):
    served = _served_commits(hub_root)
    appendix = _appendix(paper_run)
    expected = [
        served[(row["Hub id or path"], row["Revision"] or "main")] for _, row in appendix.iterrows()
    ]
    assert list(appendix["Commit or content hash"]) == expected


def test_a_renamed_repo_is_followed(paper_run, hub):
    old = find_model_entry(paper_config(), RENAMED_SLUG)["id"]
    generations = pd.read_parquet(paper_run.root / f"results/generations/{RENAMED_SLUG}.parquet")
    assert len(generations) == 12 and generations["generation"].notna().all()
    new = served_id(old)
    assert new != old
    asked = {r["path"].split("/resolve/")[0] for r in hub.requests if "/resolve/" in r["path"]}
    assert f"/{new}" in asked  # the redirect was followed to the new name


def test_appendix_a_says_under_which_name_a_renamed_repo_was_found(paper_run):
    old = find_model_entry(paper_config(), RENAMED_SLUG)["id"]
    appendix = _appendix(paper_run)
    row = appendix.loc[appendix["Hub id or path"] == old].iloc[0]
    assert served_id(old) in " ".join(str(value) for value in row.to_list())


def test_the_token_appears_in_no_output_or_log(paper_run):
    places = [paper_run.root / "results", paper_run.root / "logs", paper_run.root / ".snakemake"]
    leaked = [
        path
        for place in places
        for path in place.rglob("*")
        if path.is_file() and TOKEN.encode() in path.read_bytes()
    ]
    assert not leaked
    assert all(TOKEN not in output for output in paper_run.outputs.values())


def _tokenizer_ids(hub_root: Path, repo_id: str, ref: str) -> dict[str, int]:
    manifest = json.loads((hub_root / "manifest.json").read_text())
    repo = next(r for r in manifest["repos"] if r["id"] == repo_id)
    tokenizer = json.loads(
        (hub_root / "commits" / repo["refs"][ref] / "tokenizer.json").read_text()
    )
    return {token["content"]: token["id"] for token in tokenizer["added_tokens"]}


def test_a_pinned_revision_loads_that_revisions_files(paper_run, hub_root):
    """config.yaml with the Llama-3.1 instruct model pinned to v1.0, whose tokenizer's eos is
    <|end_of_text|> (main's is <|eot_id|>): the generations stop at the pinned tokenizer's eos."""
    from finetox.io import parquet_metadata

    config = sized_config()
    entry = find_model_entry(config, PINNED_SLUG)
    assert entry["id"] == TWO_REVISIONS
    entry["revision"] = OLD_TAG
    config["results_dir"] = "results/pinned"
    configfile = write_config(config, paper_run.root, "paper-pinned")
    target = f"results/pinned/generations/{PINNED_SLUG}.parquet"
    _run_and_keep(paper_run, "pinned", configfile, "--cores", "1", target,
                  env=paper_run.env(HF_TOKEN=TOKEN))  # fmt: skip
    pinned = parquet_metadata(paper_run.root / target)
    main = parquet_metadata(paper_run.root / f"results/generations/{PINNED_SLUG}.parquet")
    old, new = (_tokenizer_ids(hub_root, TWO_REVISIONS, ref) for ref in (OLD_TAG, "main"))
    assert pinned["model"]["revision"] == OLD_TAG
    assert pinned["stop_ids"] == [old["<|end_of_text|>"]]
    assert main["stop_ids"] == [new["<|eot_id|>"]]


def test_a_second_run_offline_plans_nothing_and_reads_the_cache(paper_run, hub):
    """With HF_HUB_OFFLINE=1 and the stand-in stopped: a dry run plans nothing, and a forced
    rerun of one generate job (a gated instruct model with its Dolly adapter) loads from the
    cache and writes the same continuations."""
    target = f"results/generations/{OFFLINE_MODEL}.parquet"
    before = pd.read_parquet(paper_run.root / target)
    with hub.stopped():
        env = paper_run.env(HF_TOKEN=TOKEN, HF_HUB_OFFLINE="1")
        dry = run(paper_run.root, paper_run.published_config, "-n", env=env)
        forced = run(paper_run.root, paper_run.published_config, "--cores", "1", "--force",
                     target, env=env)  # fmt: skip
    assert dry.returncode == 0, failure(dry)
    assert "Nothing to be done" in dry.stdout + dry.stderr, failure(dry)
    assert forced.returncode == 0, failure(forced)
    assert dict(planned(forced.stdout + forced.stderr)) == {"generate": 1}
    after = pd.read_parquet(paper_run.root / target)
    pd.testing.assert_frame_equal(after, before)


# ---------------------------------------------------------------------------------------------
# What stops a run before its first job


@pytest.fixture(scope="module")
def error_checkout(tmp_path_factory) -> Path:
    """A copy of the checkout for the runs that must stop, with an HF_HOME of its own."""
    return copy_checkout(tmp_path_factory.mktemp("paper-errors") / "finetox")


def _stopped_run(root: Path, hub, name: str, config: dict, *targets: str, **env: str):
    """Snakemake on `config` (results in results/{name}); (return code, every line it and its
    jobs' logs wrote, the jobs it started)."""
    config["results_dir"] = f"results/{name}"
    configfile = write_config(config, root, name)
    env = run_env(hub.url, root.parent / f"hf-home-{name}", root, **env)
    result = run(root, configfile, "--cores", "1", *targets, env=env, timeout=900)
    output = result.stdout + result.stderr
    (root.parent / f"{name}.txt").write_text(output)
    logs = root / "results" / name / "logs"
    lines = output.splitlines()
    for log in sorted(logs.rglob("*.log")) if logs.exists() else []:
        lines += log.read_text(errors="replace").splitlines()
    return result.returncode, lines, jobs_of(output)


def _names(line: str, text: str) -> bool:
    """Whether `line` names `text` whole (google/gemma-2b, not as part of google/gemma-2b-it)."""
    return re.search(re.escape(text) + r"(?![\w.-])", line) is not None


def _gated_ids(config: dict) -> list[str]:
    ids = configured_ids(config)
    return sorted({i for i in ids["model"] + ids["classifier"] if i.split("/")[0] in GATED_OWNERS})


def test_without_a_token_the_run_stops_before_its_first_job_naming_each_gated_repo(
    error_checkout, hub
):
    returncode, lines, jobs = _stopped_run(error_checkout, hub, "no-token", sized_config())
    assert returncode != 0
    assert not jobs, f"jobs started: {sorted(Counter(j.rule for j in jobs.values()).items())}"
    for repo_id in _gated_ids(paper_config()):
        naming = [line for line in lines if _names(line, repo_id)]
        assert len(naming) == 1, (repo_id, naming)


def _changed(slug: str, **entry: str) -> dict:
    config = sized_config()
    find_model_entry(config, slug).update(entry)
    return config


@pytest.mark.parametrize(
    ("slug", "change", "revision"),
    [
        ("phi3.5-mini-ita", {"id": "anakin87/Phi-3.5-mini-ITA-removed"}, None),
        ("phi3-mini-4k-instruct", {"revision": "no-such-revision"}, "no-such-revision"),
    ],
    ids=["removed-repo", "bad-revision"],
)
def test_a_removed_repo_or_a_bad_revision_stops_naming_slug_id_and_revision(
    error_checkout, hub, slug, change, revision
):
    config = _changed(slug, **change)
    repo_id = find_model_entry(config, slug)["id"]
    name = f"stop-{slug}"
    target = f"results/{name}/generations/{slug}.parquet"
    returncode, lines, jobs = _stopped_run(error_checkout, hub, name, config, target,
                                           HF_TOKEN=TOKEN)  # fmt: skip
    assert returncode != 0
    named = [_names(line, slug) and _names(line, repo_id) for line in lines]
    if revision is not None:  # a revision the config names; none: the default branch
        named = [n and _names(line, revision) for n, line in zip(named, lines, strict=True)]
    assert any(named), lines[-30:]
