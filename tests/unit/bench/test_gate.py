"""The benchmark gate's judgement: which ratio moves are clear regressions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import gate  # noqa: E402


def _ratio(value: float, better: str) -> dict:
    return {"value": value, "better": better, "what": "x"}


def test_a_speed_up_three_times_smaller_or_a_cost_three_times_larger_fails_and_noise_passes():
    baselines = {"speed": _ratio(300.0, "higher"), "cost": _ratio(60.0, "lower")}
    assert gate.compare({"speed": _ratio(120.0, "higher"), "cost": _ratio(150.0, "lower")}, baselines, 3.0) == []
    problems = gate.compare({"speed": _ratio(99.0, "higher"), "cost": _ratio(181.0, "lower")}, baselines, 3.0)
    assert problems == ["speed: 99.00 < baseline 300.00 / 3", "cost: 181.00 > baseline 60.00 x 3"]
    assert gate.compare({"speed": _ratio(300.0, "higher")}, baselines, 3.0) == [
        "cost: in the baselines but not measured (update the baselines if it was removed on purpose)"]


def test_the_committed_baselines_cover_what_the_gate_measures():
    baselines = json.loads((BENCH / "baselines.json").read_text())["ratios"]
    indicators = {f"indicators.{name}.speedup" for name in ("kuramoto_r", "shannon_entropy", "hurst_exponent", "ricci_curvature")}
    startup = {f"startup.{name}.vs_bare_python" for name in ("cli_backtest", "import_and_first_backtest")}
    assert set(baselines) == indicators | startup
    assert all(row["better"] in ("higher", "lower") and row["value"] > 0 for row in baselines.values())
