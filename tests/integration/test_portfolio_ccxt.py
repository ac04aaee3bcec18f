"""A portfolio strategy trades BTC and ETH through ccxt's real binance class against the local venue.

One engine, one account, both members' trade streams merged on the wall clock: the periods close
when both members' bars have, orders go to both symbols, and every fill the engine applied is a
trade the venue reports for this account (and vice versa); positions equal the balance changes.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from emulator_fixtures import binance_client, new_account, run, venue  # noqa: F401
from engine_fixtures import venue_environ

from tradepulse.adapters.ccxt.feed import CcxtFeed
from tradepulse.adapters.ccxt.retry import RetryPolicy
from tradepulse.adapters.ccxt.venue import CcxtVenue
from tradepulse.adapters.live_merge import LiveMergedFeed
from tradepulse.live.portfolio_engine import PortfolioEngine, PortfolioEngineConfig
from tradepulse.model.clock import WallClock
from tradepulse.risk import RiskControls, RiskLimits
from tradepulse.store import Journal
from tradepulse.strategy import load_strategy

D = Decimal
MEMBERS = ("BTC/USDT", "ETH/USDT")
RUN_SECONDS = 45


async def trade_portfolio(venue, key: str, secret: str, journal_path) -> dict:
    environ = venue_environ(venue, key, secret)
    clock = WallClock()
    adapter = CcxtVenue.create("binance", environ=environ, symbols=list(MEMBERS), retry=RetryPolicy(seed=2))
    feed = LiveMergedFeed([CcxtFeed.create("binance", symbol, environ=environ) for symbol in MEMBERS])
    risk = RiskControls(RiskLimits(max_daily_loss_fraction=None, max_drawdown_fraction=None, max_orders_per_window=1000),
                        clock=clock.now, symbols=list(MEMBERS), currency="USDT")
    config = PortfolioEngineConfig(symbols=MEMBERS, capital=D("2000"), bar_period=timedelta(seconds=3),
                                   cash_reserve_fraction=D("0.01"), heartbeat_seconds=0.5)
    # A single-symbol rule on each member at half the equity (EqualShare), the portfolio path all the same.
    strategy = load_strategy("sma_cross")(fast=2, slow=3)
    with Journal(journal_path, clock=clock.now) as journal:
        engine = PortfolioEngine(strategy, feed, adapter, journal, risk=risk, clock=clock, config=config)
        asyncio.get_running_loop().call_later(RUN_SECONDS, feed.stop)
        report = await engine.run()
        kinds = [event.kind for event in journal.iter_events()]
    async with binance_client(venue, key, secret) as exchange:
        trades = {symbol: await exchange.fetch_my_trades(symbol) for symbol in MEMBERS}
        balances = await exchange.fetch_balance()
    return {"report": report, "kinds": kinds, "trades": trades, "balances": balances, "state": risk.state.mode}


def test_a_portfolio_strategy_trades_btc_and_eth_through_ccxt_and_its_fills_are_the_venue_trades(venue, tmp_path):  # noqa: F811
    key, secret = new_account(venue, {"USDT": "2000", "BTC": "0", "ETH": "0"})
    outcome = run(trade_portfolio(venue, key, secret, tmp_path / "journal.sqlite"), timeout_s=120)
    report = outcome["report"]
    assert report.bars >= 8 and "engine.error" not in outcome["kinds"]
    assert str(outcome["state"]).upper().endswith("ACTIVE")
    traded = {fill.symbol for fill in report.fills}
    assert traded == set(MEMBERS), f"both members should have traded, got {traded}"
    ours = sorted((f.symbol, f.trade_id, f.side.value, f.quantity, f.price) for f in report.fills)
    theirs = sorted(
        (symbol, str(t["id"]), t["side"], D(repr(t["amount"])), D(repr(t["price"])))
        for symbol, rows in outcome["trades"].items() for t in rows
    )
    assert ours == theirs
    for symbol in MEMBERS:
        base = symbol.split("/")[0]
        held = D(repr(outcome["balances"]["total"].get(base, 0.0)))
        assert report.positions[symbol] == held, (symbol, report.positions, held)
