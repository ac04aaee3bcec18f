"""docs/risk.md covers every limit, check and breaker; the examples in the docstrings run."""

from __future__ import annotations

import doctest
import importlib
from dataclasses import fields
from pathlib import Path

import pytest

from tradepulse.risk import BREAKERS, CHECKS, RiskLimits

DOC = (Path(__file__).resolve().parents[3] / "docs" / "risk.md").read_text()
MODULES = ["actions", "breakers", "controls", "gate", "limits", "state"]


@pytest.mark.parametrize("name", [f.name for f in fields(RiskLimits) if f.name != "symbols"])
def test_every_limit_is_documented_with_its_default(name):
    rows = [line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"docs/risk.md has no table row for {name}"


@pytest.mark.parametrize("check", CHECKS)
def test_every_check_is_documented(check):
    assert f"| `{check}` |" in DOC


@pytest.mark.parametrize("breaker", BREAKERS)
def test_every_breaker_is_documented(breaker):
    assert f"| `{breaker}` |" in DOC


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"tradepulse.risk.{module}"))
    assert result.failed == 0
