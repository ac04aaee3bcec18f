"""Client order ids are deterministic, venue-safe, at most 36 characters and never repeat."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.model.ids import CLIENT_ORDER_ID_PATTERN, ClientOrderIds, make_client_order_id


def test_id_is_prefix_strategy_and_sequence():
    assert make_client_order_id("momentum", 42) == "tp-momentum-42"
    assert make_client_order_id("mom/btc v2", 1, prefix="live1") == "live1-mom_btc_v2-1"


def test_long_strategy_ids_are_shortened_to_fit_36_characters():
    client_order_id = make_client_order_id("a" * 100, 123456789)
    assert len(client_order_id) == 36 and client_order_id.endswith("-123456789")


@given(strategy=st.text(max_size=60), sequence=st.integers(min_value=1, max_value=10**15))
def test_every_id_matches_the_binance_charset(strategy, sequence):
    assert CLIENT_ORDER_ID_PATTERN.match(make_client_order_id(strategy, sequence))


@given(strategies=st.lists(st.text(max_size=40), min_size=1, max_size=30))
def test_ids_are_unique_across_strategies_even_when_names_are_truncated(strategies):
    ids = ClientOrderIds()
    issued = []
    for strategy in strategies:
        sequence, client_order_id = ids.peek(strategy)
        ids.observe(sequence)
        issued.append(client_order_id)
    assert len(set(issued)) == len(issued)


def test_peek_does_not_consume_and_observe_never_moves_backwards():
    ids = ClientOrderIds(last_sequence=7)
    assert ids.peek("s") == (8, "tp-s-8") == ids.peek("s")
    ids.observe(8)
    ids.observe(3)
    assert ids.peek("s") == (9, "tp-s-9")


@pytest.mark.parametrize("prefix", ["", "has-dash", "waytoolongprefix", "sp ace"])
def test_bad_prefixes_are_a_config_error(prefix):
    with pytest.raises(ConfigError, match="prefix"):
        ClientOrderIds(prefix)
