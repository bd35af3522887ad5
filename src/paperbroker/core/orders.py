"""Order validation and the order book.

:func:`check_order` turns what a user or a front end sent (a :class:`PreOrder` or a dict
with its fields) into a clean :class:`PreOrder` or raises :class:`InvalidOrder` naming the
field and how to fix it.  :class:`OrderBook` keeps orders by id, the working ones in an
indexed set (O(1) add, remove and random pick), and forgets the oldest finished orders
beyond a bound.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..errors import InvalidOrder, PersistenceError, UnknownOrder
from ..models import (
    DONE_STATUSES,
    CurrentQuotes,
    OrderDuration,
    OrderStatus,
    OrderType,
    PlacedOrder,
    PreOrder,
    Side,
    StopType,
)

__all__ = [
    "DURATIONS",
    "OrderBook",
    "OrderBookState",
    "check_duration",
    "check_order",
    "check_price",
    "check_qty",
    "checked_fields",
]

#: The time-in-force values an order's ``duration`` may have (TradingView duration strings).
DURATIONS = ("DAY", "GTC", "IOC", "FOK")
_DURATION_OF = {name: OrderDuration(name) for name in DURATIONS}

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_WORKING = OrderStatus.WORKING
_LIMIT = OrderType.LIMIT
_STOP_LIMIT = OrderType.STOP_LIMIT
_STOP = OrderType.STOP
_MARKET = OrderType.MARKET

_PREORDER_FIELDS = frozenset(f.name for f in fields(PreOrder))
_NUMBER = (int, float)


def _bad_number(value: object) -> bool:
    return isinstance(value, bool) or not isinstance(value, _NUMBER) or not math.isfinite(value) or value <= 0


#: The largest quantity or price accepted: beyond it, notional values and P&L sums would
#: lose all precision or overflow to infinity.
MAX_SIZE = 1e12


def _positive(value: object, name: str, noun: str) -> float:
    if type(value) is float and 0.0 < value <= MAX_SIZE:
        return value  # the common case, checked first
    if _bad_number(value):
        msg = f"{name} must be a finite {noun} greater than 0, got {value!r}."
        raise InvalidOrder(msg)
    if value > MAX_SIZE:  # type: ignore[operator]
        msg = f"{name} {value!r} is too large: paperbroker accepts at most {MAX_SIZE:g}."
        raise InvalidOrder(msg)
    return float(value)  # type: ignore[arg-type]


def check_qty(value: object, where: str = "qty") -> float:
    """A quantity must be a finite number > 0."""
    return _positive(value, where, "number")


def check_price(value: object, name: str) -> float:
    """A price must be a finite number > 0."""
    return _positive(value, name, "price")


def _coerce(enum: Any, value: object, what: str) -> Any:
    try:
        return enum.coerce(value, what)
    except ValueError as exc:
        raise InvalidOrder(str(exc)) from None


def _as_preorder(order: object) -> PreOrder:
    if isinstance(order, PreOrder):
        return order
    if isinstance(order, Mapping):
        unknown = sorted(set(order) - _PREORDER_FIELDS)
        if unknown:
            msg = (
                f"Unknown order field(s) {', '.join(map(repr, unknown))}; "
                f"the fields are {', '.join(sorted(_PREORDER_FIELDS))}."
            )
            raise InvalidOrder(msg)
        missing = [k for k in ("symbol", "type", "side", "qty") if k not in order]
        if missing:
            msg = f"The order lacks {', '.join(missing)}; symbol, type, side and qty are required."
            raise InvalidOrder(msg)
        quotes = order.get("currentQuotes")
        values = dict(order)
        if isinstance(quotes, Mapping):
            try:
                values["currentQuotes"] = CurrentQuotes(quotes["ask"], quotes["bid"])
            except KeyError:
                msg = f"currentQuotes must have 'ask' and 'bid', got {dict(quotes)!r}."
                raise InvalidOrder(msg) from None
        return PreOrder(**values)
    msg = f"An order must be a PreOrder or a dict of its fields, got {type(order).__name__}."
    raise InvalidOrder(msg)


def check_duration(value: object) -> OrderDuration | None:
    """Normalise a duration (``"day"``, ``OrderDuration("GTC")``, ``{"type": "IOC"}``)."""
    if value is None:
        return None
    kind: object = value
    when: object = None
    if isinstance(value, OrderDuration):
        kind, when = value.type, value.datetime
    elif isinstance(value, Mapping):
        kind, when = value.get("type"), value.get("datetime")
    key = kind.strip().upper() if isinstance(kind, str) else None
    if key not in _DURATION_OF:
        msg = (
            f"duration {value!r} is not a time in force this broker knows; use one of {', '.join(DURATIONS)}."
        )
        raise InvalidOrder(msg)
    if when is not None:
        msg = (
            f"duration {key} with a datetime ({when!r}) is not supported; leave datetime out "
            "(DAY orders expire at the session end of the broker's clock)."
        )
        raise InvalidOrder(msg)
    return _DURATION_OF[key].copy()


def check_order(order: object) -> PreOrder:
    """Return a validated copy of ``order`` with enums and floats normalised."""
    return PreOrder(*checked_fields(order))


def checked_fields(order: object) -> tuple[Any, ...]:
    """:func:`check_order`'s work, returned as a tuple of PreOrder's fields in order.

    The broker builds its PlacedOrder straight from these, saving one object per order.
    """
    pre = order if type(order) is PreOrder else _as_preorder(order)
    symbol = pre.symbol
    if type(symbol) is not str or not symbol or symbol != symbol.strip():
        if not isinstance(symbol, str) or not symbol.strip():
            msg = f"symbol must be a non-empty string such as 'AAPL', got {symbol!r}."
            raise InvalidOrder(msg)
        symbol = symbol.strip()
    kind = pre.type if type(pre.type) is OrderType else _coerce(OrderType, pre.type, "order type")
    side = pre.side if type(pre.side) is Side else _coerce(Side, pre.side, "side")
    # Optional prices are checked inline (``if x is not None``), and the usual float is
    # accepted without a call: a helper call per field would be the most expensive part of
    # placing an order.
    limit = pre.limitPrice
    if limit is not None and (type(limit) is not float or not 0.0 < limit <= MAX_SIZE):
        limit = _positive(limit, "limitPrice", "price")
    stop = pre.stopPrice
    if stop is not None and (type(stop) is not float or not 0.0 < stop <= MAX_SIZE):
        stop = _positive(stop, "stopPrice", "price")
    if kind is not _MARKET:
        if limit is None and (kind is _LIMIT or kind is _STOP_LIMIT):
            msg = f"A {kind.label.lower()} order needs limitPrice: the worst price you accept."
            raise InvalidOrder(msg)
        if stop is None and (kind is _STOP or kind is _STOP_LIMIT):
            msg = f"A {kind.label.lower()} order needs stopPrice: the price that triggers it."
            raise InvalidOrder(msg)
    take_profit = pre.takeProfit
    if take_profit is not None:
        take_profit = _positive(take_profit, "takeProfit", "price")
    stop_loss = pre.stopLoss
    if stop_loss is not None:
        stop_loss = _positive(stop_loss, "stopLoss", "price")
    guaranteed = pre.guaranteedStop
    if guaranteed is not None:
        guaranteed = _positive(guaranteed, "guaranteedStop", "price")
    trailing = pre.trailingStopPips
    if trailing is not None:
        trailing = check_qty(trailing, "trailingStopPips")
    stop_type = pre.stopType
    if stop_type is not None:
        stop_type = _coerce(StopType, stop_type, "stop type")
    seen = pre.seenPrice
    if seen is not None and (type(seen) is not float or not 0.0 < seen <= MAX_SIZE):
        seen = _positive(seen, "seenPrice", "price")
    is_close = pre.isClose
    if is_close is not None:
        is_close = bool(is_close)
    quotes = pre.currentQuotes
    if quotes is not None:
        if not isinstance(quotes, CurrentQuotes):
            msg = f"currentQuotes must be CurrentQuotes(ask=..., bid=...), got {quotes!r}."
            raise InvalidOrder(msg)
        ask = check_price(quotes.ask, "currentQuotes.ask")
        bid = check_price(quotes.bid, "currentQuotes.bid")
        if ask < bid:
            msg = f"currentQuotes are crossed: ask {ask} is below bid {bid}; swap them."
            raise InvalidOrder(msg)
        quotes = CurrentQuotes(ask, bid)
    duration = pre.duration
    if duration is not None:
        duration = check_duration(duration)
    qty = pre.qty
    if type(qty) is not float or not 0.0 < qty <= MAX_SIZE:
        qty = _positive(qty, "qty", "number")
    return (
        symbol,
        kind,
        side,
        qty,
        limit,
        stop,
        take_profit,
        stop_loss,
        guaranteed,
        trailing,
        stop_type,
        seen,
        quotes,
        is_close,
        duration,
    )


#: What an order id looks like: the broker numbers its orders ORDER-1, ORDER-2 ...
ORDER_ID = re.compile(r"ORDER-([1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class OrderBookState:
    """What :meth:`OrderBook.state` saves: every order kept, with its account, in the order
    they were added; the working ones in the book's order (a random pick depends on it);
    the finished ones oldest first (the first to be forgotten)."""

    orders: tuple[tuple[str, PlacedOrder], ...]
    working: tuple[str, ...]
    done: tuple[str, ...]


class OrderBook:
    """Orders by id; working orders indexed; finished orders bounded by ``keep_done``."""

    __slots__ = ("_account", "_done", "_done_limit", "_pos", "_working", "orders")

    def __init__(self, keep_done: int | None) -> None:
        self.orders: dict[str, PlacedOrder] = {}
        self._account: dict[str, str] = {}
        self._working: list[str] = []
        self._pos: dict[str, int] = {}
        self._done: deque[str] = deque()
        self._done_limit = keep_done

    def state(self) -> OrderBookState:
        """The book as plain data (copies of the orders; see :class:`OrderBookState`)."""
        account = self._account
        return OrderBookState(
            tuple((account[i], o.copy()) for i, o in self.orders.items()),
            tuple(self._working),
            tuple(self._done),
        )

    @classmethod
    def from_state(cls, state: OrderBookState, keep_done: int | None) -> OrderBook:
        """A new book in ``state`` (its orders copied); the index of working orders is rebuilt.

        Raises PersistenceError naming the field when the state is not one a book can be in:
        an id that is not ``ORDER-<n>`` or is listed twice, a working order that is not
        Working (or one that is but is not listed), a finished order listed twice.
        """
        book = cls(keep_done)
        for n, (account_id, order) in enumerate(state.orders):
            if ORDER_ID.fullmatch(order.id) is None or order.id in book.orders:
                raise PersistenceError(
                    f"orders[{n}][1].id {order.id!r} must be an ORDER-<number> listed once"
                )
            book.orders[order.id] = order.copy()
            book._account[order.id] = account_id
        lists = (("working", state.working, (_WORKING,)), ("done", state.done, DONE_STATUSES))
        listed: dict[str, set[str]] = {"working": set(), "done": set()}
        for name, ids, statuses in lists:
            for n, order_id in enumerate(ids):
                found = book.orders.get(order_id)
                if found is None or found.status not in statuses:
                    what = "not saved" if found is None else found.status.label.lower()
                    raise PersistenceError(f"{name}[{n}] {order_id!r} is listed as {name} but is {what}")
                if order_id in listed[name]:
                    raise PersistenceError(f"{name}[{n}] {order_id!r} is an order listed twice as {name}")
                listed[name].add(order_id)
            for n, (_, order) in enumerate(state.orders):
                if order.status in statuses and order.id not in listed[name]:
                    status = order.status.label.lower()
                    raise PersistenceError(
                        f"orders[{n}][1] {order.id!r} is {status} but not listed in {name}"
                    )
        for order_id in state.working:
            book._pos[order_id] = len(book._working)
            book._working.append(order_id)
        if keep_done is not None and len(state.done) > keep_done:
            raise PersistenceError(f"done lists {len(state.done)} orders, more than the {keep_done} kept")
        book._done.extend(state.done)
        return book

    def add(self, order: PlacedOrder, account_id: str) -> None:
        self.orders[order.id] = order
        self._account[order.id] = account_id
        if order.status is _WORKING:
            self._pos[order.id] = len(self._working)
            self._working.append(order.id)
        elif order.status in DONE_STATUSES:
            self._finished(order.id)

    def get(self, order_id: object) -> PlacedOrder:
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            msg = f"There is no order {order_id!r}."
            if isinstance(order_id, str) and self._done_limit is not None:
                msg += (
                    f" Only the newest {self._done_limit} finished orders are kept; "
                    "see broker.orders() for the ids there are."
                )
            raise UnknownOrder(msg)
        return order

    def account_of(self, order_id: str) -> str:
        return self._account[order_id]

    def set_status(self, order: PlacedOrder, status: OrderStatus) -> None:
        """Move ``order`` to ``status``, keeping the working index in step."""
        was_working = order.status is _WORKING
        order.status = status
        if was_working and status is not _WORKING:
            self._unwork(order.id)
        elif status is _WORKING and not was_working:
            self._pos[order.id] = len(self._working)
            self._working.append(order.id)
        if status in DONE_STATUSES:
            self._finished(order.id)

    def finish(self, order: PlacedOrder, status: OrderStatus) -> None:
        """Move a working order to a final status: :meth:`set_status`'s path for fills,
        written out because it runs once per filled order."""
        order_id = order.id
        order.status = status
        working = self._working
        i = self._pos.pop(order_id)
        last = working.pop()
        if last != order_id:
            working[i] = last
            self._pos[last] = i
        self._finished(order_id)

    def _unwork(self, order_id: str) -> None:
        i = self._pos.pop(order_id)
        last = self._working.pop()
        if last != order_id:
            self._working[i] = last
            self._pos[last] = i

    def _finished(self, order_id: str) -> None:
        done = self._done
        done.append(order_id)
        if self._done_limit is not None and len(done) > self._done_limit:
            old = done.popleft()
            del self.orders[old]
            del self._account[old]

    def working_count(self) -> int:
        return len(self._working)

    def working_at(self, index: int) -> PlacedOrder:
        return self.orders[self._working[index]]

    def working(self) -> list[PlacedOrder]:
        """Working orders in the order they were placed."""
        return sorted((self.orders[i] for i in self._working), key=_placement)

    def of_account(self, account_id: str) -> Iterator[PlacedOrder]:
        account = self._account
        return (o for i, o in self.orders.items() if account[i] == account_id)


def _placement(order: PlacedOrder) -> int:
    return int(order.id.rpartition("-")[2])
