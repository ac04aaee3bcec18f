"""Portfolio strategies: the weights contract of the base class, the built-ins' rules, causality and the live window."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradepulse.backtest.portfolio import run_portfolio_backtest
from tradepulse.data.universe import Universe, load_universe
from tradepulse.errors import StrategyError
from tradepulse.indicators import cross_kuramoto_r, sma
from tradepulse.strategy import (
    EqualShare,
    MeanReversion,
    Momentum,
    Pairs,
    PortfolioStrategy,
    SmaCross,
    Strategy,
    Synchrony,
    as_portfolio,
    list_strategies,
    load_strategy,
)
from tradepulse.strategy.portfolio import check_weights, member_bars
from tradepulse.strategy.portfolio_builtin import _band_hold, rebalance_rows

FIELDS = ("open", "high", "low", "close", "volume")


def _universe_bars(closes: dict[str, np.ndarray | list[float]], index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """A universe's wide frame, ``(field, symbol)`` columns, from closes per symbol (open = high = low = close)."""
    length = len(next(iter(closes.values())))
    if index is None:
        index = pd.date_range("2024-01-01 00:00", periods=length, freq="1h", tz="UTC")
    data = {}
    for field in FIELDS:
        for symbol, values in closes.items():
            data[(field, symbol)] = np.ones(length) if field == "volume" else np.asarray(values, dtype=float)
    frame = pd.DataFrame(data, index=index)
    frame.columns.names = ["field", "symbol"]
    return frame


def _pair(universe: Universe, first: str, second: str, rows: slice = slice(None)) -> Universe:
    return load_universe([universe.sources[first], universe.sources[second]]).slice(rows.start, rows.stop)


@pytest.fixture(scope="module")
def crypto_4h() -> Universe:
    return load_universe(["universe:binance-usdt-4h"])


@pytest.fixture(scope="module")
def bittrex_5m() -> Universe:
    # The first 2500 bars hold several of the universe's dropped timestamps (gaps on the clock).
    return load_universe(["universe:bittrex-btc-5m"]).slice(0, 2500)


@pytest.fixture(scope="module")
def sectors_1d() -> Universe:
    return load_universe(["universe:spdr-sectors-1d"])


@pytest.fixture(scope="module")
def universes(crypto_4h, bittrex_5m, sectors_1d) -> dict[str, Universe]:
    return {
        "crypto_4h": crypto_4h,
        "bittrex_5m": bittrex_5m,
        "sectors_1d": sectors_1d,
        "btc_eth_4h": _pair(crypto_4h, "BTC/USDT", "ETH/USDT"),
        "ltc_eth_5m": _pair(bittrex_5m, "LTC/BTC", "ETH/BTC", slice(0, 2500)),
        "xlk_xly_1d": _pair(sectors_1d, "XLK", "XLY"),
    }


# (universe, strategy): every built-in on every clock it is meant for, with rebalancing and shorts.
CASES = [
    ("crypto_4h", Momentum(lookback=30, top=2)),
    ("crypto_4h", Momentum(lookback=12, top=1, rebalance=6, allow_short=True)),
    ("bittrex_5m", Momentum(lookback=48, top=3, rebalance=12)),
    ("bittrex_5m", Momentum(lookback=24, top=2, rebalance=5, allow_short=True)),
    ("sectors_1d", Momentum(lookback=60, top=3, rebalance=7)),
    ("btc_eth_4h", Pairs(window=60, z_window=30, entry_z=1.5, exit_z=0.25, max_hold_bars=30)),
    ("ltc_eth_5m", Pairs()),
    ("xlk_xly_1d", Pairs(window=80, z_window=40, entry_z=1.5, exit_z=0.0, max_hold_bars=50, gross=0.6)),
    ("ltc_eth_5m", Pairs(window=40, z_window=60, entry_z=1.0, exit_z=0.0, max_hold_bars=6)),  # time stops galore
    ("crypto_4h", Synchrony(window=32)),
    ("bittrex_5m", Synchrony(window=64, high=0.6, cut=0.25, trend_window=48)),
    ("sectors_1d", Synchrony(window=40, high=0.7, trend_window=20)),
]
CASE_IDS = [f"{name}-{strategy!r}" for name, strategy in CASES]


