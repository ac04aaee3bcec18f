"""The backtest explorer offers the project's promoted strategy versions beside the built-ins."""

from __future__ import annotations

import gc

import pytest

from tradepulse.backtest import Costs, run_backtest
from tradepulse.data import load_bars
from tradepulse.errors import ConfigError
from tradepulse.promotion import StrategyStore
from tradepulse.strategy import load_strategy
from tradepulse.widgets import BacktestExplorer

HOURLY = "sample:binance:BTC/USDT:1h"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    bars = load_bars(HOURLY)
    with StrategyStore(root) as opened:
        paper = opened.create_version(load_strategy("sma_cross")(fast=7, slow=30), bars, author="ana")
        opened.promote(paper.id, bars, actor="ana", comment="to paper")
        research = opened.create_version(load_strategy("sma_cross")(fast=6, slow=40), bars, author="ana")
    return root, paper.id, research.id


def test_versions_at_paper_or_live_are_offered_with_their_stage_and_their_own_parameters(store):
    root, paper, research = store
    explorer = BacktestExplorer(debounce_s=0.05, store=root)
    explorer.wait()
    labels = dict((value, label) for label, value in explorer.strategy_picker.options)
    assert labels[f"version:{paper}"] == f"{paper} (paper)"
    assert f"version:{research}" not in labels  # research is not a candidate for trading
    explorer.set_strategy(f"version:{paper}")
    explorer.wait()
    assert explorer.params == {"fast": 7, "slow": 30, "allow_short": False}
    expected = run_backtest(load_bars(HOURLY), load_strategy("sma_cross")(fast=7, slow=30), costs=Costs(fees_bps=10))
    assert explorer.stats["total_return"] == pytest.approx(expected.stats["total_return"])
    assert explorer.stats["trades"] == expected.stats["trades"]
    # Moving a control explores around the version; switching back restores its parameters.
    explorer.set_strategy("sma_cross", fast=3)
    explorer.wait()
    assert explorer.params["fast"] == 3
    explorer.strategy_picker.value = f"version:{paper}"
    explorer.wait()
    assert explorer.params["fast"] == 7 and explorer.params["slow"] == 30


# An explorer whose construction failed used to raise again when collected (its close() had no worker).
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_version_can_be_the_starting_strategy_and_an_unknown_one_is_one_line(store):
    root, paper, _ = store
    explorer = BacktestExplorer(strategy=f"version:{paper}", debounce_s=0.05, store=root)
    explorer.wait()
    assert explorer.params["slow"] == 30 and explorer.result is not None
    with pytest.raises(ConfigError, match="is not a version at paper or live"):
        BacktestExplorer(strategy="version:sma_cross-000000000000", store=root)
    gc.collect()  # the half-built explorer is closed now, and must close cleanly
    assert f"version:{paper}" not in BacktestExplorer(debounce_s=0.05, store=False).strategy_picker.offered
