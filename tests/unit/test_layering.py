"""The layout is the architecture: what ships to Lambda imports nothing of the operator's side.

`qip.core`, `qip.imaging` and `qip.functions` are what the deployment zip holds (whole, by rule:
`qip.tooling.build.SHIPPED_PACKAGES`); they must never import the client, the command line, the
dashboard or the tooling, and the image core must know nothing of AWS. Read from the sources'
own import statements (every `import` and `from ... import`, at any depth, lazy ones included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qip.tooling import build

SRC = Path(__file__).resolve().parents[2] / "src"
SHIPPED = ("qip.core", "qip.imaging", "qip.functions")
OPERATOR_SIDE = ("qip.client", "qip.cli", "qip.dashboard", "qip.tooling")
AWS_LIBRARIES = ("boto3", "botocore", "aws_lambda_powertools", "qip.core", "qip.functions")


def modules(package: str) -> list[Path]:
    return sorted((SRC / package.replace(".", "/")).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module a source file imports, relative imports resolved."""
    name = ".".join(path.relative_to(SRC).with_suffix("").parts)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


@pytest.mark.parametrize("package", SHIPPED)
def test_what_ships_to_lambda_never_imports_the_operator_side(package):
    offending = {f"{path.relative_to(SRC)}: {name}" for path in modules(package)
                 for name in imported(path) if within(name, OPERATOR_SIDE)}
    assert not offending


def test_the_image_core_knows_nothing_of_aws():
    offending = {f"{path.relative_to(SRC)}: {name}" for path in modules("qip.imaging")
                 for name in imported(path) if within(name, AWS_LIBRARIES)}
    assert not offending


def test_the_artifact_ships_exactly_the_shipped_packages_whole():
    shipped = {path.relative_to(SRC).as_posix() for path in build.code_files()}
    expected = {path.relative_to(SRC).as_posix() for package in SHIPPED
                for path in (SRC / package.replace(".", "/")).rglob("*")
                if path.is_file() and "__pycache__" not in path.parts} | {"qip/__init__.py"}
    assert shipped == expected | {"renditions.yaml"}  # the renditions file, at the zip's root
    assert tuple(package.replace(".", "/") + "/" for package in SHIPPED) == build.SHIPPED_PACKAGES


def test_the_checker_sees_lazy_and_relative_imports():
    """The import reader is what the two tests above rely on: it must not miss an import."""
    operations = imported(SRC / "qip" / "imaging" / "operations.py")
    assert "qip.imaging.decode" in operations
    pipeline = imported(SRC / "qip" / "client" / "pipeline.py")
    assert "qip.core.audit_trail" in pipeline  # imported inside a method
