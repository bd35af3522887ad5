"""The order book: orders by id, the working ones in an indexed set (O(1) add, remove and
random pick), the oldest finished ones forgotten beyond a bound."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import PersistenceError, UnknownOrder
from ..models import DONE_STATUSES, OrderStatus, PlacedOrder

__all__ = ["ORDER_ID", "OrderBook", "OrderBookState"]

_WORKING = OrderStatus.WORKING

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

    __slots__ = ("_done", "_done_limit", "_pos", "_working", "account_ids", "orders")

    def __init__(self, keep_done: int | None) -> None:
        self.orders: dict[str, PlacedOrder] = {}
        #: order id -> its account (read, never changed, by the engine's fills)
        self.account_ids: dict[str, str] = {}
        self._working: list[str] = []
        self._pos: dict[str, int] = {}
        self._done: deque[str] = deque()
        self._done_limit = keep_done

    def state(self) -> OrderBookState:
        """The book as plain data (copies of the orders; see :class:`OrderBookState`)."""
        account = self.account_ids
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
            book.account_ids[order.id] = account_id
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
        """Add ``order`` of ``account_id`` (indexed if Working, bounded if finished)."""
        order_id = order.id
        self.orders[order_id] = order
        self.account_ids[order_id] = account_id
        if order.status is _WORKING:
            self._pos[order_id] = len(self._working)
            self._working.append(order_id)
        elif order.status in DONE_STATUSES:
            self._finished(order_id)

    def get(self, order_id: object) -> PlacedOrder:
        """The order ``order_id`` (an id, or an order record, whose ``id`` is used), or
        UnknownOrder explaining which are kept."""
        if isinstance(order_id, PlacedOrder):
            order_id = order_id.id
        order = self.orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            msg = f"There is no order {order_id!r}."
            if not isinstance(order_id, str):
                msg += " Pass an order's id (order.id, such as 'ORDER-1') or the order itself."
            if isinstance(order_id, str) and self._done_limit is not None:
                msg += (
                    f" Only the newest {self._done_limit} finished orders are kept; "
                    "see broker.orders() for the ids there are."
                )
            raise UnknownOrder(msg)
        return order

    def account_of(self, order_id: str) -> str:
        """The account of order ``order_id``."""
        return self.account_ids[order_id]

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
        done = self._done  # _finished(), inline
        done.append(order_id)
        if self._done_limit is not None and len(done) > self._done_limit:
            old = done.popleft()
            del self.orders[old]
            del self.account_ids[old]

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
            del self.account_ids[old]

    def working_count(self) -> int:
        """How many orders are Working."""
        return len(self._working)

    def working_at(self, index: int) -> PlacedOrder:
        """The working order at ``index`` of the index (for a random pick)."""
        return self.orders[self._working[index]]

    def working(self) -> list[PlacedOrder]:
        """Working orders in the order they were placed."""
        return sorted((self.orders[i] for i in self._working), key=_placement)

    def of_account(self, account_id: str) -> Iterator[PlacedOrder]:
        """The account's kept orders, oldest first."""
        account = self.account_ids
        return (o for i, o in self.orders.items() if account[i] == account_id)


def _placement(order: PlacedOrder) -> int:
    return int(order.id.rpartition("-")[2])
