"""The three live tables: orders (with Cancel), positions (live P&L, Close and Reverse)
and executions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.ledger import QTY_EPSILON
from ..host import BrokerHost
from ..models import OrderStatus, Position
from ._base import then
from ._lines import bracket_of
from .table import Action, Column, LiveTable

__all__ = ["ExecutionsTable", "OrdersTable", "PositionsTable"]

_CANCELLABLE = (OrderStatus.WORKING.value, OrderStatus.INACTIVE.value, OrderStatus.PLACING.value)


class OrdersTable(LiveTable):
    """Every order of the account and its state, newest first; working orders have Cancel.

    Parameters
    ----------
    broker, account_id
        What to show.
    height
        Pixels of the scrolling area.
    max_rows
        Rows kept (the newest); the broker's own history is not affected.
    interval
        Seconds between updates sent to the browser (at most 20 per second).
    """

    TITLE = "Orders"
    TOPICS = ("orders",)
    SORT = ("updateTime", -1)
    COLUMNS = (
        Column("updateTime", "Time", "time", gives_way=3),
        Column("symbol", "Symbol", "symbol"),
        Column("side", "Side", "side"),
        Column("type", "Type", "type"),
        Column("qty", "Qty", "qty"),
        Column("filledQty", "Filled", "qty", gives_way=2),
        Column("limitPrice", "Limit", "price"),
        Column("stopPrice", "Stop", "price"),
        Column("avgPrice", "Avg fill", "avg", gives_way=1),
        Column("status", "Status", "status"),
        Column("id", "Order", "id"),
        Column("message", "Note", "note"),
    )

    def _make_actions(self, broker: BrokerHost, account_id: str) -> Sequence[Action]:
        def cancel(order_id: str) -> Any:
            return then(broker.cancel(order_id), lambda _order: f"Cancelled {order_id}.")

        return (Action("cancel", "Cancel", cancel, "status", _CANCELLABLE),)

    def _initial(self) -> Sequence[Any]:
        return self.broker.orders(self.account_id)

    def _row(self, record: Any) -> list[Any]:
        row = super()._row(record)
        message = record.message
        note = None if message is None else message.text
        bracket = bracket_of(record)
        if bracket is not None:  # say whose it is: "Take profit of ORDER-3"
            note = bracket + (f"; {note}" if note else "")
        row[-1] = note
        return row


class PositionsTable(LiveTable):
    """Open positions with their mark and live P&L; each has Close and Reverse.

    Follows the ``positions`` topic (fills) and the ``pl`` topic (new marks).  Parameters
    as :class:`OrdersTable`.
    """

    TITLE = "Positions"
    TOPICS = ("positions", "pl")
    SORT = ("symbol", 1)
    COLUMNS = (
        Column("symbol", "Symbol", "symbol"),
        Column("side", "Side", "direction"),
        Column("qty", "Qty", "qty"),
        Column("avgPrice", "Avg price", "avg"),
        Column("last", "Last", "price"),
        Column("unrealizedPL", "Unrealized P&L", "pl"),
        Column("realizedPL", "Realized P&L", "pl", gives_way=1),
    )

    def _make_actions(self, broker: BrokerHost, account_id: str) -> Sequence[Action]:
        def close(position_id: str) -> Any:
            order = broker.flatten(position_id, account_id=account_id)
            return then(order, lambda placed: f"Closing {position_id} with {placed.id}.")

        def reverse(position_id: str) -> Any:
            order = broker.reverse(position_id, account_id=account_id)
            return then(order, lambda placed: f"Reversing {position_id} with {placed.id}.")

        return (Action("close", "Close", close), Action("reverse", "Reverse", reverse))

    def _initial(self) -> Sequence[Any]:
        return self.broker.positions(self.account_id)

    def _keep(self, record: Position) -> bool:
        return abs(record.qty) > QTY_EPSILON


class ExecutionsTable(LiveTable):
    """Fills, newest first.  Parameters as :class:`OrdersTable`."""

    TITLE = "Executions"
    TOPICS = ("executions",)
    SORT = ("time", -1)
    COLUMNS = (
        Column("time", "Time", "time"),
        Column("symbol", "Symbol", "symbol"),
        Column("side", "Side", "side"),
        Column("qty", "Qty", "qty"),
        Column("price", "Price", "price"),
        Column("commission", "Commission", "money", gives_way=1),
        Column("orderId", "Order", "id"),
    )

    def _initial(self) -> Sequence[Any]:
        kept = self.broker.executions(account_id=self.account_id)
        return kept[-self._max_rows :]
