"""The README is a front door of at most 300 lines; every page of docs/ is one click from it and
from the docs index, and every relative link (and its #anchor) in them leads somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def links(path: Path) -> list[str]:
    """The link targets of a Markdown file, fenced code left out."""
    return LINK.findall(FENCE.sub("", path.read_text()))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#{1,6} (.+)$", FENCE.sub("", path.read_text()), re.M)
    return {anchor(heading) for heading in headings}


def test_the_readme_is_at_most_300_lines():
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines <= 300, f"README.md has {lines} lines; move a subject to docs/"


@pytest.mark.parametrize("index", [REPO / "README.md", DOCS / "README.md"], ids=["README", "docs"])
def test_every_docs_page_is_one_click_away(index):
    linked = {(index.parent / target.split("#")[0]).resolve() for target in links(index)}
    unlinked = [page.name for page in PAGES if page.resolve() not in linked and page != index]
    assert not unlinked, f"{index.relative_to(REPO)} does not link {unlinked}"


@pytest.mark.parametrize("page", [REPO / "README.md", *PAGES], ids=lambda p: p.name)
def test_relative_links_lead_somewhere(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, fragment = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists() or (
            path.suffix == ".md" and fragment and fragment not in anchors(path)
        ):
            broken.append(target)
    assert not broken, f"{page.relative_to(REPO)}: broken links {broken}"


def test_the_anchor_rule_matches_githubs():
    assert anchor("Evaluating a single fine-tune without the workflow") == (
        "evaluating-a-single-fine-tune-without-the-workflow"
    )
    assert anchor("Beyond the paper: toxicity along the tuning run, and forgetting") == (
        "beyond-the-paper-toxicity-along-the-tuning-run-and-forgetting"
    )
    assert anchor("In CI and on any CPU: `--smoke`") == "in-ci-and-on-any-cpu---smoke"
