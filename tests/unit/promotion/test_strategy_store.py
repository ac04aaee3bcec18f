"""Strategy versions are captured whole and immutable; promotion follows the rules and records its evidence."""

from __future__ import annotations

import json
import linecache
import subprocess
import sys
import types
from pathlib import Path

import pytest

from tradepulse.data import load_bars
from tradepulse.errors import StrategyError
from tradepulse.model.kinds import PromotionKind
from tradepulse.promotion import PromotionRefused, StrategyStore, capture_source, promote
from tradepulse.strategy import load_strategy

BARS = load_bars("sample:binance:BTC/USDT:1h")

CELL = '''
import numpy as np
import pandas as pd
from tradepulse.strategy import IntParam, Strategy

BAND = 1.5


def zscore(close, window):
    mean = close.rolling(window).mean()
    return (close - mean) / close.rolling(window).std()


class NotebookReversion(Strategy):
    """Long below -BAND sigmas, flat above 0."""

    window = IntParam(24, min=3, max=500)

    @property
    def warmup_bars(self):
        return self.window

    def signals(self, bars):
        z = zscore(bars["close"], self.window)
        return pd.Series(np.where(z < -BAND, 1.0, 0.0), index=bars.index)
'''


def notebook_class(name: str = "notebook_cell_1"):
    """Define the class the way a Jupyter cell does: a module without a file, its source in linecache."""
    filename = f"<{name}>"
    linecache.cache[filename] = (len(CELL), None, CELL.splitlines(keepends=True), filename)
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(CELL, filename, "exec"), module.__dict__)  # noqa: S102 - the test's own cell
    return module.NotebookReversion


def test_a_notebook_class_is_captured_with_what_it_uses_and_runs_in_a_fresh_interpreter():
    captured = capture_source(notebook_class())
    assert captured.origin == "notebook"
    for needed in ("import numpy as np", "import pandas as pd", "from tradepulse.strategy.base import IntParam",
                   "BAND = 1.5", "def zscore(close, window):", "class NotebookReversion(Strategy):"):
        assert needed in captured.text
    probe = ("import sys\nfrom tradepulse.promotion.capture import load_captured\nfrom tradepulse.data import load_bars\n"
             "cls = load_captured(sys.stdin.read(), 'NotebookReversion')\n"
             "print(int(cls(window=24).signals(load_bars('sample:binance:BTC/USDT:1h')).sum()))")
    completed = subprocess.run([sys.executable, "-c", probe], input=captured.text, capture_output=True, text=True, check=True)
    assert int(completed.stdout) == int(notebook_class("notebook_cell_2")(window=24).signals(BARS).sum()) > 0


def test_a_class_using_something_that_cannot_travel_is_refused_with_its_name():
    name = "notebook_cell_3"
    code = "import pandas as pd\nfrom tradepulse.strategy import Strategy\nLOOKUP = {'a': 1}\n\nclass UsesADict(Strategy):\n" \
           "    def signals(self, bars):\n        return pd.Series(LOOKUP['a'], index=bars.index)\n"
    linecache.cache[f"<{name}>"] = (len(code), None, code.splitlines(keepends=True), f"<{name}>")
    module = types.ModuleType(name)
    sys.modules[name] = module
    exec(compile(code, f"<{name}>", "exec"), module.__dict__)  # noqa: S102
    with pytest.raises(StrategyError, match="LOOKUP"):
        capture_source(module.UsesADict)


def test_versions_are_immutable_and_named_by_source_and_parameters(tmp_path):
    with StrategyStore(tmp_path) as store:
        first = store.create_version(notebook_class(), BARS, params={"window": 24}, author="ana")
        again = store.create_version(notebook_class("notebook_cell_4"), BARS, params={"window": 24}, author="ana")
        other = store.create_version(notebook_class("notebook_cell_5"), BARS, params={"window": 30}, author="ana")
        assert again.id == first.id and other.id != first.id
        assert first.checks["passed"] and first.backtest["trades"] > 0 and len(first.data_fingerprint) == 64
        assert first.load().signals(BARS).equals(notebook_class("notebook_cell_6")(window=24).signals(BARS))
        assert first.source_path.stat().st_mode & 0o222 == 0  # written read-only
        first.source_path.chmod(0o644)
        first.source_path.write_text(first.source_path.read_text() + "\n# altered\n")
        with pytest.raises(StrategyError, match="altered"):
            store.version(first.id)


