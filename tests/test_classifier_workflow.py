"""The workflow with several classifiers (issue 24 item 2): the demo's three classifiers plan the
same per-model and per-pair jobs as one would (every comparison covers every classifier in one job)
and add the sensitivity tables and figure to the results jobs' outputs; the demo with its primary
classifier alone plans none of them."""

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


def one_classifier_config(path):
    """The demo with its primary classifier alone."""
    config = yaml.safe_load((REPO / "config/demo.yaml").read_text())
    config["scoring"]["classifiers"] = config["scoring"]["classifiers"][:1]
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_the_demos_three_classifiers_plan_the_sensitivity_outputs():
    result = snakemake("-n", "--forceall", "--configfile", "config/demo.yaml")
    counts = job_counts(result.stdout)
    for rule, expected in DEMO_JOBS.items():
        assert counts.get(rule) == expected, (rule, counts)
    assert counts["write_tables"] == counts["plot_figures"] == 1
    for path in SENSITIVITY:
        assert path in result.stdout, path
    assert "appendix_b_classifiers" not in result.stdout  # classifier_rates supersedes it


def test_one_classifier_plans_no_sensitivity_outputs(tmp_path):
    config = str(one_classifier_config(tmp_path / "one.yaml"))
    result = snakemake("-n", "--forceall", "--configfile", config)
    counts = job_counts(result.stdout)
    assert "build_demo_multilabel" not in counts and "build_demo_guard" not in counts
    assert counts["write_tables"] == counts["plot_figures"] == 1
    assert not any(path in result.stdout for path in SENSITIVITY)


def test_lint_is_clean_with_one_classifier(tmp_path):
    config = str(one_classifier_config(tmp_path / "one.yaml"))
    result = snakemake("--lint", "--configfile", config)
    assert "Lints for" not in result.stdout + result.stderr, result.stdout + result.stderr
