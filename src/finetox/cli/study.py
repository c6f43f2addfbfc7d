"""Commands about the study as a whole: its config, its prompt set, its demo data, its results."""

from __future__ import annotations

import argparse

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
        for spec in study.models.values():
            print(f"  model  {spec.name:40s} {spec.role:14s} {spec.source}")
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
    parser.add_argument("--out", default=paths.prompt_set())
    parser.add_argument("--manifest", default=paths.prompt_manifest())

    def run(args: argparse.Namespace) -> int:
        from finetox.config import load_study_file
        from finetox.prompts import build_prompt_set

        study = load_study_file(args.config)
        build_prompt_set(study.config["prompts"], out=args.out, manifest=args.manifest)
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


@command("results", "write the tables and figures from finished score and comparison files")
def _results(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config/config.yaml", help="the study config")
    parser.add_argument("--scores", default=paths.scores_dir(), help="folder of {model}.parquet")
    parser.add_argument(
        "--comparisons", default=paths.comparisons_dir(), help="folder of {a}__vs__{b}.csv"
    )
    parser.add_argument("--tables", default=paths.tables_dir(), help="folder for the tables")
    parser.add_argument("--figures", default=paths.figures_dir(), help="folder for the figures")
    parser.add_argument("--no-figures", action="store_true", help="write the tables only")

    def run(args: argparse.Namespace) -> int:
        from pathlib import Path

        from finetox.config import load_study_file
        from finetox.results import results_layout
        from finetox.results.write import write_tables

        layout = results_layout(load_study_file(args.config))
        scores = [Path(args.scores) / f"{model}.parquet" for model in layout["models"]]
        comparisons = [Path(args.comparisons) / f"{p['name']}.csv" for p in layout["pairs"]]
        written = write_tables(layout, scores, comparisons, args.tables)
        if not args.no_figures:
            from finetox.results.figures import plot_figures

            written += plot_figures(layout, scores, comparisons, args.figures)
        for path in written:
            print(path)
        return 0

    parser.set_defaults(handler=run)
