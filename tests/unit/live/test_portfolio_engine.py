"""The portfolio engine driven by hand: periods, late members, a halt that flattens every member, a strategy over its limit.

Real parts throughout: the paper venue listing both members, a SQLite journal, the risk controls;
events are handed to the engine one by one on a simulated clock.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd

from tradepulse.adapters.paper import PaperVenue
from tradepulse.adapters.paper.feeds import fine_instrument
from tradepulse.live.portfolio_engine import PortfolioEngine, PortfolioEngineConfig
from tradepulse.live.replay import REPLAY_RISK_LIMITS
from tradepulse.model.clock import SimulatedClock
from tradepulse.model.costs import Costs
from tradepulse.model.events import Bar, BarClose, BarOpen
from tradepulse.risk import RiskControls, TradingMode
from tradepulse.store import Journal
from tradepulse.store.journal import segment_rows
from tradepulse.strategy.portfolio import PortfolioStrategy

BTC, ETH = "BTC/USDT", "ETH/USDT"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PRICES = {BTC: 40_000.0, ETH: 2_000.0}


class HalfEach(PortfolioStrategy):
    """Half of equity in each member, always."""

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        close = bars["close"]
        return close * 0.0 + 0.5


class Overweight(PortfolioStrategy):
    """Asks for 150% gross on a 100% limit: a bug the engine must stop on."""

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        return bars["close"] * 0.0 + 0.75


async def _no_events():
    return
    yield


def build(tmp_path, strategy: PortfolioStrategy, timeout_s: float = 60.0):
    clock = SimulatedClock(T0)
    venue = PaperVenue([fine_instrument(BTC), fine_instrument(ETH)], clock=clock.now, balances={"USDT": Decimal("10000")},
                       allow_short=True)
    journal = Journal(tmp_path / "journal.sqlite", durability="fast", clock=clock.now)
    limits = replace(REPLAY_RISK_LIMITS, stale_after_seconds=None)
    risk = RiskControls(limits, clock=clock.now, symbols=[BTC, ETH], currency="USDT")
    config = PortfolioEngineConfig(symbols=(BTC, ETH), capital=Decimal("10000"), member_timeout_seconds=timeout_s,
                                   sizing_costs=Costs(fees_bps=10))
    engine = PortfolioEngine(strategy, _no_events(), venue, journal, risk=risk, clock=clock, config=config)
    return engine, clock, journal, risk


def bar(symbol: str, start: datetime, factor: float = 1.0) -> Bar:
    price = PRICES[symbol] * factor
    return Bar(symbol, start, start + HOUR, price, price, price, price, 1.0)


async def feed(engine: PortfolioEngine, clock: SimulatedClock, *events) -> None:
    for event in events:
        await clock.advance_to(event.at)
        await engine.on_event(event)


def opens(start: datetime, factor: float = 1.0, symbols=(BTC, ETH)) -> list[BarOpen]:
    return [BarOpen(symbol, start, PRICES[symbol] * factor) for symbol in symbols]


def payloads(journal: Journal, kind: str) -> list[dict]:
    """The payloads of ``kind``'s events, or of its rows for a segment kind."""
    events = journal.iter_events(kinds=[kind])
    if kind in ("market.bars", "portfolio.marks"):
        return [row for event in events for row in segment_rows(event.payload)]
    return [event.payload for event in events]


def test_orders_wait_for_every_members_bar_then_for_every_members_next_price(tmp_path):
    engine, clock, journal, _ = build(tmp_path, HalfEach())

    async def scenario():
        await engine.start()
        await feed(engine, clock, *opens(T0), BarClose(bar(BTC, T0)))
        assert payloads(journal, "strategy.target") == []  # ETH's bar of the period is not in yet
        await feed(engine, clock, BarClose(bar(ETH, T0)), BarOpen(BTC, T0 + HOUR, PRICES[BTC]))
        assert payloads(journal, "order.submitted") == []  # decided, but ETH has no price after the close yet
        await feed(engine, clock, BarOpen(ETH, T0 + HOUR, PRICES[ETH]))
        return engine.account.positions()

    positions = asyncio.run(scenario())
    assert {p["symbol"] for p in payloads(journal, "strategy.target")} == {BTC, ETH}
    # Half of 10,000 USDT in each: BTC first (members in order on ties), then ETH with the cash left
    # after BTC's 10 bps fee, so ETH's buy is capped a little below half.
    assert positions[BTC] == Decimal("0.125")
    assert Decimal("2.49") < positions[ETH] < Decimal("2.4975")
    journal.close()


