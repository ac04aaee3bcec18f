"""The drill-down's history: per-order outcomes and robust anomaly scores from a real replay's journal."""

from __future__ import annotations

import shutil
from decimal import Decimal

import numpy as np
import pytest

from tradepulse.live.replay import run_replay
from tradepulse.model.kinds import RiskKind
from tradepulse.store import Journal
from tradepulse.store.history import find_anomalies, order_outcomes, robust_zscores
from tradepulse.store.queries import execution_quality, pnl_series


@pytest.fixture(scope="module")
def journal_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "journal.sqlite"
    run_replay("sample:binance:BTC/USDT:1h", "sma_cross", params={"fast": 5, "slow": 20}, journal_path=path)
    return path


def test_robust_scores_are_median_and_mad_based_and_calm_for_constant_series():
    values = np.array([10.0, 11.0, 9.0, 10.5, 9.5, 40.0])
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    np.testing.assert_allclose(robust_zscores(values).to_numpy(), (values - median) / (1.4826 * mad))
    assert robust_zscores([3.0, 3.0, 3.0]).tolist() == [0.0, 0.0, 0.0]
    # More than half equal: the MAD is 0, the mean absolute deviation takes over and the outlier still shows.
    assert robust_zscores([1.0, 1.0, 1.0, 1.0, 9.0]).iloc[-1] > 3.5


def test_each_submitted_order_is_one_row_agreeing_with_the_execution_summary(journal_path):
    rows = order_outcomes(journal_path)
    with Journal(journal_path, read_only=True) as journal:
        submitted = journal.events(kinds=["order.submitted"], limit=100_000)
    assert len(rows) == len(submitted) > 3
    assert list(rows["client_order_id"]) == [event.correlation_id for event in submitted]
    (summary,) = execution_quality(journal_path)
    assert (rows["status"] == "FILLED").sum() == summary["orders_with_fills"]
    filled = rows[rows["filled_quantity"] > 0]
    weights = filled["filled_quantity"] * filled["reference_price"]
    weighted = float((filled["slippage_bps"] * weights).sum() / weights.sum())
    assert weighted == pytest.approx(summary["slippage_bps_avg"], abs=1e-6)
    assert rows["ack_ms"].max() == pytest.approx(summary["ack_ms_max"], abs=1e-3)


def test_return_anomalies_are_the_marks_past_the_threshold_and_a_breaker_trip_is_their_cause(journal_path, tmp_path):
    copy = tmp_path / "journal.sqlite"
    shutil.copy(journal_path, copy)
    with Journal(copy, read_only=True) as journal:
        capital = Decimal(str(journal.events(kinds=["engine.started"], limit=1)[0].payload["capital"]))
    equity = pnl_series(copy, initial_equity=capital)["equity"].astype(float)
    returns = equity.pct_change().iloc[1:].to_numpy()
    median = np.median(returns)
    deviations = np.abs(returns - median)
    # A strategy out of the market most bars has mostly zero returns: a MAD of 0, so the scale is
    # the mean absolute deviation (as sigma) instead.
    scale = 1.4826 * np.median(deviations) or np.sqrt(np.pi / 2) * deviations.mean()
    scores = (returns - median) / scale
    threshold = 3.0
    expected = int((np.abs(scores) >= threshold).sum())
    series, anomalies = find_anomalies(copy, threshold=threshold)
    flagged = [item for item in anomalies if item.metric == "returns"]
    assert expected >= 1 and len(flagged) == expected
    assert len(series["returns"]) == len(returns)
    assert all(item.cause is None for item in flagged)  # nothing in this journal explains them yet
    # A breaker trip journaled at the worst point becomes its cause.
    worst = max(flagged, key=lambda item: abs(item.zscore))
    with Journal(copy) as journal:
        journal.append(RiskKind.BREAKER_TRIP, {"kind": "breaker_trip", "breaker": "max_drawdown", "reason": "drawdown 6% >= 5%"},
                       ts=worst.ts)
    _, again = find_anomalies(copy, threshold=threshold)
    explained = next(item for item in again if item.metric == "returns" and item.ts == worst.ts)
    assert explained.cause == "breaker max_drawdown tripped: drawdown 6% >= 5%"
    # A higher threshold flags fewer points; nonsense is refused.
    assert len(find_anomalies(copy, threshold=50.0)[1]) <= len(again)
    with pytest.raises(ValueError, match="positive"):
        find_anomalies(copy, threshold=0)
