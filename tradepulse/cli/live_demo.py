"""The live half of ``tradepulse demo``: local venue + service trading through ccxt + dashboard.

Everything is a real process: the local Binance-compatible venue replays the recorded BTCUSDT
market ten times faster than real time; the service (``tradepulse serve``) trades ``sma_cross``
on it through ccxt's own ``binance`` class; Voila serves the live dashboard. The API token is
generated for this run and written to a file readable only by the user (never printed). The
demo polls the service once every few seconds, then stops everything gracefully.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradepulse.errors import ConfigError
from tradepulse.service.processes import Drill

if TYPE_CHECKING:
    from tradepulse.client import LiveClient

__all__ = ["run_live_demo"]

_CONFIG = """# Written by `tradepulse demo`: the service trading against the local venue through ccxt.
[service]
state_dir = "state"
watchdog_seconds = 30

[api]
port = 0

[venue]
kind = "ccxt"
exchange = "binance"       # TRADEPULSE_BINANCE_URL points ccxt at the local venue

[governance]
require_versions = false   # a practice exchange: the built-in strategy runs without review

[[strategies]]
id = "btc-sma"
strategy = "sma_cross"
symbol = "BTC/USDT"
params = {{ fast = 3, slow = 8 }}
bar = "{bar}"
capital = 5000

[risk]
max_order_notional = 6000
"""


def run_live_demo(output_dir: Path, seconds: float, *, say: Callable[[str], None], dashboard: bool = True,
                  bar: str = "2s", speed: float = 10.0) -> dict[str, Any]:
    """Run the live stack for ``seconds`` (0: until Ctrl-C) and return what it did."""
    work = (output_dir / "live-demo").resolve()
    if (work / "state").exists():
        # A demo account on a fresh venue: the previous run's journal would not reconcile with it.
        import shutil

        shutil.rmtree(work / "state")
    work.mkdir(parents=True, exist_ok=True)
    config = work / "live.toml"
    config.write_text(_CONFIG.format(bar=bar), encoding="utf-8")
    token_file = work / "operate.token"
    say(f"\n== 4. Live trading: local venue + service through ccxt ({'until Ctrl-C' if seconds <= 0 else f'{seconds:g} s'})")
    # Keys and tokens made for this run; the operate token reaches the service in a 0600 file, never printed.
    with Drill(work, prefix="demo", token_file=token_file) as drill:
        venue = drill.venue(speed=speed, balances={"USDT": "10000", "BTC": "0"})
        service = drill.service(config)
        api = service.url
        say(f"  local venue   {venue.base_url} (replaying recorded Binance BTCUSDT at {speed:g}x)")
        say(f"  service API   {api}   (bearer token in {token_file})")
        say(f"  metrics       {api}/metrics")
        say(f"  CLI           TRADEPULSE_API_TOKEN_FILE={token_file} tradepulse live status --config {config}")
        with _dashboard(dashboard, work, token_file, say):
            summary = _watch(service.client(), seconds, say)
        code = service.stop()
    summary.update({"api": api, "config": str(config), "service_exit_code": code, "log": str(service.log)})
    say(f"  service stopped (exit code {code}); journal and logs in {work}")
    return summary


@contextlib.contextmanager
def _dashboard(enabled: bool, work: Path, token_file: Path, say: Callable[[str], None]) -> Iterator[None]:
    if not enabled:
        yield
        return
    from tradepulse.cli.dashboard_cmd import DashboardServer, find_notebooks_dir

    try:
        notebooks = find_notebooks_dir()
    except ConfigError:
        say("  dashboard     (notebooks folder not found: run from a clone to see the live dashboard)")
        yield
        return
    if not (notebooks / "live_dashboard.ipynb").is_file():
        yield
        return
    saved = {name: os.environ.get(name) for name in ("TRADEPULSE_API_TOKEN_FILE", "TRADEPULSE_STATE_DIR")}
    os.environ["TRADEPULSE_API_TOKEN_FILE"] = str(token_file)
    os.environ["TRADEPULSE_STATE_DIR"] = str(work / "state")
    try:
        with DashboardServer(notebooks, port=0, preheat=False, log_file=work / "dashboard.log") as server:
            say(f"  dashboard     {server.page_url('live_dashboard.ipynb')}")
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _watch(client: LiveClient, seconds: float, say: Callable[[str], None]) -> dict[str, Any]:
    deadline = time.monotonic() + seconds if seconds > 0 else float("inf")
    last: dict[str, Any] = {}
    with client:
        try:
            while time.monotonic() < deadline:
                time.sleep(min(5.0, max(0.0, deadline - time.monotonic())) if seconds > 0 else 5.0)
                status = client.status()
                positions = client.positions()
                orders = client.orders(limit=1000)
                position = positions[0] if positions else {}
                engine = status["engines"][0] if status.get("engines") else {}
                last = {"trading_state": status.get("trading_state"), "orders": len(orders),
                        "filled": sum(1 for order in orders if order.get("status") == "FILLED"),
                        "position": position.get("quantity"), "equity": position.get("equity"),
                        "net_pnl": position.get("net_pnl"), "last_bar_end": engine.get("last_bar_end")}
                say(f"  [{status['service']['uptime_seconds']:6.1f} s] {last['trading_state']:<8} bar {last['last_bar_end']}  "
                    f"orders {last['orders']:3d} (filled {last['filled']})  position {last['position']} BTC  "
                    f"equity {last['equity']} USDT")
        except KeyboardInterrupt:
            say("  stopping (Ctrl-C)")
    return last
