"""Imports run downward: nothing imports the extension module back, the core never the admin.

The rule of CONVENTIONS ("Rooms and arrows") checked on the source, so that a new
``from .extension import get_state`` fails here instead of forming an import circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "flask_gamify"
ADMIN = ROOT / "admin"


def _runtime_imports(path: Path, package: str) -> list[str]:
    """Absolute names of the modules ``path`` imports at run time (not for type checking)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_checking: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_checking.update(id(inner) for inner in ast.walk(node))
    parts = package.split(".")
    names = []
    for node in ast.walk(tree):
        if id(node) in type_checking:
            continue
        if isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names.append(module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _id(value: object) -> str:
    return str(value.relative_to(ROOT)) if isinstance(value, Path) else str(value)


def _modules(folder: Path, package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).with_suffix("")
        inside = [part for part in relative.parts if part != "__init__"]
        # The package a module's relative imports start from.
        owner = ".".join([package, *relative.parts[:-1]])
        found.append((path, owner if path.name != "__init__.py" or inside else package))
    return found


@pytest.mark.parametrize(("path", "package"), _modules(CORE, "flask_gamify"), ids=_id)
def test_the_core_imports_neither_the_extension_module_nor_the_admin(
    path: Path, package: str
) -> None:
    imports = _runtime_imports(path, package)
    assert not [name for name in imports if name.startswith("flask_gamify.admin")], (
        f"{path.relative_to(ROOT)} imports the admin: the core never does."
    )
    if path != CORE / "__init__.py":
        assert "flask_gamify.extension" not in imports, (
            f"{path.relative_to(ROOT)} imports flask_gamify.extension at run time; reach the"
            " per-app state with flask_gamify.state.get_state() instead."
        )


@pytest.mark.parametrize(("path", "package"), _modules(ADMIN, "flask_gamify.admin"), ids=_id)
def test_the_admin_does_not_import_the_extension_module(path: Path, package: str) -> None:
    imports = _runtime_imports(path, package)
    assert "flask_gamify.extension" not in imports, (
        f"{path.relative_to(ROOT)} imports flask_gamify.extension at run time; use"
        " flask_gamify.state.get_state().extension, the public API object."
    )


def test_the_check_sees_a_runtime_import_of_the_extension(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .extension import Gamify\n"
        "def f():\n    from .extension import get_state\n"
    )
    assert _runtime_imports(sample, "flask_gamify") == ["typing", "flask_gamify.extension"]
