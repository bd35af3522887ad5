"""Enums and records in the TradingView Broker API vocabulary.

Field names are the protocol's own camelCase names (``limitPrice``, ``filledQty``,
``avgPrice`` ...) and enum values are the protocol's integers, so a record converts to the
JSON a TradingView front end expects with :meth:`to_dict` / :meth:`to_json`, and the
protocol documentation reads the same as this package.

A record's repr shows enums by name (``status=WORKING``), money rounded to the cent and
prices to 6 decimals (the fields keep full precision), and each millisecond time with the
UTC time it stands for: ``time=1704205800000 (2024-01-02 14:30:00 UTC)``.

Records are plain slotted dataclasses.  Every record the broker hands out, to a subscriber
or from a snapshot method, is a fresh object that the broker never changes afterwards:
keep it, change it, it is yours.  Times are Unix milliseconds.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

from .enums import DONE_STATUSES, ConnectionStatus, OrderStatus, OrderType, ParentType, Side, StopType

__all__ = [
    "DEFAULT_ACCOUNT",
    "DONE_STATUSES",
    "MAX_SIZE",
    "Brackets",
    "BrokerConnectionStatus",
    "ConnectionStatus",
    "CurrentQuotes",
    "EquityData",
    "Execution",
    "OrderDuration",
    "OrderMessage",
    "OrderStatus",
    "OrderType",
    "ParentType",
    "PlaceOrderResult",
    "PlacedOrder",
    "Position",
    "PreOrder",
    "Quote",
    "Side",
    "StopType",
]

DEFAULT_ACCOUNT = "DEMO-ACCOUNT"

#: The largest quantity or price accepted: beyond it, notional values and P&L sums would
#: lose all precision or overflow to infinity.
MAX_SIZE = 1e12


R = TypeVar("R", bound="_Record")


def _json_value(value: object) -> object:
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, _Record):
        return value.to_dict()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _record(cls: type[R]) -> type[R]:
    """Finish a record class: note its field names and give it a fast ``copy``.

    ``copy`` is generated as one positional constructor call, the cheapest way to copy a
    slotted dataclass (about 4x faster than ``attrgetter`` plus unpacking).
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    cls._names = names
    args = ", ".join(f"self.{name}" for name in names)
    namespace: dict[str, Any] = {}
    exec(f"def copy(self):\n    return cls({args})\n", {"cls": cls}, namespace)
    namespace["copy"].__doc__ = "A new record with the same field values."
    cls.copy = namespace["copy"]  # type: ignore[method-assign]
    return cls


#: Fields a repr shows rounded (the values themselves keep full precision): amounts of
#: money to the cent, prices to 6 decimals (finer than any tick, coarser than float noise).
_MONEY_FIELDS = frozenset(
    ("equity", "balance", "unrealizedPL", "realizedPL", "commission", "marginUsed", "buyingPower")
)
_PRICE_FIELDS = frozenset(
    (
        "limitPrice", "stopPrice", "takeProfit", "stopLoss", "guaranteedStop", "seenPrice",
        "avgPrice", "price", "last", "bid", "ask", "open", "high", "low",
    )
)  # fmt: skip
#: Unix-millisecond fields, shown with the UTC time they stand for beside them.
_TIME_FIELDS = frozenset(("time", "updateTime", "timestamp"))


def _shown(name: str, value: object) -> str:
    """How a record's repr shows field ``name``: enums by name, money to the cent, prices
    without float noise, times in milliseconds with the UTC time beside them."""
    if isinstance(value, IntEnum):
        return value.name
    if type(value) is float and math.isfinite(value):
        if name in _MONEY_FIELDS:
            return repr(round(value, 2) + 0.0)  # + 0.0: -0.004 shows as 0.0, not -0.0
        if name in _PRICE_FIELDS:
            return repr(round(value, 6) + 0.0)
    if name in _TIME_FIELDS and type(value) is int and 0 < value < _MAX_MS:
        when = _dt.datetime.fromtimestamp(value / 1000, _dt.timezone.utc)
        text = when.strftime("%Y-%m-%d %H:%M:%S")
        if value % 1000:
            text += f".{value % 1000:03d}"
        return f"{value} ({text} UTC)"
    return repr(value)


_MAX_MS = 253_402_300_800_000  # 10000-01-01: later times have no calendar date to show