# -- the base class: check_weights, EqualShare, latest_targets ------------------------------------


def test_check_weights_turns_nan_into_zero_and_orders_columns_like_the_universe():
    bars = _universe_bars({"A": [1, 2, 3], "B": [1, 2, 3]})
    weights = pd.DataFrame({"B": [np.nan, 0.5, 0.2], "A": [0.3, np.nan, -0.4]}, index=bars.index)
    values = check_weights(weights, bars, ["A", "B"], "test")
    np.testing.assert_array_equal(values, [[0.3, 0.0], [0.0, 0.5], [-0.4, 0.2]])


def test_check_weights_names_the_first_bar_over_the_gross_limit():
    bars = _universe_bars({"A": [1, 2, 3, 4, 5], "B": [1, 2, 3, 4, 5]})
    weights = pd.DataFrame({"A": [0.5, 0.5, 0.9, 0.5, -1.0], "B": [0.5, -0.5, 0.6, 0.5, 1.0]}, index=bars.index)
    with pytest.raises(StrategyError) as caught:
        check_weights(weights, bars, ["A", "B"], "mine")
    message = str(caught.value)
    assert message.startswith("mine: gross exposure 1.5 at " + bars.index[2].isoformat())
    assert "limit 1" in message and "2 bar(s) over" in message
    assert check_weights(weights, bars, ["A", "B"], "mine", max_gross_exposure=2.0).shape == (5, 2)


