"""The file format of a saved broker, declared once as typed definitions.

A file is ``{"format": "paperbroker.broker", "version": 1, "sha256": ..., "body": {...}}``;
its body is a :class:`Document`: one section per field, each a JSON object with its own
``version`` and the fields of its state type.  Most state types belong to the component
that saves them and live next to its code (``LedgerState`` in :mod:`paperbroker.core.ledger`,
``MatcherState`` in :mod:`paperbroker.market.resting` ...); this module adds the sections
that tie them together (settings, history, market, session) and the choices of model,
clock and price source.  :data:`SECTIONS` says which versions of each section this
paperbroker reads and which sections every file has.  :mod:`~paperbroker.persistence.decode`
reads a body into a :class:`Document` against these types.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple

from ..clock import SimClockState, WallClockState
from ..core.brackets import BracketsState
from ..core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit
from ..core.history import LogState
from ..core.ledger import LedgerState
from ..core.orders import OrderBookState
from ..core.risk import RiskState
from ..core.settings import Mark
from ..market.manual import ManualQuotesState
from ..market.random_walk import RandomWalkState
from ..market.replay_sources import BarReplayState, QuoteReplayState
from ..market.resting import MatcherState
from ..market.slippage import FixedSlippage, NoSlippage, PercentSlippage
from ..market.source import QuotesState
from ..models import OrderDuration, PlacedOrder
from ..statetypes import OMIT_DEFAULT, OMIT_NONE, Check, Count, NonNegative, Positive, Tagged

__all__ = [
    "REFINE",
    "SECTIONS",
    "Clock",
    "Commission",
    "Custom",
    "CustomSource",
    "Document",
    "History",
    "Market",
    "RandomState",
    "Section",
    "Session",
    "Settings",
    "Slippage",
    "Source",
]


@dataclass(frozen=True, slots=True)
class Custom:
    """A commission model, clock or slippage model of the user's own: the file notes it
    (its ``repr``), and ``load()`` asks for it again."""

    repr: str


@dataclass(frozen=True, slots=True, eq=False)
class CustomSource:
    """A price source of the user's own: noted, with its current quotes, which ``load()``
    gives the source it is passed."""

    repr: str
    quotes: QuotesState


def _by_name(*classes: type[Any], **others: type[Any]) -> Tagged:
    """A choice of ``classes`` saved under their names (and of ``others`` under theirs)."""
    return Tagged("type", {**{cls.__name__: cls for cls in classes}, **others})


# The built-in models are frozen dataclasses of plain numbers: each is its own state.
Commission = Annotated[
    NoCommission | FixedPerOrder | PerUnit | PercentOfNotional | Custom,
    _by_name(NoCommission, FixedPerOrder, PerUnit, PercentOfNotional, custom=Custom),
]
Clock = Annotated[
    SimClockState | WallClockState | Custom,
    Tagged("type", {"sim": SimClockState, "wall": WallClockState, "custom": Custom}),
]
Slippage = Annotated[
    NoSlippage | FixedSlippage | PercentSlippage | Custom,
    _by_name(NoSlippage, FixedSlippage, PercentSlippage, custom=Custom),
]
Source = Annotated[
    RandomWalkState | ManualQuotesState | BarReplayState | QuoteReplayState | CustomSource,
    Tagged(
        "type",
        {
            "RandomWalk": RandomWalkState,
            "ManualQuotes": ManualQuotesState,
            "BarReplay": BarReplayState,
            "QuoteReplay": QuoteReplayState,
            "custom": CustomSource,
        },
    ),
]

Limit = Annotated[int, Check(lambda v: v >= 1, "a whole number >= 1")]


@dataclass(frozen=True, slots=True)
class Settings:
    """The broker's settings and counters: ``order_seq`` and ``exec_seq`` are the numbers
    of the last order and execution made, ``session_end`` the next session end (ms)."""

    execution_delay: NonNegative | Literal["random"] | None
    initial_balance: NonNegative
    history_limit: Limit | None
    commission: Commission
    clock: Clock
    order_seq: Count
    exec_seq: Count
    session_end: Count
    #: how positions are marked (BrokerService's ``mark=``); files without it mark at last
    mark: Annotated[Mark, OMIT_DEFAULT] = "last"


@dataclass(frozen=True, slots=True)
class RandomState:
    """The random generator: numpy's ``bit_generator.state`` (checked by numpy itself)."""

    state: dict[str, Any]


@dataclass(frozen=True, slots=True, eq=False)
class History:
    """The execution and equity logs, with the symbol and account names their codes index."""

    symbols: tuple[str, ...]
    accounts: tuple[str, ...]
    executions: LogState
    equity: LogState


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """Market mode: the source's symbols (in index order), the source, the slippage
    model, the matcher, the ticks taken, and for each account the (time, row) of its last
    equity row, which a tick at the same time overwrites."""

    symbols: tuple[str, ...]
    source: Source
    slippage: Slippage
    matcher: MatcherState
    ticks: Count
    last_equity: tuple[tuple[str, Count, Count], ...]


@dataclass(frozen=True, slots=True)
class Session:
    """Time in force: the working day orders, in the order they expire."""

    day_orders: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Document:
    """A saved broker's body: one field per section (``None``: the broker does not use it)."""

    settings: Settings
    random: RandomState
    ledger: LedgerState
    orders: OrderBookState
    history: History
    market: Market | None = None
    risk: RiskState | None = None
    brackets: BracketsState | None = None
    session: Session | None = None


class Section(NamedTuple):
    """How a section is read and written."""

    versions: tuple[int, ...]  # the versions of the section this paperbroker reads
    required: bool  # optional sections are absent from files of brokers not using them
    version: Callable[[Any], int] = lambda state: 1  # the version a state is written as


def _orders_version(state: OrderBookState) -> int:
    # version 2: orders have a time in force; a file without any still reads as version 1
    return 2 if any(order.duration is not None for _, order in state.orders) else 1


SECTIONS: dict[str, Section] = {
    "settings": Section((1,), True),
    "random": Section((1,), True),
    "ledger": Section((1,), True),
    "orders": Section((1, 2), True, _orders_version),
    "history": Section((1,), True),
    "market": Section((1,), False),
    "risk": Section((1,), False),
    "brackets": Section((1,), False),
    "session": Section((1,), False),
}

_Price = Positive | None
#: Stricter types for the fields of the records (defined in :mod:`paperbroker.models`).
REFINE: dict[type[Any], dict[str, Any]] = {
    PlacedOrder: {
        "qty": Positive,
        "filledQty": NonNegative,
        "limitPrice": _Price,
        "stopPrice": _Price,
        "takeProfit": _Price,
        "stopLoss": _Price,
        "guaranteedStop": _Price,
        "trailingStopPips": _Price,
        "avgPrice": _Price,
        "updateTime": Count | None,
    },
    # written as the record's to_dict() writes it: no "datetime" (it is always None)
    OrderDuration: {"type": Literal["DAY", "GTC", "IOC", "FOK"], "datetime": Annotated[None, OMIT_NONE]},
}
