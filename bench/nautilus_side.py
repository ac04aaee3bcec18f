"""NautilusTrader's side of the live-engine comparison; runs inside the benchmark's own NautilusTrader venv.

``bench/bench_nautilus.py`` (in TradePulse's environment) writes the data files and starts this
script with the NautilusTrader interpreter (``.cache/bench-nautilus``, pinned by
``bench/requirements-nautilus.txt``), once per case, so that each case's peak memory is its own.
It prints one JSON line last.

``bars FILE --config stock|tuned``
    NautilusTrader's example ``EMACross`` (EMA 10/20, ``nautilus_trader.examples.strategies.ema_cross``)
    in a ``BacktestEngine`` on the 1-minute bars of FILE (a Parquet file with a ``timestamp``
    index of bar open times and ``open, high, low, close, volume``), built into ``Bar`` objects
    with ``BarDataWrangler`` (timestamped at the bar's close, NautilusTrader's convention), on
    ``TestInstrumentProvider.btcusdt_perp_binance()`` in a margin account.

``ticks FILE --config stock|tuned --every N``
    A tiny strategy of our own (``EveryNTrades``) on ``TradeTick``s built with
    ``TradeTickDataWrangler``: a market order every N trades, buying and selling a fixed quantity in
    turn (long, flat, long, ...), on ``TestInstrumentProvider.btcusdt_binance()`` in a cash account.

Configurations:

* ``stock``: the venue's OMS is ``NETTING`` (NautilusTrader's crypto examples), the strategy does not
  choose one, and ``BacktestEngineConfig`` keeps its defaults, so ``engine.run()`` ends with the
  post-run analysis (account, statistics of every position).
* ``tuned``: ``HEDGING`` OMS for the venue and the strategy (``oms_type="HEDGING"``) and
  ``BacktestEngineConfig(run_analysis=False)``, which skips that analysis.

Both write the log at ``ERROR`` to stdout: at the default ``INFO`` the example strategy logs a line
for every bar, which a benchmark should not pay for (TradePulse logs nothing per bar either). The
strategy still builds those lines (``self.log.info(repr(bar))``), as the example does.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from decimal import Decimal

_STARTED = time.perf_counter()

import pandas as pd  # noqa: E402
from nautilus_trader.backtest.config import BacktestEngineConfig  # noqa: E402
from nautilus_trader.backtest.engine import BacktestEngine  # noqa: E402
from nautilus_trader.config import LoggingConfig, StrategyConfig  # noqa: E402
from nautilus_trader.examples.strategies.ema_cross import EMACross, EMACrossConfig  # noqa: E402
from nautilus_trader.model.currencies import USDT  # noqa: E402
from nautilus_trader.model.data import BarType, TradeTick  # noqa: E402
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide  # noqa: E402
from nautilus_trader.model.identifiers import InstrumentId, Venue  # noqa: E402
from nautilus_trader.model.objects import Money  # noqa: E402
from nautilus_trader.persistence.wranglers import BarDataWrangler, TradeTickDataWrangler  # noqa: E402
from nautilus_trader.test_kit.providers import TestInstrumentProvider  # noqa: E402
from nautilus_trader.trading.strategy import Strategy  # noqa: E402

_IMPORTED = time.perf_counter()


class EveryNTradesConfig(StrategyConfig, frozen=True):
    """A market order every ``every`` trades, alternately buying and selling ``trade_size``."""

    instrument_id: InstrumentId
    trade_size: Decimal
    every: int = 1_000


class EveryNTrades(Strategy):
    """Count trade ticks; on every ``every``-th, send a market order (buy, sell, buy, ...)."""

    def __init__(self, config: EveryNTradesConfig) -> None:
        super().__init__(config)
        self.trades = 0
        self.sent = 0
        self.instrument = None

    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        self.subscribe_trade_ticks(self.config.instrument_id)

    def on_trade_tick(self, tick: TradeTick) -> None:
        self.trades += 1
        if self.trades % self.config.every:
            return
        side = OrderSide.BUY if self.sent % 2 == 0 else OrderSide.SELL
        order = self.order_factory.market(
            instrument_id=self.config.instrument_id, order_side=side, quantity=self.instrument.make_qty(self.config.trade_size),
        )
        self.submit_order(order)
        self.sent += 1


def _engine(config: str) -> BacktestEngine:
    logging = LoggingConfig(log_level="ERROR")
    if config == "stock":
        return BacktestEngine(config=BacktestEngineConfig(logging=logging))
    return BacktestEngine(config=BacktestEngineConfig(logging=logging, run_analysis=False))


def _oms(config: str) -> OmsType:
    return OmsType.NETTING if config == "stock" else OmsType.HEDGING


def run_bars(path: str, config: str) -> dict:
    instrument = TestInstrumentProvider.btcusdt_perp_binance()
    engine = _engine(config)
    engine.add_venue(
        venue=Venue("BINANCE"), oms_type=_oms(config), account_type=AccountType.MARGIN, base_currency=None,
        starting_balances=[Money(1_000_000, USDT)],
    )
    engine.add_instrument(instrument)
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-LAST-EXTERNAL")
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    # TradePulse's files index bars by their open; NautilusTrader stamps a bar at its close.
    frame.index = frame.index + pd.Timedelta(minutes=1)
    bars = BarDataWrangler(bar_type, instrument).process(frame[["open", "high", "low", "close", "volume"]])
    engine.add_data(bars)
    loaded = time.perf_counter()
    strategy_config = {
        "instrument_id": instrument.id, "bar_type": bar_type, "trade_size": Decimal("0.100"),
        "fast_ema_period": 10, "slow_ema_period": 20,
    }
    if config == "tuned":
        strategy_config["oms_type"] = "HEDGING"
    engine.add_strategy(EMACross(EMACrossConfig(**strategy_config)))
    run_started = time.perf_counter()
    engine.run()
    run_seconds = time.perf_counter() - run_started
    orders = engine.cache.orders()
    result = {
        "bars": len(bars),
        "orders": len(orders),
        "filled": sum(1 for order in orders if order.is_closed and order.filled_qty > 0),
        "positions": engine.cache.positions_total_count(),
        "load_seconds": round(loaded - started, 3),
        "run_seconds": round(run_seconds, 3),
        "bars_per_second_run": round(len(bars) / run_seconds),
    }
    engine.dispose()
    return result


def run_ticks(path: str, config: str, every: int) -> dict:
    instrument = TestInstrumentProvider.btcusdt_binance()
    engine = _engine(config)
    engine.add_venue(
        venue=Venue("BINANCE"), oms_type=_oms(config), account_type=AccountType.CASH, base_currency=None,
        starting_balances=[Money(1_000_000, USDT)], trade_execution=True,
    )
    engine.add_instrument(instrument)
    started = time.perf_counter()
    frame = pd.read_parquet(path)
    ticks = TradeTickDataWrangler(instrument).process(frame[["price", "quantity", "buyer_maker", "trade_id"]])
    engine.add_data(ticks)
    loaded = time.perf_counter()
    strategy_config = {"instrument_id": instrument.id, "trade_size": Decimal("0.1"), "every": every}
    if config == "tuned":
        strategy_config["oms_type"] = "HEDGING"
    strategy = EveryNTrades(EveryNTradesConfig(**strategy_config))
    engine.add_strategy(strategy)
    run_started = time.perf_counter()
    engine.run()
    run_seconds = time.perf_counter() - run_started
    orders = engine.cache.orders()
    result = {
        "ticks": len(ticks),
        "trades_seen": strategy.trades,
        "orders": len(orders),
        "filled": sum(1 for order in orders if order.is_closed and order.filled_qty > 0),
        "load_seconds": round(loaded - started, 3),
        "run_seconds": round(run_seconds, 3),
        "ticks_per_second_run": round(len(ticks) / run_seconds),
    }
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=["bars", "ticks"])
    parser.add_argument("file")
    parser.add_argument("--config", choices=["stock", "tuned"], required=True)
    parser.add_argument("--every", type=int, default=1_000, help="ticks: trades between two orders")
    args = parser.parse_args()
    result = run_bars(args.file, args.config) if args.workload == "bars" else run_ticks(args.file, args.config, args.every)
    import nautilus_trader

    result.update(
        engine="NautilusTrader", version=nautilus_trader.__version__, config=args.config,
        import_seconds=round(_IMPORTED - _STARTED, 3),
        self_peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
