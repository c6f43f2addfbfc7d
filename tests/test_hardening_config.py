"""No bad config accepted in silence (issue 15): keys written twice, YAML syntax errors, numbers
that are not finite or out of range (config and command line), slugs and pairs whose names could
collide, local paths of the wrong kind; and one results folder per study, so the demo never
touches the paper's study."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
import yaml

from finetox import paths
from finetox.cli import main
from finetox.config import ConfigError, load_schema, load_study, load_study_file, load_yaml
from finetox.config.schema import object_properties, resolve
from tests.conftest import REPO
from tests.test_results import fabricate, write_fabricated_study
from tests.test_workflow import BIN, PAPER_JOBS, job_counts, snakemake
from tests.workflow_runs import DEMO_RESULTS, checkout_files, jobs_of
from tests.workflow_runs import snakemake as snakemake_in

# the line of config.yaml's top-level `prompts:` key
PROMPTS_LINE = next(
    number
    for number, line in enumerate((REPO / "config/config.yaml").read_text().splitlines(), 1)
    if line.startswith("prompts:")
)


@pytest.fixture
def paper() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


@pytest.fixture
def demo() -> dict:
    return yaml.safe_load((REPO / "config" / "demo.yaml").read_text())


def problems_of(config: dict, workdir=REPO) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_study(config, workdir=workdir)
    return caught.value.problems


# --- keys written twice, YAML syntax --------------------------------------------------------

DUPLICATED = """\
prompts:
  seed: 1
families:
  llama2:
    instruct: {slug: llama2-chat, id: meta-llama/Llama-2-7b-chat-hf}
    community:
      - {slug: c1, id: org/c1, slug: c2}
  gemma:
    instruct: {slug: gemma-it, id: google/gemma-2b-it}
  llama2:
    instruct: {slug: other, id: org/other}
