"""``Overview`` against a real paper service: headline figures, charts, live refresh, scope-gated buttons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService

from tradepulse.client import LiveClient
from tradepulse.widgets import Overview
from tradepulse.widgets.overview import headline_figures


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    with PaperService(tmp_path / "service", speed=10) as running:
        yield running.state_dir


def test_headline_figures_from_points_of_two_strategies():
    points = [
        {"ts": "2024-08-08T23:50:00Z", "strategy_id": "a", "equity": "1000", "gross_exposure": "0"},
        {"ts": "2024-08-08T23:55:00Z", "strategy_id": "b", "equity": "2000", "gross_exposure": "500"},
        {"ts": "2024-08-09T00:01:00Z", "strategy_id": "a", "equity": "1100", "gross_exposure": "300"},
        {"ts": "2024-08-09T00:02:00Z", "strategy_id": "b", "equity": "1850", "gross_exposure": "400"},
    ]
    figures = headline_figures(points, trading_state="ACTIVE")
    # Totals carried forward: 23:55 -> 3000 (the last before the day), 00:01 -> 3100 (the peak), 00:02 -> 2950.
    assert figures["equity"] == 2950 and figures["today_pnl"] == -50
    assert figures["drawdown"] == pytest.approx(2950 / 3100 - 1)
    assert figures["gross_exposure"] == 700 and figures["exposure_ratio"] == pytest.approx(700 / 2950)
    assert figures["as_of"] == "2024-08-09T00:02:00Z" and figures["trading_state"] == "ACTIVE"
    assert headline_figures([])["equity"] is None


def test_the_overview_shows_the_service_moves_with_its_fills_and_hides_buttons_from_a_read_token(service):
    with LiveClient.from_state_dir(service, token=READ_TOKEN) as client:
        page = Overview(client, refresh_seconds=5.0)  # long timer: the live stream must drive the updates
        try:
            eventually(lambda: page.snapshot()["connected"] and page.figures.get("equity") is not None, 60)
            first = page.figures
            # Independently: the service's own answers give the same headline.
            with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
                answer = headline_figures(reader.pnl(limit=500))
            # (The service marks on between the two reads; a 10,000 USDT account moves far less than 5% meanwhile.)
            assert abs(answer["equity"] - first["equity"]) < 500 and first["trading_state"] == "ACTIVE"
            fills_before = len(page.snapshot()["fills"])
            eventually(lambda: len(page.snapshot()["fills"]) > fills_before, 90)
            assert page.stream_events > 0
            assert page.figures["as_of"] >= first["as_of"]
            assert 'data-figure="today_pnl"' in page.headline.value and 'data-figure="gross_exposure"' in page.headline.value
            names = {trace.name for trace in page.equity_figure.data}
            assert {"total", "btc-sma", "drawdown"} <= names
            assert [trace.x for trace in page.pnl_figure.data][0] == ("btc-sma · BTC/USDT",)
            assert page.operator_panel.layout.display == "none" and not page.can_operate
        finally:
            page.close()


def test_an_operate_token_gets_the_buttons_and_a_confirmed_kill_halts(service):
    with LiveClient.from_state_dir(service, token=OPERATE_TOKEN) as client:
        page = Overview(client, refresh_seconds=1.0)
        try:
            eventually(lambda: page.snapshot()["connected"], 60)
            assert page.can_operate and page.operator_panel.layout.display is None
            page.reason.value = "unit test: kill from the overview"
            page.kill_button.click()
            assert page.snapshot()["trading_state"] == "ACTIVE"  # asked, not done
            page.confirm_button.click()
            eventually(lambda: page.figures.get("trading_state") == "HALTED", 30)
            assert 'data-state="HALTED"' in page.header.value
        finally:
            page.close()
