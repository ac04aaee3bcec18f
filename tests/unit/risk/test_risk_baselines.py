"""Breaker baselines: reported when they change, journaled to SQLite, and rebuilt exactly after a crash.

A crash here is a process that journals what the risk layer returned and then stops without its
shutdown snapshot; the restart is a new ``RiskControls`` restored from the journal file.
"""

from __future__ import annotations

from decimal import Decimal

from risk_fakes import T0, D, acts, round_trips_through_json
from tradepulse.risk import BaselineChange, BreakerTrip, CircuitBreakers, RiskControls, RiskLimits, StateChange, TradingMode, TradingState
from tradepulse.store import Journal

QUIET = dict(
    max_daily_loss_fraction=None,
    max_drawdown_fraction=None,
    stale_after_seconds=None,
    max_venue_errors=None,
    max_venue_error_fraction=None,
    max_rejects=None,
)


def breakers_with(clock, **limits) -> CircuitBreakers:
    return CircuitBreakers(RiskLimits(**{**QUIET, **limits}), TradingState(clock), clock, currency="USDT")


def controls_with(clock, **limits) -> RiskControls:
    return RiskControls(RiskLimits(**{**QUIET, **limits}), clock, currency="USDT")


class Process:
    """Risk controls whose every returned event is journaled to a SQLite file, as the engine does."""

    def __init__(self, path, clock, **limits) -> None:
        self.journal = Journal(path, durability="fast", clock=clock)
        self.controls = controls_with(clock, **limits)
        self.limits = limits
        self.clock = clock

    def feed(self, events) -> list:
        for event in events:
            self.journal.append(event.kind, event.to_payload())
        return events

    def restart(self) -> RiskControls:
        """A new process on the same file: nothing was journaled on the way out."""
        self.journal.close()
        with Journal(self.journal.path, durability="fast", read_only=True) as journal:
            payloads = [event.payload for event in journal.iter_events(kind_prefix="risk.")]
        restarted = controls_with(self.clock, **self.limits)
        restarted.restore(payloads)
        return restarted


def acting_payloads(events) -> list[dict]:
    return [event.to_payload() for event in acts(events)]


# -- when baselines are reported -------------------------------------------------------------


def test_the_first_equity_starts_the_day_and_the_peak_and_reports_them(clock):
    [change] = breakers_with(clock, max_daily_loss=D(500)).on_equity(D(10_000))
    assert isinstance(change, BaselineChange)
    payload = change.to_payload()
    assert payload == {
        "kind": "risk.baselines",
        "at": "2024-05-01T12:00:00+00:00",
        "changed": ["trading_day", "day_start_equity", "peak_equity"],
        "trading_day": "2024-05-01",
        "day_start_equity": "10000",
        "peak_equity": "10000",
    }
    assert round_trips_through_json(payload)


def test_equity_that_makes_neither_a_new_day_nor_a_new_peak_reports_nothing(clock):
    breakers = breakers_with(clock)
    breakers.on_equity(D(10_000))
    for step in range(1, 200):  # a losing afternoon of bars: nothing to journal
        clock.advance(60)
        assert breakers.on_equity(D(10_000) - step) == []


def test_every_new_high_is_reported_and_the_payload_stays_small(clock):
    breakers = breakers_with(clock)
    breakers.on_equity(D(10_000))
    [change] = breakers.on_equity(D("10000.01"))
    assert change.changed == ("peak_equity",)
    assert set(change.to_payload()) == {"kind", "at", "changed", "trading_day", "day_start_equity", "peak_equity"}
    assert change.to_payload()["peak_equity"] == "10000.01"


def test_a_new_trading_day_is_reported_with_its_starting_equity(clock):
    breakers = breakers_with(clock)
    breakers.on_equity(D(10_000))
    clock.advance(86_400)
    [change] = breakers.on_equity(D(9_500))
    assert change.changed == ("trading_day", "day_start_equity")
    assert (change.baselines["trading_day"], change.baselines["day_start_equity"], change.baselines["peak_equity"]) == (
        "2024-05-02", D(9_500), D(10_000)
    )


def test_the_baselines_come_before_the_trip_they_lead_to(clock):
    breakers = breakers_with(clock, max_venue_errors=2)
    breakers.on_venue_error("timeout")
    events = breakers.on_venue_error("timeout")
    assert [type(e) for e in events] == [BaselineChange, BreakerTrip, StateChange]
    assert events[0].to_payload()["venue_responses"] == [[T0.isoformat(), False], [T0.isoformat(), False]]


def test_a_window_is_in_a_payload_only_when_it_changed(clock):
    breakers = breakers_with(clock)
    [change] = breakers.on_order_rejected("BTC/USDT", "PRICE_FILTER")
    payload = change.to_payload()
    assert change.changed == ("rejects",) and payload["rejects"] == [T0.isoformat()]
    assert "venue_responses" not in payload and payload["peak_equity"] is None


def test_a_resume_through_the_state_alone_is_reported_at_the_next_input(clock):
    breakers = breakers_with(clock, max_daily_loss=D(500))
    breakers.on_equity(D(10_000))
    breakers.on_equity(D(9_400))
    breakers.state.resume("operator:alice")
    [change] = breakers.poll()
    assert change.changed == ("day_start_equity", "peak_equity")
    assert change.baselines["day_start_equity"] == change.baselines["peak_equity"] == D(9_400)


