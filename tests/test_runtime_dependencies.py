"""Every package the product's code imports is one the product installs.

The images install the project with its runtime requirements and the "s3" and "ml"
extras, never "dev" or "docs": a module that only the development virtualenv has imports
fine in every test and fails in production (the web server once would not boot for want
of statsmodels, a test-only requirement). Each import in labeler/, api/ and worker/, at
the top of a module or inside a function, must come from a distribution those
requirements bring, directly or through another.
"""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("labeler", "api", "worker")
INSTALLED_EXTRAS = ("s3", "ml")


def imported_modules() -> dict[str, list[str]]:
    """Top-level module name → the files that import it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def requirement_closure(distribution: str, extras: tuple[str, ...]) -> set[str]:
    """The distributions ``distribution[extras]`` installs, itself included."""
    wanted: list[tuple[str, tuple[str, ...]]] = [(distribution, extras)]
    walked: set[tuple[str, tuple[str, ...]]] = set()
    while wanted:
        name, name_extras = wanted.pop()
        if (canonicalize_name(name), name_extras) in walked:
            continue
        walked.add((canonicalize_name(name), name_extras))
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # a requirement for another platform or Python
        environments = [{"extra": extra} for extra in ("", *name_extras)]
        for line in requirements:
            requirement = Requirement(line)
            if requirement.marker and not any(
                requirement.marker.evaluate(environment) for environment in environments
            ):
                continue
            wanted.append((requirement.name, tuple(sorted(requirement.extras))))
    return {name for name, _ in walked}


def test_every_import_of_the_product_is_an_installed_requirement():
    installed = requirement_closure("labeler", INSTALLED_EXTRAS)
    providers = metadata.packages_distributions()
    local = {*PACKAGES, "tests"}
    missing = {}
    for module, files in imported_modules().items():
        if module in local or module in sys.stdlib_module_names or module == "__future__":
            continue
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions & installed:
            missing[module] = (sorted(distributions), files[:3])
    assert missing == {}, (
        "imported by the product but not among its runtime requirements or the s3 and ml "
        f"extras (module: (distributions, files)): {missing}"
    )


def test_the_check_sees_a_test_only_requirement():
    """The closure leaves out what only "dev" brings: the check above would see it."""
    installed = requirement_closure("labeler", INSTALLED_EXTRAS)
    assert "django" in installed and "torch" in installed and "boto3" in installed
    assert "pytest" not in installed and "krippendorff" not in installed
    assert "pytest" in requirement_closure("labeler", ("dev",))