"""


def test_a_key_written_twice_is_an_error_with_both_lines(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(DUPLICATED)
    with pytest.raises(ConfigError) as caught:
        load_yaml(path)
    assert caught.value.problems == [
        f"{path}: families.llama2.community[0].slug: key written twice (lines 7 and 7)",
        f"{path}: families.llama2: key written twice (lines 4 and 10)",
    ]
    with pytest.raises(ConfigError, match=r"families.llama2: key written twice \(lines 4 and 10\)"):
        load_study_file(path)


def test_anchors_and_merge_keys_are_not_duplicates(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(
        "common: &common {dtype: float16, params_b: 2}\n"
        "a: {<<: *common, slug: a}\n"
        "b: {<<: *common, slug: b}\n"
    )
    assert load_yaml(path)["b"] == {"dtype": "float16", "params_b": 2, "slug": "b"}


def test_check_config_names_file_and_line_of_a_syntax_error(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("prompts:\n  subsets: {severe: 10\nfamilies: {}\n")
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"finetox check-config: config error: {path}: line 3, column 9: expected ',' or '}}', "
        "but got ':' (while parsing a flow mapping that starts at line 2)"
    ]


def test_check_config_of_a_missing_file_is_one_line(tmp_path, capsys):
    assert main(["check-config", str(tmp_path / "none.yaml")]) == 2
    assert capsys.readouterr().err == (
        f"finetox check-config: config error: {tmp_path / 'none.yaml'}: no such file\n"
    )


def test_check_config_cli_has_no_traceback_on_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("families:\n\tg: {}\n")
    result = subprocess.run(
        [str(BIN / "finetox"), "check-config", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"finetox check-config: config error: {path}: line 2, column 1")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_snakemake_stops_on_a_key_written_twice_in_the_configfile(tmp_path):
    config = tmp_path / "demo-twice.yaml"
    text = (REPO / "config" / "demo.yaml").read_text()
    config.write_text(text + "\ncompare:\n  seed: 3\n")
    first = next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("compare:"))
    last = len(text.splitlines()) + 2
    result = snakemake("-n", "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert (
        f"config error: {config}: compare: key written twice (lines {first} and {last})"
        in result.stderr.splitlines()
    )
    assert "Job stats" not in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("appended", "expected"),
    [
        (
            "\nprompts: {seed: 3}\n",
            r"config/config.yaml: prompts: key written twice \(lines "
            + str(PROMPTS_LINE)
            + r" and \d+\)",
        ),
        ("\ncompare: {seed: 3\n", r"config/config.yaml: line \d+, column 1: expected ',' or '}'"),
    ],
    ids=["key written twice", "syntax error"],
)
def test_snakemake_names_file_and_line_of_the_default_config(tmp_path, appended, expected):
    (tmp_path / "config").mkdir()
    text = (REPO / "config" / "config.yaml").read_text()
    (tmp_path / "config" / "config.yaml").write_text(text + appended)
    result = snakemake(
        "-n", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), check=False
    )
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("config error: ")]
    assert len(errors) == 1 and re.fullmatch(f"config error: {expected}.*", errors[0]), (
        result.stderr
    )
    assert "Traceback" not in result.stderr


# --- numbers: finite and in range -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["scoring"]["classifiers"][0].update(threshold=math.nan),
            "scoring.classifiers[0].threshold: nan is not a finite number",
        ),
        (
            lambda c: c["scoring"]["classifiers"][0].update(threshold=1.5),
            "scoring.classifiers[0].threshold: 1.5 is greater than the maximum of 1",
        ),
        (
            lambda c: c["scoring"]["classifiers"][0].update(threshold=-1),
            "scoring.classifiers[0].threshold: -1 is less than the minimum of 0",
        ),
        (
            lambda c: c["compare"].update(hdi_prob=math.nan),
            "compare.hdi_prob: nan is not a finite number",
        ),
        (
            lambda c: c["compare"].update(hdi_prob=1),
            "compare.hdi_prob: 1 is greater than or equal to the maximum of 1",
        ),
        (
            lambda c: c["compare"]["priors"].update(mu_mean=-math.inf),
            "compare.priors.mu_mean: -inf is not a finite number",
        ),
        (lambda c: c["tune"].update(dropout=math.inf), "tune.dropout: inf is not a finite number"),
        (
            lambda c: c["tune"].update(dropout=1.0),
            "tune.dropout: 1.0 is greater than or equal to the maximum of 1",
        ),
        (
            lambda c: c["families"]["gemma-2b"]["base"].update(params_b=math.inf),
            "families.gemma-2b.base.params_b: inf is not a finite number",
        ),
        (
            lambda c: c["tune"].update(seed=2**32),
            "tune.seed: 4294967296 is greater than the maximum of 4294967295",
        ),
    ],
)
def test_every_number_is_finite_and_in_range(paper, change, expected):
    change(paper)
    problems = problems_of(paper)
    assert expected in problems, problems
    key = expected.split(": ", 1)[0]
    assert [p for p in problems if p.startswith(f"{key}: ")] == [expected]  # one line per key


def test_nan_in_the_yaml_file_is_named(tmp_path, capsys):
    text = (REPO / "config" / "demo.yaml").read_text().replace("hdi_prob: 0.95", "hdi_prob: .nan")
    path = tmp_path / "demo.yaml"
    path.write_text(text.replace("threshold: 0.5", "threshold: .NaN"))
    assert main(["check-config", str(path), "--workdir", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "config error: scoring.classifiers[0].threshold: nan is not a finite number" in err
    assert "config error: compare.hdi_prob: nan is not a finite number" in err


# Numeric keys with no upper bound on purpose (sizes, counts, scales), and the one without a
# lower bound (a prior's mean may be any number).
UNBOUNDED_ABOVE = {
    "params_b", "mem_mb", "runtime", "batch_size", "max_batch_size", "max_batch_tokens",
    "max_records", "alpha", "warmup_steps", "per_device_batch_size",
    "gradient_accumulation_steps", "epochs", "save_steps", "draws", "warmup", "mu_sd",
    "sigma_beta", "nu_minus_one_mean", "r_hat_max", "ess_min",
}  # fmt: skip
# a prompt source's filter bounds compare with any numeric field of its records
UNBOUNDED = {"mu_mean", "min", "max"}


def _numeric_keys(schema: dict, root: dict, prefix: str = "", seen=None):
    seen = set() if seen is None else seen
    for key, sub in object_properties(schema, root).items():
        path = f"{prefix}.{key}" if prefix else key
        resolved = resolve(sub, root)
        branches = [resolve(b, root) for b in resolved.get("oneOf", [])] or [resolved]
        for branch in branches:
            kinds = branch.get("type", [])
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if {"number", "integer"} & set(kinds):
                yield path, key, branch
        if ref := sub.get("$ref"):
            if ref in seen:
                continue
            seen.add(ref)
        yield from _numeric_keys(resolved, root, path, seen)
        for contained in ("additionalProperties", "items"):
            if isinstance(resolved.get(contained), dict):
                yield from _numeric_keys(resolved[contained], root, f"{path}[]", seen)


def test_every_numeric_key_of_the_schema_has_sensible_bounds():
    schema = load_schema()
    found = list(_numeric_keys(schema, schema))
    assert len(found) > 30
    for path, key, branch in found:
        has_low = "minimum" in branch or "exclusiveMinimum" in branch
        has_high = "maximum" in branch or "exclusiveMaximum" in branch
        if key not in UNBOUNDED:
            assert has_low, f"{path}: no lower bound"
        if key not in UNBOUNDED | UNBOUNDED_ABOVE:
            assert has_high, f"{path}: no upper bound"
    bounds = {path: branch for path, _key, branch in found}
    assert {"minimum": 0, "maximum": 1}.items() <= bounds["scoring.classifiers[].threshold"].items()
    assert {"exclusiveMinimum": 0, "exclusiveMaximum": 1}.items() <= bounds[
        "compare.hdi_prob"
    ].items()


@pytest.mark.parametrize(
    ("arguments", "option", "value"),
    [
        (["score", "--threshold", "nan"], "--threshold", "nan"),
        (["score", "--threshold", "1.5"], "--threshold", "1.5"),
        (["score", "--threshold", "-1"], "--threshold", "-1"),
        (["score", "--threshold", "inf"], "--threshold", "inf"),
        (["score", "--threads", "0"], "--threads", "0"),
        (["generate", "--max-batch-size", "0"], "--max-batch-size", "0"),
        (["generate", "--max-new-tokens", "0"], "--max-new-tokens", "0"),
        (["generate", "--threads", "0"], "--threads", "0"),
        (["generate", "--batch-size", "0"], "--batch-size", "0"),
        (["tune", "--max-records", "0"], "--max-records", "0"),
    ],
)
def test_numeric_options_are_usage_errors_naming_the_option(capsys, arguments, option, value):
    required = {
        "score": ["--classifier", "c", "--in", "g.parquet", "--out", "s.parquet"],
        "generate": ["--model", "m", "--prompts", "p.parquet", "--out", "g.parquet"],
        "tune": ["--model", "m", "--out", "adapter"],
    }[arguments[0]]
    with pytest.raises(SystemExit) as caught:
        main([*arguments, *required])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {option}: '{value}': give a" in err, err


# --- names that could collide, paths of the wrong kind --------------------------------------


@pytest.mark.parametrize(
    ("slug", "expected"),
    [
        (
            "a__vs__b",
            "families.gemma-2b.community[0].slug: 'a__vs__b' contains '__vs__', the separator "
            "of a pair's two model names; two models' file names could collide",
        ),
        (
            "a--chat",
            "families.gemma-2b.community[0].slug: 'a--chat' contains '--', the start of a "
            "prompt-format suffix (--chat); two models' file names could collide",
        ),
    ],
)
def test_slugs_that_could_make_names_collide_are_rejected(paper, slug, expected):
    paper["families"]["gemma-2b"]["community"][0]["slug"] = slug
    problems = problems_of(paper)
    assert [p for p in problems if p.startswith("families.gemma-2b.community[0].slug")] == [
        expected
    ]


def test_an_extra_pair_repeating_a_derived_pair_says_which(paper):
    paper["comparisons"]["extra"] = [{"a": "gemma-2b", "b": "gemma-2b-it"}]
    assert problems_of(paper) == [
        "comparisons.extra[0]: pair gemma-2b__vs__gemma-2b-it is already requested by the "
        "derived base_vs_instruct pair of family 'gemma-2b' (comparisons.base_vs_instruct)"
    ]


def test_two_extra_pairs_with_one_name_are_rejected(paper):
    pair = {"a": "llama2-7b", "b": "gemma-2b"}
    paper["comparisons"]["extra"] = [pair, dict(pair)]
    assert problems_of(paper) == [
        "comparisons.extra[1]: pair llama2-7b__vs__gemma-2b is already requested by "
        "comparisons.extra[0]"
    ]


def test_pair_problems_come_with_the_other_problems(paper):
    paper["comparisons"]["extra"] = [{"a": "gemma-2b", "b": "gemma-2b-it"}]
    paper["prompts"]["rtp"]["path"] = "config"
    problems = problems_of(paper)
    assert "prompts.rtp.path: 'config' is a folder; give a file" in problems
    assert any(
        p.startswith("comparisons.extra[0]: pair gemma-2b__vs__gemma-2b-it") for p in problems
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda c: c["prompts"]["rtp"].update(path="resources/demo"),
            "prompts.rtp.path: 'resources/demo' is a folder; give a file",
        ),
        (
            lambda c: c["prompts"]["ceb"].update(path="resources/demo/rtp.jsonl"),
            "prompts.ceb.path: 'resources/demo/rtp.jsonl' is a file; give a folder",
        ),
        (
            lambda c: c["prompts"]["ceb"].update(path="resources/demo"),
            "prompts.ceb.path: 'resources/demo' lacks race.json, gender.json, age.json, "
            "religion.json (one JSON file per CEB subset the prompt set asks for)",
        ),
        (
            lambda c: c["tune"]["data"].update(path="resources/demo"),
            "tune.data.path: 'resources/demo' is a folder; give a file",
        ),
        (
            lambda c: (
                c["demo"].update(build_models=False),
                c["families"]["tiny"]["base"].update(path="config/demo.yaml"),
            ),
            "families.tiny.base.path: 'config/demo.yaml' is a file; give a folder",
        ),
    ],
)
def test_local_paths_of_the_wrong_kind_name_the_key(demo, change, expected):
    change(demo)
    assert expected in problems_of(demo)


# --- one results folder per study -----------------------------------------------------------


def test_results_dir_defaults_to_results_and_the_demo_has_its_own(paper, demo):
    paper.pop("results_dir", None)
    assert load_study(paper, workdir=REPO).results_dir == "results"
    assert load_study(demo, workdir=REPO).results_dir == DEMO_RESULTS
    demo["results_dir"] = "results/demo/"
    assert load_study(demo, workdir=REPO).results_dir == DEMO_RESULTS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "results/{x}",
            "results_dir: 'results/{x}' holds '{' or '}', which Snakemake reads as a wildcard",
        ),
        (" results", "results_dir: ' results' has leading or trailing whitespace"),
        ("./", "results_dir: './' is the working directory; give a folder for the outputs"),
        ("", "results_dir: '' should be non-empty"),
    ],
)
def test_bad_results_dir_is_named(demo, value, expected):
    demo["results_dir"] = value
    assert expected in problems_of(demo)


def test_the_demo_builds_its_models_under_its_results_dir(demo):
    """A copy of the demo with another results_dir says where the demo builds its models."""
    demo["results_dir"] = "results/demo2"
    problems = problems_of(demo, workdir=REPO / "tests")  # a folder with no results/
    assert (
        "families.tiny.base.path: 'results/demo/models/base' does not exist (relative to "
        f"{REPO / 'tests'}); the demo builds its 'base' model at 'results/demo2/models/base'"
    ) in problems
    assert paths.demo_model("base", DEMO_RESULTS) == "results/demo/models/base"


def planned_paths(output: str) -> list[str]:
    """Every output, log and benchmark path a dry run lists."""
    found = []
    for key in ("output", "log", "benchmark"):
        for line in re.findall(rf"^    {key}: (.*)$", output, re.MULTILINE):
            found += line.split(", ")
    return found


def test_every_demo_output_and_log_lies_under_results_demo():
    result = snakemake("-n", "--forceall", "--configfile", "config/demo.yaml")
    planned = planned_paths(result.stdout + result.stderr)
    assert any(p.startswith(f"{DEMO_RESULTS}/logs/") for p in planned), planned
    assert any(p.startswith(f"{DEMO_RESULTS}/models/") for p in planned), planned
    outside = [p for p in planned if not p.startswith(f"{DEMO_RESULTS}/")]
    assert not outside, outside


def test_the_study_keeps_results_and_logs():
    result = snakemake("-n", "--forceall")
    planned = planned_paths(result.stdout + result.stderr)
    assert not [p for p in planned if p.startswith(DEMO_RESULTS)]
    assert {p.split("/", 1)[0] for p in planned} == {"results", "logs"}


def test_results_and_build_prompts_use_the_configs_results_dir(tmp_path, monkeypatch, demo):
    """finetox results --config X reads and writes under X's results_dir by default."""
    from finetox.results import results_layout

    monkeypatch.chdir(tmp_path)
    (tmp_path / "resources").symlink_to(REPO / "resources")
    config = write_fabricated_study(tmp_path / "demo.yaml")
    assert main(["build-prompts", "--config", str(config)]) == 0
    assert (tmp_path / DEMO_RESULTS / "prompts" / "prompt_set.parquet").is_file()
    layout = results_layout(load_study_file(config))
    fabricate(tmp_path / DEMO_RESULTS, layout)
    assert main(["results", "--config", str(config), "--no-figures"]) == 0
    assert (tmp_path / DEMO_RESULTS / "tables" / "table1_base_vs_instruct.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["demo"]


@pytest.mark.slow
def test_a_demo_run_leaves_the_studys_outputs_alone(demo_run):
    """Everything the demo run made lies under results/demo/ (Snakemake's own .snakemake/
    aside), and a dry run of the paper's study afterwards still plans every job as missing."""
    copied = {name.split("/", 1)[0] for name in checkout_files()}
    made = {path.name for path in demo_run.iterdir()} - copied
    assert made <= {"results", ".snakemake"}, made
    assert [path.name for path in (demo_run / "results").iterdir()] == ["demo"]
    result = snakemake_in(demo_run, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    counts = job_counts(output)
    for rule, expected in PAPER_JOBS.items():
        assert counts.get(rule) == expected, (rule, counts)
    jobs = jobs_of(output)
    assert all(
        job.reason.startswith("Missing output files") for job in jobs.values() if job.rule != "all"
    ), [job.reason for job in jobs.values()]
    assert not any(out.startswith(DEMO_RESULTS) for job in jobs.values() for out in job.outputs)


def test_the_outputs_page_says_where_each_output_goes():
    outputs = (REPO / "docs" / "outputs.md").read_text()
    assert "results_dir" in outputs and "results/demo/" in outputs
    assert "`logs/`" in outputs and "{results_dir}/logs/" in outputs
