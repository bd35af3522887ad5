"""Round-trip trades of a netting account, rebuilt from its executions on demand.

An account holds one net position per symbol.  A **trade** is the life of that position,
cut into rows as it is reduced:

* the fill that takes the position from flat opens a trade (its ``entry_time`` and
  ``entry_order_id``); fills that add to it join it, and ``entry_price`` is the average
  price of all the fills that opened and added to it, weighted by quantity (the ledger's
  average price);
* each order that reduces the position closes that part as its own row: ``qty`` is what
  the order closed, ``exit_price`` the average of that order's closing fills (several
  when it filled in parts), and the rest of the position stays open at the same entry;
* an order that flips the position (long 500, sell 800) closes the whole trade and opens
  the next one with the rest (short 300 at that fill's price, opened at that fill's time);
* what is still held is one row with ``open=True``, valued at the position's last mark:
  ``exit_price`` is that mark, ``exit_time`` and ``duration`` are NaT.

Commissions follow the quantity: a fill's commission is shared by what it closed and what
it opened, pro rata; a row carries its share of the entry fills' commissions and of its
exit fills'.  ``pnl = (exit_price - entry_price) * qty * direction - commission`` (direction
+1 long, -1 short), so the closed rows' ``pnl`` adds up to the realized P&L minus every
commission of those fills; ``return_pct = pnl / (entry_price * qty) * 100``.

Trades are rebuilt from the kept executions (``history_limit``): when the oldest have been
dropped, the first position seen may have begun earlier than its first kept fill.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..frames import executions_frame
from ..models import DEFAULT_ACCOUNT, Side
from ._common import load_pandas, to_zone

if TYPE_CHECKING:
    import pandas

    from ..broker import BrokerService

__all__ = ["TRADE_COLUMNS", "trade_figures", "trade_rows", "trades_frame", "trades_of"]

#: the columns of :func:`trades_frame`, in order
TRADE_COLUMNS = (
    "account",
    "symbol",
    "side",
    "qty",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "pnl",
    "return_pct",
    "commission",
    "duration",
    "open",
    "entry_order_id",
    "exit_order_id",
)
_EPS = 1e-9  # the ledger's tolerance for a flat position, in shares
_SIDES = [Side.SELL.label, Side.BUY.label]


class _Open:
    """The open part of one account's position in one symbol."""

    __slots__ = ("avg", "commission", "direction", "order", "qty", "time")

    def __init__(self, direction: int, qty: float, price: float, commission: float, time: int, order: str):
        self.direction, self.qty, self.avg = direction, qty, price
        self.commission, self.time, self.order = commission, time, order


def _walk(fills: Any) -> tuple[list[list[Any]], dict[tuple[str, str], _Open]]:
    """Closed rows ``[account, symbol, direction, qty, entry_time, exit_time, entry, exit,
    gross, commission, entry_order, exit_order]`` in the order they closed, and what is open."""
    rows: list[list[Any]] = []
    held: dict[tuple[str, str], _Open] = {}
    last_row: dict[tuple[str, str], list[Any]] = {}  # the row each position's last fill closed
    columns = zip(
        fills["time_ms"].tolist(),
        fills["account"].tolist(),
        fills["symbol"].tolist(),
        fills["order_id"].tolist(),
        fills["direction"].tolist(),
        fills["qty"].tolist(),
        fills["price"].tolist(),
        fills["commission"].tolist(),
        strict=True,
    )
    for time, account, symbol, order, direction, qty, price, commission in columns:
        key = (account, symbol)
        pos = held.get(key)
        if pos is None or pos.direction == direction:  # opens or adds
            if pos is None:
                held[key] = _Open(direction, qty, price, commission, time, order)
            else:
                total = pos.qty + qty
                pos.avg = (pos.avg * pos.qty + price * qty) / total
                pos.qty = total
                pos.commission += commission
            last_row.pop(key, None)
            continue
        closed = min(qty, pos.qty)
        exit_commission = commission * closed / qty
        entry_commission = pos.commission * closed / pos.qty
        gross = (price - pos.avg) * closed * pos.direction
        row = last_row.get(key)
        if row is not None and row[11] == order and row[4] == pos.time:  # the same order again
            row[7] = (row[7] * row[3] + price * closed) / (row[3] + closed)
            row[3] += closed
            row[5] = time
            row[8] += gross
            row[9] += entry_commission + exit_commission
        else:
            row = [account, symbol, pos.direction, closed, pos.time, time, pos.avg, price, gross]
            row += [entry_commission + exit_commission, pos.order, order]
            rows.append(row)
            last_row[key] = row
        pos.qty -= closed
        pos.commission -= entry_commission
        rest = qty - closed
        if pos.qty <= _EPS:
            del held[key]
            if rest > _EPS:  # a flip: the rest opens the next trade
                held[key] = _Open(direction, rest, price, commission - exit_commission, time, order)
                last_row.pop(key, None)
    return rows, held


