"""Crash trials: kill -9 the service at random moments while it trades, warm-start it, audit.

One trial set (``tradepulse trials crash``, or :func:`run_crash_trials`):

1. Start the local venue (``tradepulse venue serve``) replaying the recorded BTCUSDT market
   faster than real time, with an account funded in USDT and some BTC (so the baseline matters)
   that pays its commissions in BNB (so every fill's fee is valued at the venue's BNB price).
2. Repeat ``runs`` times: start the service (``tradepulse serve``, ccxt against the venue, a
   strategy that trades every few seconds); once it answers, read its reconciliation (every run
   after the first is a warm start and must reconcile cleanly); switch the venue's faults on
   (random REST errors and latency, plus at a random moment one of the scenarios below); wait a
   random time; kill -9. Scenarios, taken in a shuffled cycle so every one runs:

   - ``lose_order_response``: an order is placed and its answer lost;
   - ``land_order_late``: an order request is cut off and reaches the matching engine up to four
     seconds later (a resend under the same id before its recvWindow has passed would fill twice);
   - ``rest_error_burst``, ``drop_user_stream``, ``drop_market_stream``, ``none``;
   - ``outage_double_kill``: every REST request fails, an operator kills (its cancels fail), the
     venue recovers, the operator kills again (the failed cancels are sent again), then resumes;
   - ``breaker_trip``: every REST request fails until the venue-error breaker trips, and the
     service is killed -9 right after the trip.

   Before every kill the journal's newest breaker baselines are read; after the warm start the
   service must report the same trading day and day-start equity, a peak no lower, and every
   breaker that was tripped still tripped (an engine halted by a breaker comes back HALTED and
   the trial resumes it as an operator would).
3. Start once more, check the reconciliation, stop gracefully (open orders cancelled).
4. Audit against the venue with ccxt's own client: every venue trade of the account is journaled
   exactly once and nothing else is; no client order id was ever sent twice; the position the
   journal rebuilds equals the venue's base balance minus the baseline (base-asset fees already
   left the position, see docs/execution.md).

Randomness comes from ``seed``; the venue's fault decisions from its own seed. The venue runs as
a separate process so that killing the service never touches it, as with a real exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tradepulse.client import ServiceError
from tradepulse.errors import TradePulseError
from tradepulse.model.kinds import RISK_KIND_PREFIX, OmsEventKind, RiskKind, ServiceKind
from tradepulse.service.processes import Drill, LocalVenue, ServiceProcess

__all__ = ["CrashTrialReport", "run_crash_trials"]

SYMBOL = "BTC/USDT"
#: ``portfolio=True``: one portfolio strategy over both recorded markets on the one account.
PORTFOLIO_SYMBOLS = ("BTC/USDT", "ETH/USDT")
_FAULTS = ("lose_order_response", "land_order_late", "rest_error_burst", "drop_user_stream", "drop_market_stream",
           "outage_double_kill", "breaker_trip", "none")
_OPERATOR_REASON = "crash trial"
#: The venue account: USDT to trade with, and some BTC, so the balance baseline matters; BNB pays
#: the commissions (Binance's BNB setting), so every fill carries a third-currency fee to value.
_VENUE_BALANCES = {"USDT": "3000", "BTC": "0.02", "ETH": "0", "BNB": "5"}
_FEE_ASSET = "BNB"


class TrialFailure(TradePulseError):
    """The trial set could not run: not a verdict on the service (a process that does not start raises ProcessFailed)."""


@dataclass
class CrashTrialReport:
    """What the trials saw; ``ok`` when every check held on every run."""

    runs: int
    seed: int
    kills: list[dict[str, Any]] = field(default_factory=list)
    reconciliations: list[dict[str, Any]] = field(default_factory=list)
    baselines: list[dict[str, Any]] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "runs": self.runs, "seed": self.seed, "kills": self.kills,
                "reconciliations": self.reconciliations, "baselines": self.baselines, "audit": self.audit,
                "problems": self.problems}


def _config_text(state_dir: Path, symbols: tuple[str, ...] = (SYMBOL,), store: str | None = None) -> str:
    market = f'symbol = "{symbols[0]}"' if len(symbols) == 1 else "symbols = [" + ", ".join(f'"{s}"' for s in symbols) + "]"
    shared = f'name = "crash-trial"\nstore = "{store}"\n' if store else ""
    return f"""
[service]
{shared}state_dir = "{state_dir.as_posix()}"
cancel_orders_on_stop = true
watchdog_seconds = 30

[api]
port = 0