@pytest.mark.parametrize(
    ("columns", "message"),
    [(["A"], "lack B"), (["A", "B", "C"], "unknown symbol(s) C")],
)
def test_check_weights_refuses_columns_other_than_the_universe(columns, message):
    bars = _universe_bars({"A": [1, 2], "B": [1, 2]})
    weights = pd.DataFrame(0.1, index=bars.index, columns=columns)
    with pytest.raises(StrategyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_weights(weights, bars, ["A", "B"], "mine")


def test_check_weights_refuses_a_series_a_foreign_index_and_a_wrong_shape():
    bars = _universe_bars({"A": [1, 2], "B": [1, 2]})
    with pytest.raises(StrategyError, match="must return a DataFrame"):
        check_weights(pd.Series([0.1, 0.2], index=bars.index), bars, ["A", "B"], "mine")
    with pytest.raises(StrategyError, match="indexed like the bars"):
        check_weights(pd.DataFrame({"A": [0.1, 0.1], "B": [0.1, 0.1]}), bars, ["A", "B"], "mine")
    with pytest.raises(StrategyError, match=r"shape \(2, 2\)"):
        check_weights(np.zeros((2, 3)), bars, ["A", "B"], "mine")


def test_equal_share_gives_each_member_its_single_symbol_signal_over_n(crypto_4h):
    inner = SmaCross(fast=5, slow=20, allow_short=True)
    weights = EqualShare(inner).signals(crypto_4h.bars)
    assert list(weights.columns) == list(crypto_4h.symbols)
    for symbol in crypto_4h.symbols:
        expected = inner.signals(crypto_4h.member(symbol)).to_numpy() / 4
        np.testing.assert_array_equal(weights[symbol].to_numpy(), expected)
        pd.testing.assert_frame_equal(member_bars(crypto_4h.bars, symbol), crypto_4h.member(symbol), check_like=True)


def test_equal_share_takes_the_inner_strategy_name_warmup_and_parameters():
    shared = EqualShare(MeanReversion(), window=30)
    assert shared.name == "mean_reversion" and shared.params["window"] == 30
    assert shared.warmup_bars == MeanReversion(window=30).warmup_bars
    assert shared.with_params(window=40) == EqualShare(MeanReversion(window=40))
    assert isinstance(as_portfolio(SmaCross()), EqualShare)
    momentum = Momentum()
    assert as_portfolio(momentum) is momentum
    with pytest.raises(StrategyError, match="already a portfolio strategy"):
        EqualShare(momentum)


@pytest.mark.parametrize("strategy", [Momentum(lookback=20, top=1, allow_short=True), EqualShare(SmaCross())], ids=repr)
def test_latest_targets_are_the_last_row_of_the_weights(strategy, crypto_4h):
    targets = strategy.latest_targets(crypto_4h.bars)
    last = strategy.signals(crypto_4h.bars).iloc[-1]
    assert targets == {symbol: float(last[symbol]) for symbol in crypto_4h.symbols}
    with pytest.raises(StrategyError, match="use latest_targets"):
        strategy.latest_target(crypto_4h.bars)


def test_a_portfolio_strategy_needs_a_universe_frame(crypto_4h):
    with pytest.raises(StrategyError, match="needs a universe's bars"):
        Momentum().signals(crypto_4h.member("BTC/USDT"))


# -- registration ----------------------------------------------------------------------------------


def test_portfolio_built_ins_load_by_name_and_are_listed_as_portfolio_strategies():
    assert load_strategy("momentum") is Momentum
    assert load_strategy("pairs") is Pairs
    assert load_strategy("synchrony") is Synchrony
    assert set(list_strategies(portfolio=True)) == {"momentum", "pairs", "synchrony"}
    assert set(list_strategies(portfolio=False)) == {"sma_cross", "mean_reversion", "composite"}
    for cls in list_strategies(portfolio=True).values():
        assert issubclass(cls, PortfolioStrategy) and cls.describe().startswith("Portfolio")


# -- momentum --------------------------------------------------------------------------------------


MOMENTUM_CLOSES = {"A": [10, 10, 11, 11, 11], "B": [10, 12, 12, 12, 15], "C": [10, 9, 9, 8, 8]}


def test_momentum_holds_the_best_trailing_return_long_ties_to_the_first_member():
    weights = Momentum(lookback=1, top=1).signals(_universe_bars(MOMENTUM_CLOSES))
    # returns per row: (-, -, -), (0, .2, -.1), (.1, 0, 0), (0, 0, -.11), (0, .25, 0)
    assert weights.to_numpy().tolist() == [[0, 0, 0], [0, 1, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]]


def test_momentum_with_shorts_splits_the_book_half_long_half_short():
    weights = Momentum(lookback=1, top=1, allow_short=True).signals(_universe_bars(MOMENTUM_CLOSES))
    assert weights.to_numpy().tolist() == [
        [0, 0, 0], [0, 0.5, -0.5], [0.5, 0, -0.5], [0.5, 0, -0.5], [0, 0.5, -0.5],
    ]


def test_momentum_top_members_share_the_long_book_equally(crypto_4h):
    weights = Momentum(lookback=20, top=2).signals(crypto_4h.bars).to_numpy()
    close = crypto_4h.field("close").to_numpy()
    trailing = close[20:] / close[:-20] - 1
    best_two = np.sort(np.argsort(-trailing, axis=1, kind="stable")[:, :2], axis=1)
    held = np.sort(np.argsort(-weights[20:], axis=1, kind="stable")[:, :2], axis=1)
    np.testing.assert_array_equal(held, best_two)
    assert set(np.unique(weights[20:])) == {0.0, 0.5}
    assert (weights[:20] == 0).all()


def test_rebalance_periods_are_fixed_on_the_clock_not_on_the_first_row():
    index = pd.date_range("2024-01-01 01:00", periods=9, freq="1h", tz="UTC")
    # 3-hour periods start at 00:00, 03:00, 06:00, 09:00 UTC
    assert rebalance_rows(index, 3).tolist() == [0, 0, 2, 2, 2, 5, 5, 5, 8]
    assert rebalance_rows(index[1:], 3).tolist() == [0, 1, 1, 1, 4, 4, 4, 7]
    with_gap = index.delete(2)  # no 03:00 bar: the period opens at 04:00
    assert rebalance_rows(with_gap, 3).tolist() == [0, 0, 2, 2, 4, 4, 4, 7]
    assert rebalance_rows(index, 1).tolist() == list(range(9))


def test_momentum_weights_change_only_on_rebalancing_bars(bittrex_5m):
    strategy = Momentum(lookback=24, top=2, rebalance=6)
    weights = strategy.signals(bittrex_5m.bars).to_numpy()
    changed = np.flatnonzero(np.abs(np.diff(weights, axis=0)).sum(axis=1) > 0) + 1
    slot = bittrex_5m.bars.index.asi8 // pd.Timedelta("30min").value
    opens = np.flatnonzero(np.diff(slot) != 0) + 1
    assert len(changed) > 20
    assert set(changed) <= set(opens)


def test_momentum_refuses_more_members_than_the_universe_holds():
    bars = _universe_bars(MOMENTUM_CLOSES)
    with pytest.raises(StrategyError, match="top=2 long and 2 short needs 4 members, the universe has 3"):
        Momentum(top=2, allow_short=True).signals(bars)
    with pytest.raises(StrategyError, match="momentum needs at least 2 symbols, got 1"):
        Momentum(top=1).signals(_universe_bars({"A": [1, 2, 3]}))


# -- pairs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cointegrated_pair() -> pd.DataFrame:
    """log A = 0.3 + 2 log B + a small deterministic wobble, with a spike up at 150-152 and down at 300-302."""
    rows = np.arange(400)
    log_b = np.log(50) + np.cumsum(np.random.default_rng(7).normal(0, 0.01, len(rows)))
    log_a = 0.3 + 2 * log_b + 0.001 * np.sin(0.7 * rows)
    log_a[150:153] += 0.02
    log_a[300:303] -= 0.02
    return _universe_bars({"A": np.exp(log_a), "B": np.exp(log_b)})


PAIRS_HAND = Pairs(window=50, z_window=30, entry_z=2.0, exit_z=0.5, max_hold_bars=20, gross=0.8)


def test_pairs_shorts_the_spread_when_rich_and_buys_it_when_cheap(cointegrated_pair):
    weights = PAIRS_HAND.signals(cointegrated_pair).to_numpy()
    spread = PAIRS_HAND.spread(cointegrated_pair)
    beta = spread["hedge_ratio"].to_numpy()
    assert abs(beta[149] - 2) < 0.01
    for row in (150, 151, 152):  # short A, long beta B; the ratio is the bar's own (each bar re-triggers)
        np.testing.assert_allclose(weights[row], [-0.8 / (1 + beta[row]), 0.8 * beta[row] / (1 + beta[row])])
    for row in (300, 301, 302):
        np.testing.assert_allclose(weights[row], [0.8 / (1 + beta[row]), -0.8 * beta[row] / (1 + beta[row])])
    active = np.flatnonzero(np.abs(weights).sum(axis=1) > 0)
    around_spikes = active[((active >= 100) & (active < 180)) | ((active >= 280) & (active < 330))]
    assert around_spikes.tolist() == [150, 151, 152, 300, 301, 302]  # out once z is back inside exit_z
    np.testing.assert_allclose(np.abs(weights[active]).sum(axis=1), 0.8)
    assert spread["position"].to_numpy()[[150, 300, 153]].tolist() == [-1, 1, 0]


def test_an_open_pair_trade_keeps_its_weights_until_it_re_triggers_or_ends(universes):
    strategy = Pairs(window=60, z_window=30, entry_z=1.5, exit_z=0.25, max_hold_bars=30)
    bars = universes["btc_eth_4h"].bars
    weights = strategy.signals(bars).to_numpy()
    frame = strategy.spread(bars)
    position, zscore = frame["position"].to_numpy(), frame["zscore"].to_numpy()
    holding = np.flatnonzero((position[1:] == position[:-1]) & (position[1:] != 0) & (np.abs(zscore[1:]) <= 1.5)) + 1
    assert len(holding) > 10
    np.testing.assert_array_equal(weights[holding], weights[holding - 1])


def test_pairs_spread_frame_has_the_ols_ratio_and_the_rehedged_zscore(cointegrated_pair):
    frame = PAIRS_HAND.spread(cointegrated_pair)
    assert list(frame.columns) == ["hedge_ratio", "spread", "zscore", "position"]
    log_a = np.log(cointegrated_pair["close"]["A"].to_numpy())
    log_b = np.log(cointegrated_pair["close"]["B"].to_numpy())
    row = 260
    slope = np.polyfit(log_b[row - 49 : row + 1], log_a[row - 49 : row + 1], 1)[0]
    assert frame["hedge_ratio"].iloc[row] == pytest.approx(slope, rel=1e-9)
    hedged = log_a[row - 29 : row + 1] - slope * log_b[row - 29 : row + 1]
    assert frame["spread"].iloc[row] == pytest.approx(hedged[-1], rel=1e-9)
    assert frame["zscore"].iloc[row] == pytest.approx((hedged[-1] - hedged.mean()) / hedged.std(), rel=1e-6)
    assert frame["hedge_ratio"].iloc[:49].isna().all() and frame["zscore"].iloc[:49].isna().all()


def test_pairs_trade_ends_at_the_exit_band_or_the_time_stop():
    zscore = np.array([np.nan, 0.0, 2.5, 1.0, 0.3, 2.2, 2.1, 1.0, 1.0, 1.0])
    held, since = _band_hold(zscore, entry_z=2.0, exit_z=0.5, max_hold_bars=3)
    # in at 2, out at 4 (inside 0.5), in again at 5 and re-triggered at 6, time stop 3 bars after 6
    assert held.tolist() == [False, False, True, True, False, True, True, True, True, False]
    assert since.tolist() == [0, 0, 2, 2, 2, 5, 6, 6, 6, 6]


@pytest.mark.parametrize("symbols", [["A"], ["A", "B", "C"]])
def test_pairs_needs_exactly_two_symbols(symbols):
    bars = _universe_bars({symbol: [1.0, 2.0, 3.0] for symbol in symbols})
    expected = f"pairs needs exactly 2 symbols, got {len(symbols)} ({', '.join(symbols)})"
    with pytest.raises(StrategyError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        Pairs().signals(bars)
    with pytest.raises(StrategyError, match="exactly 2 symbols"):
        Pairs().spread(bars)


def test_pairs_over_a_four_member_universe_is_refused_before_backtesting(crypto_4h):
    with pytest.raises(StrategyError, match="pairs needs exactly 2 symbols, got 4"):
        run_portfolio_backtest(crypto_4h, "pairs")


def test_pairs_exit_band_must_be_inside_the_entry_band():
    with pytest.raises(StrategyError, match=r"exit_z \(2.0\) must be smaller than entry_z \(1.5\)"):
        Pairs(entry_z=1.5, exit_z=2.0)


# -- synchrony -------------------------------------------------------------------------------------


def _swing(sign: float, scale: float = 100.0) -> np.ndarray:
    rows = np.arange(120)
    return scale * np.exp(sign * 0.05 * np.sin(2 * np.pi * rows / 16))


def test_synchrony_cuts_exposure_when_members_swing_together():
    together = Synchrony(window=32, high=0.8, cut=0.5).signals(_universe_bars({"A": _swing(1), "B": _swing(1, 7.0)}))
    assert (together.iloc[:31] == 0).all().all()
    np.testing.assert_allclose(together.iloc[31:].to_numpy(), 0.25)  # R = 1 > 0.8: half of 1/2 each


def test_synchrony_holds_full_equal_weights_when_members_are_out_of_phase():
    apart = Synchrony(window=32, high=0.8, cut=0.5).signals(_universe_bars({"A": _swing(1), "B": _swing(-1)}))
    np.testing.assert_allclose(apart.iloc[31:].to_numpy(), 0.5)  # opposite phases: R = 0


def test_synchrony_weights_follow_the_order_parameter_and_the_trend_filter(crypto_4h):
    strategy = Synchrony(window=32, high=0.75, cut=0.4, trend_window=20)
    weights = strategy.signals(crypto_4h.bars).to_numpy()
    close = crypto_4h.field("close")
    synchrony = cross_kuramoto_r(close, window=32, min_assets=2).to_numpy()
    np.testing.assert_array_equal(strategy.order_parameter(crypto_4h.bars).to_numpy(), synchrony)
    above = np.column_stack([close[s].to_numpy() > sma(close[s], 20).to_numpy() for s in crypto_4h.symbols])
    scale = np.where(np.isnan(synchrony), 0.0, np.where(synchrony > 0.75, 0.4, 1.0))
    np.testing.assert_array_equal(weights, np.where(above, 0.25, 0.0) * scale[:, None])
    assert (synchrony > 0.75).sum() > 50 and (synchrony <= 0.75).sum() > 50


# -- every built-in: shape, gross, the live window, causality, a backtest --------------------------


@pytest.mark.parametrize(("universe_name", "strategy"), CASES, ids=CASE_IDS)
def test_weights_are_one_row_per_bar_one_column_per_member_within_the_gross_limit(universes, universe_name, strategy):
    universe = universes[universe_name]
    weights = strategy.signals(universe.bars)
    assert weights.index.equals(universe.bars.index)
    assert list(weights.columns) == list(universe.symbols)
    assert np.isfinite(weights.to_numpy()).all()
    gross = weights.abs().sum(axis=1)
    assert gross.max() <= strategy.max_gross_exposure + 1e-12
    assert (gross > 0).mean() > 0.05  # the strategy does hold something
    check_weights(weights, universe.bars, universe.symbols, strategy.name, strategy.max_gross_exposure)


@pytest.mark.parametrize(("universe_name", "strategy"), CASES, ids=CASE_IDS)
def test_last_row_of_a_warmup_window_equals_the_full_history_weights(universes, universe_name, strategy):
    """The live engine evaluates ``warmup_bars`` bars and acts on the last row: it must agree exactly."""
    universe = universes[universe_name]
    bars = universe.bars
    full = strategy.signals(bars).to_numpy()
    window = strategy.warmup_bars
    # Pairs' state (an open trade) shows its edge cases on single bars: check every bar.
    stride = 1 if isinstance(strategy, Pairs) else max(1, (len(bars) - window) // 120)
    rows = sorted(set(range(window - 1, len(bars), stride)) | set(range(len(bars) - 40, len(bars))))
    held_rows = 0
    for t in rows:
        latest = strategy.latest_targets(bars.iloc[t - window + 1 : t + 1])
        assert [latest[symbol] for symbol in universe.symbols] == full[t].tolist(), f"bar {t} ({bars.index[t]})"
        held_rows += bool(np.abs(full[t]).sum())
    assert held_rows > 5


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    case=st.sampled_from(range(len(CASES))),
    cut_fraction=st.floats(min_value=0.2, max_value=0.95),
    shock=st.floats(min_value=0.5, max_value=2.0),
    member=st.integers(min_value=0, max_value=100),
)
def test_changing_future_bars_never_changes_past_weights(universes, case, cut_fraction, shock, member):
    universe_name, strategy = CASES[case]
    bars = universes[universe_name].bars
    symbols = list(universes[universe_name].symbols)
    cut = int(len(bars) * cut_fraction)
    altered = bars.copy()
    prices = [(field, symbols[member % len(symbols)]) for field in ("open", "high", "low", "close")]
    altered.iloc[cut:, [bars.columns.get_loc(column) for column in prices]] *= shock
    before = strategy.signals(bars).to_numpy()[:cut]
    after = strategy.signals(altered).to_numpy()[:cut]
    np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize(
    ("universe_name", "name", "params"),
    [
        ("crypto_4h", "momentum", {"lookback": 30, "top": 2, "rebalance": 6}),
        ("btc_eth_4h", "pairs", {"window": 60, "z_window": 30, "entry_z": 1.5, "exit_z": 0.25}),
        ("sectors_1d", "synchrony", {"window": 40, "high": 0.7}),
    ],
)
def test_each_built_in_backtests_and_trades_on_a_real_universe(universes, universe_name, name, params):
    universe = universes[universe_name]
    result = run_portfolio_backtest(universe, name, params)
    assert result.strategy == load_strategy(name)(**params)
    assert len(result.fills) > 10
    assert result.stats["trades"] > 3
    assert set(result.fills["symbol"]) == set(universe.symbols)
    np.testing.assert_array_equal(result.weights.to_numpy(), result.strategy.signals(universe.bars).to_numpy())


def test_equal_share_refuses_a_member_target_outside_minus_one_to_one():
    # Gross exposure alone would let one member take n times its share while the others sit flat.
    class Doubles(Strategy):
        def signals(self, bars):
            return bars["close"] * 0.0 + 2.0

    universe_bars = load_universe(["universe:binance-usdt-4h"]).bars
    with pytest.raises(StrategyError, match=r"target exposure must be within \[-1, 1\], got 2"):
        EqualShare(Doubles()).signals(universe_bars)