def test_the_path_to_live_needs_the_author_then_someone_else_with_a_comment(tmp_path):
    with StrategyStore(tmp_path) as store:
        version = store.create_version(load_strategy("sma_cross")(fast=10, slow=30), BARS, author="ana")
        assert store.stage(version.id) == "research"
        with pytest.raises(PromotionRefused, match="author"):
            store.promote(version.id, BARS, actor="bob")
        promoted = store.promote(version.id, BARS, actor="ana", comment="paper for two weeks")
        assert store.stage(version.id) == "paper" and promoted["evidence"]["checks"]["passed"]
        with pytest.raises(PromotionRefused, match="someone else"):
            store.approve(version.id, approver="ana", comment="looks fine")
        with pytest.raises(PromotionRefused, match="comment"):
            store.approve(version.id, approver="risk-bob", comment=" ")
        approved = store.approve(version.id, approver="risk-bob", comment="reviewed fills, drawdown and the checks")
        assert store.stage(version.id) == "live" and store.live_version("sma_cross").id == version.id
        assert approved["evidence"] == promoted["evidence"] and approved["replaces"] is None
        kinds = [entry["kind"] for entry in store.history(version.id)]
        assert kinds == [PromotionKind.VERSION_CREATED, PromotionKind.PROMOTED, PromotionKind.APPROVED]


def test_a_new_live_version_retires_the_old_one_and_a_rollback_brings_it_back(tmp_path):
    with StrategyStore(tmp_path) as store:
        old = store.create_version(load_strategy("sma_cross")(fast=10, slow=30), BARS, author="ana")
        new = store.create_version(load_strategy("sma_cross")(fast=8, slow=30), BARS, author="ana")
        for version in (old, new):
            store.promote(version.id, BARS, actor="ana")
            store.approve(version.id, approver="risk-bob", comment="reviewed")
        assert store.stage(old.id) == "retired" and store.stage(new.id) == "live"
        rolled = store.rollback("sma_cross", actor="ops-carl", comment="drawdown since the switch")
        assert rolled["from"] == new.id and store.live_version("sma_cross").id == old.id
        assert store.stage(old.id) == "live" and store.stage(new.id) == "retired"


def test_a_failed_check_blocks_the_promotion_and_is_recorded(tmp_path):
    sys.path.insert(0, str(Path(__file__).parents[1] / "strategy"))  # the trap strategies live beside their tests
    import check_traps

    with StrategyStore(tmp_path) as store:
        version = store.create_version(check_traps.PeeksAhead(), BARS, author="ana")
        assert version.checks["passed"] is False
        with pytest.raises(PromotionRefused, match="lookahead"):
            store.promote(version.id, BARS, actor="ana")
        assert store.stage(version.id) == "research"
        blocked = [entry for entry in store.history(version.id) if entry["kind"] == PromotionKind.BLOCKED]
        assert blocked and "lookahead" in blocked[0]["failed"]


def test_a_rejection_sends_the_version_back_to_research_with_the_reason(tmp_path):
    with StrategyStore(tmp_path) as store:
        version = store.create_version(load_strategy("mean_reversion")(), BARS, author="ana")
        store.promote(version.id, BARS, actor="ana")
        store.reject(version.id, approver="risk-bob", comment="too many trades for its edge")
        assert store.stage(version.id) == "research"
        assert store.history(version.id)[-1]["comment"] == "too many trades for its edge"


