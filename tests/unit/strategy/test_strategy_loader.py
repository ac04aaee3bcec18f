"""Loading strategies by built-in name, ``package.module:Class`` and ``file.py[:Class]``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tradepulse.errors import StrategyError
from tradepulse.strategy import SmaCross, Strategy, list_strategies, load_strategy

STRATEGY_SOURCE = textwrap.dedent(
    '''
    import pandas as pd
    from tradepulse.strategy import IntParam, Strategy

    class Breakout(Strategy):
        """Long above the highest close of the last lookback bars."""
        lookback = IntParam(20, min=2, max=500)

        def signals(self, bars):
            return (bars["close"] > bars["close"].rolling(self.lookback).max().shift(1)).astype(float)
    '''
)


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(source)
    return path


def test_built_in_names_resolve_to_their_classes():
    assert load_strategy("sma_cross") is SmaCross
    assert set(list_strategies()) == {"sma_cross", "mean_reversion", "composite", "momentum", "pairs", "synchrony"}


def test_a_strategy_class_is_returned_as_it_is():
    assert load_strategy(SmaCross) is SmaCross


def test_file_with_class_name_loads_that_class(tmp_path):
    path = _write(tmp_path, "breakout.py", STRATEGY_SOURCE)
    cls = load_strategy(f"{path}:Breakout")
    assert issubclass(cls, Strategy) and cls.name == "breakout"
    assert cls(lookback=5).lookback == 5


def test_file_without_class_name_loads_its_single_strategy(tmp_path):
    path = _write(tmp_path, "breakout.py", STRATEGY_SOURCE)
    assert load_strategy(str(path)).__name__ == "Breakout"


def test_file_with_several_strategies_asks_which_one(tmp_path):
    source = STRATEGY_SOURCE + "\nclass Other(Breakout):\n    pass\n"
    path = _write(tmp_path, "two.py", source)
    with pytest.raises(StrategyError, match=r"several strategies \(Breakout, Other\); pick one"):
        load_strategy(str(path))
    assert load_strategy(f"{path}:Other").__name__ == "Other"


def test_imported_strategies_do_not_count_as_defined_in_the_file(tmp_path):
    path = _write(tmp_path, "uses_builtin.py", "from tradepulse.strategy import SmaCross\n")
    with pytest.raises(StrategyError, match="defines no Strategy subclass"):
        load_strategy(str(path))


def test_module_and_class_spec_loads_from_an_importable_package(tmp_path, monkeypatch):
    package = tmp_path / "my_strategies_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _write(package, "trend.py", STRATEGY_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_strategy("my_strategies_pkg.trend:Breakout").__name__ == "Breakout"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_strategy", "unknown strategy 'no_such_strategy'; give a built-in name"),
        ("", "no strategy given"),
        ("no_such_package.module:Thing", "no module named 'no_such_package.module'"),
        ("tradepulse.strategy:NoSuchClass", "has no class 'NoSuchClass'"),
        ("tradepulse.errors:StrategyError", "is not a tradepulse Strategy subclass"),
        ("missing/dir/strategy.py:Thing", "strategy file 'missing/dir/strategy.py' does not exist"),
    ],
)
def test_bad_specs_fail_with_a_clear_message(spec, message):
    with pytest.raises(StrategyError, match=message):
        load_strategy(spec)


def test_missing_class_in_a_file_lists_the_strategies_there(tmp_path):
    path = _write(tmp_path, "breakout.py", STRATEGY_SOURCE)
    with pytest.raises(StrategyError, match="has no class 'Breakin'; strategies there: Breakout"):
        load_strategy(f"{path}:Breakin")


def test_a_file_that_fails_to_import_reports_the_error_in_one_line(tmp_path):
    path = _write(tmp_path, "broken.py", "import numpy\nraise ValueError('bad config')\n")
    with pytest.raises(StrategyError, match="failed to import: ValueError: bad config"):
        load_strategy(str(path))


def test_a_module_whose_own_import_is_missing_says_so(tmp_path, monkeypatch):
    _write(tmp_path, "needs_missing.py", "import definitely_not_installed_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StrategyError, match="importing 'needs_missing' failed: No module named 'definitely_not_installed_xyz'"):
        load_strategy("needs_missing:Thing")
