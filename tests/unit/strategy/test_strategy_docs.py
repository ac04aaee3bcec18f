"""The per-bar form example in docs/strategies.md runs, and equals its simple form as the docs promise."""

from __future__ import annotations

from pathlib import Path

from tradepulse.data import load_bars
from tradepulse.strategy import IntParam, Strategy

DOCS = (Path(__file__).resolve().parents[3] / "docs" / "strategies.md").read_text(encoding="utf-8")


def test_the_per_bar_form_example_gives_the_simple_forms_targets():
    section = DOCS.split("## A per-bar form (optional): `incremental`", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace = {"Strategy": Strategy, "IntParam": IntParam}
    exec(compile(code, "docs/strategies.md", "exec"), namespace)  # noqa: S102 - the docs' own example
    bars = load_bars("sample:binance:BTC/USDT:1h")
    strategy = namespace["Momentum"](lookback=12)
    steps = strategy.incremental()
    stepped = [steps.update(*row) for row in bars[["open", "high", "low", "close", "volume"]].itertuples(index=False)]
    assert stepped == strategy.signals(bars).tolist() and 0.0 in stepped and 1.0 in stepped


def test_the_checking_example_runs_and_the_built_in_passes():
    section = DOCS.split("## Checking a strategy", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/strategies.md", "exec"), namespace)  # noqa: S102 - the docs' own example
    report = namespace["report"]
    assert report.passed and [result.name for result in report.checks] == [
        "lookahead", "finite_memory", "determinism", "range", "parity"]
