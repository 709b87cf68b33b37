"""The shape of the code base: no import cycle among our modules, and no module of ours (generated
code and tests aside) past the size a reader can hold (STYLE.md)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGES = ("libs", "services", "gateway", "cli")
MAX_LINES = 450


def _modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "_pb2" in path.name:
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path) -> set[str]:
    """Every name an import statement of ``module`` reaches (``a.b`` and ``a.b.c`` for ``from
    a.b import c``), relative imports resolved; those under ``if TYPE_CHECKING`` included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_ours_imports_itself_back(repo_root: Path) -> None:
    modules = _modules(repo_root)
    graph = {
        name: {t for t in _imported(name, path) if t in modules and t != name}
        for name, path in modules.items()
    }
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "libs").mkdir()
    (tmp_path / "libs" / "a.py").write_text("from libs.b import x\n")
    (tmp_path / "libs" / "b.py").write_text("from . import a\n")
    try:
        test_no_module_of_ours_imports_itself_back(tmp_path)
    except AssertionError as error:
        assert "libs.a" in str(error) and "libs.b" in str(error)
    else:
        raise AssertionError("a cycle went unseen")


def test_no_module_of_ours_outgrew_what_a_reader_can_hold(repo_root: Path) -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in _modules(repo_root).items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
