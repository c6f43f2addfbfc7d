"""envs/*.yaml, the conda environments of `--software-deployment-method conda`: they parse, pin
what pyproject.toml pins, and every rule that runs code names one of them."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import tomllib
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.conftest import REPO

ENVS = sorted((REPO / "envs").glob("*.yaml"))
RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PINS = {
    canonicalize_name(Requirement(line).name): Requirement(line)
    for line in PYPROJECT["dependencies"]
}
TORCH_DEFAULT = re.search(r"FINETOX_TORCH:-([\d.]+)", (REPO / "setup.sh").read_text()).group(1)


def env_requirements(path: Path) -> tuple[str, list[Requirement]]:
    env = yaml.safe_load(path.read_text())
    assert set(env) >= {"channels", "dependencies"}, f"{path.name}: channels and dependencies"
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip = [dep for dep in env["dependencies"] if isinstance(dep, dict)]
    assert "pip" in conda and len(pip) == 1 and set(pip[0]) == {"pip"}, f"{path.name}: one pip list"
    python = next(dep for dep in conda if dep.startswith("python="))
    return python.removeprefix("python="), [Requirement(line) for line in pip[0]["pip"]]


def test_there_are_the_three_environments():
    assert [path.name for path in ENVS] == ["data.yaml", "models.yaml", "stats.yaml"]


@pytest.mark.parametrize("path", ENVS, ids=lambda path: path.name)
def test_environment_pins_agree_with_pyproject(path):
    python, requirements = env_requirements(path)
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(python + ".0"), python
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in PINS, f"{path.name}: {requirement} is not a dependency in pyproject.toml"
        pin = PINS[name]
        if str(requirement.specifier) == str(pin.specifier):
            continue
        # only where pyproject allows a range (torch: keep a CUDA build that is already there)
        # may an environment pin one version of it: the one setup.sh installs
        exact = [spec for spec in requirement.specifier if spec.operator == "=="]
        assert exact and not any(spec.operator == "==" for spec in pin.specifier), (
            f"{path.name}: {requirement} but pyproject.toml says {pin}"
        )
        assert pin.specifier.contains(exact[0].version), f"{path.name}: {requirement} vs {pin}"
        if name == "torch":
            assert exact[0].version == TORCH_DEFAULT, (
                f"{path.name}: setup.sh installs {TORCH_DEFAULT}"
            )


def rules_with_code() -> dict[str, tuple[Path, str | None]]:
    """Rule name -> (its .smk file, its conda: path or None), for rules that run code."""
    found = {}
    for smk in RULE_FILES:
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            if not re.search(r"^    (script|shell|run|notebook|wrapper):", body, re.M):
                continue
            conda = re.search(r"^    conda:\s*\n\s+\"([^\"]+)\"", body, re.M)
            found[name] = (smk, conda.group(1) if conda else None)
    return found


def test_every_rule_that_runs_code_names_an_environment_and_every_environment_is_used():
    rules = rules_with_code()
    assert rules, "no rules found"
    missing = [name for name, (_, conda) in rules.items() if conda is None]
    assert not missing, f"rules without conda: {missing}"
    used = set()
    for name, (smk, conda) in rules.items():
        env = (smk.parent / conda).resolve()
        assert env.parent == (REPO / "envs").resolve() and env.exists(), f"{name}: {conda}"
        used.add(env.name)
    assert used == {path.name for path in ENVS}, f"used: {sorted(used)}"


def imported_modules(path: Path) -> set[str]:
    """Dotted names of every module a file imports, at module level or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            if node.module == "finetox" or node.module.startswith("finetox."):
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def finetox_file(module: str) -> Path | None:
    base = REPO / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None  # a name imported from a module, not a module


def third_party_imports(script: Path) -> set[str]:
    """Top-level names of the non-standard modules a rule script can reach through finetox."""
    seen, queue, found = set(), [script], set()
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in imported_modules(path):
            top = module.split(".")[0]
            if top == "finetox":
                parts = module.split(".")
                queue += [
                    file
                    for depth in range(1, len(parts) + 1)
                    if (file := finetox_file(".".join(parts[:depth])))
                ]
            elif top not in sys.stdlib_module_names and top not in ("snakemake", "__future__"):
                found.add(top)
    return found


def distribution_closure(requirements: list[Requirement]) -> set[str]:
    """The distributions an environment gets: its pins and everything they require."""
    closure, queue = set(), [requirement.name for requirement in requirements]
    while queue:
        name = canonicalize_name(queue.pop())
        if name in closure:
            continue
        closure.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                queue.append(requirement.name)
    return closure


def test_each_rule_environment_holds_what_its_script_imports():
    providers = metadata.packages_distributions()
    problems = []
    for name, (smk, conda) in rules_with_code().items():
        script = re.search(
            r"^    script:\s*\n\s+\"([^\"]+)\"", smk.read_text().split(f"rule {name}:")[1], re.M
        )
        if not script or conda is None:
            continue
        _, requirements = env_requirements((smk.parent / conda).resolve())
        available = distribution_closure(requirements)
        for module in sorted(third_party_imports((smk.parent / script.group(1)).resolve())):
            dists = {canonicalize_name(dist) for dist in providers.get(module, [module])}
            if not dists & available:
                problems.append(
                    f"{name} ({Path(conda).name}): imports {module} ({', '.join(sorted(dists))})"
                )
    assert not problems, "\n".join(problems)
