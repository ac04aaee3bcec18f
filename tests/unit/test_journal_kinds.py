"""Journal kinds are typed in one place: the product names them through tradepulse.model.kinds, and writes no other."""

from __future__ import annotations

import ast
from pathlib import Path

from tradepulse.live.replay import run_replay
from tradepulse.model.kinds import ALL_KINDS
from tradepulse.store import Journal

ROOT = Path(__file__).resolve().parents[2]
DECLARED_IN = {ROOT / "tradepulse" / "model" / "kinds.py"}


def _docstring_nodes(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def test_no_module_spells_a_journal_kind_as_a_string_literal():
    literals = []
    for path in (ROOT / "tradepulse").rglob("*.py"):
        if path in DECLARED_IN or "emulator" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstring_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ALL_KINDS and id(node) not in docstrings:
                literals.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert literals == []


def test_a_replay_journals_only_declared_kinds(tmp_path):
    path = tmp_path / "replay.sqlite"
    run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 5, "slow": 20}, journal_path=path, end="2019-10-20")
    with Journal(path, read_only=True) as journal:
        written = {event.kind for event in journal.iter_events()}
    assert {"engine.started", "strategy.target", "order.filled", "risk.decision", "market.bars", "portfolio.marks"} <= written
    assert written <= ALL_KINDS, sorted(written - ALL_KINDS)
