# The report shows each table as HTML and each figure as PNG (the other formats are downloads),
# captioned by workflow/report/: {kind}.rst, verdicts.rst, {appendix}.rst, figure_{style}.rst
# (a paper figure: figure_paper{n}.rst), the page of the prompts that changed most
# (largest_changes.rst), the reproduction tables ({name}.rst) and, with two or more classifiers,
# the sensitivity tables ({name}.rst) and figure (figure_classifier_verdicts.rst).
from finetox import paths
from finetox.results import changes_files

SENSITIVITY = "Sensitivity to the classifier"


def _in_report(path, caption, category, subcategory, labels):
    return report(
        path,
        caption=f"../report/{caption}",
        category=category,
        subcategory=subcategory,
        labels=labels,
    )


def _table_files(name, caption, subcategory, content):
    """One table's files, its HTML flagged for the report."""
    labels = {"table": name, "content": content}
    return [
        (
            _in_report(path, caption, "Tables", subcategory, labels)
            if path.endswith(".html")
            else path
        )
        for path in paths.table_files(name, ROOT)
    ]


def table_outputs():
    """Every table file; the HTML ones flagged for the report, captioned per table."""
    outputs = []
    for table in RESULTS_LAYOUT["tables"]:
        title = table["title"]
        outputs += _table_files(
            table["name"], f"{table['kind']}.rst", title, "% toxic generations"
        )
        outputs += _table_files(table["verdicts"], "verdicts.rst", title, "verdicts")
    contents = {"models": "evaluated models"}
    for key, name in RESULTS_LAYOUT["appendices"].items():
        outputs += _table_files(name, f"{name}.rst", "Appendices", contents[key])
    sensitivity = {
        "rates": "% toxic by classifier",
        "verdicts": "verdicts by classifier",
        "agreement": "agreement of the classifiers",
    }
    for key, name in RESULTS_LAYOUT["classifier_tables"].items():
        outputs += _table_files(name, f"{name}.rst", SENSITIVITY, sensitivity[key])
    labels = {
        "table": RESULTS_LAYOUT["changes"],
        "content": "prompts that changed most",
    }
    for path in changes_files(RESULTS_LAYOUT, ROOT):
        if path.endswith(".html"):
            path = _in_report(
                path, "largest_changes.rst", "Prompts", "Largest score changes", labels
            )
        outputs.append(path)
    return outputs


def figure_outputs():
    """Every figure file; the PNGs flagged for the report, captioned by figure style."""
    titles = {table["name"]: table["title"] for table in RESULTS_LAYOUT["tables"]}
    outputs = []
    for figure in RESULTS_LAYOUT["figures"]:
        caption = (
            f"figure_paper{figure['paper_figure']}.rst"
            if figure.get("paper_figure")
            else f"figure_{figure['style']}.rst"
        )
        subcategory = titles.get(
            figure.get("table"),
            SENSITIVITY if figure["style"] == "classifier_verdicts" else "Toxic rates",
        )
        outputs += _figure_files(figure["name"], caption, subcategory)
    return outputs


def _figure_files(name, caption, subcategory):
    """One figure's files, its PNG flagged for the report."""
    labels = {"figure": name}
    return [
        (
            _in_report(path, caption, "Figures", subcategory, labels)
            if path.endswith(".png")
            else path
        )
        for path in paths.figure_files(name, ROOT)
    ]


def trajectory_table_outputs():
    """The trajectory and forgetting tables, their HTML in the report."""
    return [
        path
        for name in TRAJECTORY_LAYOUT["tables"]
        for path in _table_files(name, f"{name}.rst", "Trajectory", name)
    ]


def trajectory_figure_outputs():
    """The trajectory and forgetting figures, their PNG in the report."""
    return [
        path
        for name in TRAJECTORY_LAYOUT["figures"]
        for path in _figure_files(name, f"figure_{name}.rst", "Trajectory")
    ]


def reproduction_outputs():
    """The reproduction tables' files; their HTML flagged for the report."""
    contents = {
        "tables": "% toxic, paper and ours",
        "verdicts": "verdicts, paper and ours",
    }
    outputs = []
    for key, content in contents.items():
        name = REPRODUCTION[key]
        outputs += _table_files(
            name, f"{name}.rst", "Reproduction of the paper", content
        )
    return outputs


def sampled_table_outputs():
    """The sampled tables' files (the verdicts' where there are sampled pairs), their HTML in
    the report."""
    outputs = _table_files(
        SAMPLED_TABLE,
        f"{SAMPLED_TABLE}.rst",
        "Sampled decoding",
        "EMT and Toxicity Probability",
    )
    if SAMPLED_PAIRS:
        outputs += _table_files(
            SAMPLED_VERDICTS,
            f"{SAMPLED_VERDICTS}.rst",
            "Sampled decoding",
            "verdicts",
        )
    return outputs
