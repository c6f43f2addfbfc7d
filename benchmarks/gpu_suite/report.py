"""The suite's output: the JSON (JSON-safe, rounded) and a Markdown summary of its main figures."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

JSON_NAME, MARKDOWN_NAME = "gpu_suite.json", "gpu_suite.md"
GENERATION_HEADER = (
    "| model | dtype | tokens/s | wall s | (for 2,400) | peak GPU GiB | auto batch "
    "| authors' loop s | ratio | batched = one at a time (float32) |"
)


def clean(value: Any) -> Any:
    """JSON-safe: numpy scalars as Python ones, non-finite numbers as null, floats rounded."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_report(out: Path, result: dict[str, Any]) -> None:
    document = clean(result)
    text = json.dumps(document, indent=1, allow_nan=False)
    (out / JSON_NAME).write_text(text + "\n")
    (out / MARKDOWN_NAME).write_text(markdown(document))


def show(value: Any, unit: str = "", digits: int = 3) -> str:
    """A value for the Markdown: '-' for none, yes/NO for a flag, floats to `digits` digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.{digits}g}{unit}"
    return f"{value}{unit}"


def header_lines(doc: dict[str, Any]) -> list[str]:
    suite, machine = doc["suite"], doc["machine"]
    versions = machine.get("versions", {})
    memory = machine.get("gpu_memory_gib")
    return [
        f"# finetox GPU suite ({suite['mode']}, scale {suite['scale']})",
        "",
        f"{machine.get('device')}{f' ({memory:.0f} GiB)' if memory else ''}, "
        f"{machine.get('cpu_count')} CPUs; torch {versions.get('torch')}, transformers "
        f"{versions.get('transformers')}, peft {versions.get('peft')}, bitsandbytes "
        f"{versions.get('bitsandbytes', 'absent')}; {suite['started']}; "
        f"{show(suite.get('wall_s'), ' s', 4)} in all.",
        "",
    ]


def generation_row(name: str, m: dict[str, Any]) -> str:
    if "wall_s" not in m:
        return f"| {name} | (not measured) | | | | | | | | |"
    extrapolated = " (extrapolated)" if m.get("authors_loop_extrapolated") else ""
    cells = [
        name,
        m.get("dtype"),
        show(m.get("tokens_per_s"), "", 4),
        show(m.get("wall_s")),
        show(m.get("wall_s_for_2400_prompts")),
        show(m.get("peak_gpu_mem_gib")),
        m.get("auto_batch_size"),
        f"{show(m.get('authors_loop_wall_s'))}{extrapolated}",
        f"{show(m.get('ratio'))} x",
        f"{show(m.get('batched_equals_one_at_a_time'))} "
        f"({show(m.get('batched_equals_one_at_a_time_float32'))})",
    ]
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def generation_lines(doc: dict[str, Any]) -> list[str]:
    models = doc["generation"]["models"]
    if not models:
        return []
    workload = doc["generation"].get("workload", {})
    title = f"{workload.get('prompts')} prompts x {workload.get('max_new_tokens')} new tokens"
    lines = [f"## Generation: {title}", "", GENERATION_HEADER, "|" + " --- |" * 10]
    lines += [generation_row(name, m) for name, m in models.items()]
    return [*lines, ""]


def tuning_lines(doc: dict[str, Any]) -> list[str]:
    tuning = doc["tuning"]
    if "steps_per_s" not in tuning:
        return []
    ran = tuning.get("ran", {})
    stand_in = f" ({tuning['stand_in']})" if tuning.get("stand_in") else ""
    adapter_speed = tuning.get("generation_4bit_adapter", {}).get("tokens_per_s")
    return [
        f"## Tuning: {tuning['model']}, {tuning['global_step']} steps",
        "",
        f"- {show(tuning['steps_per_s'])} steps/s ({show(tuning['s_per_step'])} s a step of "
        f"{show(tuning.get('tokens_per_step'), '', 4)} tokens); peak GPU memory "
        f"{show(tuning.get('peak_gpu_mem_gib'), ' GiB')}",
        f"- ran: 4-bit {ran.get('load_in_4bit')}, optimizer {ran.get('optim')}, gradient "
        f"checkpointing {ran.get('gradient_checkpointing')}{stand_in}",
        f"- the adapter reloads on a 4-bit base: {show(tuning.get('adapter_reloads_in_4bit'))} "
        f"({tuning.get('reload', {}).get('linear4bit_modules')} Linear4bit modules); "
        f"generation through it {show(adapter_speed, '', 4)} tokens/s",
        "",
    ]


def scoring_lines(doc: dict[str, Any]) -> list[str]:
    scoring = doc["scoring"]
    if "ratio" not in scoring:
        return []
    return [
        f"## Scoring: {scoring['texts']} texts",
        "",
        f"- finetox ({scoring['dtype']}): {show(scoring['texts_per_s'], '', 4)} texts/s; the "
        f"per-text loop ({scoring['per_text_loop_dtype']}, {scoring['per_text_loop_device']}): "
        f"{show(scoring['per_text_loop_texts_per_s'], '', 4)} texts/s; ratio "
        f"{show(scoring['ratio'])} x",
        f"- largest score difference {show(scoring['max_abs_diff'])} "
        f"(float32: {show(scoring.get('max_abs_diff_float32'))})",
        "",
    ]


def guard_lines(doc: dict[str, Any]) -> list[str]:
    guard = doc["guard"]
    if "texts_per_s" not in guard:
        return []
    return [
        f"## Guard judge: Llama-Guard-3-1B shape, {guard['texts']} exchanges",
        "",
        f"- finetox's guard scorer ({guard['dtype']}): {show(guard['texts_per_s'], '', 4)} "
        f"texts/s ({show(guard['wall_s'])} s); peak GPU memory "
        f"{show(guard.get('peak_gpu_mem_gib'), ' GiB')}",
        f"- template {guard['template_tokens']} tokens, median exchange "
        f"{show(guard['median_exchange_tokens'], '', 4)} tokens; batched against one at a time "
        f"(first {min(16, guard['texts'])}): largest difference "
        f"{show(guard['max_abs_diff_one_at_a_time'])}",
        "",
    ]


def lock_lines(doc: dict[str, Any]) -> list[str]:
    lock = doc["gpu_lock"]
    if "second_waits" not in lock:
        return []
    two, wait = lock["two_jobs"], lock["second_waits"]
    return [
        f"## GPU lock (pool {','.join(lock['pool'])})",
        "",
        f"- two jobs at once: claimed {[j.get('claimed') for j in two['jobs']]}, different "
        f"devices {show(two.get('different_devices'))}",
        f"- second job with every device taken: waited {show(wait['second_waited_s'], ' s')}, "
        f"started after the first ended {show(wait['second_started_after_first_ended'])}, same "
        f"device {show(wait['same_device'])}",
        *([f"- stand-in: {lock['stand_in']}"] if lock.get("stand_in") else []),
        "",
    ]


def option_row(name: str, o: dict[str, Any]) -> str:
    if "error" in o:
        return f"| {name} | error: {o['error'][:80]} | | | |"
    if o.get("ratio") is None:
        return f"| {name} | not measured: {o.get('not_measured', '')[:80]} | | | |"
    return (
        f"| {name} | {show(o['ratio'])} x | {show(o['identical_tokens'])} | "
        f"{show(o['identical_share'])} | {show(o['kept'])} |"
    )


def options_lines(doc: dict[str, Any]) -> list[str]:
    options = doc["options"]
    rows = {
        name: o
        for name, o in options.items()
        if isinstance(o, dict) and name not in ("baseline", "skipped") and "kept" in o
    }
    if not rows:
        return []
    return [
        f"## Options ({options.get('model')}, {options.get('prompts')} prompts)",
        "",
        "| option | ratio | identical tokens | share | kept |",
        "| --- | --- | --- | --- | --- |",
        *(option_row(name, o) for name, o in rows.items()),
        "",
    ]


def estimate_lines(doc: dict[str, Any]) -> list[str]:
    estimate = doc["estimate"]
    if "gpu_hours" not in estimate:
        return []
    return [
        "## The 28-model study",
        "",
        f"- {show(estimate['gpu_hours'])} GPU hours: generation {show(estimate['generation_h'])}, "
        f"tuning {show(estimate['tuning_h'])}, scoring {show(estimate['scoring_h'])} "
        f"({estimate['basis']})",
        "",
    ]


def closing_lines(doc: dict[str, Any]) -> list[str]:
    """The targets, then what was skipped and what failed."""
    lines = ["## Targets", ""]
    for key, target in doc["targets"].items():
        if isinstance(target, dict):
            lines.append(
                f"- {key}: {show(target['value'])} (target {target['target']}): {show(target['met'])}"
            )
    if doc["skipped"]:
        lines += ["", "## Skipped", ""]
        lines += [f"- {s['what']}: {s['reason']}" for s in doc["skipped"]]
    if doc["errors"]:
        lines += ["", "## Errors", ""]
        lines += [f"- {e['part']}: {e['error']}" for e in doc["errors"]]
    return lines


def markdown(doc: dict[str, Any]) -> str:
    sections = (
        header_lines, generation_lines, tuning_lines, scoring_lines, guard_lines, lock_lines,
        options_lines, estimate_lines, closing_lines,
    )  # fmt: skip
    return "\n".join(line for section in sections for line in section(doc)) + "\n"
