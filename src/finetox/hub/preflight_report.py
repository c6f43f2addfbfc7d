"""What finetox preflight prints: the table of a config's hub sources (commit, access, files,
sizes, what is cached, what to download), its summary line, and the study's GPU hours at the
rates a GPU suite run measured. The checks themselves are finetox.hub.preflight's."""

from __future__ import annotations

import json
import os
from pathlib import Path

from finetox.errors import InputError
from finetox.hub.preflight import FILES_RULE, Source

# ---------------------------------------------------------------------------------------------
# The report


def gib(size: int) -> str:
    """A size for people: GiB from 128 MiB, MiB from 1 MiB, else KiB."""
    if size >= 2**27:
        return f"{size / 2**30:.2f} GiB"
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def table(sources: list[Source]) -> str:
    header = (
        "kind",
        "id",
        "revision",
        "commit",
        "gated",
        "files",
        "size",
        "cached",
        "download",
        "used by",
    )
    rows = []
    for s in sources:
        shown = s.id + (f" -> {s.found_as}" if s.found_as and s.found_as != s.id else "")
        rows.append((s.kind, shown, s.revision or "main", (s.commit or "-")[:12],
                     str(s.gated) if s.gated else "no", str(len(s.files)), gib(s.size),
                     str(len(s.cached)), gib(s.to_download), s.context))  # fmt: skip
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {5, 6, 7, 8}

    def line(row):
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()

    return "\n".join([line(header), *(line(row) for row in rows)])


def summary(sources: list[Source], offline: bool) -> str:
    total = sum(s.size for s in sources)
    download = sum(s.to_download for s in sources)
    home = os.environ.get("HF_HOME") or "~/.cache/huggingface"
    if offline:
        return f"{len(sources)} repositories, all in the local cache ({gib(total)} under {home})"
    return (
        f"{len(sources)} repositories, {gib(total)} in all; to download: {gib(download)} into the "
        f"cache under HF_HOME ({home}); files counted: {FILES_RULE}"
    )


# ---------------------------------------------------------------------------------------------
# GPU hours


def gpu_hours(study, rates_path: str | Path) -> tuple[dict, dict[str, str]]:
    """The study's GPU hours at the rates a GPU suite run measured (its gpu_suite.json), by the
    suite's own estimate model (benchmarks/gpu_suite/estimate.py: study_estimate)."""
    try:
        rates = json.loads(Path(rates_path).read_text())
        for section in ("generation", "tuning", "scoring"):
            rates[section]  # noqa: B018  (a KeyError names what is missing)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"--rates {str(rates_path)!r}: not a gpu_suite.json with generation, tuning and "
            f"scoring sections ({type(error).__name__}: {error})"
        ) from error
    return _estimate_module().study_estimate(study, rates)


def _estimate_module():
    import importlib
    import sys

    root = Path(__file__).resolve().parents[3]  # the checkout: src/finetox/hub/preflight_report.py
    if not (root / "benchmarks" / "gpu_suite" / "estimate.py").is_file():
        raise InputError(
            "--rates needs a finetox checkout: the estimate model is "
            "benchmarks/gpu_suite/estimate.py, which an installed package lacks"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module("benchmarks.gpu_suite.estimate")
