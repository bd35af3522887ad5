"""Read-only views of the books: orders, positions, executions and equity as records.

Every record returned is a fresh copy, so the caller may keep it.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidOrder, UnknownPosition
from ..models import EquityData, Execution, OrderStatus, PlacedOrder, Position, Side
from ..records import read_only
from .engine import OrderEngine
from .ledger import PositionState

__all__ = ["BookViews"]


class BookViews:
    """Snapshots of an engine's books, account by account."""

    __slots__ = ("_engine",)

    def __init__(self, engine: OrderEngine) -> None:
        self._engine = engine

    def orders(self, account_id: str, status: Any = None) -> list[PlacedOrder]:
        """The account's orders (working and the newest finished), oldest first."""
        self._engine.ledger.account(account_id)
        try:
            wanted = None if status is None else OrderStatus.coerce(status, "order status")
        except ValueError as exc:
            raise InvalidOrder(str(exc)) from None
        return [
            o.snapshot()
            for o in self._engine.book.of_account(account_id)
            if wanted is None or o.status is wanted
        ]

    def order(self, order_id: str) -> PlacedOrder:
        """One order by id."""
        return self._engine.book.get(order_id).snapshot()

    def positions(self, account_id: str) -> list[Position]:
        """The account's open positions."""
        return [p.snapshot() for p in self._engine.ledger.account(account_id).positions.values()]

    def position_state(self, position_id: object, account_id: str) -> PositionState:
        """The ledger's own state of an open position, or UnknownPosition."""
        account = self._engine.ledger.account(account_id)
        pos = account.positions.get(position_id) if isinstance(position_id, str) else None
        if pos is None:
            open_ids = ", ".join(account.positions) or "none"
            msg = f"Account {account_id} has no open position {position_id!r} (open: {open_ids})."
            raise UnknownPosition(msg)
        return pos

    def executions(self, symbol: str | None, account_id: str) -> list[Execution]:
        """The account's kept executions, oldest first, optionally of one symbol."""
        engine = self._engine
        engine.ledger.account(account_id)
        if symbol is not None and not isinstance(symbol, str):
            msg = f"symbol must be a string such as 'AAPL' or None for all, got {symbol!r}."
            raise InvalidOrder(msg)
        log = engine.executions
        account_code = engine.account_codes.find(account_id)
        symbol_code = None if symbol is None else engine.symbols.find(symbol)
        if account_code is None or (symbol is not None and symbol_code is None):
            return []
        names = engine.symbols.names
        rows = log.table().tolist()
        return [
            read_only(
                Execution(
                    names[int(row[2])],
                    row[5],
                    row[4],
                    Side(int(row[3])),
                    int(row[0]),
                    row[6],
                    log.exec_ids[i],
                    log.order_ids[i],
                )
            )
            for i, row in enumerate(rows)
            if row[1] == account_code and (symbol_code is None or row[2] == symbol_code)
        ]

    def equity(self, account_id: str) -> EquityData:
        """The account's balance, equity and P&L now (with margin figures under risk rules)."""
        engine = self._engine
        account = engine.ledger.account(account_id)
        data = account.equity()
        if engine.risk is not None:
            data.marginUsed, data.buyingPower = engine.risk.margin(account, data.equity)
        return read_only(data)
