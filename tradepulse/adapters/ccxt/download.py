"""Download exchange candles through ccxt into the local Parquet cache, resuming where it stopped.

:func:`download_ohlcv` pages through ``fetch_ohlcv`` from ``since`` to ``until`` (default: now)
and writes what it gets to the cache file of that exchange, symbol and timeframe
(:mod:`tradepulse.data.cache`). Only the ranges the cache does not cover yet are fetched, so a
second run fetches nothing, a longer range fetches the difference, and an interrupted run (Ctrl-C,
a crash, ``kill -9``) resumes from its last checkpoint:

* the cache is written every ``checkpoint_pages`` pages and, on any interruption the process
  survives (Ctrl-C, an error), with everything fetched so far;
* the candle still open at the exchange is never stored (its values would change); ``until`` is
  cut to the start of the current candle;
* every write is validated (:func:`tradepulse.data.validate_bars`): duplicated or out-of-order
  timestamps, NaNs, non-positive prices or inconsistent OHLC are refused (nothing is written, a
  :class:`~tradepulse.errors.DataError` says why); gaps are reported as warnings, because an
  exchange may genuinely have none there (an outage, a quiet market without trades).

Requests go through :class:`~tradepulse.adapters.ccxt.retry.CcxtCaller`: ccxt's own
throttle, retries with backoff for temporary failures, ``Retry-After`` respected, errors in
TradePulse's tree. No credentials are needed or read.

Examples
--------
>>> result = download_ohlcv("binance", "BTC/USDT", "1m", since="2024-08-01", until="2024-08-02")  # doctest: +SKIP
>>> result.total_bars, result.path                                                                # doctest: +SKIP
(1440, PosixPath('/home/me/.cache/tradepulse/ohlcv/binance/BTC-USDT/1m.parquet'))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tradepulse.data.cache import OhlcvCache, cache_address, cache_path, missing_intervals
from tradepulse.data.schema import BAR_COLUMNS
from tradepulse.data.validate import validate_bars
from tradepulse.errors import ConfigError, DataError
from tradepulse.model.aio import run_sync

__all__ = ["DownloadResult", "download_ohlcv", "download_ohlcv_async"]


@dataclass
class DownloadResult:
    """What a download did; :meth:`to_dict` is the ``--json`` output."""

    exchange: str
    symbol: str
    timeframe: str
    path: Path
    address: str
    start: pd.Timestamp
    end: pd.Timestamp
    cached_before: int = 0
    fetched_bars: int = 0
    total_bars: int = 0
    pages: int = 0
    requests: int = 0
    complete: bool = False
    warnings: list[str] = field(default_factory=list)
    gaps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["path"] = str(self.path)
        return payload


def download_ohlcv(exchange_id: str, symbol: str, timeframe: str, since: str | pd.Timestamp, until: str | pd.Timestamp | None = None,
                   **options: Any) -> DownloadResult:
    """Download candles into the cache; see :func:`download_ohlcv_async` (this runs it in a new event loop)."""
    return run_sync(download_ohlcv_async(exchange_id, symbol, timeframe, since, until, **options))


async def download_ohlcv_async(
    exchange_id: str,
    symbol: str,
    timeframe: str,
    since: str | pd.Timestamp,
    until: str | pd.Timestamp | None = None,
    *,
    cache_dir: str | Path | None = None,
    exchange_url: str | None = None,
    page_size: int | None = None,
    checkpoint_pages: int = 10,
    progress: bool = False,
    environ: Mapping[str, str] | None = None,
    on_page: Callable[[int, int], None] | None = None,
    retry: Any = None,
) -> DownloadResult:
    """Fetch the candles of ``[since, until)`` the cache lacks and store them.

    Parameters
    ----------
    exchange_id, symbol, timeframe
        ccxt exchange id, unified symbol and one of the exchange's timeframes (``"1m"``).
    since, until
        Range start (inclusive) and end (exclusive); anything :class:`pandas.Timestamp` parses,
        naive means UTC. ``until`` defaults to now and is cut to the start of the open candle.
    cache_dir
        Cache root (:func:`~tradepulse.data.cache.default_cache_dir` when omitted).
    exchange_url
        A Binance-compatible local venue to download from instead (testing); also
        ``TRADEPULSE_<EXCHANGE>_URL``.
    page_size
        Candles per request (the exchange's maximum when omitted; Binance: 1000).
    checkpoint_pages
        Write the cache every this many pages (and at the end, and on interruption).
    progress
        Show a tqdm progress bar on stderr.
    on_page
        Called after each page with ``(page_number, bars_in_page)`` (tests use it to interrupt).
    retry
        A :class:`~tradepulse.adapters.ccxt.retry.RetryPolicy`.

    Raises
    ------
    ConfigError
        Unknown exchange, symbol or timeframe, or a bad range.
    DataError
        The exchange's candles fail validation (nothing is written then).
    VenueError
        The exchange could not be reached or refused (after retries).
    """
    from tradepulse.adapters.ccxt.exchange import create_exchange, require_capabilities
    from tradepulse.adapters.ccxt.retry import CcxtCaller

    if checkpoint_pages < 1:
        raise ConfigError(f"checkpoint pages must be at least 1, got {checkpoint_pages}")
    if page_size is not None and page_size < 1:
        raise ConfigError(f"page size must be at least 1, got {page_size}")
    start = _utc(since, "since")
    exchange = create_exchange(exchange_id, exchange_url=exchange_url, environ=environ)
    try:
        require_capabilities(exchange, ["fetchOHLCV"], "downloading candles")
        if timeframe not in (exchange.timeframes or {}):
            known = ", ".join(exchange.timeframes or {}) or "none"
            raise ConfigError(f"{exchange_id} has no {timeframe!r} candles; its timeframes: {known}")
        caller = CcxtCaller(exchange, venue=exchange_id, policy=retry)
        await caller.call("load_markets", lambda: exchange.load_markets())
        if symbol not in exchange.markets:
            raise ConfigError(f"{exchange_id} does not list {symbol!r} (symbols look like BTC/USDT)")
        period_ms = int(exchange.parse_timeframe(timeframe) * 1000)
        now_ms = await _server_now_ms(exchange, caller)
        start_ms = _floor(int(start.value // 1_000_000), period_ms)
        end_ms = _floor(now_ms, period_ms) if until is None else min(_floor(int(_utc(until, "until").value // 1_000_000), period_ms),
                                                                      _floor(now_ms, period_ms))
        if end_ms <= start_ms:
            raise ConfigError(f"nothing to download: the range {start.isoformat()} .. {until or 'now'} holds no closed {timeframe} candle")
        path = cache_path(exchange_id, symbol, timeframe, cache_dir)
        result = DownloadResult(exchange_id, symbol, timeframe, path, cache_address(exchange_id, symbol, timeframe),
                                _stamp(start_ms), _stamp(end_ms))
        limit = page_size or _max_page(exchange)
        await _fill_missing(exchange, caller, result, start_ms, end_ms, period_ms, limit, checkpoint_pages, progress, on_page)
        result.requests = caller.stats["requests"]
        return result
    finally:
        await exchange.close()


async def _fill_missing(exchange: Any, caller: Any, result: DownloadResult, start_ms: int, end_ms: int, period_ms: int, limit: int,
                        checkpoint_pages: int, progress: bool, on_page: Callable[[int, int], None] | None) -> None:
    cache = OhlcvCache(result.path)
    bars, coverage = cache.read()
    result.cached_before = int(((bars.index >= result.start) & (bars.index < result.end)).sum())
    gaps = missing_intervals((start_ms, end_ms), coverage)
    pending: list[list[Any]] = []
    state: dict[str, Any] = {"bars": bars, "coverage": list(coverage), "dirty": False}
    expected = sum((high - low) // period_ms for low, high in gaps)
    bar = _progress_bar(expected, f"{result.exchange} {result.symbol} {result.timeframe}", progress)

    def checkpoint() -> None:
        if not state["dirty"]:
            return
        merged = _merge(state["bars"], pending)
        _validate_or_refuse(merged, result)
        cache.write(merged, state["coverage"], exchange=result.exchange, symbol=result.symbol, timeframe=result.timeframe)
        state["bars"] = merged
        state["dirty"] = False
        pending.clear()

    try:
        for low, high in gaps:
            cursor = low
            while cursor < high:
                rows = await caller.call(
                    f"fetch_ohlcv {result.symbol} {result.timeframe}",
                    lambda c=cursor: exchange.fetch_ohlcv(result.symbol, result.timeframe, c, limit),
                )
                result.pages += 1
                fresh = [row for row in rows if cursor <= int(row[0]) < high]
                if not fresh:
                    # Nothing from cursor on inside the range: the exchange has no candles there.
                    state["coverage"].append((cursor, high))
                    bar.update(max((high - cursor) // period_ms, 0))
                    cursor = high
                else:
                    last = max(int(row[0]) for row in fresh)
                    pending.extend(fresh)
                    result.fetched_bars += len(fresh)
                    next_cursor = last + period_ms
                    state["coverage"].append((cursor, next_cursor))
                    bar.update((next_cursor - cursor) // period_ms)
                    cursor = next_cursor
                state["dirty"] = True
                if on_page is not None:
                    on_page(result.pages, len(fresh))
                if result.pages % checkpoint_pages == 0:
                    checkpoint()
        result.complete = True
    finally:
        # Also on Ctrl-C or an error: what was fetched is kept, so the next run resumes after it.
        bar.close()
        checkpoint()
    final, _ = cache.read()
    in_range = final[(final.index >= result.start) & (final.index < result.end)]
    result.total_bars = len(in_range)
    report = validate_bars(in_range, source=result.address) if len(in_range) else None
    if report is not None:
        result.warnings = list(report.warnings)
        result.gaps = [{"start": gap.start, "end": gap.end, "missing_bars": gap.missing_bars} for gap in report.gaps]


def _merge(bars: pd.DataFrame, rows: list[list[Any]]) -> pd.DataFrame:
    if not rows:
        return bars
    fresh = pd.DataFrame(
        [[float(value) if value is not None else float("nan") for value in row[1:6]] for row in rows],
        columns=list(BAR_COLUMNS),
        index=pd.DatetimeIndex(pd.to_datetime([int(row[0]) for row in rows], unit="ms", utc=True), name="timestamp").as_unit("ns"),
    )
    combined = pd.concat([bars, fresh]) if len(bars) else fresh
    # A candle fetched again (a range re-requested) replaces the stored one: the newest answer wins.
    combined = combined[~combined.index.duplicated(keep="last")]
    return combined.sort_index()


def _validate_or_refuse(bars: pd.DataFrame, result: DownloadResult) -> None:
    report = validate_bars(bars, source=result.address)
    if report.errors:
        raise DataError(f"{result.exchange} {result.symbol} {result.timeframe}: refusing to cache candles that fail validation: "
                        f"{'; '.join(report.errors)} (run `tradepulse data validate` on the source for details)")


async def _server_now_ms(exchange: Any, caller: Any) -> int:
    # The exchange's clock decides which candle is still open, not ours.
    if exchange.has.get("fetchTime"):
        try:
            return int(await caller.call("fetch_time", lambda: exchange.fetch_time()))
        except Exception:  # noqa: BLE001 - fall back to the local clock; the margin below covers skew
            pass
    return int(time.time() * 1000)


def _max_page(exchange: Any) -> int:
    # ccxt's `features` table knows some exchanges' page maxima (Binance: 1000); 500 is safe elsewhere.
    features = getattr(exchange, "features", None)
    spot = features.get("spot") if isinstance(features, dict) else None
    ohlcv = spot.get("fetchOHLCV") if isinstance(spot, dict) else None
    limit = ohlcv.get("limit") if isinstance(ohlcv, dict) else None
    return limit if isinstance(limit, int) and limit > 0 else 500


def _progress_bar(total: int, label: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="bar", disable=not enabled, leave=False, dynamic_ncols=True)


def _floor(ms: int, period_ms: int) -> int:
    return ms - ms % period_ms


def _stamp(ms: int) -> pd.Timestamp:
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def _utc(value: str | pd.Timestamp, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"--{name}: {value!r} is not a date or time (use ISO-8601, e.g. 2024-08-01 or 2024-08-01T12:00Z)") from None
    if stamp is pd.NaT:
        raise ConfigError(f"--{name}: {value!r} is not a date or time")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
