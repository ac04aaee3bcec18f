"""The committed JupyterLab panel (extensions/labextensions/tradepulse-lab) is built from the committed source.

The build is committed so that installing and testing the panel needs no Node.js; the price is
that it can fall behind its source. ``make labextension`` records the SHA-256 of every source input
in ``build-inputs.json``; this test recomputes it (no Node.js either) and fails until the build is redone.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "extensions" / "tradepulse_lab"


def _build_module():
    spec = importlib.util.spec_from_file_location("tradepulse_lab_build", SOURCE / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_build_matches_its_sources():
    build = _build_module()
    recorded = build.recorded_inputs()
    assert recorded, f"{build.OUTPUT / build.INPUTS_FILE} is missing: run `make labextension`"
    stale = build.stale_files()
    assert stale == [], f"the built panel is older than {', '.join(stale)}: run `make labextension` and commit the result"
    assert recorded["sha256"] == build.source_digest()
    # Every kind of input counts: the code, the styles, the package and its lock, the compiler settings.
    names = set(recorded["files"])
    assert {"package.json", "package-lock.json", "tsconfig.json", "src/index.ts", "src/panel.ts", "style/base.css"} <= names
    assert not any(name.startswith(("node_modules/", "lib/")) for name in names)


def test_the_build_is_a_complete_prebuilt_extension_where_the_source_says():
    build = _build_module()
    source = json.loads((SOURCE / "package.json").read_text())
    built = json.loads((build.OUTPUT / "package.json").read_text())
    assert (SOURCE / source["jupyterlab"]["outputDir"]).resolve() == build.OUTPUT
    assert build.OUTPUT.name == source["name"] == built["name"] and built["version"] == source["version"]
    assert built["dependencies"] == source["dependencies"]
    load = built["jupyterlab"]["_build"]["load"]
    assert (build.OUTPUT / load).is_file() and load.startswith("static/remoteEntry.")
    # The bundle is the panel's: its plugin id and the server routes it reads.
    bundle = "".join(path.read_text(encoding="utf-8") for path in (build.OUTPUT / "static").glob("*.js"))
    assert "tradepulse-lab:panel" in bundle and '"tradepulse"' in bundle


def test_a_changed_source_makes_the_build_stale(tmp_path):
    build = _build_module()
    copy = tmp_path / "tradepulse_lab"
    for name in build.file_digests():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((SOURCE / name).read_bytes())
    assert build.stale_files(copy) == []
    (copy / "style" / "base.css").write_text((copy / "style" / "base.css").read_text() + "\n.tp-lab { color: red; }\n")
    (copy / "src" / "extra.ts").write_text("export const x = 1;\n")
    assert build.stale_files(copy) == ["src/extra.ts", "style/base.css"]
    assert build.source_digest(copy) != build.source_digest()


def test_node_modules_and_compiled_output_stay_out_of_git():
    ignored = subprocess.run(["git", "check-ignore", "extensions/tradepulse_lab/node_modules/x/package.json",
                              "extensions/tradepulse_lab/lib/index.js"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == ["extensions/tradepulse_lab/node_modules/x/package.json",
                                      "extensions/tradepulse_lab/lib/index.js"], ignored.stderr
