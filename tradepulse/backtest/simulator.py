"""One account's fills, trades and positions without importing vectorbt.

vectorbt takes about five seconds to import (it pulls in plotly's widgets, scikit-learn, ccxt and
more), which was most of the wall time of one ``tradepulse backtest`` and of a notebook's first
backtest. A single backtest places few orders (one per target change), so replaying vectorbt's
rules over those orders in plain Python costs milliseconds.

What is replayed, for one column of ``vbt.Portfolio.from_orders(size_type="targetpercent",
direction="both", price=open, fees, slippage, init_cash)`` with vectorbt's other defaults (no
fixed fees, a minimum size of 1e-8 units and no maximum, no granularity, no locked cash, partial
fills allowed, rejections not raised): ``execute_order_nb``, ``buy_nb`` and ``sell_nb`` for the fills,
``get_exit_trades_nb`` and ``get_positions_nb`` for the round trips, in the same floating-point
operations and the same order, with vectorbt's tolerances (``rel_tol`` 1e-9, ``abs_tol`` 1e-12).
Tests hold the records equal to vectorbt's, field by field, on real data and on generated targets
and costs. Sweeps, walk-forward runs and portfolios still run on vectorbt itself.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ORDER_DTYPE", "TRADE_DTYPE", "simulate_orders", "exit_trades", "positions_from_trades"]

#: vectorbt's order record layout (``vectorbt.portfolio.enums.order_dt``).
ORDER_DTYPE = np.dtype(
    [("id", np.int64), ("col", np.int64), ("idx", np.int64), ("size", np.float64), ("price", np.float64),
     ("fees", np.float64), ("side", np.int64)],
    align=True,
)
#: vectorbt's trade and position record layout (``vectorbt.portfolio.enums.trade_dt``).
TRADE_DTYPE = np.dtype(
    [("id", np.int64), ("col", np.int64), ("size", np.float64), ("entry_idx", np.int64), ("entry_price", np.float64),
     ("entry_fees", np.float64), ("exit_idx", np.int64), ("exit_price", np.float64), ("exit_fees", np.float64),
     ("pnl", np.float64), ("return", np.float64), ("direction", np.int64), ("status", np.int64), ("parent_id", np.int64)],
    align=True,
)

_REL_TOL, _ABS_TOL = 1e-9, 1e-12  # vectorbt.utils.math_
#: vectorbt's default ``min_size`` (``vbt.settings.portfolio["min_size"]``): a fill of fewer units is
#: rejected. It matters where cash runs out: a target nudged up with the cash nearly spent buys dust.
_MIN_SIZE = 1e-8
_BUY, _SELL = 0, 1
_LONG, _SHORT = 0, 1
_OPEN, _CLOSED = 0, 1


def _is_close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b) or math.isinf(a) or math.isinf(b):
        return False
    if a == b:
        return True
    return abs(a - b) <= max(_REL_TOL * max(abs(a), abs(b)), _ABS_TOL)


def _is_close_or_less(a: float, b: float) -> bool:
    return True if _is_close(a, b) else a < b


def _is_less(a: float, b: float) -> bool:
    return False if _is_close(a, b) else a < b


def _sign(value: float) -> float:
    return 0.0 if value == 0 or math.isnan(value) else math.copysign(1.0, value)


def _add(a: float, b: float) -> float:
    """a + b, or exactly 0.0 where the sum is zero within tolerance (vectorbt's ``add_nb``)."""
    if _sign(a) != _sign(b):
        zero = _is_close(abs(a), abs(b))
    else:
        zero = _is_close(a + b, 0.0)
    return 0.0 if zero else a + b


def _snap(value: float) -> float:
    return 0.0 if _is_close(value, 0.0) else value


def simulate_orders(
    open_prices: np.ndarray, sizes: np.ndarray, *, fees: float, slippage: float | np.ndarray, init_cash: float
) -> np.ndarray:
    """Fill ``targetpercent`` orders at each bar's open; return vectorbt-style order records (column 0).

    ``sizes`` holds the target fraction of account value for each bar that places an order and NaN
    elsewhere (:func:`tradepulse.backtest.engine.order_sizes`). The account is valued at the order
    bar's open, as vectorbt values it at the order price.
    """
    rows = np.flatnonzero(~np.isnan(sizes))
    records = np.zeros(len(rows), dtype=ORDER_DTYPE)
    per_bar_slippage = np.ndim(slippage) > 0
    cash, position = float(init_cash), 0.0
    count, previous_row = 0, -1
    for row in rows.tolist():
        price = float(open_prices[row])
        bar_slippage = float(slippage[row]) if per_bar_slippage else float(slippage)
        if row > previous_row + 1:
            # A bar without an order passed since: vectorbt ran it through execute_order_nb too,
            # which snapped near-zero cash and position to zero before ignoring it.
            cash, position = _snap(cash), _snap(position)
        previous_row = row
        if math.isnan(price):
            continue
        value = cash
        if position != 0:
            value += position * price
        # execute_order_nb: snap near-zero state to zero, then turn the target into an amount.
        cash, position, value = _snap(cash), _snap(position), _snap(value)
        if value <= 0:
            continue  # rejected: the account has nothing left to size an order from
        size = float(sizes[row]) * value
        size /= price
        size -= position
        if size > 0:
            filled = _buy(cash, position, size, price, fees, bar_slippage)
        else:
            filled = _sell(cash, position, -size, price, fees, bar_slippage)
        if filled is None:
            continue
        cash, position, final_size, fill_price, fees_paid, side = filled
        records[count] = (count, 0, row, final_size, fill_price, fees_paid, side)
        count += 1
    return records[:count]


def _buy(cash: float, position: float, size: float, price: float, fees: float, slippage: float):
    adj_price = price * (1 + slippage)
    cash_limit = cash
    if cash_limit == 0:
        return None  # rejected: no cash to go long
    if size == 0:
        return None
    req_cash = size * adj_price
    req_fees = req_cash * fees + 0.0
    total_req_cash = req_cash + req_fees
    if _is_close_or_less(total_req_cash, cash_limit):
        final_size, fees_paid, final_req_cash = size, req_fees, total_req_cash
    else:
        # Not enough cash: buy what it pays for, fees included.
        max_req_cash = _add(cash_limit, -0.0) / (1 + fees)
        if max_req_cash <= 0:
            return None
        final_size = max_req_cash / adj_price
        fees_paid = cash_limit - max_req_cash
        final_req_cash = cash_limit
    if _is_close(size, 0) or _is_less(final_size, _MIN_SIZE):
        return None
    return _add(cash, -final_req_cash), _add(position, final_size), final_size, adj_price, fees_paid, _BUY


def _sell(cash: float, position: float, size: float, price: float, fees: float, slippage: float):
    adj_price = price * (1 - slippage)
    if _is_close(size, 0) or _is_less(size, _MIN_SIZE):
        return None
    acq_cash = size * adj_price
    fees_paid = acq_cash * fees + 0.0
    final_acq_cash = _add(acq_cash, -fees_paid)
    if final_acq_cash < 0:
        return None  # rejected: the fees exceed the proceeds
    return cash + final_acq_cash, _add(position, -size), size, adj_price, fees_paid, _SELL


def _trade_stats(size: float, entry_price: float, entry_fees: float, exit_price: float, exit_fees: float,
                 direction: int) -> tuple[float, float]:
    entry_value = size * entry_price
    exit_value = size * exit_price
    difference = _add(exit_value, -entry_value)
    if difference != 0 and direction == _SHORT:
        difference *= -1
    pnl = difference - entry_fees - exit_fees
    return pnl, pnl / entry_value


def exit_trades(orders: np.ndarray, last_close: float, last_row: int) -> np.ndarray:
    """Round trips closed by each exit (vectorbt's exit trades) of one column's order records.

    A position still open at the end is valued at ``last_close`` on row ``last_row``.
    """
    records = np.zeros(len(orders), dtype=TRADE_DTYPE)
    count, parent_id = 0, -1
    in_position = False
    direction = entry_idx = -1
    size_sum = gross_sum = fees_sum = 0.0

    def record(size: float, entry_price: float, entry_fees: float, exit_row: int, exit_price: float, exit_fees: float,
               status: int) -> None:
        nonlocal count
        pnl, ret = _trade_stats(size, entry_price, entry_fees, exit_price, exit_fees, direction)
        records[count] = (count, 0, size, entry_idx, entry_price, entry_fees, exit_row, exit_price, exit_fees, pnl, ret,
                          direction, status, parent_id)
        count += 1

    for row, size, price, fees, side in zip(orders["idx"].tolist(), orders["size"].tolist(), orders["price"].tolist(),
                                            orders["fees"].tolist(), orders["side"].tolist(), strict=True):
        if not in_position:
            in_position, entry_idx = True, row
            direction = _LONG if side == _BUY else _SHORT
            parent_id += 1
            size_sum = gross_sum = fees_sum = 0.0
        if (direction == _LONG) == (side == _BUY):  # the position grows
            size_sum += size
            gross_sum += size * price
            fees_sum += fees
        elif _is_close_or_less(size, size_sum):  # it shrinks or closes
            exit_size = size_sum if _is_close(size, size_sum) else size
            record(exit_size, gross_sum / size_sum, exit_size / size_sum * fees_sum, row, price, fees, _CLOSED)
            if _is_close(size, size_sum):
                in_position, entry_idx, direction = False, -1, -1
            else:
                fraction = (size_sum - size) / size_sum
                size_sum *= fraction
                gross_sum *= fraction
                fees_sum *= fraction
        else:  # it reverses: close the whole position, open the rest the other way
            closed_fees = size_sum / size * fees
            record(size_sum, gross_sum / size_sum, size_sum / size_sum * fees_sum, row, price, closed_fees, _CLOSED)
            size_sum = size - size_sum
            gross_sum = size_sum * price
            fees_sum = fees - closed_fees
            entry_idx = row
            direction = _SHORT if direction == _LONG else _LONG
            parent_id += 1
    if in_position and _is_less(-size_sum, 0):
        record(size_sum, gross_sum / size_sum, size_sum / size_sum * fees_sum, last_row, last_close, 0.0, _OPEN)
    return records[:count]


def positions_from_trades(trades: np.ndarray) -> np.ndarray:
    """Positions (vectorbt's ``get_positions_nb``): the exit trades of each position merged into one record."""
    records = np.zeros(len(trades), dtype=TRADE_DTYPE)
    count = 0
    start = 0
    for end in range(1, len(trades) + 1):
        if end < len(trades) and trades["parent_id"][end] == trades["parent_id"][start]:
            continue
        group = trades[start:end]
        if len(group) == 1:
            records[count] = group[0]
            records[count]["id"] = records[count]["parent_id"] = count
        else:
            sizes = group["size"].tolist()
            # Sums in order, one element after another, as numba's np.sum adds them.
            size = _ordered_sum(sizes)
            entry_price = _ordered_sum([s * p for s, p in zip(sizes, group["entry_price"].tolist(), strict=True)]) / size
            exit_price = _ordered_sum([s * p for s, p in zip(sizes, group["exit_price"].tolist(), strict=True)]) / size
            entry_fees = _ordered_sum(group["entry_fees"].tolist())
            exit_fees = _ordered_sum(group["exit_fees"].tolist())
            direction, status = int(group["direction"][-1]), int(group["status"][-1])
            pnl, ret = _trade_stats(size, entry_price, entry_fees, exit_price, exit_fees, direction)
            records[count] = (count, int(group["col"][0]), size, int(group["entry_idx"][0]), entry_price, entry_fees,
                              int(group["exit_idx"][-1]), exit_price, exit_fees, pnl, ret, direction, status, count)
        count += 1
        start = end
    return records[:count]


def _ordered_sum(values: list[float]) -> float:
    total = 0.0
    for value in values:
        total += value
    return total
