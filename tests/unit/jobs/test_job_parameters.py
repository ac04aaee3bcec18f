"""Parameter values parse like papermill's -p; names must be declared by the notebook."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepulse.errors import ConfigError
from tradepulse.jobs.parameters import (
    check_parameters,
    declared_parameters,
    parse_parameter_pairs,
    parse_parameter_value,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10", 10),
        ("-3", -3),
        ("2.5", 2.5),
        ("1e-4", 1e-4),
        ("True", True),
        ("false", False),
        ("None", None),
        ("null", None),
        ('{"fast": 10, "slow": 30}', {"fast": 10, "slow": 30}),
        ("{fast: 10, slow: 30}", {"fast": 10, "slow": 30}),
        ("[1, 2, 3]", [1, 2, 3]),
        ('"10"', "10"),
        ("'true'", "true"),
        ("sma_cross", "sma_cross"),
        ("sample:binance:BTC/USDT:1h", "sample:binance:BTC/USDT:1h"),
        ("2024-01-01", "2024-01-01"),
        ("no", "no"),
        ("", ""),
    ],
)
def test_values_parse_to_the_type_a_quant_expects(text, expected):
    assert parse_parameter_value(text) == expected
    assert type(parse_parameter_value(text)) is type(expected)


@pytest.mark.parametrize("text", ["{bad", "[1, 2", "{a: [1}", '"unterminated\\"'])
def test_malformed_lists_dicts_and_quoted_strings_are_config_errors(text):
    with pytest.raises(ConfigError):
        parse_parameter_value(text)


@given(st.integers())
def test_any_integer_round_trips(value):
    assert parse_parameter_value(str(value)) == value


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_any_float_round_trips(value):
    parsed = parse_parameter_value(repr(value))
    assert parsed == value and isinstance(parsed, (int, float))


@given(
    st.dictionaries(st.text(min_size=1, max_size=8), st.integers() | st.booleans() | st.text(max_size=8), max_size=4)
)
def test_any_json_dict_round_trips(value):
    assert parse_parameter_value(json.dumps(value)) == value


def test_nan_parses_as_a_float():
    assert math.isnan(parse_parameter_value("nan"))


def test_pairs_refuse_bad_names_and_repeats():
    assert parse_parameter_pairs([["fees_bps", "5"], ["strategy", "sma_cross"]]) == {
        "fees_bps": 5,
        "strategy": "sma_cross",
    }
    with pytest.raises(ConfigError, match="identifier"):
        parse_parameter_pairs([["fees-bps", "5"]])
    with pytest.raises(ConfigError, match="twice"):
        parse_parameter_pairs([["a", "1"], ["a", "2"]])


def test_declared_parameters_come_from_the_tagged_cell(notebooks):
    assert list(declared_parameters(notebooks / "records_results.ipynb")) == [
        "symbol",
        "lookback",
        "weights",
        "options",
        "enabled",
    ]


def test_an_undeclared_parameter_is_refused_listing_the_known_ones(notebooks):
    with pytest.raises(ConfigError) as raised:
        check_parameters(notebooks / "records_results.ipynb", {"lookbak": 5})
    message = str(raised.value)
    assert "'lookbak'" in message
    for known in ("symbol", "lookback", "weights", "options", "enabled"):
        assert known in message


def test_parameters_for_a_notebook_without_a_parameters_cell_are_refused(notebooks):
    import nbformat

    path = notebooks / "records_results.ipynb"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("tags", None)
    nbformat.write(notebook, path)
    with pytest.raises(ConfigError, match="no cell tagged 'parameters'"):
        check_parameters(path, {"lookback": 5})


def test_a_missing_or_broken_notebook_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        declared_parameters(tmp_path / "missing.ipynb")
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="not a readable notebook"):
        declared_parameters(broken)
    text = tmp_path / "report.py"
    text.write_text("x = 1")
    with pytest.raises(ConfigError, match="not a notebook"):
        declared_parameters(text)
