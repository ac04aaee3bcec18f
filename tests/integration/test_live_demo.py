"""The live half of `make demo`: local venue + service trading through ccxt + the live dashboard, then a clean stop."""

from __future__ import annotations

import json

from tradepulse.cli.live_demo import run_live_demo


def test_the_live_demo_trades_through_ccxt_shows_where_everything_is_and_stops_cleanly(tmp_path):
    lines: list[str] = []
    summary = run_live_demo(tmp_path, 25, say=lines.append, bar="1s")
    text = "\n".join(lines)
    for what in ("local venue", "service API", "metrics", "dashboard", "tradepulse live status --config"):
        assert what in text, text
    assert "voila/render/live_dashboard.ipynb" in text
    assert summary["service_exit_code"] == 0
    assert summary["orders"] >= 1 and summary["trading_state"] == "ACTIVE"
    # The token is in a file only the user can read; it is never printed.
    token_file = tmp_path / "live-demo" / "operate.token"
    token = token_file.read_text().strip()
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert token not in text and token not in json.dumps(summary)
    assert token not in (tmp_path / "live-demo" / "service.log").read_text()
