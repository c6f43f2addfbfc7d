"""The size overlay of the end-to-end run (tests/hub/size_overlay.yaml) changes how much is run,
never what: it sets only size keys, and the study it gives plans config.yaml's models (slugs,
ids, revisions, settings) and pairs, as `finetox check-config` lists them and as the loader
builds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hub.paper_study import (
    SIZE_KEYS,
    leaves,
    overlay,
    paper_config,
    sized_config,
    write_config,
)

pytestmark = pytest.mark.hub


def check_config_lines(path: Path, capsys) -> list[str]:
    """`finetox check-config`'s listing of models and pairs (without its first line, which names
    the file)."""
    from finetox.cli import main

    capsys.readouterr()
    assert main(["check-config", str(path)]) == 0
    return capsys.readouterr().out.splitlines()[1:]


# ---------------------------------------------------------------------------------------------
# The overlay changes sizes only


def test_the_overlay_sets_only_sizes():
    sizes = leaves(overlay())
    assert sizes, "the size overlay sets nothing"
    assert set(sizes) <= SIZE_KEYS, f"not sizes: {sorted(set(sizes) - SIZE_KEYS)}"
    assert all(type(value) is int for value in sizes.values()), sizes


@pytest.mark.parametrize("published", [False, True])
def test_the_sized_study_plans_config_yaml_models_ids_and_pairs(tmp_path, capsys, published):
    from finetox.config import load_study

    paper, sized = paper_config(), sized_config()
    for config in (paper, sized):
        config["comparisons"]["instruct_vs_dolly_published"] = published
    for name, config in (("paper", paper), ("sized", sized)):
        write_config(config, tmp_path, name)
    listed = [check_config_lines(tmp_path / "config" / f"{name}.yaml", capsys)
              for name in ("sized", "paper")]  # fmt: skip
    assert listed[0] == listed[1]
    paper_study, sized_study = load_study(paper), load_study(sized)
    assert sized_study.models == paper_study.models  # slugs, ids, revisions, roles, settings
    assert [c.record() for c in sized_study.comparisons] == [
        c.record() for c in paper_study.comparisons
    ]
    assert len(sized_study.models) == (34 if published else 28)
    assert len(sized_study.comparisons) == (28 if published else 22)