# -- restarts --------------------------------------------------------------------------------


def test_after_a_crash_daily_loss_and_drawdown_trip_at_the_same_equity(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500), max_drawdown=D(800))
    for equity in (10_000, 10_300, 10_250, 9_900, 9_700):  # the day started at 10,000; the peak is 10,300
        clock.advance(600)
        process.feed(process.controls.on_equity(D(equity)))
    unbroken, restarted = process.controls, process.restart()
    assert restarted.breakers.baselines() == unbroken.breakers.baselines()
    clock.advance(600)
    assert acts(restarted.on_equity(D(9_550))) == acts(unbroken.on_equity(D(9_550))) == []
    clock.advance(600)
    expected = acting_payloads(unbroken.on_equity(D(9_500)))
    assert [p["breaker"] for p in expected if p["kind"] == "risk.breaker_trip"] == ["daily_loss", "drawdown"]
    assert acting_payloads(restarted.on_equity(D(9_500))) == expected


def test_the_newest_baselines_win_over_an_older_shutdown_snapshot(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500))
    process.feed(process.controls.on_equity(D(10_000)))
    process.journal.append("risk.breaker_snapshot", process.controls.breakers.snapshot())  # a clean stop, then a restart
    clock.advance(86_400)
    process.feed(process.controls.on_equity(D(9_000)))  # the next day starts lower
    restarted = process.restart()
    assert restarted.breakers.baselines()["day_start_equity"] == D(9_000)
    assert acts(restarted.on_equity(D(8_600))) == []  # 400 down on the day, not 1,400


def test_the_venue_error_and_reject_windows_survive_a_crash_and_still_expire(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_venue_errors=3, max_rejects=2)
    process.feed(process.controls.on_venue_response(True))
    process.feed(process.controls.on_venue_response(False, detail="timeout"))
    clock.advance(30)
    process.feed(process.controls.on_venue_response(False, detail="timeout"))
    process.feed(process.controls.on_order_rejected("BTC/USDT", "PRICE_FILTER"))
    unbroken, restarted = process.controls, process.restart()
    assert restarted.breakers.baselines() == unbroken.breakers.baselines()
    clock.advance(31)  # the first error has left the window; the reject has not
    assert acts(restarted.on_venue_response(False)) == acts(unbroken.on_venue_response(False)) == []
    expected = acting_payloads(unbroken.on_order_rejected("BTC/USDT", "PRICE_FILTER"))
    assert [p["kind"] for p in expected] == ["risk.breaker_trip", "risk.state_change"]
    assert acting_payloads(restarted.on_order_rejected("BTC/USDT", "PRICE_FILTER")) == expected


def test_a_tripped_breaker_stays_tripped_and_silent_after_a_crash(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500))
    process.feed(process.controls.on_equity(D(10_000)))
    process.feed(process.controls.on_equity(D(9_400)))
    restarted = process.restart()
    assert restarted.state.mode is TradingMode.HALTED
    assert list(restarted.breakers.tripped) == ["daily_loss"]
    assert restarted.status()["tripped"]["daily_loss"]["value"] == "600"
    assert acts(restarted.on_equity(D(9_000))) == []  # already tripped: not journaled twice


def test_a_resume_carries_the_rearmed_baselines_so_a_crash_right_after_keeps_them(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500), max_rejects=5)
    process.feed(process.controls.on_equity(D(10_000)))
    process.feed(process.controls.on_order_rejected("BTC/USDT", "PRICE_FILTER"))
    process.feed(process.controls.on_equity(D(9_400)))
    resume = process.controls.resume("operator:alice")
    assert resume.to_payload()["baselines"] == {
        "trading_day": "2024-05-01", "day_start_equity": "9400", "peak_equity": "9400", "venue_responses": [], "rejects": [],
        "order_flow": [],
    }
    process.feed([resume])
    assert process.controls.on_equity(D(9_300)) == []  # the resume said it all: no separate baselines follow
    restarted = process.restart()
    assert restarted.state.mode is TradingMode.ACTIVE and restarted.breakers.tripped == {}
    assert restarted.breakers.baselines()["day_start_equity"] == D(9_400)
    assert acts(restarted.on_equity(D(8_950))) == []
    assert acts(restarted.on_equity(D(8_900)))[0].breaker == "daily_loss"  # 500 below the resume's 9,400


def test_a_resume_after_a_restart_but_before_any_equity_starts_the_day_afresh(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500))
    process.feed(process.controls.on_equity(D(10_000)))
    process.feed([process.controls.halt("exchange incident", actor="operator:alice")])
    restarted = process.restart()
    change = restarted.resume("operator:alice")
    assert change.baselines["day_start_equity"] is None and change.baselines["peak_equity"] is None
    # The restored 10,000 would trip at 9,400 at once; the resume re-armed from the next equity.
    assert [e.kind for e in restarted.on_equity(D(9_400))] == ["risk.baselines"]


def test_a_restored_day_that_is_over_gives_way_to_the_next_days_first_equity(clock, tmp_path):
    process = Process(tmp_path / "journal.sqlite", clock, max_daily_loss=D(500))
    process.feed(process.controls.on_equity(D(10_000)))
    clock.advance(86_400)
    restarted = process.restart()
    [change] = restarted.on_equity(D(9_000))
    assert change.changed == ("trading_day", "day_start_equity") and change.baselines["peak_equity"] == Decimal(10_000)
