"""The set-up files agree with each other, so `make` and conda users get the same versions."""

import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import sync_environment  # noqa: E402


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version.strip()
    return pins


def test_environment_yml_mirrors_the_lock():
    assert (ROOT / "environment.yml").read_text() == sync_environment.render()


def test_every_lock_line_is_an_exact_pin():
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[\w.+\-]+", line.strip()), line


@pytest.mark.parametrize("package", ["numpy", "pandas", "scipy", "numba", "vectorbt", "ccxt", "papermill", "nbval", "voila", "ipywidgets", "jupyterlab", "pytest"])
def test_installed_versions_are_the_pinned_ones(package):
    assert importlib.metadata.version(package) == _lock()[package]
