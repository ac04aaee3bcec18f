"""Suspected unadjusted splits: an overnight jump to a split ratio that holds is reported apart from outliers."""

import pandas as pd
import pytest

from tradepulse.data import list_samples, load_bars, validate_bars

XLK = "sample:yahoo:XLK:1d"
EX_DATE = pd.Timestamp("2021-06-10T00:00Z")
PRICES = ["open", "high", "low", "close"]


@pytest.fixture(scope="module")
def xlk() -> pd.DataFrame:
    return load_bars(XLK)


def _unadjusted(bars: pd.DataFrame, price_factor: float) -> pd.DataFrame:
    """Undo an adjustment: bars before the ex-date get the pre-split price (and share volume)."""
    raw = bars.copy()
    before = raw.index < EX_DATE
    raw.loc[before, PRICES] *= price_factor
    raw.loc[before, "volume"] /= price_factor
    return raw


def test_two_for_one_split_is_reported_with_ratio_time_and_prices(xlk):
    raw = _unadjusted(xlk, 2.0)
    report = validate_bars(raw, source=XLK)
    assert report.counts["suspected_splits"] == 1
    [split] = report.suspected_splits
    previous = raw.index[raw.index.get_loc(EX_DATE) - 1]
    assert split["timestamp"] == EX_DATE
    assert split["ratio"] == "2-for-1"
    assert split["factor"] == 0.5
    assert split["previous_close"] == raw.loc[previous, "close"]
    assert split["open"] == raw.loc[EX_DATE, "open"]
    assert split["move"] == pytest.approx(-0.5, abs=0.02)
    assert "1 suspected unadjusted split(s)" in report.warnings
    assert report.ok  # a warning: the data may be right and the company may have crashed


def test_a_split_is_not_also_an_outlier_return(xlk):
    assert validate_bars(xlk).outlier_returns == []
    report = validate_bars(_unadjusted(xlk, 2.0))
    assert report.outlier_returns == []
    assert report.counts["outlier_returns"] == 0


@pytest.mark.parametrize(
    ("price_factor", "ratio"),
    [(1.5, "3-for-2"), (3.0, "3-for-1"), (4.0, "4-for-1"), (10.0, "10-for-1"), (20.0, "20-for-1"),
     (0.5, "1-for-2"), (0.1, "1-for-10"), (2 / 3, "2-for-3")],
)
def test_forward_and_reverse_ratios_are_named(xlk, price_factor, ratio):
    report = validate_bars(_unadjusted(xlk, price_factor))
    assert [(s["timestamp"], s["ratio"]) for s in report.suspected_splits] == [(EX_DATE, ratio)]


def test_adjusted_sector_etfs_have_no_suspected_split():
    etfs = [s for s in list_samples() if s.exchange == "yahoo"]
    assert len(etfs) == 11
    for sample in etfs:
        report = validate_bars(load_bars(sample.address), source=sample.address)
        assert report.suspected_splits == [], sample.address


def test_no_embedded_crypto_series_has_a_suspected_split():
    for sample in list_samples():
        if sample.exchange != "yahoo":
            assert validate_bars(load_bars(sample.address)).suspected_splits == [], sample.address


def test_a_bad_print_that_reverts_is_an_outlier_not_a_split(xlk):
    spiked = xlk.copy()
    spiked.loc[EX_DATE, PRICES] *= 0.5
    report = validate_bars(spiked)
    assert report.suspected_splits == []
    assert EX_DATE in {row["timestamp"] for row in report.outlier_returns}


def test_a_jump_ordinary_for_the_series_is_not_a_split(xlk):
    # Suspicion needs an extraordinary move; with the bar set above the jump's robust z-score it is ordinary.
    raw = _unadjusted(xlk, 2.0)
    assert validate_bars(raw, outlier_z=40).counts["suspected_splits"] == 1
    assert validate_bars(raw, outlier_z=1000).counts["suspected_splits"] == 0
