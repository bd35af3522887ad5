"""The sections of a saved broker that hold what goes beyond the order book and the ledger.

Each is written only when the broker uses it, so a file of a plain classic broker has only
the five sections of :mod:`paperbroker.persistence`:

* ``risk`` - the :class:`~paperbroker.risk.RiskRules` and the state behind them: what each
  working order reserves, the position values, and each account's equity at the start of
  the session (from which the daily loss limit counts);
* ``brackets`` - which orders are the take-profit and stop-loss of which parent order
  (still Inactive) or position (Working);
* ``session`` - time in force: the working day orders, in the order they expire.  Its
  presence also says that the broker does that bookkeeping on every order event.

Readers raise ``ValueError`` (or ``KeyError`` ...) for content that does not fit; the
loader reports it as a damaged file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ._codec import number
from .models import OrderStatus, PlacedOrder
from .risk import RiskBook, RiskRules, SymbolRules, _Reservation

if TYPE_CHECKING:
    from .broker import BrokerService

__all__ = [
    "dump_brackets",
    "dump_risk",
    "dump_session",
    "load_brackets",
    "load_risk",
    "load_session",
]

_ROLES = ("takeProfit", "stopLoss")


def _order(broker: BrokerService, order_id: object, status: OrderStatus, what: str) -> PlacedOrder:
    """The saved order ``order_id``, which must have ``status`` to be ``what``."""
    order = broker._book.orders[order_id]  # type: ignore[index]
    if order.status is not status:
        msg = f"order {order_id!r} is listed as {what} but is {order.status.label.lower()}"
        raise ValueError(msg)
    return order


def _account(broker: BrokerService, account_id: object) -> str:
    if account_id not in broker._ledger.accounts:
        msg = f"the account {account_id!r} is not saved"
        raise ValueError(msg)
    return account_id


def _side(value: object) -> int:
    if value not in (1, -1) or isinstance(value, bool):
        msg = f"expected a side (1 or -1), got {value!r}"
        raise ValueError(msg)
    return value


# ---------------------------------------------------------------------- risk


def dump_risk(broker: BrokerService) -> dict[str, Any] | None:
    book = broker._risk
    if book is None:
        return None
    rules = book.rules
    return {
        "version": 1,
        "rules": {
            "account": rules.account,
            "leverage": rules.leverage,
            "buying_power": rules.buying_power,
            "max_position": rules.max_position,
            "daily_loss_limit": rules.daily_loss_limit,
            "symbols": {symbol: asdict(sym) for symbol, sym in rules.symbols.items()},
            "default": asdict(rules.default),
        },
        "reservations": [
            [order_id, r.account, r.symbol, r.side, r.left, r.per_unit]
            for order_id, r in book._orders.items()
        ],
        "pending": [[a, s, side, qty] for (a, s, side), qty in book._pending.items()],
        "reserved": [[a, value] for a, value in book._reserved.items()],
        "values": [[a, s, value] for (a, s), value in book._value.items()],
        "gross": [[a, value] for a, value in book._gross.items()],
        "day_start": [[a, value] for a, value in book._day_start.items()],
    }


def _rules(saved: dict[str, Any]) -> RiskRules:
    if not isinstance(saved["buying_power"], bool):
        msg = f"buying_power must be true or false, got {saved['buying_power']!r}"
        raise ValueError(msg)
    return RiskRules(
        account=saved["account"],
        leverage=saved["leverage"],
        buying_power=saved["buying_power"],
        max_position=saved["max_position"],
        daily_loss_limit=saved["daily_loss_limit"],
        symbols={symbol: SymbolRules(**sym) for symbol, sym in saved["symbols"].items()},
        default=SymbolRules(**saved["default"]),
    )


def load_risk(broker: BrokerService, saved: dict[str, Any]) -> None:
    book = RiskBook(_rules(saved["rules"]))
    for order_id, account, symbol, side, left, per_unit in saved["reservations"]:
        _order(broker, order_id, OrderStatus.WORKING, "holding buying power")
        res = _Reservation(_account(broker, account), symbol, _side(side), number(left), number(per_unit))
        book._orders[order_id] = res
    for account, symbol, side, qty in saved["pending"]:
        book._pending[(_account(broker, account), symbol, _side(side))] = number(qty)
    for account, symbol, value in saved["values"]:
        book._value[(_account(broker, account), symbol)] = number(value)
    for table, name in ((book._reserved, "reserved"), (book._gross, "gross"), (book._day_start, "day_start")):
        for account, value in saved[name]:
            table[_account(broker, account)] = number(value)
    broker._risk = book
    broker._hooks = True


# ---------------------------------------------------------------------- brackets


def dump_brackets(broker: BrokerService) -> dict[str, Any] | None:
    brackets = broker._brackets
    if not brackets._inactive and not brackets._position:
        return None
    return {
        "version": 1,
        "parents": [
            [parent_id, [[role, child.id] for role, child in children.items()]]
            for parent_id, children in brackets._inactive.items()
        ],
        "positions": [
            [account, symbol, [[role, child.id] for role, child in children.items()]]
            for (account, symbol), children in brackets._position.items()
        ],
    }


def _role(value: object) -> str:
    if value not in _ROLES:
        msg = f"a bracket's role is takeProfit or stopLoss, got {value!r}"
        raise ValueError(msg)
    return value


def load_brackets(broker: BrokerService, saved: dict[str, Any]) -> None:
    brackets = broker._brackets
    for parent_id, children in saved["parents"]:
        if parent_id not in broker._book.orders:
            msg = f"the brackets of order {parent_id!r} are saved but the order is not"
            raise ValueError(msg)
        for role, child_id in children:
            child = _order(broker, child_id, OrderStatus.INACTIVE, "an unarmed bracket")
            brackets._register(child, _role(role), parent_id)
    for account, symbol, children in saved["positions"]:
        owner = (_account(broker, account), symbol)
        for role, child_id in children:
            child = _order(broker, child_id, OrderStatus.WORKING, "a position's bracket")
            brackets._register(child, _role(role), owner)
    broker._hooks = True


# ---------------------------------------------------------------------- time in force


def dump_session(broker: BrokerService) -> dict[str, Any] | None:
    if not broker._hooks:  # nothing but the book to keep: a plain classic broker
        return None
    return {"version": 1, "day_orders": list(broker._day_orders)}


def load_session(broker: BrokerService, saved: dict[str, Any]) -> None:
    day_orders = {}
    for order_id in saved["day_orders"]:
        order = _order(broker, order_id, OrderStatus.WORKING, "a working day order")
        if order.duration is None or order.duration.type != "DAY":
            msg = f"order {order_id!r} is listed as a day order but its time in force is {order.duration!r}"
            raise ValueError(msg)
        day_orders[order_id] = order
    broker._day_orders = day_orders
    broker._hooks = True
