"""record_results / read_results: what a notebook hands the runner, and reading it back."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from tradepulse.errors import ConfigError
from tradepulse.jobs import RESULTS_MIME_TYPE, read_results, record_results
from tradepulse.jobs.results import jsonable_results


def test_numpy_and_pandas_values_become_plain_json():
    results = jsonable_results(
        {
            "sharpe": np.float64(1.25),
            "trades": np.int64(41),
            "ok": np.bool_(True),
            "nan_ratio": float("nan"),
            "inf": np.float64("inf"),
            "when": pd.Timestamp("2024-01-02 03:04:05", tz="UTC"),
            "naive_when": datetime(2024, 1, 2, tzinfo=timezone.utc),
            "day": date(2024, 1, 2),
            "holding": pd.Timedelta(hours=3),
            "curve": np.array([1.0, 2.5]),
            "by_month": pd.Series([0.1, 0.2], index=["2024-01", "2024-02"]),
            "fee": Decimal("1.5"),
            "missing": pd.NaT,
            "nested": {"values": (np.int32(1), np.float32(0.5))},
        }
    )
    assert json.loads(json.dumps(results, allow_nan=False)) == results
    assert results["sharpe"] == 1.25 and results["trades"] == 41 and results["ok"] is True
    assert results["nan_ratio"] is None and results["inf"] is None
    assert results["when"] == "2024-01-02T03:04:05Z"
    assert results["day"] == "2024-01-02"
    assert results["curve"] == [1.0, 2.5]
    assert results["by_month"] == {"2024-01": 0.1, "2024-02": 0.2}
    assert results["fee"] == 1.5 and results["missing"] is None
    assert results["nested"] == {"values": [1, 0.5]}


def test_a_value_without_json_form_is_refused_naming_its_key():
    with pytest.raises(ConfigError, match="'model'"):
        jsonable_results({"fine": 1, "model": object()})


def test_a_non_mapping_is_refused():
    with pytest.raises(ConfigError, match="mapping"):
        record_results([("a", 1)])  # type: ignore[arg-type]


def test_record_results_outside_a_kernel_returns_the_json_safe_mapping(capsys):
    assert record_results({"trades": np.int64(3)}) == {"trades": 3}


def test_read_results_returns_the_last_recorded_mapping(tmp_path):
    cell = new_code_cell("record_results(...)")
    for value in ({"run": 1}, {"run": 2}):
        cell.outputs.append(
            new_output("display_data", data={RESULTS_MIME_TYPE: value, "text/plain": "TradePulse results"})
        )
    notebook = new_notebook(cells=[new_code_cell("x = 1"), cell])
    path = tmp_path / "executed.ipynb"
    nbformat.write(notebook, path)
    assert read_results(path) == {"run": 2}


def test_a_notebook_that_recorded_nothing_has_no_results(tmp_path):
    path = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("1 + 1")]), path)
    assert read_results(path) is None


def test_reading_results_from_a_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        read_results(tmp_path / "nope.ipynb")