[venue]
kind = "ccxt"
exchange = "binance"
# A 5 s receive window (Binance's default is 5 s, ccxt asks for 10 s): a restart waits at most that
# (plus a margin) for an order that may still be on its way; late landings here take up to 4 s.
options = {{ options = {{ recvWindow = 5000 }} }}

[governance]
require_versions = false  # the trial runs a built-in strategy against the local venue

[[strategies]]
id = "crash"
strategy = "sma_cross"
{market}
params = {{ fast = 2, slow = 3 }}
bar = "1s"
capital = 1500

[risk]
max_daily_loss_fraction = 0.5
max_drawdown_fraction = 0.5
max_orders_per_window = 1000
# Four failed venue calls in 30 s trip the breaker: the random 3 % errors practically never do,
# an outage does (the breaker_trip scenario), and a burst of three does not.
max_venue_errors = 4
venue_error_window_seconds = 30
max_venue_error_fraction = 1.0
venue_error_min_requests = 100000
max_rejects = 100000
"""


def run_crash_trials(work: Path, *, runs: int = 20, seed: int = 1, min_seconds: float = 2.0, max_seconds: float = 7.0,
                     speed: float = 10.0, say: Callable[[str], None] = lambda _line: None, portfolio: bool = False) -> CrashTrialReport:
    """Run ``runs`` kill -9 / warm-start cycles in ``work`` (a new directory) and audit; see the module docstring.

    ``portfolio=True`` hosts one portfolio strategy over BTC/USDT and ETH/USDT instead of one
    strategy on BTC/USDT; the audit then holds for both members.
    """
    symbols = PORTFOLIO_SYMBOLS if portfolio else (SYMBOL,)
    if runs < 1:
        raise TrialFailure("runs must be at least 1")
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    state_dir = work / "state"
    config = work / "live.toml"
    config.write_text(_config_text(state_dir, symbols), encoding="utf-8")
    report = CrashTrialReport(runs=runs, seed=seed)
    # One fresh key pair is the venue's account and the service's Binance keys (drill.env); the audit reads it too.
    with Drill(work, prefix="trial") as drill:
        venue = drill.venue(speed=speed, seed=seed, balances=_VENUE_BALANCES, fee_asset=_FEE_ASSET)
        service = drill.service(config, start=False)
        journal_file = state_dir / "journals" / "crash.sqlite"
        scenarios: list[str] = []
        before_kill: dict[str, Any] | None = None
        for number in range(1, runs + 1):
            venue.clear_faults()
            service.start()
            _check_reconciliation(service, number, report, before_kill)
            if not scenarios:
                scenarios = rng.sample(_FAULTS, len(_FAULTS))
            fault = scenarios.pop()
            hold = rng.uniform(min_seconds, max_seconds)
            venue.faults(rest_error_rate=0.03, latency_ms=15)
            fault_at = rng.uniform(0.0, hold)
            time.sleep(fault_at)
            outcome = _inject(venue, service, fault, rng)
            if fault != "breaker_trip":  # killed right after the trip, not after a while
                time.sleep(max(hold - fault_at, 0.0))
            orders = _count_orders(service)
            before_kill = _risk_baselines(journal_file)
            service.kill()
            report.kills.append({"run": number, "after_seconds": round(hold, 2), "fault": fault, "fault_at": round(fault_at, 2),
                                 "orders_journaled": orders, **outcome})
            say(f"run {number:2d}/{runs}: killed -9 after {hold:4.1f} s ({fault} at {fault_at:.1f} s), {orders} orders journaled so far")
        venue.clear_faults()
        service.start()
        _check_reconciliation(service, runs + 1, report, before_kill)
        code = service.stop()
        if code != 0:
            report.problems.append(f"the final graceful stop exited with {code}, not 0")
        report.audit = asyncio.run(_audit(state_dir, drill.env, symbols))
        report.problems += report.audit.pop("problems")
    say(f"audit: {json.dumps(report.audit)}")
    return report


def _inject(venue: LocalVenue, service: ServiceProcess, fault: str, rng: random.Random) -> dict[str, Any]:
    """Start ``fault``; return what the report should record about it."""
    if fault == "lose_order_response":
        venue.faults(lose_order_response_next=1)
    elif fault == "land_order_late":
        late_ms = rng.randint(300, 4000)
        venue.faults(land_order_late_next=1, land_order_late_ms=late_ms)
        return {"late_ms": late_ms}
    elif fault == "rest_error_burst":
        venue.faults(rest_error_next=3)
    elif fault == "drop_user_stream":
        venue.control("ws/drop", {"target": "user"})
    elif fault == "drop_market_stream":
        venue.control("ws/drop", {"target": "market"})
    elif fault == "outage_double_kill":
        return _outage_double_kill(venue, service)
    elif fault == "breaker_trip":
        return _trip_breaker(venue, service)
    return {}


def _outage_double_kill(venue: LocalVenue, service: ServiceProcess) -> dict[str, Any]:
    """Kill during an outage (cancels fail), kill again once the venue answers, resume."""
    venue.faults(rest_error_rate=1.0)
    with service.client(timeout=60) as client:
        client.kill(f"{_OPERATOR_REASON}: kill during a venue outage")
        pending_cancels = sum(1 for order in client.orders(limit=1000) if order.get("status") == "PENDING_CANCEL")
        venue.faults(rest_error_rate=0.03)
        client.kill(f"{_OPERATOR_REASON}: second kill after the outage")
        left_open = [order["client_order_id"] for order in client.orders(limit=1000)
                     if order.get("status") in ("SUBMITTED", "ACCEPTED", "PARTIALLY_FILLED", "PENDING_CANCEL")]
        client.resume(f"{_OPERATOR_REASON}: venue back")
    return {"pending_cancels_after_first_kill": pending_cancels, "open_after_second_kill": left_open}


def _trip_breaker(venue: LocalVenue, service: ServiceProcess) -> dict[str, Any]:
    """Fail every REST request until the venue-error breaker halts trading (or 60 s pass)."""
    venue.faults(rest_error_rate=1.0)
    deadline = time.monotonic() + 60
    with service.client() as client:
        while time.monotonic() < deadline:
            if client.status()["trading_state"] != "ACTIVE":
                return {"tripped": True}
            time.sleep(0.05)
    return {"tripped": False}


def _risk_baselines(journal_file: Path) -> dict[str, Any] | None:
    """The newest breaker baselines and the tripped breakers, as the journal holds them (read-only)."""
    from tradepulse.store import Journal

    baselines: dict[str, Any] | None = None
    tripped: set[str] = set()
    with Journal(journal_file, read_only=True) as journal:
        for event in journal.iter_events(kind_prefix=RISK_KIND_PREFIX):
            payload = event.payload
            kind = payload.get("kind")
            if kind == RiskKind.STATE_CHANGE and payload.get("new") == "ACTIVE" and str(payload.get("actor", "")).startswith("operator:"):
                tripped = set()  # an operator's resume re-arms every breaker
                if payload.get("baselines"):
                    baselines = dict(payload["baselines"])
            elif kind == RiskKind.BASELINES and "day_start_equity" in payload:
                baselines = payload
            elif kind == RiskKind.BREAKER_TRIP:
                tripped.add(str(payload.get("breaker")))
    if baselines is None:
        return None
    return {"trading_day": baselines.get("trading_day"), "day_start_equity": baselines.get("day_start_equity"),
            "peak_equity": baselines.get("peak_equity"), "tripped": sorted(tripped)}


def count_journaled_orders(client: Any, page: int = 1000) -> int:
    """Every order the service has journaled, page by page (one answer holds at most 1,000; counting
    one page said "1000 orders journaled so far" for the rest of a long trial)."""
    count = 0
    while True:
        answer = client.orders(limit=page, offset=count)
        count += len(answer)
        if len(answer) < page:
            return count


def _count_orders(service: ServiceProcess) -> int:
    with contextlib.suppress(ServiceError), service.client() as client:
        return count_journaled_orders(client)
    return -1


def _check_reconciliation(service: ServiceProcess, number: int, report: CrashTrialReport,
                          before_kill: dict[str, Any] | None = None) -> None:
    with service.client() as client:
        status = client.status()
        risk = client.risk(limit=1)
    if before_kill is not None:
        _check_baselines(risk, before_kill, number, report)
        if before_kill["tripped"] and status["trading_state"] != "ACTIVE":
            # Halted by a breaker before the kill, halted after it: as it must be. An operator resumes.
            with service.client() as client:
                status = {**status, "trading_state": client.resume(f"{_OPERATOR_REASON}: breaker tripped before the kill")["trading_state"]}
    entries = status.get("reconciliation") or []
    if number == 1:
        if status["service"]["start_mode"] != "cold":
            report.problems.append("run 1: the first start was not a cold start")
        return
    if status["service"]["start_mode"] != "warm":
        report.problems.append(f"run {number}: a restart was not a warm start")
    if not entries:
        report.problems.append(f"run {number}: a warm start reported no reconciliation")
    for entry in entries:
        summary = {"run": number, "ok": entry.get("ok"), "resolved": len(entry.get("resolved") or []),
                   "missed_fills": len(entry.get("missed_fills") or []), "adopted": len(entry.get("adopted") or []),
                   "unexplained": entry.get("unexplained") or [], "balance": entry.get("balance")}
        report.reconciliations.append(summary)
        if not entry.get("ok"):
            report.problems.append(f"run {number}: reconciliation left differences unexplained: {summary['unexplained']}")
    if status["trading_state"] != "ACTIVE":
        report.problems.append(f"run {number}: trading state after the warm start is {status['trading_state']}")


def _check_baselines(risk: dict[str, Any], before: dict[str, Any], number: int, report: CrashTrialReport) -> None:
    """The warm start must restore what the journal held at the kill (a peak may only have risen since)."""
    status = risk["engines"][0]["status"]
    after = status["breakers"]
    tripped_after = set(status.get("tripped") or {})
    entry = {"run": number, "before": before, "after": {key: after.get(key) for key in ("trading_day", "day_start_equity", "peak_equity")},
             "tripped_after": sorted(tripped_after)}
    report.baselines.append(entry)
    problems = []
    # The breakers count days in market time, which the venue replays faster than the wall clock: a
    # kill just before midnight and a restart after it rightly begin a new day with its own start
    # equity (and a new daily-loss budget). Anything else must be what the journal held.
    new_day = str(after.get("trading_day") or "") > str(before["trading_day"] or "")
    if not new_day and after.get("trading_day") != before["trading_day"]:
        problems.append(f"trading day {after.get('trading_day')} != {before['trading_day']}")
    if not new_day and _decimal_or_none(after.get("day_start_equity")) != _decimal_or_none(before["day_start_equity"]):
        problems.append(f"day-start equity {after.get('day_start_equity')} != {before['day_start_equity']}")
    peak_after, peak_before = _decimal_or_none(after.get("peak_equity")), _decimal_or_none(before["peak_equity"])
    if peak_before is not None and (peak_after is None or peak_after < peak_before):
        problems.append(f"drawdown peak {peak_after} fell below {peak_before}")
    missing = set(before["tripped"]) - tripped_after - ({"daily_loss"} if new_day else set())
    if missing:
        problems.append(f"tripped breakers re-armed by the restart: {sorted(missing)}")
    if problems:
        report.problems.append(f"run {number}: risk baselines not restored after the kill: " + "; ".join(problems))


def _decimal_or_none(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def audit_account(journal: Any, env: dict[str, str], symbols: tuple[str, ...] = (SYMBOL,)) -> dict[str, Any]:
    """Hold the venue account (read through ccxt) against ``journal`` (a file or a PostgreSQL location):
    every venue trade journaled once, every venue order journaled and placed once, none left open,
    and each position equal to the venue balance less the journaled baseline. ``problems`` lists
    what does not hold."""
    import asyncio

    return asyncio.run(_audit(Path("."), env, symbols, journal_file=journal))


async def _audit(state_dir: Path, env: dict[str, str], symbols: tuple[str, ...] = (SYMBOL,), *,
                 journal_file: Any = None) -> dict[str, Any]:
    from tradepulse.adapters.ccxt.exchange import create_exchange
    from tradepulse.adapters.credentials import load_credentials
    from tradepulse.store import Journal

    problems: list[str] = []
    exchange = create_exchange("binance", credentials=load_credentials("binance", env), environ=env)
    try:
        await exchange.load_markets()
        trades = [trade for symbol in symbols for trade in await all_venue_trades(exchange, symbol)]
        orders = [order for symbol in symbols for order in await all_venue_orders(exchange, symbol)]
        balance = await exchange.fetch_balance()
    finally:
        await exchange.close()
    journal_file = journal_file if journal_file is not None else state_dir / "journals" / "crash.sqlite"
    with Journal(journal_file, read_only=True) as journal:
        filled = [event.payload for event in journal.iter_events(kinds=[OmsEventKind.ORDER_FILLED])]
        submitted = [event.payload["client_order_id"] for event in journal.iter_events(kinds=[OmsEventKind.ORDER_SUBMITTED])]
        baseline = journal.events(kinds=[ServiceKind.BASELINE], limit=1)
    journaled_trades = Counter(str(payload["fill"]["trade_id"]) for payload in filled)
    fee_currencies = Counter(str(payload["fill"].get("fee_currency") or "") for payload in filled)
    unvalued = [str(payload["fill"]["trade_id"]) for payload in filled
                if payload["fill"].get("fee_currency") == _FEE_ASSET and not payload["fill"].get("fee_quote_rate")]
    if unvalued:
        problems.append(f"fills charged in {_FEE_ASSET} journaled without the rate used: {unvalued}")
    venue_trades = {str(trade["id"]): trade for trade in trades}
    duplicates_journaled = sorted(trade for trade, count in journaled_trades.items() if count > 1)
    missing = sorted(set(venue_trades) - set(journaled_trades))
    extra = sorted(set(journaled_trades) - set(venue_trades))
    venue_client_ids = Counter(str(order.get("clientOrderId")) for order in orders)
    duplicate_orders = sorted(cid for cid, count in venue_client_ids.items() if count > 1)
    unknown_orders = sorted(set(venue_client_ids) - set(submitted))
    open_left = [order["clientOrderId"] for order in orders if order.get("status") == "open"]
    if duplicates_journaled:
        problems.append(f"fills journaled twice: {duplicates_journaled}")
    if missing:
        problems.append(f"venue trades never journaled (lost fills): {missing}")
    if extra:
        problems.append(f"journaled fills the venue does not have: {extra}")
    if duplicate_orders:
        problems.append(f"client order ids placed more than once at the venue: {duplicate_orders}")
    if unknown_orders:
        problems.append(f"venue orders the journal never submitted: {unknown_orders}")
    if open_left:
        problems.append(f"orders left open after the graceful stop: {open_left}")
    members: dict[str, dict[str, str]] = {}
    for symbol in symbols:
        asset = symbol.split("/")[0]
        position = _journal_position(journal_file, symbol)
        base_fees = sum((Decimal(repr(t["fee"]["cost"])) for t in trades if t["symbol"] == symbol and t["fee"]["currency"] == asset), Decimal(0))
        venue_total = Decimal(repr(balance["total"].get(asset, 0)))
        totals = (baseline[0].payload.get("base_totals") or {}) if baseline else {}
        known = totals.get(asset, baseline[0].payload["base_total"] if asset == baseline[0].payload.get("base_asset") else None) if baseline else None
        baseline_total = Decimal(str(known)) if known is not None else None
        members[symbol] = {"position": str(position), "base_fees": str(base_fees), "venue_total": str(venue_total),
                           "baseline": str(baseline_total)}
        if baseline_total is None:
            problems.append(f"the journal has no baseline balance of {asset}")
        elif venue_total - baseline_total != position:
            # Base-asset fees are already out of the journal's position (portfolio.position_after_fill).
            problems.append(f"{symbol} position {position} != venue {asset} {venue_total} - baseline {baseline_total} "
                            f"({base_fees} {asset} paid in fees)")
    first = members[symbols[0]]
    return {"venue_trades": len(venue_trades), "journaled_fills": sum(journaled_trades.values()), "venue_orders": len(orders),
            "journaled_orders": len(submitted), "fee_currencies": dict(fee_currencies), "position": first["position"],
            "base_fees": first["base_fees"], "venue_btc": first["venue_total"], "baseline_btc": first["baseline"],
            **({"members": members} if len(symbols) > 1 else {}), "problems": problems}


async def all_venue_trades(exchange: Any, symbol: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every trade of the account in ``symbol``, oldest first, read page by page.

    Binance answers at most 1,000 trades a call (the newest, without ``fromId``): an audit that read
    one page would call every older journaled fill one "the venue does not have".
    """
    trades: list[dict[str, Any]] = []
    while True:
        batch = await exchange.fetch_my_trades(symbol, limit=page, params={"fromId": int(trades[-1]["id"]) + 1 if trades else 0})
        trades += batch
        if len(batch) < page:
            return trades


async def all_venue_orders(exchange: Any, symbol: str, page: int = 1000) -> list[dict[str, Any]]:
    """Every order of the account in ``symbol``, oldest first, read page by page (``orderId`` paging)."""
    orders: list[dict[str, Any]] = []
    while True:
        batch = await exchange.fetch_orders(symbol, limit=page, params={"orderId": int(orders[-1]["id"]) + 1 if orders else 0})
        orders += batch
        if len(batch) < page:
            return orders


def _journal_position(journal_file: Any, symbol: str = SYMBOL) -> Decimal:
    """The position in ``symbol`` the OMS rebuilds from the journal (a replay, as a warm start does)."""
    from tradepulse.store import Journal

    with Journal(journal_file, read_only=True) as journal:
        positions = [event.payload.get("position") for event in journal.iter_events(kinds=[OmsEventKind.ORDER_FILLED])
                     if (event.payload.get("order") or {}).get("symbol", SYMBOL) == symbol]
    last = next((position for position in reversed(positions) if position), None)
    return Decimal(str(last["quantity"])) if last else Decimal(0)