def test_promote_from_a_notebook_stores_and_promotes_in_one_call(tmp_path):
    version = promote(notebook_class("notebook_cell_7"), BARS, params={"window": 24}, author="ana", store=tmp_path)
    with StrategyStore(tmp_path) as store:
        assert store.stage(version.id) == "paper"
        manifest = json.loads((version.path / "manifest.json").read_text())
        assert manifest["origin"] == "notebook" and manifest["author"] == "ana"


def test_the_service_runs_a_version_only_at_the_stage_its_venue_needs(tmp_path):
    from tradepulse.errors import ConfigError
    from tradepulse.service.config import parse_config

    store_root = tmp_path / "store"
    with StrategyStore(store_root) as store:
        version = store.create_version(load_strategy("sma_cross")(fast=10, slow=30), BARS, author="ana")

    def config(kind: str, **extra):
        entry = {"id": "v", "strategy": f"version:{version.id}", "symbol": "BTC/USDT", **extra}
        if kind == "paper":
            entry["feed"] = "sample:binance:BTC/USDT:1h"
        return parse_config({"service": {"state_dir": str(tmp_path / "state")}, "venue": {"kind": kind},
                             "strategies": [entry]}, environ={"TRADEPULSE_STORE": str(store_root)})

    with pytest.raises(ConfigError, match="at research; a paper venue trades only versions promoted to paper"):
        config("paper")
    with StrategyStore(store_root) as store:
        store.promote(version.id, BARS, actor="ana")
    assert config("paper").strategies[0].strategy.params == {"fast": 10, "slow": 30, "allow_short": False}
    with pytest.raises(ConfigError, match="at paper; a ccxt venue trades only versions approved for live"):
        config("ccxt", capital=1000)
    with pytest.raises(ConfigError, match="parameters are part of it"):
        config("paper", params={"fast": 5})
    with StrategyStore(store_root) as store:
        store.approve(version.id, approver="risk-bob", comment="reviewed")
    assert config("ccxt", capital=1000).strategies[0].strategy.name == "sma_cross"


def test_a_version_carries_its_walk_forward_at_its_own_parameters(tmp_path):
    from tradepulse.backtest.walkforward import run_walkforward

    with StrategyStore(tmp_path) as store:
        version = store.create_version(load_strategy("sma_cross")(fast=7, slow=30), BARS, author="ana")
        reread = store.version(version.id)
    record = reread.walkforward
    assert record == json.loads((version.path / "manifest.json").read_text())["backtest"]["walkforward"]
    # Independently: the same folds from the walk-forward itself.
    expected = run_walkforward(BARS, "sma_cross", {"fast": [7], "slow": [30], "allow_short": [False]},
                               train_bars=record["train_bars"], test_bars=record["test_bars"])
    assert record["folds"] == len(expected.folds) >= 3
    assert record["fold_returns"] == [round(float(value), 6) for value in expected.folds["total_return"]]
    assert record["out_of_sample"]["trades"] == expected.stats["trades"]
    assert record["test_bars"] == len(BARS) // 6 and record["train_bars"] == 2 * record["test_bars"]


def test_versions_made_within_one_second_list_in_the_order_they_were_made(tmp_path, monkeypatch):
    # `strategies list` and the JupyterLab panel promise oldest first. With creation times kept to
    # the second, versions made in the same second fell back to id order (a hash): a frozen second,
    # moving only by microseconds, makes that deterministic.
    import datetime as real
    import itertools

    import tradepulse.promotion.store as store_module

    ticks = itertools.count()

    class SteppingClock(real.datetime):
        @classmethod
        def now(cls, tz=None):
            return real.datetime(2026, 1, 5, 9, 30, tzinfo=real.UTC) + real.timedelta(microseconds=next(ticks))

    monkeypatch.setattr(store_module, "datetime", SteppingClock)
    sma = load_strategy("sma_cross")
    with StrategyStore(tmp_path / "store") as store:
        made = [store.create_version(sma(fast=fast, slow=30), BARS, author="ana").id for fast in (10, 8, 5, 12)]
        assert sorted(made) != made, "the ids must not already be in creation order, or the test proves nothing"
        assert [version.id for version in store.versions()] == made
