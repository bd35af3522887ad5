"""Enums and records in the TradingView Broker API vocabulary.

Field names are the protocol's own camelCase names (``limitPrice``, ``filledQty``,
``avgPrice`` ...) and enum values are the protocol's integers, so a record converts to the
JSON a TradingView front end expects with :meth:`to_dict` / :meth:`to_json`, and the
protocol documentation reads the same as this package.

Records are plain slotted dataclasses.  Every record the broker hands out, to a subscriber
or from a snapshot method, is a fresh object that the broker never changes afterwards:
keep it, change it, it is yours.  Times are Unix milliseconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

__all__ = [
    "DEFAULT_ACCOUNT",
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


class _LabelledEnum(IntEnum):
    """An int enum whose members also have a readable label ("Stop Limit")."""

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").title()

    @classmethod
    def coerce(cls, value: object, what: str) -> Any:
        """Return the member for an enum, its int value or its name (any case).

        Raises ``ValueError`` with a sentence naming the accepted values otherwise.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace(" ", "_").replace("-", "_")
            if key in cls.__members__:
                return cls.__members__[key]
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        accepted = ", ".join(f"{m.name} ({m.value})" for m in cls)
        msg = f"{value!r} is not a valid {what}; use one of {accepted}."
        raise ValueError(msg)


class OrderStatus(_LabelledEnum):
    """An order's state (TradingView values: Canceled=1 ... Working=6)."""

    CANCELED = 1
    FILLED = 2
    INACTIVE = 3
    PLACING = 4
    REJECTED = 5
    WORKING = 6

    @property
    def is_done(self) -> bool:
        """True for the final states: Canceled, Filled and Rejected."""
        return self in DONE_STATUSES


# Hot paths compare against these module constants: on Python 3.11 every
# ``OrderStatus.X`` attribute lookup costs as much as building a small object.
DONE_STATUSES = (OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.REJECTED)


class OrderType(_LabelledEnum):
    """Limit=1, Market=2, Stop=3, StopLimit=4 (TradingView values)."""

    LIMIT = 1
    MARKET = 2
    STOP = 3
    STOP_LIMIT = 4


class Side(_LabelledEnum):
    """Buy=1, Sell=-1: the sign of a quantity on that side."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class ParentType(_LabelledEnum):
    """What a bracket order protects: an Order (1) or a Position (2)."""

    ORDER = 1
    POSITION = 2


class StopType(_LabelledEnum):
    """A stop-loss (0), a trailing stop (1) or a guaranteed stop (2)."""

    STOP_LOSS = 0
    TRAILING_STOP = 1
    GUARANTEED_STOP = 2


class ConnectionStatus(_LabelledEnum):
    """Connected=1, Connecting=2, Disconnected=3, Error=4 (TradingView values)."""

    CONNECTED = 1
    CONNECTING = 2
    DISCONNECTED = 3
    ERROR = 4


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
        parts = []
        for name in self._names:
            value = getattr(self, name)
            if value is None:
                continue
            shown = value.name if isinstance(value, IntEnum) else repr(value)
            parts.append(f"{name}={shown}")
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

    With risk rules (``BrokerService(risk=RiskRules(...))``) ``marginUsed`` is the equity
    tied up by open positions and ``buyingPower`` the notional new orders may still use;
    without risk rules both are ``None`` (left out of the JSON: no limit).
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
