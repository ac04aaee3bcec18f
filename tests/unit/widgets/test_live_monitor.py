"""LiveMonitor against a real `tradepulse serve` process trading on paper, through the real client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import ipywidgets as widgets
import pytest
from polling import eventually
from service_fixtures import OPERATE_TOKEN, READ_TOKEN, PaperService

from tradepulse.client import LiveClient
from tradepulse.widgets import LiveMonitor

# speed 10: the recording replays in about a minute, long enough to act while the engine still runs.
SPEED = 10


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Path]:
    """`python -m tradepulse.cli serve` in ``tmp_path/service``; yields its state directory."""
    with PaperService(tmp_path / "service", speed=SPEED) as running:
        yield running.state_dir


@pytest.fixture
def monitors() -> Iterator[list[LiveMonitor]]:
    made: list[LiveMonitor] = []
    yield made
    for monitor in made:
        monitor.close()


@pytest.fixture
def monitor_of(service, monitors) -> Iterator[Callable[[str], LiveMonitor]]:
    """A monitor of the service through a LiveClient holding ``token``, refreshing twice a second."""
    clients: list[LiveClient] = []

    def make(token: str) -> LiveMonitor:
        clients.append(LiveClient.from_state_dir(service, token=token))
        monitors.append(LiveMonitor(clients[-1], refresh_seconds=0.5))
        return monitors[-1]

    yield make
    for monitor in monitors:
        monitor.stop()
    for client in clients:
        client.close()


def all_text(widget: widgets.Widget) -> str:
    """Every HTML value and text box of a widget tree (what a reader could see)."""
    parts = []
    if isinstance(widget, widgets.HTML | widgets.Text):
        parts.append(str(widget.value))
    if isinstance(widget, widgets.Button):
        parts.append(widget.description)
    for child in getattr(widget, "children", ()):
        parts.append(all_text(child))
    return "\n".join(parts)


def cells(table: str, column: str) -> list[str]:
    """The text of one column's cells in a rendered table."""
    return re.findall(rf'<td data-column="{column}"[^>]*>(.*?)</td>', table)


