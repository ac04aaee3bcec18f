"""Typed strategy parameters: validation, parsing from text, grids, introspection."""

from __future__ import annotations

import pandas as pd
import pytest

from tradepulse.errors import StrategyError
from tradepulse.strategy import BoolParam, ChoiceParam, FloatParam, IntParam, ParamSpec, Strategy


class Channel(Strategy):
    """Long above the channel, short below it."""

    lookback = IntParam(20, min=2, max=500, doc="bars in the channel")
    width = FloatParam(1.5, min=0.1, max=5.0, doc="channel width in standard deviations")
    mode = ChoiceParam("breakout", ["breakout", "fade"], doc="trade direction")
    allow_short = BoolParam(False, doc="take short trades")

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        return pd.Series(0.0, index=bars.index)


class FastSlow(Strategy):
    fast = IntParam(5, min=1, max=100)
    slow = IntParam(20, min=2, max=400)

    def check(self) -> None:
        if self.fast >= self.slow:
            raise StrategyError(f"fast ({self.fast}) must be smaller than slow ({self.slow})")


def test_defaults_apply_and_explicit_values_override_them():
    strategy = Channel(lookback=50)
    assert strategy.params == {"lookback": 50, "width": 1.5, "mode": "breakout", "allow_short": False}
    assert strategy.lookback == 50 and strategy.width == 1.5


def test_name_defaults_to_snake_case_of_the_class_name():
    assert FastSlow.name == "fast_slow"
    assert Channel.name == "channel"


def test_out_of_range_value_names_the_parameter_and_its_bounds():
    with pytest.raises(StrategyError, match=r"channel: parameter 'lookback' must be in \[2, 500\], got 1"):
        Channel(lookback=1)


def test_unknown_parameter_lists_the_known_ones():
    with pytest.raises(StrategyError, match="unknown parameter 'lookbak'.*lookback, width, mode, allow_short"):
        Channel(lookbak=10)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("lookback", 10.5, "expects an integer"),
        ("lookback", True, "expects an integer"),
        ("lookback", "ten", "expects an integer"),
        ("width", "wide", "expects a number"),
        ("width", float("nan"), "must be finite"),
        ("mode", "sideways", "must be one of breakout|fade"),
        ("allow_short", "maybe", "expects true or false"),
        ("allow_short", 2, "expects true or false"),
    ],
)
def test_ill_typed_values_are_rejected_with_the_parameter_name(name, value, message):
    with pytest.raises(StrategyError, match=f"parameter '{name}' {message}"):
        Channel(**{name: value})


def test_integral_floats_are_accepted_for_int_parameters():
    assert Channel(lookback=30.0).lookback == 30


def test_values_parse_from_command_line_text():
    strategy = Channel.from_strings({"lookback": "30", "width": "2.5", "mode": "fade", "allow_short": "yes"})
    assert strategy.params == {"lookback": 30, "width": 2.5, "mode": "fade", "allow_short": True}


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("On", True), ("1", True), ("no", False), ("0", False)])
def test_bool_parameters_read_the_usual_words(text, expected):
    assert Channel.from_strings({"allow_short": text}).allow_short is expected


def test_from_strings_rejects_a_float_for_an_int_parameter():
    with pytest.raises(StrategyError, match=r"parameter 'lookback' expects an integer in \[2, 500\], got '2.5'"):
        Channel.from_strings({"lookback": "2.5"})


def test_cross_parameter_rule_is_enforced():
    with pytest.raises(StrategyError, match=r"fast_slow: fast \(30\) must be smaller than slow \(20\)"):
        FastSlow(fast=30)


def test_parameters_are_read_only_and_with_params_builds_a_new_strategy():
    strategy = FastSlow()
    with pytest.raises(AttributeError, match="read-only"):
        strategy.fast = 7
    changed = strategy.with_params(fast=7)
    assert (strategy.fast, changed.fast, changed.slow) == (5, 7, 20)
    with pytest.raises(StrategyError):
        strategy.with_params(fast=50)


def test_param_specs_describe_type_default_bounds_and_doc():
    specs = {spec.name: spec for spec in Channel.param_specs()}
    assert list(specs) == ["lookback", "width", "mode", "allow_short"]
    assert specs["lookback"] == ParamSpec("lookback", "int", 20, 2, 500, None, "bars in the channel")
    assert specs["width"].type == "float" and (specs["width"].min, specs["width"].max) == (0.1, 5.0)
    assert specs["mode"].choices == ("breakout", "fade")
    assert specs["allow_short"].to_dict() == {
        "name": "allow_short",
        "type": "bool",
        "default": False,
        "min": None,
        "max": None,
        "choices": None,
        "doc": "take short trades",
    }


def test_subclasses_inherit_and_extend_parameters():
    class WideChannel(Channel):
        width = FloatParam(3.0, min=1.0, max=10.0)
        cooldown = IntParam(0, min=0, max=100)

    assert [s.name for s in WideChannel.param_specs()] == ["lookback", "width", "mode", "allow_short", "cooldown"]
    assert WideChannel().width == 3.0
    assert Channel().width == 1.5


def test_a_default_outside_its_own_bounds_fails_when_the_class_is_defined():
    with pytest.raises(StrategyError, match="must be in"):

        class Broken(Strategy):
            window = IntParam(1, min=2, max=10)


def test_int_grid_accepts_lists_and_inclusive_ranges():
    param = Channel.param("lookback")
    assert param.parse_grid("5,10,20") == [5, 10, 20]
    assert param.parse_grid("5:50:15") == [5, 20, 35, 50]
    assert param.parse_grid("10:10:5") == [10]


def test_float_grid_ranges_do_not_accumulate_rounding_noise():
    assert Channel.param("width").parse_grid("0.1:0.5:0.1") == [0.1, 0.2, 0.3, 0.4, 0.5]


@pytest.mark.parametrize(
    ("text", "message"),
    [("5:50", "start:stop:step"), ("5:50:0", "step must be positive"), ("50:5:5", "stop must not be below start"),
     ("1:10:1", "must be in"), ("5,x", "expects an integer"), ("", "at least one value")],
)
def test_bad_grid_text_is_rejected(text, message):
    with pytest.raises(StrategyError, match=message):
        Channel.param("lookback").parse_grid(text)


def test_strategies_compare_and_hash_by_class_and_parameters():
    assert FastSlow(fast=3) == FastSlow(fast=3)
    assert FastSlow(fast=3) != FastSlow(fast=4)
    assert len({FastSlow(fast=3), FastSlow(fast=3)}) == 1
    assert repr(FastSlow(fast=3)) == "FastSlow(fast=3, slow=20)"


def test_describe_returns_the_docstring_summary():
    assert Channel.describe() == "Long above the channel, short below it."
