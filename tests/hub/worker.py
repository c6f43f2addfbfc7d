"""A Python process that runs test snippets with the hub stand-in's environment (HF_ENDPOINT,
HF_HOME, HF_HUB_OFFLINE, ...), which huggingface_hub, transformers and datasets read once, when
they are imported: so the tests start one such process per environment and send it code, rather
than patching the libraries' module constants in the test process.

Protocol: one JSON object per line on stdin, {"code": "..."}; the code runs in a fresh namespace
and may set `result` (anything json.dumps takes, with str() for the rest). The answer is one JSON
line: {"ok": true, "result": ...} or {"ok": false, "error": NAME, "mro": [NAMES], "message": ...,
"traceback": ...}. Anything the libraries print goes to stderr, never into the answers.
"""

from __future__ import annotations

import json
import os
import sys
import traceback


def _answer(code: str) -> dict:
    namespace: dict = {"__name__": "__hub_snippet__"}
    try:
        exec(compile(code, "<hub snippet>", "exec"), namespace)
    except BaseException as error:  # noqa: BLE001  (reported to the test, which decides)
        if isinstance(error, KeyboardInterrupt):
            raise
        return {
            "ok": False,
            "error": type(error).__name__,
            "mro": [cls.__name__ for cls in type(error).__mro__],
            "causes": _causes(error),
            "message": str(error)[:4000],
            "traceback": traceback.format_exc()[-6000:],
        }
    return {"ok": True, "result": namespace.get("result")}


def _causes(error: BaseException) -> list[str]:
    """The names of the exceptions this one was raised from (transformers wraps the hub's)."""
    names, seen = [], set()
    current = error.__cause__ or error.__context__
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        names += [cls.__name__ for cls in type(current).__mro__]
        current = current.__cause__ or current.__context__
    return names


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # C-level and Python prints go to stderr
    sys.stdout = sys.stderr
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = _answer(json.loads(line)["code"])
        answers.write(json.dumps(answer, default=str) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
