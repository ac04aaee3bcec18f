"""``on_equity_and_poll`` (an engine's bar close) must be ``on_equity`` then ``poll``: same events, same order, same state.

Two breakers get the same random inputs — equity moves that trip the daily-loss and drawdown
limits, market data with gaps that trip the stale-data breaker, orders and trades that trip the
order-to-trade ratio, new trading days and operator resumes — one taking each bar close as the two
calls, the other as the one.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from risk_fakes import D, FakeClock

from tradepulse.risk import CircuitBreakers, RiskLimits, TradingState

LIMITS = RiskLimits(
    max_daily_loss_fraction=D("0.05"), max_drawdown_fraction=D("0.08"), stale_after_seconds=90,
    max_order_to_trade_ratio=D("3"), order_to_trade_min_orders=4, order_to_trade_window_seconds=600,
)

inputs = st.lists(
    st.one_of(
        st.tuples(st.just("bar"), st.integers(8_500, 11_500)),
        st.tuples(st.just("data"), st.integers(0, 200)),
        st.tuples(st.just("order")), st.tuples(st.just("trade")),
        st.tuples(st.just("wait"), st.integers(1, 40_000)),
        st.tuples(st.just("resume")),
    ),
    min_size=1, max_size=60,
)


def run(steps, combined: bool) -> tuple[list[dict], dict]:
    clock = FakeClock()
    state = TradingState(clock)
    breakers = CircuitBreakers(LIMITS, state, clock, currency="USDT")
    seen: list[dict] = []
    for step in steps:
        if step[0] == "bar":
            clock.advance(60)
            equity = D(step[1])
            events = breakers.on_equity_and_poll(equity) if combined else breakers.on_equity(equity) + breakers.poll()
        elif step[0] == "data":
            events = breakers.on_market_data("BTC/USDT", clock.advance(step[1]))
        elif step[0] == "order":
            events = breakers.on_order_submitted("BTC/USDT")
        elif step[0] == "trade":
            events = breakers.on_trade("BTC/USDT")
        elif step[0] == "wait":
            clock.advance(step[1])
            events = []
        else:
            state.resume("operator:ops", "checked")
            events = []
        seen += [event.to_payload() for event in events]
    return seen, breakers.snapshot()


@settings(max_examples=200, deadline=None)
@given(steps=inputs)
def test_one_call_at_a_bar_close_equals_the_two(steps):
    assert run(steps, combined=True) == run(steps, combined=False)


def test_the_one_call_trips_what_the_two_trip():
    # A loss past both equity limits, and trades leaving the order-to-trade window (the poll's
    # part: the orders stay in it), in one bar close.
    steps = [("bar", 10_000), ("trade",), ("trade",), ("wait", 300), *[("order",)] * 4, ("wait", 350), ("data", 1), ("bar", 9_000)]
    events, _ = run(steps, combined=True)
    tripped = [event["breaker"] for event in events if event.get("kind") == "risk.breaker_trip"]
    assert tripped == ["daily_loss", "drawdown", "order_to_trade"]
    assert events == run(steps, combined=False)[0]