_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class _Record:
    """Shared behaviour: JSON conversion, a short repr and a fast copy."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as TradingView JSON: camelCase keys, int enums, None left out."""
        out: dict[str, Any] = {}
        for name in self._names:
            value = getattr(self, name)
            if value is not None:
                out[name] = _json_value(value)
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as a compact JSON string.

        ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (still the
        same JSON), so the text is safe inside an HTML ``<script>`` element whatever a
        symbol or message contains.
        """
        return json.dumps(self.to_dict(), separators=(",", ":")).translate(_HTML_SAFE)

    def copy(self: R) -> R:
        """A new record with the same field values."""
        raise TypeError(f"{type(self).__name__} is not a finished record class")

    def __repr__(self) -> str:
        parts = [
            f"{name}={_shown(name, value)}"
            for name in self._names
            if (value := getattr(self, name)) is not None
        ]
        return f"{type(self).__name__}({', '.join(parts)})"


@_record
@dataclass(slots=True, repr=False)
class CurrentQuotes(_Record):
    """Best ask and bid a front end saw when it built an order."""

    ask: float
    bid: float


@_record
@dataclass(slots=True, repr=False)
class Brackets(_Record):
    """Protective orders attached to an order or a position."""

    stopLoss: float | None = None  # noqa: N815 - TradingView field name
    guaranteedStop: float | None = None  # noqa: N815
    takeProfit: float | None = None  # noqa: N815
    trailingStopPips: float | None = None  # noqa: N815


@_record
@dataclass(slots=True, repr=False)
class OrderMessage(_Record):
    """A note shown with an order, e.g. why it was rejected."""

    type: str  # "information" | "warning" | "error"
    text: str


@_record
@dataclass(slots=True, repr=False)
class OrderDuration(_Record):
    """Time in force, as TradingView sends it: ``OrderDuration("DAY")``.

    ``type`` is one of ``"DAY"`` (expires at the session end of the broker's clock),
    ``"GTC"`` (good till cancelled, the default), ``"IOC"`` (immediate or cancel: what
    cannot fill at the first chance is cancelled) and ``"FOK"`` (fill or kill: all of it
    at the first chance, or nothing).  ``datetime`` is part of the protocol and unused.
    """

    type: str
    datetime: int | None = None


@_record
@dataclass(slots=True, repr=False)
class PreOrder(_Record):
    """An order as a front end or a script asks for it.

    ``type`` and ``side`` accept the enum, its integer value or its name
    (``"market"``, ``"buy"``).
    """

    symbol: str
    type: OrderType
    side: Side
    qty: float
    limitPrice: float | None = None  # noqa: N815
    stopPrice: float | None = None  # noqa: N815
    takeProfit: float | None = None  # noqa: N815
    stopLoss: float | None = None  # noqa: N815
    guaranteedStop: float | None = None  # noqa: N815
    trailingStopPips: float | None = None  # noqa: N815
    stopType: StopType | None = None  # noqa: N815
    seenPrice: float | None = None  # noqa: N815
    currentQuotes: CurrentQuotes | None = None  # noqa: N815
    isClose: bool | None = None  # noqa: N815
    duration: OrderDuration | str | None = None


@_record
@dataclass(slots=True, repr=False)
class PlacedOrder(_Record):
    """An order the broker holds, in any state."""

    id: str
    symbol: str
    type: OrderType
    side: Side
    qty: float
    status: OrderStatus
    limitPrice: float | None = None  # noqa: N815
    stopPrice: float | None = None  # noqa: N815
    takeProfit: float | None = None  # noqa: N815
    stopLoss: float | None = None  # noqa: N815
    guaranteedStop: float | None = None  # noqa: N815
    trailingStopPips: float | None = None  # noqa: N815
    stopType: StopType | None = None  # noqa: N815
    filledQty: float = 0.0  # noqa: N815
    avgPrice: float | None = None  # noqa: N815
    updateTime: int | None = None  # noqa: N815
    parentId: str | None = None  # noqa: N815
    parentType: ParentType | None = None  # noqa: N815
    message: OrderMessage | None = None
    duration: OrderDuration | None = None

    @property
    def remaining(self) -> float:
        """Quantity still to fill."""
        return self.qty - self.filledQty


@_record
@dataclass(slots=True, repr=False)
class PlaceOrderResult(_Record):
    """What ``place_order`` returns: the new order's id."""

    orderId: str  # noqa: N815


@_record
@dataclass(slots=True, repr=False)
class Position(_Record):
    """A netted position of one account in one symbol.

    ``qty`` is never negative; ``side`` says long (BUY) or short (SELL).  A closed position
    is broadcast once with ``qty=0`` and then forgotten.  ``last`` is the mark price used
    for ``unrealizedPL``; ``realizedPL`` is what this position has realized since it opened.
    """

    id: str
    symbol: str
    qty: float
    side: Side
    avgPrice: float  # noqa: N815
    unrealizedPL: float = 0.0  # noqa: N815
    realizedPL: float = 0.0  # noqa: N815
    last: float | None = None


@_record
@dataclass(slots=True, repr=False)
class Execution(_Record):
    """One fill: ``qty`` of an order traded at ``price``."""

    symbol: str
    price: float
    qty: float
    side: Side
    time: int
    commission: float = 0.0
    id: str = ""
    orderId: str = ""  # noqa: N815


@_record
@dataclass(slots=True, repr=False)
class EquityData(_Record):
    """An account's money: ``balance`` = initial + realized - commission;
    ``equity`` = balance + unrealized.

    With risk rules (the default :data:`~paperbroker.DEFAULT_RISK`, or
    ``BrokerService(risk=RiskRules(...))``) ``marginUsed`` is the equity tied up by open
    positions and ``buyingPower`` the notional new orders may still use; with
    ``risk=None`` both are ``None`` (left out of the JSON: no limit).
    """

    equity: float
    balance: float
    unrealizedPL: float  # noqa: N815
    realizedPL: float  # noqa: N815
    commission: float = 0.0
    marginUsed: float | None = None  # noqa: N815
    buyingPower: float | None = None  # noqa: N815


@_record
@dataclass(slots=True, repr=False)
class Quote(_Record):
    """A symbol's market at ``time``: best bid and ask with their sizes, and the last price.

    ``bidSize``/``askSize`` are ``None`` when the market has unlimited size.  A bar replay
    also fills ``open``, ``high``, ``low`` and ``volume`` (``last`` is the close).
    """

    symbol: str
    bid: float
    ask: float
    bidSize: float | None  # noqa: N815
    askSize: float | None  # noqa: N815
    last: float
    time: int
    open: float | None = None
    high: float | None = None
    low: float | None = None
    volume: float | None = None

    @property
    def mid(self) -> float:
        """Halfway between bid and ask."""
        return (self.bid + self.ask) / 2.0

    @property
    def spread(self) -> float:
        """Ask minus bid."""
        return self.ask - self.bid


@_record
@dataclass(slots=True, repr=False)
class BrokerConnectionStatus(_Record):
    """The ``broker-connection`` topic's payload: the status, a message, and when."""

    status: ConnectionStatus
    message: str | None = None
    disconnectType: int | None = None  # noqa: N815
    timestamp: int = 0
