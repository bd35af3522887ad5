"""Order validation: what a user or a front end sent, checked field by field.

:func:`check_order` turns a :class:`PreOrder` (or a dict with its fields) into a clean
:class:`PreOrder`, and :func:`checked_fields` into the engine's :class:`OrderFields`, or
raises :class:`InvalidOrder` naming the field and how to fix it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields
from enum import Enum
from typing import Any, NamedTuple

from ..errors import InvalidOrder
from ..models import MAX_SIZE, CurrentQuotes, OrderDuration, OrderType, PlacedOrder, PreOrder, Side, StopType
from ..native import mypyc_attr
from .ledger import QTY_EPSILON, flat_tolerance

__all__ = [
    "DURATIONS",
    "Checked",
    "OrderFields",
    "check_duration",
    "check_order",
    "check_price",
    "check_qty",
    "checked_fields",
    "fill_qty",
    "side_order",
]

#: The time-in-force values an order's ``duration`` may have (TradingView duration strings).
DURATIONS = ("DAY", "GTC", "IOC", "FOK")
_DURATION_OF = {name: OrderDuration(name) for name in DURATIONS}

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_LIMIT = OrderType.LIMIT
_STOP_LIMIT = OrderType.STOP_LIMIT
_STOP = OrderType.STOP
_MARKET = OrderType.MARKET

_PREORDER_FIELDS = frozenset(f.name for f in fields(PreOrder))
_NUMBER = (int, float)


#: The smallest quantity an order or a fill may have: ten times the size the ledger counts
#: as zero, so that every quantity accepted is booked (ten buys of 5e-10 would leave nothing).
MIN_QTY = 10 * QTY_EPSILON


def _bad_number(value: object) -> bool:
    # an enum member (Side.BUY is the int 1) is a mistake, not a number
    return (
        isinstance(value, (bool, Enum))
        or not isinstance(value, _NUMBER)
        or not math.isfinite(value)
        or value <= 0
    )


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
    """A quantity must be a finite number from MIN_QTY (1e-8) to MAX_SIZE."""
    if type(value) is float and MIN_QTY <= value <= MAX_SIZE:
        return value  # the common case, checked first
    qty = _positive(value, where, "number")
    if qty < MIN_QTY:
        msg = (
            f"{where} {value!r} is too small: paperbroker books quantities of at least "
            f"{MIN_QTY:g}; use a larger quantity (or a smaller unit for the symbol)."
        )
        raise InvalidOrder(msg)
    return qty


def fill_qty(order: PlacedOrder, qty: object) -> float:
    """How much a fill of ``order`` by hand takes: all that remains when ``qty`` is None,
    else ``qty`` checked against it."""
    remaining = order.qty - order.filledQty
    if qty is None:
        return remaining
    value = check_qty(qty)
    if value > remaining + flat_tolerance(order.qty):
        msg = f"Cannot fill {value} of order {order.id}: only {remaining} remains."
        raise InvalidOrder(msg)
    return min(value, remaining)


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


class OrderFields(NamedTuple):
    """A checked order, as the engine reads it: :class:`PreOrder`'s fields, in its order,
    with snake-case names."""

    symbol: str
    type: OrderType
    side: Side
    qty: float
    limit: float | None = None
    stop: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None
    guaranteed: float | None = None
    trailing: float | None = None
    stop_type: StopType | None = None
    seen: float | None = None
    quotes: CurrentQuotes | None = None
    is_close: bool | None = None
    duration: OrderDuration | None = None


_new_fields = tuple.__new__  # builds an OrderFields without a Python-level __new__ call


def check_order(order: object) -> PreOrder:
    """Return a validated copy of ``order`` with enums and floats normalised."""
    return PreOrder(*checked_fields(order))


def checked_fields(order: object) -> OrderFields:
    """:func:`check_order`'s work, returned as :class:`OrderFields`.

    The engine builds its PlacedOrder straight from these, saving one object per order.
    """
    if type(order) is Checked:  # a plain market order of buy/sell, checked by side_order
        return order
    if type(order) is _Asked:  # buy/sell: the arguments as they came, in PreOrder's order
        (
            symbol, kind, side, qty, limit, stop, take_profit, stop_loss,
            guaranteed, trailing, stop_type, seen, quotes, is_close, duration,
        ) = order  # fmt: skip
    else:
        # one statement a field: a multiple assignment of four or more builds a tuple
        pre = order if type(order) is PreOrder else _as_preorder(order)
        symbol = pre.symbol
        kind = pre.type
        side = pre.side
        qty = pre.qty
        limit = pre.limitPrice
        stop = pre.stopPrice
        take_profit = pre.takeProfit
        stop_loss = pre.stopLoss
        guaranteed = pre.guaranteedStop
        trailing = pre.trailingStopPips
        stop_type = pre.stopType
        seen = pre.seenPrice
        quotes = pre.currentQuotes
        is_close = pre.isClose
        duration = pre.duration
    if type(symbol) is not str or not symbol or symbol != symbol.strip():
        if not isinstance(symbol, str) or not symbol.strip():
            msg = f"symbol must be a non-empty string such as 'AAPL', got {symbol!r}."
            raise InvalidOrder(msg)
        symbol = symbol.strip()
    if type(kind) is not OrderType:
        kind = _coerce(OrderType, kind, "order type")
    if type(side) is not Side:
        side = _coerce(Side, side, "side")
    # Optional prices are checked inline (``if x is not None``), and the usual float is
    # accepted without a call: a helper call per field would be the most expensive part of
    # placing an order.
    if limit is not None and (type(limit) is not float or not 0.0 < limit <= MAX_SIZE):
        limit = _positive(limit, "The limit price (limit=, or limitPrice)", "price")
    if stop is not None and (type(stop) is not float or not 0.0 < stop <= MAX_SIZE):
        stop = _positive(stop, "The stop price (stop=, or stopPrice)", "price")
    if kind is not _MARKET:
        if limit is None and (kind is _LIMIT or kind is _STOP_LIMIT):
            msg = (
                f"A {kind.label.lower()} order needs a limit price (limit=..., or limitPrice): "
                "the worst price you accept."
            )
            raise InvalidOrder(msg)
        if stop is None and (kind is _STOP or kind is _STOP_LIMIT):
            msg = (
                f"A {kind.label.lower()} order needs a stop price (stop=..., or stopPrice): "
                "the price that triggers it."
            )
            raise InvalidOrder(msg)
    if take_profit is not None:
        take_profit = _positive(take_profit, "The take profit (take_profit=, or takeProfit)", "price")
    if stop_loss is not None:
        stop_loss = _positive(stop_loss, "The stop loss (stop_loss=, or stopLoss)", "price")
    if guaranteed is not None:
        guaranteed = _positive(guaranteed, "The guaranteed stop (guaranteedStop)", "price")
    if trailing is not None:
        trailing = check_qty(trailing, "The trailing distance (trailing_stop_pips=, or trailingStopPips)")
    if stop_type is not None:
        stop_type = _coerce(StopType, stop_type, "stop type")
    if seen is not None and (type(seen) is not float or not 0.0 < seen <= MAX_SIZE):
        seen = _positive(seen, "The fill price (price=, or seenPrice)", "price")
    if is_close is not None:
        is_close = bool(is_close)
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
    if duration is not None:
        duration = check_duration(duration)
    if type(qty) is not float or not MIN_QTY <= qty <= MAX_SIZE:
        # a whole number of units (buy("X", 100)) is as usual as a float
        qty = float(qty) if type(qty) is int and 0 < qty <= MAX_SIZE else check_qty(qty)
    fields: OrderFields = _new_fields(
        OrderFields,
        (
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
        ),
    )
    return fields


@mypyc_attr(native_class=False)  # a tuple subclass stays a Python class in a compiled build
class _Asked(tuple[Any, ...]):
    """What ``buy``/``sell`` were asked, unchecked: :class:`PreOrder`'s fields as a tuple
    (building a PreOrder only for :func:`checked_fields` to read it back would cost a record
    an order)."""

    __slots__ = ()


@mypyc_attr(native_class=False)
class Checked(OrderFields):
    """A plain market order of ``buy``/``sell`` (no prices, brackets or duration) that
    :func:`side_order` found sound as :func:`checked_fields` would: its checked fields."""

    __slots__ = ()


def side_order(
    side: Side,
    symbol: str,
    qty: float,
    prices: tuple[float | None, ...],
    duration: OrderDuration | str | None,
) -> _Asked | Checked:
    """The order of ``buy``/``sell``, for :func:`checked_fields` (or :func:`check_order`):
    ``prices`` are its ``price`` (a market order's fill price in classic mode), ``limit``,
    ``stop``, ``take_profit``, ``stop_loss`` and ``trailing_stop_pips``; the kind follows
    from which of limit and stop are given.  The usual order, a market order with none of
    them, is checked here (a clean symbol, a quantity in range); any other, or one that
    fails those checks, is left to :func:`checked_fields`, with its errors."""
    price, limit, stop, take_profit, stop_loss, trailing = prices
    if limit is not None and stop is not None:
        kind = _STOP_LIMIT
    elif limit is not None:
        kind = _LIMIT
    elif stop is not None:
        kind = _STOP
    else:
        kind = _MARKET
        plain = price is None and take_profit is None and stop_loss is None and trailing is None
        if plain and duration is None:
            if type(qty) is int and 0 < qty <= MAX_SIZE:
                qty = float(qty)
            clean = type(symbol) is str and symbol != "" and symbol == symbol.strip()
            if clean and type(qty) is float and MIN_QTY <= qty <= MAX_SIZE:
                return _new_asked(Checked, (symbol, kind, side, qty, *_NO_PRICES))
    if price is not None and kind is not _MARKET:
        msg = "price= is the fill price of a market order; for a limit order use limit=."
        raise InvalidOrder(msg)
    return _new_asked(_Asked, (
        symbol, kind, side, qty, limit, stop, take_profit, stop_loss, None, trailing, None, price, None, None,
        duration,
    ))  # fmt: skip


_new_asked = tuple.__new__
_NO_PRICES = (None,) * 11  # a plain market order's fields after its qty


#: What an order id looks like: the broker numbers its orders ORDER-1, ORDER-2 ...
