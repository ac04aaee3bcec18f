"""The layers hold: import-linter's contracts in .importlinter pass, no private name crosses a package, no module is too long."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tradepulse"
MAX_MODULE_LINES = 800


def test_import_linter_contracts_are_kept():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is a test dependency (requirements.lock)"
    completed = subprocess.run([lint_imports, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
    assert "broken" not in completed.stdout.split("Contracts:")[-1].replace("0 broken", "")


def _package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_private_name_is_imported_from_another_package():
    crossings = []
    for path in PACKAGE.rglob("*.py"):
        importer = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tradepulse"):
                same_package = _package_of(node.module) == _package_of(importer)
                private_module = any(part.startswith("_") for part in node.module.split(".")[1:])
                private_names = [alias.name for alias in node.names if alias.name.startswith("_") and not alias.name.startswith("__")]
                if not same_package and (private_module or private_names):
                    crossings.append(f"{importer}: from {node.module} import {', '.join(a.name for a in node.names)}")
    assert crossings == []


def test_no_module_is_longer_than_the_limit():
    long = {str(path.relative_to(ROOT)): count for path in PACKAGE.rglob("*.py")
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_docs_show_the_venue_rules_table_rendered_from_the_code():
    from tradepulse.sim.rules import render_rules_table

    assert render_rules_table() in (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def test_no_import_inside_a_function_dodges_a_cycle():
    """A function-level import of a module that imports the importer back would hide a cycle."""
    import grimp

    graph = grimp.build_graph("tradepulse", include_external_packages=False)
    dodges = []
    for path in PACKAGE.rglob("*.py"):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and inner.module and inner.module.startswith("tradepulse"):
                    if inner.module == importer or inner.module.startswith(importer + ".") or importer.startswith(inner.module + "."):
                        continue  # a package loading its own submodule on first use (start-up time, not a cycle)
                    back = graph.find_shortest_chain(importer=inner.module, imported=importer, as_packages=False)
                    if back:
                        dodges.append(f"{importer} imports {inner.module} in a function; it imports back: {' -> '.join(back)}")
    assert dodges == []
