"""Portfolio limits beside the per-symbol ones: net exposure across symbols, in quote and as leverage."""

from __future__ import annotations

from risk_fakes import D, context, intent
from test_risk_gate import assert_approved, assert_denied, gate_with


def test_net_exposure_beyond_max_is_denied_and_at_max_approved(clock):
    gate = gate_with(clock, max_net_exposure=D(30_000))
    # Long 0.4 BTC (20,000) and short 2 ETH (-6,000): net 14,000 USDT.
    book = context(clock, positions={"BTC/USDT": "0.4", "ETH/USDT": "-2"})
    assert_denied(gate.check(intent(quantity="0.32001"), book), "max_net_exposure", "would reach 30,000.50 USDT", "max_net_exposure 30,000.00")
    assert_approved(gate.check(intent(quantity="0.32"), book))


def test_a_hedge_that_brings_the_book_closer_to_neutral_always_passes(clock):
    gate = gate_with(clock, max_net_exposure=D(10_000))
    over = context(clock, positions={"BTC/USDT": "0.4", "ETH/USDT": "2"})  # net 26,000, already beyond the limit
    assert_approved(gate.check(intent("sell", quantity="3", symbol="ETH/USDT"), over))  # net 17,000: closer to zero
    assert_denied(gate.check(intent("buy", quantity="0.1", symbol="ETH/USDT"), over), "max_net_exposure")


def test_short_net_exposure_counts_by_its_size(clock):
    gate = gate_with(clock, max_net_exposure=D(10_000))
    book = context(clock, positions={"ETH/USDT": "-3"})  # -9,000
    decision = gate.check(intent("sell", quantity="0.5", symbol="ETH/USDT"), book)
    assert_denied(decision, "max_net_exposure", "would reach -10,500.00 USDT")


def test_net_leverage_is_judged_on_the_account_equity(clock):
    gate = gate_with(clock, max_net_leverage=D(1))
    book = context(clock, positions={"BTC/USDT": "0.2", "ETH/USDT": "1"}, equity=D(20_000))  # net 13,000
    assert_denied(gate.check(intent(quantity="0.15", symbol="BTC/USDT"), book), "max_net_leverage", "net leverage would reach 1.02x (20,500.00 USDT")
    assert_approved(gate.check(intent(quantity="0.14", symbol="BTC/USDT"), book))
    unknown = context(clock, positions={"BTC/USDT": "0.2"})
    assert_denied(gate.check(intent(quantity="0.1"), unknown), "max_net_leverage", "equity is unknown")


def test_a_long_short_book_within_gross_but_beyond_net_is_told_apart(clock):
    gate = gate_with(clock, max_gross_exposure=D(100_000), max_net_exposure=D(5_000))
    book = context(clock, positions={"BTC/USDT": "0.1", "ETH/USDT": "-1"})  # gross 8,000, net 2,000
    decision = gate.check(intent(quantity="0.1"), book)  # gross 13,000 fine, net 7,000 not
    assert_denied(decision, "max_net_exposure")


def test_leverage_in_a_denial_reads_the_same_whatever_rounding_the_process_context_has(clock):
    # ccxt sets the thread's decimal context to round half up on its first price formatting; the
    # gate's sentence must not depend on which library ran first (1.025 rounds half-even to 1.02).
    import decimal

    gate = gate_with(clock, max_net_leverage=D(1))
    book = context(clock, positions={"BTC/USDT": "0.2", "ETH/USDT": "1"}, equity=D(20_000))
    with decimal.localcontext() as local:
        local.rounding = decimal.ROUND_HALF_UP
        decision = gate.check(intent(quantity="0.15", symbol="BTC/USDT"), book)
    assert_denied(decision, "max_net_leverage", "net leverage would reach 1.02x")
