"""The books' sections of a saved broker: ledger, orders and history.

Part of :mod:`paperbroker.persistence` (see it for the file format): each ``dump_*``
returns its section as JSON-ready data with its ``version``, and each ``load_*`` writes a
checked section into a new parts, raising ``ValueError`` (which ``load`` reports as a
malformed file) on what the broker could not have written.
"""

from __future__ import annotations

import typing
from dataclasses import fields
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ..core.history import Codes, _Log
from ..core.ledger import Account, Ledger, PositionState
from ..models import OrderDuration, OrderMessage, OrderStatus, PlacedOrder, Side
from .codec import count, pack, unpack

if TYPE_CHECKING:
    from ..parts import BrokerParts


def _enum_fields(record: type[Any]) -> dict[str, type[IntEnum]]:
    """The fields of a record class whose values are IntEnum members (or None)."""
    out = {}
    for name, hint in typing.get_type_hints(record).items():
        for option in typing.get_args(hint) or (hint,):
            if isinstance(option, type) and issubclass(option, IntEnum):
                out[name] = option
    return out


_ORDER_ENUMS = _enum_fields(PlacedOrder)


# ---------------------------------------------------------------------- ledger


def dump_ledger(parts: BrokerParts) -> dict[str, Any]:
    ledger: Ledger = parts.engine.ledger
    return {
        "version": 1,
        "marks": ledger.marks,
        "holders": {symbol: list(holders) for symbol, holders in ledger.holders.items()},
        "accounts": [
            {
                "id": a.account_id,
                "initial_balance": a.initial_balance,
                "realized": a.realized,
                "commission": a.commission,
                "unrealized": a.unrealized,
                "positions": [
                    {name: getattr(p, name) for name in PositionState.__slots__} for p in a.positions.values()
                ],
            }
            for a in ledger.accounts.values()
        ],
    }


def load_ledger(parts: BrokerParts, saved: dict[str, Any]) -> None:
    ledger: Ledger = parts.engine.ledger
    ledger.accounts.clear()
    for item in saved["accounts"]:
        account = Account(item["id"], float(item["initial_balance"]))
        account.realized = float(item["realized"])
        account.commission = float(item["commission"])
        account.unrealized = float(item["unrealized"])
        for fields_ in item["positions"]:
            pos = PositionState(fields_["symbol"])
            for name in PositionState.__slots__:
                setattr(pos, name, fields_[name])
            pos.side = Side(pos.side)
            account.positions[pos.symbol] = pos
        ledger.accounts[account.account_id] = account
    ledger.marks.clear()
    ledger.marks.update({symbol: float(price) for symbol, price in saved["marks"].items()})
    ledger.holders.clear()
    for symbol, ids in saved["holders"].items():
        ledger.holders[symbol] = {i: ledger.accounts[i] for i in ids}


# ---------------------------------------------------------------------- orders


def dump_orders(parts: BrokerParts) -> dict[str, Any]:
    book = parts.engine.book
    timed = any(order.duration is not None for order in book.orders.values())
    return {
        "version": 2 if timed else 1,  # 2: orders have a duration (time in force)
        "orders": [[book._account[i], _dump_order(o)] for i, o in book.orders.items()],
        "working": list(book._working),
        "done": list(book._done),
    }


def _dump_order(order: PlacedOrder) -> dict[str, Any]:
    out = {}
    for f in fields(PlacedOrder):
        value = getattr(order, f.name)
        out[f.name] = value.to_dict() if isinstance(value, (OrderMessage, OrderDuration)) else value
    return out


def _load_order(saved: dict[str, Any]) -> PlacedOrder:
    values = dict(saved)
    for name, enum in _ORDER_ENUMS.items():
        if values.get(name) is not None:
            values[name] = enum(values[name])
    if values.get("message") is not None:
        values["message"] = OrderMessage(**values["message"])
    if values.get("duration") is not None:
        values["duration"] = OrderDuration(**values["duration"])
    return PlacedOrder(**values)


def load_orders(parts: BrokerParts, saved: dict[str, Any]) -> None:
    book = parts.engine.book
    for table in (book.orders, book._account, book._pos, book._done):
        table.clear()
    book._working.clear()
    for account_id, fields_ in saved["orders"]:
        if account_id not in parts.engine.ledger.accounts:
            msg = f"order {fields_.get('id')!r} belongs to an account {account_id!r} that is not saved"
            raise ValueError(msg)
        order = _load_order(fields_)
        book.orders[order.id] = order
        book._account[order.id] = account_id
    for index, order_id in enumerate(saved["working"]):
        if book.orders[order_id].status is not OrderStatus.WORKING:
            msg = f"order {order_id!r} is listed as working but is not"
            raise ValueError(msg)
        book._working.append(order_id)
        book._pos[order_id] = index
    book._done.extend(saved["done"])


# ---------------------------------------------------------------------- history


def dump_history(parts: BrokerParts) -> dict[str, Any]:
    return {
        "version": 1,
        "symbols": list(parts.engine.symbols.names),
        "accounts": list(parts.engine.account_codes.names),
        "executions": _dump_log(parts.engine.executions),
        "equity": _dump_log(parts.engine.equity_log),
    }


def _dump_log(log: _Log) -> dict[str, Any]:
    return {
        "columns": list(log.columns),
        "total": log.total,
        "data": pack(log.table()),
        "strings": log.strings,
    }


def load_history(parts: BrokerParts, saved: dict[str, Any]) -> None:
    _load_codes(parts.engine.symbols, saved["symbols"])
    _load_codes(parts.engine.account_codes, saved["accounts"])
    _load_log(parts.engine.executions, saved["executions"])
    _load_log(parts.engine.equity_log, saved["equity"])


def _load_codes(codes: Codes, names: list[str]) -> None:
    codes.names[:] = names
    codes.by_name.clear()
    codes.by_name.update({name: i for i, name in enumerate(names)})


def _load_log(log: _Log, saved: dict[str, Any]) -> None:
    if saved["columns"] != list(log.columns):
        msg = f"history columns {saved['columns']} differ from {list(log.columns)}"
        raise ValueError(msg)
    values = unpack(saved["data"])
    if len(values) % log.width or len(saved["strings"]) != len(log.strings):
        msg = "a history table has a partial row"
        raise ValueError(msg)
    rows = len(values) // log.width
    if any(len(column) != rows for column in saved["strings"]) or count(saved["total"]) < rows:
        msg = "the history columns have different lengths"
        raise ValueError(msg)
    del log.data[:]
    log.data.frombytes(values.tobytes())  # native float64, as the array's "d"
    for column, names in zip(log.strings, saved["strings"], strict=True):
        column[:] = names
    log.total = saved["total"]
