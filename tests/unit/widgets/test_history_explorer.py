"""``HistoryExplorer`` on a real replay's journal laid out as a service's state directory."""

from __future__ import annotations

import shutil

import pytest

from tradepulse.errors import ConfigError
from tradepulse.live.replay import run_replay
from tradepulse.model.kinds import RiskKind
from tradepulse.store import Journal
from tradepulse.store.history import find_anomalies
from tradepulse.widgets import HistoryExplorer


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("state")
    (root / "journals").mkdir()
    path = root / "journals" / "btc-sma.sqlite"
    run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 5, "slow": 20}, journal_path=path)
    return root


def test_everything_shows_the_journals_anomalies_fills_and_orders(state_dir):
    page = HistoryExplorer(state_dir, threshold=3.0, debounce_s=0.05)
    page.wait()
    assert page.error is None
    _, expected = find_anomalies(state_dir / "journals" / "btc-sma.sqlite", threshold=3.0)
    assert [(item.metric, item.ts) for item in page.anomalies] == [(item.metric, item.ts) for item in expected]
    assert page.anomalies, "the replay has unusual returns at |z| >= 3"
    marked = [trace for trace in page.figure.data if trace.name.startswith("anomaly")]
    assert sum(len(trace.x) for trace in marked) == len(expected)
    assert page.anomalies_view.value.count("<tr>") == len(expected) + 1  # a header row and one row each
    assert 'data-stat="end_equity"' in page.pnl_view.value and "client_order_id" in page.fills_view.value
    assert "|z| ≥ 3.0" in page.threshold_note.value and "|z| ≥ 3.0" in page.status.value
    page.close()


def test_the_threshold_and_the_period_narrow_what_is_marked(state_dir):
    page = HistoryExplorer(state_dir, threshold=3.0, debounce_s=0.05).wait()
    wide = len(page.anomalies)
    page.set_threshold(8.0).wait()
    assert len(page.anomalies) < wide
    page.set_threshold(3.0).set_period("last day").wait()
    since, until = page.period
    assert since is not None and until is None and all(item.ts >= since for item in page.anomalies)
    page.set_period("custom", "2019-10-10 00:00", "2019-10-12 00:00").wait()
    assert [moment.isoformat() for moment in page.period] == ["2019-10-10T00:00:00+00:00", "2019-10-12T00:00:00+00:00"]
    assert all(page.period[0] <= item.ts < page.period[1] for item in page.anomalies)
    page.set_period("custom", "yesterday-ish", "").wait()
    assert page.error == "From 'yesterday-ish' is not a time; write it like 2024-08-09 00:01 (UTC)"
    page.close()


def test_a_cause_in_the_journal_is_listed_beside_its_anomaly(state_dir, tmp_path):
    copy = tmp_path / "state"
    shutil.copytree(state_dir, copy)
    path = copy / "journals" / "btc-sma.sqlite"
    _, found = find_anomalies(path, threshold=3.0)
    with Journal(path) as journal:
        journal.append(RiskKind.BREAKER_TRIP, {"kind": "breaker_trip", "breaker": "daily_loss", "reason": "loss 3.2% >= 3%"},
                       ts=found[0].ts)
    page = HistoryExplorer(copy, threshold=3.0, debounce_s=0.05).wait()
    assert "breaker daily_loss tripped: loss 3.2% &gt;= 3%" in page.anomalies_view.value
    page.close()


def test_bad_places_are_one_sentence(tmp_path, state_dir):
    with pytest.raises(ConfigError, match="no journals in"):
        HistoryExplorer(tmp_path)
    with pytest.raises(ConfigError, match="no journal for strategy 'eth'"):
        HistoryExplorer(state_dir, strategy_id="eth")
    with pytest.raises(ConfigError, match="period must be one of"):
        HistoryExplorer(state_dir, period="forever")
