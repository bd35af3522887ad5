"""The interfaces between the core and the parts around it.

The engine drives the market through :class:`MarketPort`; the market's venue implements
it (see :mod:`paperbroker.market.venue`), and the engine never learns more about it.
A load hands the engine its rebuilt :class:`Books`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from ..models import PlacedOrder
from .history import Codes, EquityLog, ExecutionLog
from .ledger import Ledger
from .orders import OrderBook
from .risk import RiskBook

__all__ = ["Books", "MarketPort"]


class MarketPort(Protocol):
    """What the engine needs from the market in market mode (the venue provides it)."""

    def check_symbol(self, symbol: str, buy: bool | None = None) -> float | None:
        """Raise InvalidOrder for a symbol the market will never quote; with ``buy``,
        return :meth:`price` too."""

    def price(self, symbol: str, buy: bool) -> float | None:
        """What a market order would pay now: the ask to buy, the bid to sell."""

    def tick_size(self, symbol: str) -> float:
        """The symbol's price grid."""

    def add(self, order: PlacedOrder, trail_distance: float | None, immediate: bool) -> bool:
        """Index a working order (and match it at once when ``immediate``)."""

    def reindex(self, order: PlacedOrder, trail_distance: float | None) -> None:
        """A working order's prices changed: file it again."""

    def remove(self, order_id: str) -> None:
        """The order stopped working: forget it."""

    def rearmed(self, order: PlacedOrder) -> None:
        """A triggered stop got a new stop price or type."""


class Books(NamedTuple):
    """The books an engine keeps, as a load rebuilds them (see :meth:`OrderEngine.restore`)."""

    ledger: Ledger
    book: OrderBook
    executions: ExecutionLog
    equity_log: EquityLog
    symbols: Codes
    account_codes: Codes
    risk: RiskBook | None
