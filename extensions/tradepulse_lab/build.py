"""Build the TradePulse JupyterLab panel into ``extensions/labextensions/tradepulse-lab`` (``make labextension``).

The built, prebuilt ("federated") extension is committed, so installing and testing it needs no
Node.js; rebuilding it does (Node 20 and npm). The steps:

1. ``npm ci`` in this folder when ``node_modules`` is missing or older than ``package-lock.json``;
2. ``tsc``: ``src/*.ts`` -> ``lib/``;
3. JupyterLab's extension builder (``jupyter-builder build``, the one the installed JupyterLab
   uses) bundles ``lib/`` and ``style/`` into the output folder's ``static/`` and writes its
   ``package.json``;
4. ``build-inputs.json`` in the output records the SHA-256 of every source input (what
   :func:`source_digest` hashes). A unit test recomputes it and fails while the committed build is
   older than its source.

``python extensions/tradepulse_lab/build.py --check`` only compares (exit 1 when stale).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parent
#: The built extension, laid out as JupyterLab looks for prebuilt extensions: <labextensions dir>/<name>/.
LABEXTENSIONS = SOURCE.parent / "labextensions"
NAME = "tradepulse-lab"
OUTPUT = LABEXTENSIONS / NAME
INPUTS_FILE = "build-inputs.json"
#: What the build reads: the package description and lock, the compiler settings, the code and the styles.
INPUT_PATTERNS = ("package.json", "package-lock.json", "tsconfig.json", "src/**/*.ts", "src/**/*.tsx",
                  "style/**/*.css", "style/**/*.js", "style/**/*.svg")


def source_inputs(source: Path = SOURCE) -> list[Path]:
    """The files the build reads, sorted (never node_modules/ or the compiled lib/)."""
    found = {path for pattern in INPUT_PATTERNS for path in source.glob(pattern) if path.is_file()}
    return sorted(found, key=lambda path: path.relative_to(source).as_posix())


def file_digests(source: Path = SOURCE) -> dict[str, str]:
    """``{relative path: SHA-256}`` of each input; line endings count as ``\\n`` (a checkout's CRLF is the same source)."""
    return {path.relative_to(source).as_posix(): hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
            for path in source_inputs(source)}


def source_digest(source: Path = SOURCE) -> str:
    """One SHA-256 over every input's path and digest."""
    lines = "".join(f"{name}  {digest}\n" for name, digest in file_digests(source).items())
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def recorded_inputs(output: Path = OUTPUT) -> dict:
    """The ``build-inputs.json`` of the built extension (empty when there is none)."""
    try:
        return json.loads((output / INPUTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def stale_files(source: Path = SOURCE, output: Path = OUTPUT) -> list[str]:
    """Inputs changed, added or removed since the committed build (empty: the build is current)."""
    recorded = recorded_inputs(output).get("files", {})
    current = file_digests(source)
    return sorted(name for name in set(recorded) | set(current) if recorded.get(name) != current.get(name))


def _run(command: list[str], cwd: Path) -> None:
    print("+", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def _tool(name: str) -> str | None:
    """``name`` beside this Python first (the project's environment), else on PATH."""
    return shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)


def build(source: Path = SOURCE, output: Path = OUTPUT) -> None:
    npm = _tool("npm")
    if npm is None or _tool("node") is None:
        raise SystemExit("rebuilding the JupyterLab panel needs Node.js 20 and npm (the built extension is "
                         "committed, so using it does not)")
    modules = source / "node_modules"
    lock = source / "package-lock.json"
    marker = modules / ".package-lock.json"
    if not marker.is_file() or marker.stat().st_mtime < lock.stat().st_mtime:
        _run([npm, "ci", "--no-audit", "--no-fund"], source)
    shutil.rmtree(source / "lib", ignore_errors=True)
    _run([str(modules / ".bin" / "tsc"), "-p", ".", "--sourceMap", "false"], source)
    builder = _tool("jupyter-builder")
    command = [builder, "build", "."] if builder else [sys.executable, "-m", "jupyter", "labextension", "build", "."]
    _run(command, source)
    built = json.loads((output / "package.json").read_text(encoding="utf-8"))
    load = built["jupyterlab"]["_build"]["load"]
    if not (output / load).is_file():
        raise SystemExit(f"the builder wrote no {output / load}")
    import jupyterlab

    record = {
        "about": "SHA-256 of the sources this build was made from (extensions/tradepulse_lab/build.py); "
                 "a unit test fails when they no longer match. Rebuild with `make labextension`.",
        "sha256": source_digest(source),
        "files": file_digests(source),
        "jupyterlab": jupyterlab.__version__,
    }
    (output / INPUTS_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"built {output.relative_to(source.parent.parent)} ({load}); sources {record['sha256'][:12]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the committed build matches its sources")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print(f"{OUTPUT.name} is older than its sources ({', '.join(stale)}): run `make labextension`")
            return 1
        print(f"{OUTPUT.name} is built from the current sources ({source_digest()[:12]})")
        return 0
    build()
    return 0


if __name__ == "__main__":
    sys.exit(main())
