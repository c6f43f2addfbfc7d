"""Adding a model to a finished study reruns only what depends on it: the new model's generation
and scoring, its comparison, and the cheap aggregates (tables, figures). Per-model jobs receive
only their own model's settings, so changing one model's settings reruns none of the others."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
from pathlib import Path

import pytest
import yaml

from finetox.config import load_study
from tests.conftest import REPO
from tests.workflow_runs import DEMO_RESULTS, failure, jobs_of, snakemake

pytestmark = pytest.mark.slow

NEW_SLUG = "tiny-community-again"
AGGREGATE_RULES = set(
    re.findall(r"^\s*rule (\w+):", (REPO / "workflow/rules/results.smk").read_text(), re.M)
) | {"all"}


def snapshot(results: Path) -> dict[str, tuple[int, str]]:
    """Every file under a results folder: (mtime in ns, sha256)."""
    return {
        path.relative_to(results).as_posix(): (
            path.stat().st_mtime_ns,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )
        for path in sorted(results.rglob("*"))
        if path.is_file()
    }


def demo_config(root: Path) -> dict:
    return yaml.safe_load((root / "config/demo.yaml").read_text())


def write_config(root: Path, config: dict, name: str) -> str:
    path = root / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return f"config/{name}"


def dry_run(root: Path, configfile: str) -> dict:
    result = snakemake(root, "--dry-run", "--cores", "2", "--configfile", configfile)
    assert result.returncode == 0, failure(result)
    return jobs_of(result.stdout + result.stderr)


@pytest.fixture
def finished_demo(demo_run, tmp_path) -> Path:
    """A private copy of the finished demo (mtimes kept), to change."""
    root = tmp_path / "finetox"
    shutil.copytree(demo_run, root, symlinks=True)
    return root


def test_adding_a_community_model_reruns_only_its_jobs_and_the_aggregates(finished_demo):
    root = finished_demo
    assert not dry_run(root, "config/demo.yaml"), "the finished demo should be up to date"

    config = demo_config(root)
    community = config["families"]["tiny"]["community"]
    community.append(
        {**community[0], "slug": NEW_SLUG, "label": NEW_SLUG}
    )  # same weights, new name
    configfile = write_config(root, config, "demo-plus.yaml")
    before_study, after_study = load_study(demo_config(root)), load_study(copy.deepcopy(config))
    new_models = set(after_study.model_names) - set(before_study.model_names)
    new_pairs = {pair.name for pair in after_study.comparisons} - {
        pair.name for pair in before_study.comparisons
    }
    assert len(new_models) == 1 and len(new_pairs) == 1, (new_models, new_pairs)
    (new_model,), (new_pair,) = new_models, new_pairs

    jobs = dry_run(root, configfile)
    scheduled = sorted(f"{job.rule}: {', '.join(job.outputs)}" for job in jobs.values())
    print("dry run after adding a model:\n  " + "\n  ".join(scheduled))
    per_model = [job for job in jobs.values() if job.rule not in AGGREGATE_RULES]
    outputs = {output for job in per_model for output in job.outputs}
    assert {
        f"{DEMO_RESULTS}/generations/{new_model}.parquet",
        f"{DEMO_RESULTS}/scores/{new_model}.parquet",
        f"{DEMO_RESULTS}/comparisons/{new_pair}.csv",
    } <= outputs, scheduled
    foreign = [
        job.rule
        for job in per_model
        if not all(new_model in output or new_pair in output for output in job.outputs)
    ]
    assert not foreign, f"jobs of other models scheduled: {foreign}\n{scheduled}"
    # one job per stage and decoding: the greedy run and the sampled one (generation.sampled)
    assert len(per_model) == 2 * len({job.rule for job in per_model}), scheduled
    assert {job.rule for job in jobs.values()} & (AGGREGATE_RULES - {"all"}), "no aggregate reruns"

    before = snapshot(root / DEMO_RESULTS)
    result = snakemake(root, "--cores", "2", "--configfile", configfile)
    assert result.returncode == 0, failure(result)
    after = snapshot(root / DEMO_RESULTS)
    rewritten = {output for job in jobs.values() for output in job.outputs}
    unchanged_expected = {
        name
        for name in before
        if not name.startswith(("benchmarks/", "logs/"))
        and not any(f"{DEMO_RESULTS}/{name}".startswith(output) for output in rewritten)
    }
    changed = sorted(name for name in unchanged_expected if after.get(name) != before[name])
    assert not changed, f"earlier outputs touched: {changed}"
    assert any(name.startswith("generations/") for name in unchanged_expected)
    assert f"scores/{new_model}.parquet" in after


def test_adding_a_trajectory_point_runs_only_that_point(finished_demo):
    """A new point starts from the finished run's kept checkpoints: no tuning job reruns, and
    of the per-model jobs only the new point's run (its adapter, generation, scoring and
    comparison with the instruct model)."""
    root = finished_demo
    config = demo_config(root)
    config["tune"]["trajectory"]["steps"].append(15)
    jobs = dry_run(root, write_config(root, config, "demo-point.yaml"))
    per_model = sorted(
        (job.rule, tuple(job.outputs)) for job in jobs.values() if job.rule not in AGGREGATE_RULES
    )
    point = "tiny-instruct-dolly-step-15"
    assert per_model == sorted([
        ("tune_point", (f"{DEMO_RESULTS}/tuned/trajectory/tiny-instruct-dolly/step-15",)),
        ("generate", (f"{DEMO_RESULTS}/generations/{point}.parquet",)),
        ("score", (f"{DEMO_RESULTS}/scores/{point}.parquet",)),
        ("compare", tuple(
            f"{DEMO_RESULTS}/comparisons/tiny-instruct__vs__{point}{ext}"
            for ext in (".csv", ".nc", ".flips.csv", ".json")
        )),
    ]), per_model  # fmt: skip


def test_per_model_jobs_get_only_their_own_models_settings(finished_demo):
    root = finished_demo
    config = demo_config(root)
    changed = config["families"]["tiny"]["community"][1]
    changed["batch_size"] = 3
    configfile = write_config(root, config, "demo-batch.yaml")
    model = next(
        spec.name
        for spec in load_study(copy.deepcopy(config)).models.values()
        if spec.slug == changed["slug"]
    )

    jobs = dry_run(root, configfile)
    foreign = [
        f"{job.rule}: {job.outputs}"
        for job in jobs.values()
        if job.rule not in AGGREGATE_RULES and not all(model in out for out in job.outputs)
    ]
    assert not foreign, f"other models' jobs would rerun: {foreign}"
    # `--list-changes params` of Snakemake 9.27 lists unchanged jobs too; the reasons are exact
    params_changed = [job for job in jobs.values() if job.reason.startswith("Params have changed")]
    # the model's own setting reaches both its runs, greedy and sampled, and no other model's
    assert sorted(job.outputs[0] for job in params_changed) == [
        f"{DEMO_RESULTS}/generations/{model}--sampled.parquet",
        f"{DEMO_RESULTS}/generations/{model}.parquet",
    ]


def sampled_output(path: str) -> bool:
    """A file of a sampled run, a sampled pair or the sampled tables."""
    return "--sampled" in path or "/tables/sampled_" in path


def planned_rules(jobs: dict) -> dict[str, int]:
    planned = {job.rule: 0 for job in jobs.values()}
    for job in jobs.values():
        planned[job.rule] += 1
    return planned


def greedy_jobs(jobs: dict) -> list[str]:
    """The planned jobs, 'all' aside, with an output that is not a sampled one."""
    return [
        f"{job.rule}: {', '.join(job.outputs)}"
        for job in jobs.values()
        if job.rule != "all" and not all(sampled_output(out) for out in job.outputs)
    ]


def test_switching_sampled_decoding_on_or_changing_it_reruns_no_greedy_job(finished_demo):
    """generation.sampled adds a sampled run per model and pair and the sampled tables; greedy
    jobs never see the section (nor compare.rope.emt), so neither changing its settings nor
    switching it on in a finished greedy demo plans one of them."""
    root = finished_demo
    demo = demo_config(root)
    assert demo["generation"].get("sampled"), "the demo samples (generation.sampled)"
    study = load_study(copy.deepcopy(demo))
    sampled_jobs = {
        "generate": len(study.sampled), "score": len(study.sampled),
        "compare": len(study.sampled_comparisons), "write_sampled_table": 1, "all": 1,
    }  # fmt: skip

    # changed settings (k, top_p, seed and the EMT ROPE) on the finished demo
    config = copy.deepcopy(demo)
    config["generation"]["sampled"].update({"k": 3, "top_p": 0.8, "seed": 5})
    config["compare"]["rope"]["emt"] = 0.05
    jobs = dry_run(root, write_config(root, config, "demo-sampled-changed.yaml"))
    assert not greedy_jobs(jobs), f"sampled settings changed: greedy jobs planned: {jobs}"
    assert planned_rules(jobs) == sampled_jobs, jobs

    # the finished demo without its sampled runs, pairs and tables: a finished greedy demo
    greedy = copy.deepcopy(demo)
    del greedy["generation"]["sampled"]
    del greedy["compare"]["rope"]["emt"]
    removed = [
        path
        for path in (root / DEMO_RESULTS).rglob("*")
        if path.is_file()
        and path.relative_to(root / DEMO_RESULTS).parts[0] not in ("logs", "benchmarks")
        and sampled_output(path.relative_to(root).as_posix())
    ]
    assert len(removed) == 2 * len(study.sampled) + 4 * len(study.sampled_comparisons) + 8
    for path in removed:
        path.unlink()
    assert not dry_run(root, write_config(root, greedy, "demo-greedy.yaml")), "greedy not done"

    # switched on: exactly the sampled jobs
    jobs = dry_run(root, "config/demo.yaml")
    scheduled = sorted(f"{job.rule}: {', '.join(job.outputs)}" for job in jobs.values())
    print("dry run after switching sampled decoding on:\n  " + "\n  ".join(scheduled))
    assert not greedy_jobs(jobs), f"sampled decoding switched on: greedy jobs planned: {jobs}"
    assert planned_rules(jobs) == sampled_jobs, scheduled
