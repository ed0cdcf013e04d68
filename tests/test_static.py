"""Code-quality gates that run with the tests: lint, types, and the import boundaries."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.static


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing():
    result = _run(str(BIN / "ruff"), "check", "--no-cache", "station", "scale_drivers", "ui",
                  "tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow  # a whole mypy run without its cache: ten seconds and more
def test_mypy_is_clean_and_strict_for_station_and_drivers():
    result = _run(str(BIN / "mypy"), "--no-incremental")
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_contracts_hold():
    result = _run(str(BIN / "lint-imports"), "--no-cache")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 9 kept, 0 broken." in result.stdout


def _imported_modules(path: Path) -> list[str]:
    """Every module ``path`` imports, relative imports resolved against its package."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[:len(package) - node.level + 1]) if node.level else []
            module = [*base, *(node.module.split(".") if node.module else [])]
            # ``from package import name`` may import a module called ``name``.
            found += [".".join(module)] + [".".join([*module, a.name]) for a in node.names]
    return found


def _is_test_module(module: str) -> bool:
    name = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (name.startswith("test_") or name == "conftest")


def test_no_module_imports_a_test_module_or_a_conftest():
    """Fixtures come from conftest.py through pytest, helpers from plain modules (builders,
    drivers): a test module or a conftest imported elsewhere shares fixtures by accident and
    runs its tests twice."""
    offenders = [f"{path.relative_to(ROOT)} imports {module}"
                 for path in sorted((ROOT / "tests").rglob("*.py"))
                 for module in sorted(set(_imported_modules(path)))
                 if _is_test_module(module)]
    assert offenders == [], "\n".join(offenders)