def test_read_token_monitor_shows_state_positions_and_orders_from_the_service_and_no_operator_buttons(service, monitor_of):
    monitor = monitor_of(READ_TOKEN)
    # The background thread picks up orders as the strategy trades.
    eventually(lambda: (snap := monitor.snapshot())["orders"] and snap["fills"] and snap["pnl"] and snap, 90)
    monitor.stop()  # from here on the views hold what the snapshot holds
    shown = monitor.snapshot()

    with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
        service_orders = {o["client_order_id"]: o for o in reader.orders(limit=100)}
        status = reader.status()
    assert shown["connected"] is True and shown["message"] is None
    assert shown["trading_state"] == status["trading_state"] == "ACTIVE"
    assert shown["status"]["venue"]["kind"] == "paper"
    assert [e["strategy_id"] for e in shown["status"]["engines"]] == ["btc-sma"]
    (position,) = shown["positions"]
    assert position["strategy_id"] == "btc-sma" and position["symbol"] == "BTC/USDT"
    for order in shown["orders"]:
        assert order["client_order_id"] in service_orders
        assert order["symbol"] == "BTC/USDT" and order["status"] in {"SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "FILLED"}
    first = shown["orders"][-1]
    assert service_orders[first["client_order_id"]]["quantity"] == first["quantity"]
    assert {p["strategy_id"] for p in shown["pnl"]} == {"btc-sma"}

    # What was rendered is what the snapshot holds.
    assert 'class="tp-live-state" data-state="ACTIVE"' in monitor.header.value
    assert first["client_order_id"] in monitor.orders_view.value
    assert f'data-status="{first["status"]}"' in monitor.orders_view.value
    # Orders and fills say their symbol (a portfolio engine trades several).
    assert "BTC/USDT" in monitor.orders_view.value
    assert "btc-sma" in monitor.positions_view.value and "BTC/USDT" in monitor.engines_view.value
    equity = [trace for trace in monitor.figure.data if trace.name == "equity · btc-sma"]
    assert equity and len(equity[0].y) >= 1
    (quality,) = shown["execution"]
    assert quality["strategy_id"] == "btc-sma" and quality["symbol"] == "BTC/USDT"
    assert quality["orders"] >= 1 and 0 < quality["fill_ratio"] <= 1
    assert quality["ack_orders"] >= 1 and quality["slippage_orders"] >= 1
    assert cells(monitor.quality_view.value, "fill_ratio") == [f'{quality["fill_ratio"]:.1%}']
    # The table is the service's own answer (asked again whenever an order changed), not a sample of events.
    with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
        agreed = eventually(lambda: (answer := reader.execution()) == monitor.refresh()["execution"] and answer, 60)
    assert agreed[0]["orders"] >= quality["orders"]
    assert cells(monitor.quality_view.value, "orders") == [str(agreed[0]["orders"])]

    # Read scope: no operator panel, every button disabled, and a click sends nothing.
    assert shown["can_operate"] is False and monitor.can_operate is False
    assert monitor.operator_panel.layout.display == "none"
    assert all(button.disabled for button in monitor.buttons.values())
    assert 'data-scope="read"' in monitor.access_note.value
    monitor.reason.value = "should not be sent"
    press(monitor, monitor.kill_button)
    assert monitor.snapshot()["last_action"]["ok"] is False
    with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
        assert reader.status()["trading_state"] == "ACTIVE"
        assert not [a for a in reader.alerts() if a["kind"] == "kill"]
    text = all_text(monitor) + repr(monitor.snapshot())
    assert READ_TOKEN not in text and OPERATE_TOKEN not in text
    # The page follows the service's live stream: its events wake refreshes (not only the timer).
    eventually(lambda: monitor.stream_events > 0, 30)


def press(monitor, button) -> None:
    """Click an operator button and confirm, as a person does on the page."""
    button.click()
    assert monitor.confirm_bar.layout.display is None
    monitor.confirm_button.click()
    assert monitor.confirm_bar.layout.display == "none"


def test_operate_token_kill_button_halts_the_service_and_resume_brings_it_back(service, monitor_of):
    monitor = monitor_of(OPERATE_TOKEN)
    eventually(lambda: monitor.snapshot()["connected"], 30)
    assert monitor.can_operate is True and monitor.snapshot()["can_operate"] is True
    assert monitor.operator_panel.layout.display is None
    assert not any(button.disabled for button in monitor.buttons.values())
    assert 'data-scope="operate"' in monitor.access_note.value
    assert OPERATE_TOKEN not in all_text(monitor)
    eventually(lambda: monitor.snapshot()["status"]["engines"][0]["running"], 30)

    # A button asks first; Cancel sends nothing.
    monitor.reason.value = "unit test: changed my mind"
    monitor.flatten_button.click()
    assert monitor.confirm_bar.layout.display is None
    assert 'data-action="flatten"' in monitor.confirm_text.value and "every position is closed" in monitor.confirm_text.value
    monitor.cancel_confirm_button.click()
    assert monitor.confirm_bar.layout.display == "none" and monitor.snapshot()["last_action"] is None
    monitor.reason.value = ""

    press(monitor, monitor.kill_button)  # no reason typed: refused in the widget, nothing sent
    refused = monitor.snapshot()["last_action"]
    assert refused["action"] == "kill" and refused["ok"] is False and "reason" in refused["message"]
    assert monitor.snapshot()["trading_state"] == "ACTIVE"

    monitor.reason.value = "unit test: halt from the dashboard"
    press(monitor, monitor.kill_button)
    after = monitor.snapshot()
    assert after["last_action"]["ok"] is True and after["last_action"]["answer"]["trading_state"] == "HALTED"
    assert after["trading_state"] == "HALTED"
    assert 'data-state="HALTED"' in monitor.header.value
    with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
        assert reader.status()["trading_state"] == "HALTED"
        assert reader.health()["trading_state"] == "HALTED"
    # The risk panel and the alerts list show the halt once the service has journaled it.
    eventually(lambda: any(a["kind"] == "kill" for a in monitor.snapshot()["alerts"]), 30)
    engine_risk = monitor.snapshot()["risk"]["engines"][0]["status"]["state"]
    assert engine_risk["mode"] == "HALTED" and engine_risk["reason"] == "unit test: halt from the dashboard"
    assert "unit test: halt from the dashboard" in monitor.risk_view.value

    monitor.reason.value = "unit test: resume"
    press(monitor, monitor.resume_button)
    assert monitor.snapshot()["trading_state"] == "ACTIVE"
    with LiveClient.from_state_dir(service, token=READ_TOKEN) as reader:
        assert reader.status()["trading_state"] == "ACTIVE"


def test_without_a_service_the_monitor_says_so_and_connects_once_one_starts(tmp_path, monitors):
    directory = tmp_path / "later"
    monitor = LiveMonitor.connect(state_dir=directory / "state", token=READ_TOKEN, refresh_seconds=0.5)
    monitors.append(monitor)
    shown = monitor.snapshot()
    assert shown["connected"] is False
    assert shown["title"] == f"No TradePulse service at {directory / 'state'}"
    assert "No TradePulse service at" in monitor.banner.value and "tp-live-no-service" in monitor.banner.value
    assert monitor.body.layout.display == "none" and monitor.operator_panel.layout.display == "none"

    with PaperService(directory, speed=SPEED):
        eventually(lambda: monitor.snapshot()["connected"], 60)
        assert monitor.banner.value == "" and monitor.body.layout.display is None
        assert monitor.snapshot()["trading_state"] in {"ACTIVE", "REDUCING", "HALTED"}
    # Stopped: the panel comes back, with the last data kept on the page.
    eventually(lambda: not monitor.snapshot()["connected"], 60)
    assert "No TradePulse service at" in monitor.banner.value and monitor.body.layout.display is None
