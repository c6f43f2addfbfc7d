"""The other benchmarks' code the suite reuses: the seed authors' loop (generation.py) and the
synthetic generations and score spreading (scoring.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parent.parent


def sibling_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module. Loaded under its own name (benchmark_<name>), as this
    package has modules of the same names; benchmarks/ goes on the path for what the benchmarks
    import from beside them (processes)."""
    module_name = f"benchmark_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(module_name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
