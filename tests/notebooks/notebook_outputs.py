"""Keep the stored notebooks clean: no outputs, except the reference outputs nbval checks.

Every notebook under ``notebooks/`` is stored without outputs and with ``execution_count`` null,
except cells marked ``# NBVAL_CHECK_OUTPUT``: nbval compares only a cell whose stored
``execution_count`` is set, so those keep their (text-only) output and ``execution_count`` 1.

Usage::

    python tests/notebooks/notebook_outputs.py strip      # drop outputs, keep checked references
    python tests/notebooks/notebook_outputs.py refresh    # re-run notebooks, store checked outputs

``refresh`` runs each notebook top to bottom on the embedded data (seconds each); review the
diff before committing, since a changed reference output is a changed behaviour.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"
#: Output kinds a reference may hold: text a reviewer can read in a diff, nothing binary or stateful.
TEXT_MIME_TYPES = {"text/plain", "text/html"}


def notebook_paths(root: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Every notebook under ``root`` (checkpoints excluded), sorted."""
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose output nbval compares."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(CHECK_MARKER)


def _text_only(outputs: list) -> list:
    kept = []
    for output in outputs:
        if output.output_type == "stream":
            kept.append(output)
        elif output.output_type in {"execute_result", "display_data"}:
            data = {k: v for k, v in output.data.items() if k in TEXT_MIME_TYPES}
            if data:
                output.data = data
                output.metadata = {}
                if output.output_type == "execute_result":
                    output.execution_count = 1
                kept.append(output)
    return kept


def clean(notebook: nbformat.NotebookNode, executed: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """Strip outputs and execution counts; checked cells keep (or take from ``executed``) their output."""
    notebook.metadata.pop("widgets", None)  # saved widget state would be megabytes of plotly.js
    executed_cells = {cell.get("id"): cell for cell in executed.cells} if executed is not None else {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            source = executed_cells.get(cell.get("id"), cell)
            cell.outputs = _text_only(source.outputs)
            cell.execution_count = 1
        else:
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return notebook


def _execute(path: Path) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    resources = {"metadata": {"path": str(path.parent)}}  # run in the notebook's folder, as JupyterLab does
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources=resources).execute()
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["strip", "refresh"])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: all under notebooks/)")
    args = parser.parse_args(argv)
    for path in args.paths or notebook_paths():
        stored = nbformat.read(path, as_version=4)
        executed = _execute(path) if args.action == "refresh" else None
        nbformat.write(clean(stored, executed), path)
        print(f"{args.action}: {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
