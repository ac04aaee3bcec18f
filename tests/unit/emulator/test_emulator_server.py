"""Starting venues from code: the async server, its endpoints and the ccxt configuration they give."""

from __future__ import annotations

import asyncio

import ccxt.pro
import pytest
from polling import eventually

from tradepulse.emulator import AccountSpec, VenueEndpoints, VenueServer, VenueThread
from tradepulse.errors import ConfigError


def test_ccxt_config_points_every_url_group_at_the_venue_and_keeps_ccxt_on_spot():
    config = VenueEndpoints("127.0.0.1", 5555).ccxt_config("k", "s", options={"recvWindow": 9000})
    api = config["urls"]["api"]
    assert api["public"] == api["private"] == "http://127.0.0.1:5555/api/v3"
    assert api["ws"]["spot"] == "ws://127.0.0.1:5555/stream/ws"
    assert api["ws"]["ws-api"]["spot"] == "ws://127.0.0.1:5555/ws-api/v3"
    assert config["options"]["fetchCurrencies"] is False and config["options"]["recvWindow"] == 9000
    assert (config["apiKey"], config["secret"]) == ("k", "s")


def test_async_server_serves_ccxt_in_the_same_loop_on_a_free_port():
    async def scenario():
        async with VenueServer(accounts=(AccountSpec("k1", "s1"),), start_offset_s=10) as endpoints:
            exchange = ccxt.pro.binance(endpoints.ccxt_config("k1", "s1"))
            try:
                await exchange.load_markets()
                return endpoints, await exchange.fetch_balance()
            finally:
                await exchange.close()

    endpoints, balance = asyncio.run(scenario())
    assert endpoints.port > 0 and balance["USDT"]["total"] == 10000


def test_a_busy_port_fails_to_start_and_leaves_nothing_running():
    with VenueThread(start_offset_s=5) as first:
        with pytest.raises(OSError):
            VenueThread(port=first.endpoints.port, start_offset_s=5).start()


def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="no recording for DOGEUSDT"):
        VenueServer(symbols=("DOGEUSDT",))
    with pytest.raises(ConfigError, match="share one API key"):
        VenueServer(accounts=(AccountSpec("same", "a"), AccountSpec("same", "b")))


def test_an_accelerated_replay_runs_market_time_ahead_of_the_server_clock():
    with VenueThread(speed=20, start_offset_s=5) as fast:
        def clocks():
            return fast.call(lambda v: (v.clock.market_ms(), v.clock.server_ms(), v.replayer.position))

        first = clocks()
        second = eventually(lambda: (now := clocks())[0] - first[0] >= 5_000 and now, timeout_seconds=30)
    market_elapsed, server_elapsed = second[0] - first[0], second[1] - first[1]
    assert market_elapsed > 10 * server_elapsed > 0 and second[2] > first[2]
