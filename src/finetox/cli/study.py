"""Commands about the study as a whole: its config, its prompt set, its demo data, its results."""

from __future__ import annotations

import argparse
import sys

from finetox import paths
from finetox.cli.registry import command


@command("check-config", "validate a study config and list its models and comparisons")
def _check_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="config/config.yaml")
    parser.add_argument("--workdir", default=".", help="where relative paths in the config start")

    def run(args: argparse.Namespace) -> int:
        from finetox.config import load_study_file

        study = load_study_file(args.config, workdir=args.workdir)
        print(
            f"{args.config}: valid; {len(study.models)} models, {len(study.comparisons)} comparisons"
        )
        width = max(len(spec.role) for spec in study.models.values())
        for spec in study.models.values():
            print(f"  model  {spec.name:40s} {spec.role:{width}s} {spec.source}")
        for comparison in study.comparisons:
            print(f"  pair   {comparison.name:60s} {comparison.kind}")
        return 0

    parser.set_defaults(handler=run)


@command("config-reference", "print every config key (type, default, meaning) as Markdown")
def _config_reference(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--update",
        metavar="FILE",
        help="rewrite the reference in this file (docs/configuration.md)",
    )

    def run(args: argparse.Namespace) -> int:
        from finetox.config import config_reference, update_reference

        if args.update:
            update_reference(args.update)
        else:
            print(config_reference(), end="")
        return 0

    parser.set_defaults(handler=run)


@command("build-prompts", "build the prompt set and its manifest from a study config")
def _build_prompts(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--out", help=f"default: the config's {paths.prompt_set('{results_dir}')}")
    parser.add_argument(
        "--manifest", help=f"default: the config's {paths.prompt_manifest('{results_dir}')}"
    )

    def run(args: argparse.Namespace) -> int:
        from finetox.config import load_study_file
        from finetox.prompts import build_prompt_set

        study = load_study_file(args.config)
        root = study.results_dir
        build_prompt_set(
            study.config["prompts"],
            out=args.out or paths.prompt_set(root),
            manifest=args.manifest or paths.prompt_manifest(root),
        )
        return 0

    parser.set_defaults(handler=run)


@command("demo-data", "write the synthetic demo sources (RTP, CEB, Dolly schemas) to a folder")
def _demo_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", nargs="?", default="resources/demo")

    def run(args: argparse.Namespace) -> int:
        from finetox.demo.synthetic import write_demo_sources

        for path in write_demo_sources(args.folder):
            print(path)
        return 0

    parser.set_defaults(handler=run)


def _trajectory_outputs(study, args, scores_dir, comparisons_dir) -> list:
    """The trajectory and forgetting tables (and figures), where the study has them and their
    inputs exist (a run without its tuning jobs has no adapters: said, not an error)."""
    from pathlib import Path

    from finetox.results.trajectory import write_trajectory
    from finetox.results.trajectory_layout import (
        trajectory_adapters,
        trajectory_layout,
        trajectory_models,
        trajectory_pairs,
    )

    layout = trajectory_layout(study)
    if not layout["tables"]:
        return []
    root = study.results_dir
    scores = [scores_dir / f"{model}.parquet" for model in trajectory_models(layout)]
    comparisons = [comparisons_dir / f"{pair}.csv" for pair in trajectory_pairs(layout)]
    adapters = [Path(adapter) for adapter in trajectory_adapters(layout)]
    missing = [str(path) for path in [*scores, *comparisons, *adapters] if not path.exists()]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        print(
            f"finetox results: no trajectory or forgetting outputs: missing {shown}",
            file=sys.stderr,
        )
        return []
    return write_trajectory(
        layout,
        scores=scores,
        comparisons=comparisons,
        adapters=adapters,
        tables_dir=args.tables or paths.tables_dir(root),
        figures_dir=None if args.no_figures else args.figures or paths.figures_dir(root),
    )


@command("results", "write the tables and figures from finished score and comparison files")
def _results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the study config")
    root = "{results_dir}"  # the config's; each folder's default lies under it
    parser.add_argument(
        "--scores", help=f"folder of {{model}}.parquet (default: {paths.scores_dir(root)})"
    )
    parser.add_argument(
        "--comparisons",
        help=f"folder of {{a}}__vs__{{b}}.csv (default: {paths.comparisons_dir(root)})",
    )
    parser.add_argument(
        "--tables", help=f"folder for the tables (default: {paths.tables_dir(root)})"
    )
    parser.add_argument(
        "--figures", help=f"folder for the figures (default: {paths.figures_dir(root)})"
    )
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")
    parser.add_argument(
        "--paper",
        default="resources/paper",
        help="folder of the paper's published numbers, paper_tables.csv and paper_verdicts.csv, "
        "for the reproduction tables (default: resources/paper; skipped when it is missing)",
    )

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from finetox.config import load_study_file
        from finetox.results import results_layout
        from finetox.results.reproduction import write_reproduction
        from finetox.results.write import write_tables

        study = load_study_file(args.config)
        root = study.results_dir
        layout = results_layout(study)
        scores_dir = Path(args.scores or paths.scores_dir(root))
        comparisons_dir = Path(args.comparisons or paths.comparisons_dir(root))
        scores = [scores_dir / f"{model}.parquet" for model in layout["models"]]
        comparisons = [comparisons_dir / f"{p['name']}.csv" for p in layout["pairs"]]
        tables = args.tables or paths.tables_dir(root)
        written = write_tables(layout, scores, comparisons, tables)
        paper = Path(args.paper)
        if paper.is_dir():
            written += write_reproduction(
                layout, scores, comparisons, paper / "paper_tables.csv",
                paper / "paper_verdicts.csv", tables,
            )  # fmt: skip
        else:
            print(f"{paper}: no such folder; the reproduction tables are not written")
        if not args.no_figures:
            from finetox.results.figures import plot_figures

            figures = args.figures or paths.figures_dir(root)
            written += plot_figures(layout, scores, comparisons, figures)
        written += _trajectory_outputs(study, args, scores_dir, comparisons_dir)
        for path in written:
            print(path)
        return 0

    parser.set_defaults(handler=run)
