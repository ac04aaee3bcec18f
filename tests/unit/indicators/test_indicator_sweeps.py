import numpy as np
import pandas as pd

import vectorbt  # noqa: F401  (a hard dependency: a missing vectorbt must fail, not skip)

from tradepulse.indicators import (  # noqa: E402
    ATR,
    Bollinger,
    KuramotoR,
    RicciCurvature,
    atr,
    bollinger,
    kuramoto_r,
    ricci_curvature,
)


def test_kuramoto_sweep_over_windows_equals_one_call_per_window(hourly_bars):
    close = hourly_bars["close"]
    result = KuramotoR.run(close, window=[32, 64, 128])
    assert list(result.r.columns) == [32, 64, 128]
    for window in (32, 64, 128):
        np.testing.assert_array_equal(result.r[window].to_numpy(), kuramoto_r(close, window).to_numpy())


def test_ricci_sweep_runs_every_parameter_combination_on_every_column(hourly_bars):
    closes = pd.DataFrame({"spot": hourly_bars["close"], "half": hourly_bars["close"] / 2})
    result = RicciCurvature.run(closes, window=[32, 64], levels=[6, 8], param_product=True)
    assert result.ricci.shape == (len(closes), 8)
    column = result.ricci[(64, 6, "spot")]
    np.testing.assert_array_equal(column.to_numpy(), ricci_curvature(closes["spot"], 64, levels=6).to_numpy())


def test_bollinger_and_atr_sweeps_match_the_pandas_functions(hourly_bars):
    close = hourly_bars["close"]
    bands = Bollinger.run(close, window=[20, 50], num_std=[2.0, 2.5], param_product=True)
    np.testing.assert_allclose(bands.upper[(50, 2.5)], bollinger(close, 50, 2.5)["upper"], equal_nan=True)
    ranges = ATR.run(hourly_bars["high"], hourly_bars["low"], close, window=[7, 14])
    np.testing.assert_allclose(
        ranges.atr[14], atr(hourly_bars["high"], hourly_bars["low"], close, 14), equal_nan=True
    )
