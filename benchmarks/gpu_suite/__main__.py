"""`python benchmarks/gpu_suite ...` (as the other benchmarks run) or, from the repository root,
`python -m benchmarks.gpu_suite ...`."""

import sys
from pathlib import Path

if __package__:
    from .main import main
else:
    # Run as a folder, Python put this folder first on the path, where its modules would shadow the
    # benchmarks they share names with (generation, scoring): put benchmarks/ there instead, as for
    # the other benchmarks, and import the suite as the package gpu_suite.
    package = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != package]
    sys.path.insert(0, str(package.parent))
    from gpu_suite.main import main

sys.exit(main())
