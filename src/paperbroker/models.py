"""Enums and records in the TradingView Broker API vocabulary.

Field names are the protocol's own camelCase names (``limitPrice``, ``filledQty``,
``avgPrice`` ...) and enum values are the protocol's integers, so a record converts to the
JSON a TradingView front end expects with :meth:`to_dict` / :meth:`to_json`, and the
protocol documentation reads the same as this package.

A record's repr shows enums by name (``status=WORKING``), money rounded to the cent and
prices to 6 decimals (the fields keep full precision), and each millisecond time with the
UTC time it stands for: ``time=1704205800000 (2024-01-02 14:30:00 UTC)``.

Records are slotted dataclasses.  Every record the broker hands out, to subscribers or
from ``buy``, ``submit``, ``order``, ``orders``, ``positions``, ``executions``, ``equity``
or ``quote``, is **read-only**: changing a field raises
:class:`dataclasses.FrozenInstanceError`, which says how to make a changed copy
(``dataclasses.replace(order, qty=5)``, read-only again, or ``order.copy()``, a mutable
one).  The broker never changes a record it handed out, and hands the same object to every
subscriber of an event.  Records you build yourself (a ``PreOrder``) are yours to change.
Times are Unix milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from .enums import DONE_STATUSES, ConnectionStatus, OrderStatus, OrderType, ParentType, Side, StopType
from .records import Record, finish_record

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


@finish_record
@dataclass(slots=True, frozen=True, repr=False)
class CurrentQuotes(Record):
    """Best ask and bid a front end saw when it built an order."""

    ask: float
    bid: float


@finish_record
@dataclass(slots=True, frozen=True, repr=False)
class Brackets(Record):
    """Protective orders attached to an order or a position."""

    stopLoss: float | None = None  # noqa: N815 - TradingView field name
    guaranteedStop: float | None = None  # noqa: N815
    takeProfit: float | None = None  # noqa: N815
    trailingStopPips: float | None = None  # noqa: N815


@finish_record
@dataclass(slots=True, frozen=True, repr=False)
class OrderMessage(Record):
    """A note shown with an order, e.g. why it was rejected."""

    type: str  # "information" | "warning" | "error"
    text: str


@finish_record
@dataclass(slots=True, frozen=True, repr=False)
class OrderDuration(Record):
    """Time in force, as TradingView sends it: ``OrderDuration("DAY")``.

    ``type`` is one of ``"DAY"`` (expires at the session end of the broker's clock),
    ``"GTC"`` (good till cancelled, the default), ``"IOC"`` (immediate or cancel: what
    cannot fill at the first chance is cancelled) and ``"FOK"`` (fill or kill: all of it
    at the first chance, or nothing).  ``datetime`` is part of the protocol and unused.
    """

    type: str
    datetime: int | None = None


@finish_record
@dataclass(slots=True, repr=False)
class PreOrder(Record):
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


@finish_record
@dataclass(slots=True, repr=False)
class PlacedOrder(Record):
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


@finish_record
@dataclass(slots=True, repr=False)
class PlaceOrderResult(Record):
    """What ``place_order`` returns: the new order's id."""

    orderId: str  # noqa: N815


@finish_record
@dataclass(slots=True, repr=False)
class Position(Record):
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


@finish_record
@dataclass(slots=True, repr=False)
class Execution(Record):
    """One fill: ``qty`` of an order traded at ``price``."""

    symbol: str
    price: float
    qty: float
    side: Side
    time: int
    commission: float = 0.0
    id: str = ""
    orderId: str = ""  # noqa: N815


@finish_record
@dataclass(slots=True, repr=False)
class EquityData(Record):
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


@finish_record
@dataclass(slots=True, repr=False)
class Quote(Record):
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


@finish_record
@dataclass(slots=True, repr=False)
class BrokerConnectionStatus(Record):
    """The ``broker-connection`` topic's payload: the status, a message, and when."""

    status: ConnectionStatus
    message: str | None = None
    disconnectType: int | None = None  # noqa: N815
    timestamp: int = 0
