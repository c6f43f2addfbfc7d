"""The workflow with two classifiers (issue 24 item 2): the demo's classifier listed a second time
under another name and a stricter threshold plans the same per-model and per-pair jobs (every
comparison covers both classifiers in one job) and adds the sensitivity tables and figure to the
results jobs' outputs."""

from __future__ import annotations

import yaml

from tests.conftest import REPO
from tests.test_workflow import DEMO_JOBS, job_counts, snakemake

SENSITIVITY = [
    *(f"results/demo/tables/{name}.{ext}" for name in
      ("classifier_rates", "classifier_verdicts", "classifier_agreement")
      for ext in ("csv", "md", "tex", "html")),
    "results/demo/figures/verdicts_by_classifier.png",
    "results/demo/figures/verdicts_by_classifier.pdf",
]  # fmt: skip


def two_classifier_config(path):
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    strict = {**config["scoring"]["classifiers"][0], "name": "demo_strict", "threshold": 0.9}
    config["scoring"]["classifiers"].append(strict)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_two_classifiers_plan_the_sensitivity_outputs(tmp_path):
    config = str(two_classifier_config(tmp_path / "two.yaml"))
    result = snakemake("-n", "--forceall", "--configfile", config)
    counts = job_counts(result.stdout)
    for rule, expected in DEMO_JOBS.items():
        assert counts.get(rule) == expected, (rule, counts)
    assert counts["write_tables"] == counts["plot_figures"] == 1
    for path in SENSITIVITY:
        assert path in result.stdout, path
    assert "appendix_b_classifiers" not in result.stdout  # classifier_rates supersedes it


def test_one_classifier_plans_no_sensitivity_outputs():
    result = snakemake("-n", "--forceall", "--configfile", "config/demo.yaml")
    assert not any(path in result.stdout for path in SENSITIVITY)


def test_lint_is_clean_with_two_classifiers(tmp_path):
    config = str(two_classifier_config(tmp_path / "two.yaml"))
    result = snakemake("--lint", "--configfile", config)
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
