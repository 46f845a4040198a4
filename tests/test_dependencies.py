"""What ``pip install -e .`` installs covers what the library and the service import.

Every third-party module imported anywhere in ``track2vec/`` and ``tune/`` must come with the core
dependencies of ``pyproject.toml`` (directly or through what they require), or be named by an optional
extra itself (imported only where that extra's feature is used). A module that the test extra happens to
bring would otherwise pass the suite and fail the README's first command on a fresh machine.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "track2vec-tune"
OWN = {"track2vec", "tune"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> dict[str, set[str]]:
    """Top-level third-party module -> the files of track2vec/ and tune/ that import it."""
    found: dict[str, set[str]] = {}
    for path in [*ROOT.joinpath("track2vec").rglob("*.py"), *ROOT.joinpath("tune").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def requirements(distribution: str, extras: set[str]) -> list[Requirement]:
    """What ``distribution`` installed with ``extras`` requires (its markers evaluated here)."""
    wanted = []
    for line in metadata.requires(distribution) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras | {""}):
            wanted.append(requirement)
    return wanted


def installed_closure() -> set[str]:
    """The distributions that ``pip install -e .`` brings, transitively (canonical names)."""
    closure: set[str] = set()
    pending = [(PROJECT, frozenset())]
    seen = set()
    while pending:
        distribution, with_extras = pending.pop()
        if (canonical(distribution), with_extras) in seen:
            continue
        seen.add((canonical(distribution), with_extras))
        try:
            needed = requirements(distribution, set(with_extras))
        except metadata.PackageNotFoundError:
            continue  # not installed here (a marker for another platform, an extra's package)
        for requirement in needed:
            closure.add(canonical(requirement.name))
            pending.append((requirement.name, frozenset(requirement.extras)))
    return closure


def directly_optional() -> set[str]:
    """The distributions that an optional extra (not the test extra) names itself."""
    named = set()
    for line in metadata.requires(PROJECT) or []:
        requirement = Requirement(line)
        extras = re.findall(r'extra\s*==\s*"([^"]+)"', str(requirement.marker or ""))
        if extras and set(extras) != {"test"}:
            named.add(canonical(requirement.name))
    return named


def test_the_core_dependencies_bring_every_module_the_code_imports():
    core, optional = installed_closure(), directly_optional()
    providers = metadata.packages_distributions()
    missing = {}
    for module, files in imported_modules().items():
        distributions = {canonical(name) for name in providers.get(module, [module])}
        if not distributions & (core | optional):
            missing[module] = sorted(files)
    assert not missing, ("imported by the code but brought neither by pyproject.toml's dependencies nor by an "
                         f"optional extra that names it: {missing}")
