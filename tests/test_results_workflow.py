"""The results rules as the workflow runs them, on fabricated score and comparison files: the
rules' declared outputs are exactly what the writers write, and the report holds every table and
figure with its caption, the reproduction tables too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from finetox.config import load_study, load_yaml
from finetox.results import (
    changes_files,
    figure_files,
    reproduction_files,
    results_layout,
    table_files,
)
from tests.test_results import fabricate, write_fabricated_study
from tests.workflow_runs import DEMO_RESULTS, copy_checkout, failure, snakemake


def run(root: Path, *args: str) -> None:
    result = snakemake(root, *args, timeout=600)
    assert result.returncode == 0, f"snakemake {' '.join(args)}: {failure(result)}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the workflow with fabricated scores and comparisons of the demo study, after
    the two results rules and the report ran."""
    root = copy_checkout(tmp_path_factory.mktemp("workflow") / "finetox")
    write_fabricated_study(root / "config/demo.yaml", trajectory=True)
    layout = results_layout(load_study(load_yaml(root / "config/demo.yaml"), workdir=root))
    fabricate(root / DEMO_RESULTS, layout)
    targets = [
        table_files(layout, DEMO_RESULTS)[0],
        figure_files(layout, DEMO_RESULTS)[0],
        reproduction_files(layout, DEMO_RESULTS)[0],
    ]
    demo = ("--configfile", "config/demo.yaml")
    rules = ("--allowed-rules", "write_tables", "plot_figures", "reproduce")
    run(root, "--cores", "2", *demo, *rules, "--", *targets)
    run(root, "--report", f"{DEMO_RESULTS}/report.html", *demo, *rules, "--", *targets)
    return root, layout


def test_the_rules_write_every_declared_file(workdir):
    root, layout = workdir
    files = [table_files, changes_files, figure_files, reproduction_files]
    for path in [path for of in files for path in of(layout, DEMO_RESULTS)]:
        assert (root / path).stat().st_size > 0, path
    demo = root / DEMO_RESULTS
    assert not list((demo / "tables").glob(".*.tmp"))
    for rule in ("write_tables", "plot_figures", "reproduce"):
        assert "done in" in (demo / "logs" / f"{rule}.log").read_text()
        assert (demo / "benchmarks" / f"{rule}.tsv").exists()
    assert not (root / "logs").exists() and sorted(
        p.name for p in (root / "results").iterdir()
    ) == ["demo"]


def test_the_report_holds_every_table_and_figure_with_captions(workdir):
    root, layout = workdir
    text = (root / DEMO_RESULTS / "report.html").read_text()
    # the report embeds captions as JSON strings: '±' is '\\u00b1' there
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    for table in layout["tables"]:
        assert f"{table['name']}.html" in text
        assert f"{table['name']}_verdicts.html" in text
    for figure in layout["figures"]:
        assert f"{figure['name']}.png" in text
    assert "appendix_a_models.html" in text and "largest_changes.html" in text
    assert "reproduction.html" in text and "reproduction_verdicts.html" in text
    assert "Reproduction: the paper's % toxic beside ours." in text
    assert "ours minus the paper's, in percentage points" in text  # its caption, rendered
    assert "Figure 4, as the paper's Figure 4" in text and "this workflow's own figures" in text
    # captions rendered (Jinja filled from the config, reStructuredText to HTML): the sign, the
    # ROPE from the config's defaults, the content warning
    assert "demo_lexicon" in text and "95% highest-density interval" in text
    assert "positive means more toxic" in text and "original minus tuned" in text
    assert "±1 percentage points" in text and "±0.01 for BEST" in text
    assert "▲" in text and "? undecided" in text  # the marks of the % toxic tables
    assert "contains model outputs that may be offensive" in text
    assert f"{DEMO_RESULTS}/tables/" in text  # the captions name the study's own folders
    assert "{{" not in text and "System Message" not in text


def test_the_demo_plans_the_reproduction_tables_from_the_raw_models_and_the_papers_files():
    """A dry run of the demo plans the reproduce rule: the paper's files and every raw model's
    score and comparison file in, the reproduction tables out."""
    from tests.conftest import REPO

    result = snakemake(REPO, "-n", "--forceall", "--configfile", "config/demo.yaml")
    assert result.returncode == 0, failure(result)
    block = result.stdout.split("rule reproduce:", 1)[1].split("\n\n", 1)[0]
    inputs = re.search(r"^    input: (.*)$", block, re.MULTILINE).group(1).split(", ")
    outputs = re.search(r"^    output: (.*)$", block, re.MULTILINE).group(1).split(", ")
    layout = results_layout(load_study(load_yaml(REPO / "config/demo.yaml"), workdir=REPO))
    assert sorted(outputs) == sorted(reproduction_files(layout, DEMO_RESULTS))
    assert "resources/paper/paper_tables.csv" in inputs
    assert "resources/paper/paper_verdicts.csv" in inputs
    assert f"{DEMO_RESULTS}/scores/tiny-instruct.parquet" in inputs
    assert f"{DEMO_RESULTS}/comparisons/tiny-instruct__vs__tiny-community-toxic.csv" in inputs


def test_the_demos_reproduction_tables_say_no_paper_model_was_run(workdir):
    root, _ = workdir
    tables = root / DEMO_RESULTS / "tables"
    assert "No model of the paper was run" in (tables / "reproduction.md").read_text()
    assert "No pair of the paper was compared" in (tables / "reproduction_verdicts.md").read_text()
    assert len((tables / "reproduction.csv").read_text().splitlines()) == 1  # the header
