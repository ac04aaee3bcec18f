"""The loop watchdog: a blocking call that stalls the event loop is noticed from outside the loop.

Everything in the service runs in one event loop; a strategy or library that blocks it freezes
trading, the feeds and the API together, and no task in the loop can report it. A watchdog thread
does: the stall is journaled and alerted (to a real webhook receiver) while the loop is still stuck.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from service_fixtures import paper_config

from tradepulse.service.config import load_config
from tradepulse.service.host import ServiceHost


class Receiver(BaseHTTPRequestHandler):
    bodies: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        Receiver.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_a_stalled_event_loop_is_journaled_and_alerted_while_it_is_stalled(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config_path = tmp_path / "live.toml"
    config_path.write_text(paper_config("state", speed=10).replace("[service]", "[service]\nwatchdog_seconds = 1", 1),
                           encoding="utf-8")
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    config = load_config(config_path, environ={"TRADEPULSE_ALERT_WEBHOOK_URL": url})
    seen_while_stalled: list[bool] = []

    async def scenario() -> list[dict]:
        host = ServiceHost(config, environ={})
        await host.start()
        try:
            await asyncio.sleep(1.5)
            deadline = time.monotonic() + 4.0
            # A blocking call inside the loop (what a careless strategy would do): nothing in the loop runs.
            while time.monotonic() < deadline and not Receiver.bodies:
                time.sleep(0.05)
            seen_while_stalled.append(bool(Receiver.bodies))
            await asyncio.sleep(1.5)  # the loop turns again
            return host.alerts()
        finally:
            await host.stop()

    try:
        alerts = asyncio.run(scenario())
    finally:
        server.shutdown()
    assert seen_while_stalled == [True]
    assert Receiver.bodies[0]["kind"] == "feed_loss" and "event loop" in Receiver.bodies[0]["message"]
    assert any(alert["kind"] == "feed_loss" and "event loop" in alert["detail"] for alert in alerts)
    assert any(alert["delivered"] for alert in alerts if "event loop" in alert["detail"])
