"""The crash trials' baseline check: what the journal held at the kill must come back, unless a new day began."""

from __future__ import annotations

from tradepulse.service.trials import CrashTrialReport, _check_baselines


def risk_after(day: str, equity: str, peak: str, tripped: tuple[str, ...] = ()) -> dict:
    return {"engines": [{"status": {"breakers": {"trading_day": day, "day_start_equity": equity, "peak_equity": peak},
                                    "tripped": {name: {} for name in tripped}}}]}


BEFORE = {"trading_day": "2026-12-07", "day_start_equity": "580.1975017", "peak_equity": "600", "tripped": ["daily_loss"]}


def problems(after: dict) -> list[str]:
    report = CrashTrialReport(runs=1, seed=0)
    _check_baselines(after, BEFORE, 187, report)
    return report.problems


def test_the_same_day_must_come_back_with_its_start_equity_and_trips():
    assert problems(risk_after("2026-12-07", "580.1975017", "600", ("daily_loss",))) == []
    (problem,) = problems(risk_after("2026-12-07", "574.4066155", "600", ("daily_loss",)))
    assert "day-start equity 574.4066155 != 580.1975017" in problem
    (problem,) = problems(risk_after("2026-12-07", "580.1975017", "600"))
    assert "tripped breakers re-armed" in problem


def test_a_new_market_day_between_kill_and_restart_has_its_own_start_equity_and_loss_budget():
    # Market time runs ahead of the wall clock at the venue's replay speed: midnight can pass while the service is down.
    assert problems(risk_after("2026-12-08", "574.4066155", "600")) == []


def test_a_day_going_backwards_or_a_lower_peak_is_still_a_problem():
    assert any("trading day 2026-12-06" in problem for problem in problems(risk_after("2026-12-06", "580.1975017", "600", ("daily_loss",))))
    assert any("drawdown peak 590 fell below 600" in problem for problem in problems(risk_after("2026-12-08", "574", "590")))
