"""The one simulation core: fill rules, fee arithmetic, liquidity already taken, latency.

The paper venue (:mod:`tradepulse.adapters.paper`), the local venue's matching engine
(:mod:`tradepulse.emulator`) and the backtest's cost model use these rules; where they differ on
purpose, the difference is a named rule in :data:`tradepulse.sim.rules.VENUE_RULES` and the table in
``docs/architecture.md``.
"""
