"""Points of a tuning run (config tune.trajectory): their names, and the optimizer step each one
stands for. Standard library only: the workflow plans with it.

`steps: [50, 100]` names optimizer steps (points `step-50`, `step-100`); `points: 4` takes four
evenly spaced points of the run, the last the final adapter itself, so the three others are
`point-1of4` .. `point-3of4`, whose steps are known only once the run's length is (the final
adapter's training record). Step 0 is the instruct model, not a point of its own."""

from __future__ import annotations

import re
from typing import Any

POINT = re.compile(r"step-(?P<step>[1-9]\d*)|point-(?P<k>[1-9]\d*)of(?P<n>[1-9]\d*)")


def point_labels(trajectory: dict[str, Any] | None) -> list[str]:
    """The labels of a trajectory's points before the final adapter, in run order."""
    if not trajectory:
        return []
    if "steps" in trajectory:
        return [f"step-{step}" for step in sorted(trajectory["steps"])]
    n = trajectory["points"]
    return [f"point-{k}of{n}" for k in range(1, n)]


def point_step(label: str, final_step: int) -> int:
    """The optimizer step a point stands for in a run of `final_step` steps.

    Raises ValueError when the point does not lie strictly inside the run."""
    match = POINT.fullmatch(label)
    if not match:
        raise ValueError(f"{label!r} is not a trajectory point (step-N or point-KofN)")
    if match["step"]:
        step = int(match["step"])
    else:
        k, n = int(match["k"]), int(match["n"])
        step = round(k * final_step / n)
    if not 0 < step < final_step:
        raise ValueError(
            f"trajectory point {label}: step {step} is not inside the run, whose last step is "
            f"{final_step} (the final adapter is always the last point)"
        )
    return step


def point_title(label: str) -> str:
    """'step 50' or 'point 1/4', for labels and tables."""
    match = POINT.fullmatch(label)
    if match and match["step"]:
        return f"step {match['step']}"
    if match:
        return f"point {match['k']}/{match['n']}"
    return label