def test_a_member_late_past_the_timeout_is_carried_at_its_last_close_and_not_traded(tmp_path):
    engine, clock, journal, _ = build(tmp_path, HalfEach(), timeout_s=60)
    second = T0 + HOUR

    async def scenario():
        await engine.start()
        await feed(engine, clock, *opens(T0), BarClose(bar(BTC, T0)), BarClose(bar(ETH, T0)), *opens(second))
        filled_before = len(payloads(journal, "order.filled"))
        # Only BTC's second bar arrives; a minute after the period's end its late member is given up on.
        await feed(engine, clock, BarClose(bar(BTC, second, 1.1)))
        await clock.advance_to(second + HOUR + timedelta(seconds=30))
        await engine.on_heartbeat()
        assert payloads(journal, "strategy.member_stale") == []
        await clock.advance_to(second + HOUR + timedelta(seconds=61))
        await engine.on_heartbeat()
        # ETH's bar turns up after its period closed: dropped, said so.
        await feed(engine, clock, BarClose(bar(ETH, second, 1.2)))
        return filled_before

    filled_before = asyncio.run(scenario())
    stale = payloads(journal, "strategy.member_stale")
    assert [(p["symbol"], p["late"]) for p in stale] == [(ETH, False), (ETH, True)]
    bars = [p for p in payloads(journal, "market.bars") if p["symbol"] == ETH]
    # The period closed with ETH carried flat at its previous close, zero volume: never filled from the late bar.
    assert len(bars) == 2 and bars[-1]["close"] == PRICES[ETH] and bars[-1]["volume"] == 0.0
    assert filled_before == 2
    journal.close()


def test_a_halt_with_flatten_closes_every_members_position(tmp_path):
    engine, clock, journal, risk = build(tmp_path, HalfEach())

    async def scenario():
        await engine.start()
        await feed(engine, clock, *opens(T0), BarClose(bar(BTC, T0)), BarClose(bar(ETH, T0)), *opens(T0 + HOUR))
        held = engine.account.positions()
        await engine.halt("operator flattens the book", "operator:test", flatten=True)
        await feed(engine, clock, *opens(T0 + HOUR + timedelta(minutes=1)))
        return held, engine.account.positions()

    held, after = asyncio.run(scenario())
    assert all(quantity > 0 for quantity in held.values())
    assert after == {BTC: Decimal(0), ETH: Decimal(0)}
    assert risk.state.mode is TradingMode.HALTED
    sells = [p["order"]["symbol"] for p in payloads(journal, "order.filled") if p["order"]["side"] == "sell"]
    assert sorted(sells) == [BTC, ETH]
    journal.close()


def test_weights_over_the_strategys_gross_limit_halt_trading_with_the_reason(tmp_path):
    engine, clock, journal, risk = build(tmp_path, Overweight())

    async def scenario():
        await engine.start()
        await feed(engine, clock, *opens(T0), BarClose(bar(BTC, T0)), BarClose(bar(ETH, T0)), *opens(T0 + HOUR))

    asyncio.run(scenario())
    (error,) = payloads(journal, "strategy.error")
    assert "gross exposure 1.5" in error["message"] and "exceeds the strategy's limit 1" in error["message"]
    assert risk.state.mode is TradingMode.HALTED and payloads(journal, "order.submitted") == []
    journal.close()


class AllInBitcoin(PortfolioStrategy):
    """Everything in the first member: the version that replaces HalfEach in the swap test."""

    def signals(self, bars: pd.DataFrame) -> pd.DataFrame:
        weights = bars["close"] * 0.0
        weights[BTC] = 1.0
        return weights


def test_a_new_version_takes_over_between_periods_and_flatten_closes_the_old_positions_first(tmp_path):
    engine, clock, journal, _ = build(tmp_path, HalfEach())
    second, third = T0 + HOUR, T0 + 2 * HOUR

    async def scenario():
        await engine.start()
        await feed(engine, clock, *opens(T0), BarClose(bar(BTC, T0)), BarClose(bar(ETH, T0)), *opens(second))
        held = engine.account.positions()
        swap = await engine.replace_strategy(AllInBitcoin(), actor="operator:ops@api", reason="v2 approved",
                                             open_orders="flatten", version="all-in-v2", previous_version="half-v1")
        flat = engine.account.positions()  # closed at market at once, before the new version decides
        await feed(engine, clock, BarClose(bar(BTC, second)), BarClose(bar(ETH, second)), *opens(third))
        return held, swap, flat, engine.account.positions()

    held, swap, flat, after = asyncio.run(scenario())
    assert held[BTC] > 0 and held[ETH] > 0
    assert swap["history_bars"] >= 1 and swap["to"]["version"] == "all-in-v2"
    assert flat == {BTC: Decimal(0), ETH: Decimal(0)}
    assert after[ETH] == 0 and after[BTC] > 0  # the new version's decision: all in the first member
    kinds = [event.kind for event in journal.iter_events()]
    assert kinds.count("strategy.replaced") == 1
    journal.close()