def trades_frame(broker: BrokerService, account_id: str | None = DEFAULT_ACCOUNT) -> pandas.DataFrame:
    """One row per closed part of a trade, then one per open trade (see the module docstring).

    ``account_id=None`` gives every account's trades.  Times are in the broker's clock's
    time zone; ``side`` is "Buy" for a long trade and "Sell" for a short one.  The columns
    and dtypes are the same when there are no trades.
    """
    return trades_of(broker, executions_frame(broker, account_id))


def trades_of(broker: BrokerService, fills: pandas.DataFrame) -> pandas.DataFrame:
    """:func:`trades_frame` of these rows of :func:`~paperbroker.executions_frame`."""
    rows, closed = trade_rows(broker, fills)
    return _frame(broker, rows, closed)


def trade_figures(rows: list[list[Any]]) -> tuple[Any, Any]:
    """The ``pnl`` and ``return_pct`` of these rows of :func:`trade_rows`, as numpy arrays."""
    import numpy as np

    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    qty, entry = np.asarray(cols[3], dtype=np.float64), np.asarray(cols[6], dtype=np.float64)
    pnl = np.asarray(cols[8], dtype=np.float64) - np.asarray(cols[9], dtype=np.float64)
    return pnl, pnl / (entry * qty) * 100.0


def trade_rows(broker: BrokerService, fills: pandas.DataFrame) -> tuple[list[list[Any]], int]:
    """The rows of :func:`trades_frame` as lists (closed ones first), and how many are closed."""
    import numpy as np

    walk = {
        "time_ms": fills["time"].to_numpy(dtype="datetime64[ms]").astype(np.int64),
        "account": fills["account"].to_numpy(dtype=object),
        "symbol": fills["symbol"].to_numpy(dtype=object),
        "order_id": fills["order_id"].to_numpy(dtype=object),
        "direction": np.where(fills["side"].to_numpy() == Side.BUY.label, 1, -1),
        "qty": fills["qty"].to_numpy(),
        "price": fills["price"].to_numpy(),
        "commission": fills["commission"].to_numpy(),
    }
    rows, held = _walk(walk)
    marks = {
        (account, p.symbol): p.last for account in ({k[0] for k in held}) for p in broker.positions(account)
    }
    for (account, symbol), pos in held.items():
        mark = marks.get((account, symbol))
        exit_price = pos.avg if mark is None else mark
        gross = (exit_price - pos.avg) * pos.qty * pos.direction
        rows.append(
            [
                account,
                symbol,
                pos.direction,
                pos.qty,
                pos.time,
                None,
                pos.avg,
                exit_price,
                gross,
                pos.commission,
                pos.order,
                None,
            ]
        )
    return rows, len(rows) - len(held)


def _frame(broker: BrokerService, rows: list[list[Any]], closed: int) -> pandas.DataFrame:
    import numpy as np

    pd = load_pandas()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    qty = np.asarray(cols[3], dtype=np.float64)
    entry = np.asarray(cols[6], dtype=np.float64)
    commission = np.asarray(cols[9], dtype=np.float64)
    pnl, return_pct = trade_figures(rows)
    is_open = np.arange(len(rows)) >= closed
    entry_ms = np.asarray(cols[4], dtype=np.int64)
    exit_ms = np.asarray([0 if t is None else t for t in cols[5]], dtype=np.int64)
    utc = "datetime64[ms]"
    entry_time = pd.Series(pd.DatetimeIndex(entry_ms.astype(utc)).tz_localize("UTC"))
    exit_time = pd.Series(pd.DatetimeIndex(exit_ms.astype(utc)).tz_localize("UTC"))
    exit_time[is_open] = pd.NaT
    entry_time, exit_time = to_zone(broker, entry_time), to_zone(broker, exit_time)
    frame = pd.DataFrame(
        {
            "account": pd.Series(cols[0], dtype="str"),
            "symbol": pd.Series(cols[1], dtype="str"),
            "side": pd.Categorical.from_codes(
                (np.asarray(cols[2], dtype=np.int64) > 0).astype(np.int8), categories=_SIDES
            ),
            "qty": qty,
            "entry_time": entry_time,
            "exit_time": exit_time,
            "entry_price": entry,
            "exit_price": np.asarray(cols[7], dtype=np.float64),
            "pnl": pnl,
            "return_pct": return_pct,
            "commission": commission,
            "duration": exit_time - entry_time,
            "open": is_open,
            "entry_order_id": pd.Series(cols[10], dtype="str"),
            "exit_order_id": pd.Series(cols[11], dtype="str"),
        }
    )
    return cast("pandas.DataFrame", frame)
