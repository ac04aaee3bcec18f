"""One active writer per account with a PostgreSQL journal: a standby takes over when the active service dies.

Real parts: the local venue (ccxt's own Binance class talks to it), two `tradepulse serve` processes
with state directories of their own and one journal store in a real PostgreSQL server, `kill -9`.
The standby waits for the lease while the first trades; the first is killed in the middle of
trading; the standby takes the lease, warm-starts from the shared journal, reconciles with the
venue and trades on. The audit then holds the venue's account against the journal: no order
placed twice, none the journal does not know, no fill lost or journaled twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from polling import eventually

from tradepulse.client import LiveClient
from tradepulse.client_base import read_service_file
from tradepulse.service.processes import Drill
from tradepulse.service.trials import _config_text, audit_account
from tradepulse.store import Journal
from tradepulse.store.postgres import PgLocation

SECONDS_OF_TRADING = 8


def test_a_standby_takes_over_after_kill_9_with_no_duplicate_order_and_no_lost_fill(tmp_path: Path, postgres_server) -> None:
    store = postgres_server.url()
    with Drill(tmp_path / "drill", prefix="failover") as drill:
        drill.env["TRADEPULSE_STORE_PASSWORD"] = os.environ["TRADEPULSE_STORE_PASSWORD"]
        drill.venue(speed=10, balances={"USDT": "2000", "BTC": "0.02", "BNB": "1"})
        configs = []
        for name in ("a", "b"):
            config = drill.folder / f"{name}.toml"
            config.write_text(_config_text(drill.folder / f"state-{name}", store=store), encoding="utf-8")
            configs.append(config)
        active = drill.service(configs[0])
        journal = PgLocation.parse(store, journal="crash-trial.crash")
        with active.client() as client:
            eventually(lambda: client.fills(limit=1), 90)
        assert active.info["mode"] == "cold"

        # Started from this thread (a child dies with the thread that started it), without waiting for it to listen.
        log = drill.folder / "standby.log"
        with log.open("wb") as output:
            standby = subprocess.Popen([sys.executable, "-m", "tradepulse.cli", "serve", "--config", str(configs[1])],
                                       env=drill.env, stdout=output, stderr=subprocess.STDOUT)
        try:
            eventually(lambda: "standby" in log.read_text(errors="replace"), 60)
            assert not (drill.folder / "state-b" / "service.json").exists()  # it neither serves nor trades while it waits

            time.sleep(SECONDS_OF_TRADING / 2)
            with Journal(journal, read_only=True) as reader:
                submitted_before = reader.count("order.submitted")
            active.kill()  # kill -9: no cancel, no goodbye; the database session ends with the process
            took_over = eventually(lambda: read_service_file(drill.folder / "state-b"), 120)
            assert took_over["pid"] == standby.pid and took_over["mode"] == "warm"
            operator = LiveClient(took_over["url"], token=drill.credentials.operate_token)
            with operator as client:
                (reconciled,) = client.status()["reconciliation"]
                assert reconciled["ok"], reconciled
                eventually(lambda: client.status()["engines"][0]["running"], 30)
            with Journal(journal, read_only=True) as reader:
                try:
                    eventually(lambda: reader.count("order.submitted") > submitted_before, 40)
                except AssertionError:
                    raise AssertionError(f"no order after the takeover; the new active service's log ends: "
                                         f"{log.read_text(errors='replace')[-3000:]}") from None
            standby.send_signal(signal.SIGTERM)  # a graceful stop: open orders cancelled, journal closed
            assert standby.wait(60) == 0
        finally:
            if standby.poll() is None:  # a failed step must not leave it trading
                standby.kill()
                standby.wait(30)

        report = audit_account(journal, drill.env)
        assert report["problems"] == [], report["problems"]
        assert report["venue_trades"] == report["journaled_fills"] > 0
        assert report["venue_orders"] == report["journaled_orders"]
        with Journal(journal, read_only=True) as reader:
            assert reader.integrity_check() == "ok"
            starts = [event.payload for event in reader.iter_events(kinds=["engine.started"])]
        assert [start["restarted"] for start in starts] == [False, True]
