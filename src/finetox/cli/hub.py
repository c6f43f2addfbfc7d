"""Commands of the hub path: preflight (before GPU hours) and discover (community fine-tunes)."""

from __future__ import annotations

import argparse

from finetox.cli.registry import command, whole_number


@command("discover", "list a base model's community fine-tunes on the hub; --write adds them")
def _discover(parser: argparse.ArgumentParser) -> None:
    from finetox.hub.discover import DEFAULT_RELATIONS, RELATIONS

    parser.add_argument("base_id", metavar="BASE_ID", help="hub id of the base (instruct) model")
    parser.add_argument(
        "--relation", nargs="+", choices=RELATIONS, default=list(DEFAULT_RELATIONS),
        help="relations to the base to list (default: finetune adapter)",
    )  # fmt: skip
    parser.add_argument("--top", type=whole_number(1), default=10, help="at most N (default 10)")
    parser.add_argument(
        "--min-downloads", type=whole_number(0), default=0, help="leave out models under N"
    )
    parser.add_argument("--include-gated", action="store_true", help="keep gated repositories")
    parser.add_argument("--json", metavar="FILE", help="write the list shown as JSON")
    parser.add_argument("--family", help="the config's family to add the models to (--write)")
    parser.add_argument(
        "--config", help="study config: its models are left out and their slugs avoided"
    )
    parser.add_argument(
        "--write", action="store_true", help="append the models as community entries of --family"
    )

    def run(args: argparse.Namespace) -> int:
        import json
        from collections import Counter
        from pathlib import Path

        from finetox.hub.discover import configured, discover, table, with_slugs, write_community
        from finetox.io import UserError

        if args.write and not (args.family and args.config):
            raise UserError("--write needs --family NAME and --config CONFIG")
        slugs, ids = set(), set()
        if args.config:
            raw, slugs, ids = configured(args.config)
            if args.family and args.family not in (raw.get("families") or {}):
                known = ", ".join(raw.get("families") or {})
                raise UserError(f"{args.config}: no family {args.family!r} (families: {known})")
        skipped: Counter = Counter()
        found = discover(
            args.base_id, tuple(args.relation), top=args.top, min_downloads=args.min_downloads,
            include_gated=args.include_gated, exclude=ids, skipped=skipped,
        )  # fmt: skip
        found = with_slugs(found, slugs)
        if found:
            print(table(found))
        left = "; ".join(f"{n} {reason}" for reason, n in sorted(skipped.items()))
        print(
            f"{len(found)} model(s) of {args.base_id} ({', '.join(args.relation)}), by downloads"
            + (f"; left out: {left}" if left else "")
        )
        if args.json:
            Path(args.json).write_text(json.dumps([c.as_json() for c in found], indent=1) + "\n")
        if args.write:
            written = write_community(args.config, args.family, found)
            print(
                f"{args.config}: {len(written)} community model(s) added to {args.family}"
                + (f": {', '.join(c.slug for c in written)}" if written else "")
            )
        return 0

    parser.set_defaults(handler=run)


@command("preflight", "before GPU hours: every hub source resolved, access checked, sizes summed")
def _preflight(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default="config/config.yaml", metavar="CONFIG",
                        help="study config (default config/config.yaml)")  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true", help="check the local cache alone (HF_HUB_OFFLINE)"
    )
    parser.add_argument(
        "--rates", metavar="GPU_SUITE_JSON",
        help="a GPU suite run's gpu_suite.json: estimate the study's GPU hours at its rates",
    )  # fmt: skip

    def run(args: argparse.Namespace) -> int:
        import os
        import sys

        if args.offline:  # before huggingface_hub reads it at import (and after, if it did)
            os.environ["HF_HUB_OFFLINE"] = "1"
            if "huggingface_hub" in sys.modules:
                from huggingface_hub import constants

                constants.HF_HUB_OFFLINE = True
        from finetox.config import load_study_file
        from finetox.hub.preflight import preflight, problems
        from finetox.hub.preflight_report import gpu_hours, summary, table

        study = load_study_file(args.config)  # config errors first, with no network
        estimate = gpu_hours(study, args.rates) if args.rates else None
        sources = preflight(args.config, offline=args.offline)
        found = problems(sources)
        if found:
            for problem in found:
                print(f"finetox preflight: {problem}", file=sys.stderr)
            print(
                f"finetox preflight: {len(found)} problem(s) in {len(sources)} repositories of "
                f"{args.config}",
                file=sys.stderr,
            )
            return 2
        print(table(sources))
        print(summary(sources, args.offline))
        print(_hours_line(estimate))
        return 0

    parser.set_defaults(handler=run)


def _hours_line(estimate) -> str:
    if estimate is None:
        return (
            "GPU hours: not estimated (no measured rates: run benchmarks/gpu_suite on the GPU, "
            "docs/gpu.md, and pass its gpu_suite.json as --rates)"
        )
    values, missing = estimate
    if "gpu_hours" not in values:
        return f"GPU hours: not estimated ({'; '.join(missing.values())})"
    parts = ", ".join(f"{key.removesuffix('_h')} {values[key]:.2f}"
                      for key in ("generation_h", "tuning_h", "scoring_h"))  # fmt: skip
    note = f"; not measured: {', '.join(missing)}" if missing else ""
    return (
        f"GPU hours: {values['gpu_hours']:.2f} ({parts}) for {values['models']} models and "
        f"{values['tune_runs']} tune runs{note}"
    )
