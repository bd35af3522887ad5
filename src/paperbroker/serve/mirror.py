"""The client's copy of its account, kept current by the server's snapshots and events.

The client subscribes to its own account's ``orders``, ``positions``, ``pl`` (the marks of
its positions), ``executions`` and ``equity`` topics.  A ``subscribed`` reply carries the
server's snapshot; :meth:`Mirror.load` merges it and returns the records that differ from
what the mirror held, which the client hands to its local subscribers, so a widget bound to
a client that has just reconnected is whole again.  Each later event is applied with :meth:`Mirror.apply`.

Executions and equity changes are also kept as the broker keeps them, in columnar logs
(:mod:`paperbroker.core.history`), so the DataFrame exports and the equity chart read a
client as they read a local broker (:meth:`Mirror.history`).  An equity row is stamped
with the server's time as the client knows it (:class:`RemoteClock`).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..core.history import Codes, EquityLog, ExecutionLog, History
from ..models import EquityData, Execution, PlacedOrder, Position, Quote

__all__ = ["MIRRORED", "Mirror", "RemoteClock"]

#: The topic types the mirror keeps (per account), besides ``quotes`` (per symbol).
MIRRORED = ("orders", "positions", "pl", "executions", "equity")


class RemoteClock:
    """The server's clock as a client knows it: the server's time zone, and its time (this
    computer's clock plus the difference measured when the client last connected)."""

    def __init__(self) -> None:
        self.timezone: dt.tzinfo = dt.timezone.utc
        self._offset = 0

    def now_ms(self) -> int:
        """The server's time now, in Unix milliseconds (as well as the client knows it)."""
        return int(time.time() * 1000) + self._offset

    def update(self, timezone: dt.tzinfo, server_ms: object) -> None:
        """Take the zone and the time the server sent when the client connected."""
        self.timezone = timezone
        if isinstance(server_ms, int) and not isinstance(server_ms, bool):
            self._offset = server_ms - int(time.time() * 1000)


class Mirror:
    """Orders, positions, executions, equity and quotes of one account, as last heard.

    ``now`` stamps the equity rows (the client's :meth:`RemoteClock.now_ms`)."""

    def __init__(self, executions_limit: int = 100_000, now: Callable[[], int] | None = None) -> None:
        self.orders: dict[str, PlacedOrder] = {}
        self.positions: dict[str, Position] = {}
        self.executions: list[Execution] = []
        self._execution_ids: set[str] = set()
        self._executions_limit = executions_limit
        self.equity: EquityData | None = None
        self.quotes: dict[str, Quote] = {}
        self._now = now if now is not None else RemoteClock().now_ms
        self._execution_log = ExecutionLog(executions_limit)
        self._equity_log = EquityLog(executions_limit)
        self._symbols = Codes()
        #: Events applied (the load tests compare this count with the server's).
        self.events = 0

    def apply(self, kind: str, record: Any) -> bool:
        """Apply one event; False for a duplicate execution (already held), True otherwise."""
        self.events += 1
        if kind == "orders":
            self.orders[record.id] = record
        elif kind in ("positions", "pl"):  # pl: a new mark of a position
            if record.qty == 0:
                self.positions.pop(record.id, None)
            else:
                self.positions[record.id] = record
        elif kind == "executions":
            if record.id in self._execution_ids:
                return False
            self._execution_ids.add(record.id)
            self.executions.append(record)
            self._log_execution(record)
            if len(self.executions) > self._executions_limit:
                dropped = self.executions.pop(0)
                self._execution_ids.discard(dropped.id)
        elif kind == "equity":
            self.equity = record
            log = self._equity_log
            row = (self._now(), 0, record.balance, record.equity, record.realizedPL, record.unrealizedPL)
            log.data.frombytes(log.pack(*row, record.commission))
            log.added()
        elif kind == "quotes":
            self.quotes[record.symbol] = record
        return True

    def forget_executions(self) -> None:
        """The account was reset: the executions heard so far are gone from the broker too."""
        self.executions.clear()
        self._execution_ids.clear()
        self._execution_log.clear()

    def _log_execution(self, e: Execution) -> None:
        log = self._execution_log
        row = (e.time, 0, self._symbols.code(e.symbol), int(e.side), e.qty, e.price, e.commission)
        log.data.frombytes(log.pack(*row))
        log.exec_ids.append(e.id)
        log.order_ids.append(e.orderId)
        log.added()

    def history(self, account_id: str) -> History:
        """The executions and equity rows heard, as a broker's columnar history of the
        one account ``account_id`` (read it; never change it)."""
        accounts = Codes()
        accounts.code(account_id)
        return History(self._execution_log, self._equity_log, self._symbols, accounts)

    def load(self, kind: str, records: list[Any]) -> list[Any]:
        """Merge a snapshot; return the records that changed, in the order to announce
        them (a position gone from the snapshot comes back as closed, ``qty=0``)."""
        changed: list[Any] = []
        if kind == "orders":
            for order in records:
                if _differs(self.orders.get(order.id), order):
                    self.orders[order.id] = order
                    changed.append(order)
        elif kind in ("positions", "pl"):
            fresh = {p.id: p for p in records}
            for position_id, gone in list(self.positions.items()):
                if position_id not in fresh:
                    del self.positions[position_id]
                    changed.append(replace(gone, qty=0.0, unrealizedPL=0.0))
            for position in records:
                if _differs(self.positions.get(position.id), position):
                    self.positions[position.id] = position
                    changed.append(position)
        elif kind == "executions":
            for execution in records:
                if self.apply(kind, execution):
                    self.events -= 1  # a snapshot row, not an event
                    changed.append(execution)
        elif kind in ("equity", "quotes"):
            for record in records:
                old = self.equity if kind == "equity" else self.quotes.get(record.symbol)
                if _differs(old, record):
                    self.apply(kind, record)
                    self.events -= 1
                    changed.append(record)
        return changed


def _differs(held: Any, fresh: Any) -> bool:
    """True when the mirror holds nothing for ``fresh`` yet, or something else."""
    return held is None or held.to_dict() != fresh.to_dict()
