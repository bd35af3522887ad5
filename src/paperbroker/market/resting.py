"""The matcher's index of resting orders, kept per symbol (plain synchronous code).

:class:`RestingOrders` files each working order by the price that triggers it, in four heaps
per symbol (buy limits by highest limit, sell limits by lowest limit, buy stops by lowest
stop, sell stops by highest stop), or in a FIFO queue when it is a market order waiting for
size.  It keeps each symbol's four thresholds, the tops of those heaps, in plain lists, with
the symbol's current quote and the size left this tick.  An order that stops working is
dropped lazily from its heap.  :class:`~paperbroker.market.matching.Matcher` builds on it and
holds the rules of when and how much an order fills.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from heapq import heapify, heappop, heappush

import numpy as np

from ..errors import PersistenceError
from ..models import OrderStatus, OrderType, PlacedOrder, Side
from ..statetypes import Count, Floats, NonNegative

__all__ = ["MatcherState", "RestingOrders"]


@dataclass(frozen=True, slots=True, eq=False)
class MatcherState:
    """What the matcher saves: how many symbols it has, each one's quote and the size left
    this tick (packed), the last time priority given, the triggered stops, the resting
    orders in the order they were filed as ``(order id, symbol index, time priority,
    trailing distance, IOC, FOK)``, and the IOC/FOK orders waiting for their first bar.

    The heaps, queues and thresholds are not saved: filing the orders again, in this
    order, rebuilds them.
    """

    symbols: Count
    bid: Floats
    ask: Floats
    avail_buy: Floats
    avail_sell: Floats
    seq: Count
    triggered: tuple[str, ...]
    entries: tuple[tuple[str, Count, Count, NonNegative | None, bool, bool], ...]
    pending: tuple[tuple[Count, tuple[str, ...]], ...]


_INF = math.inf
_BUY = Side.BUY
_LIMIT, _MARKET, _STOP, _STOP_LIMIT = OrderType.LIMIT, OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT

# where an entry rests
_BL, _SL, _BS, _SS, _BM, _SM = range(6)

# each entry's number, in the order filed (a module counter: assigning a class attribute
# per entry would also invalidate the attribute caches of every _Entry lookup)
_uids = itertools.count(1)


class _Entry:
    __slots__ = (
        "alive",
        "fok",
        "heaped",
        "i",
        "ioc",
        "kind",
        "order",
        "seq",
        "stop",
        "trail",
        "uid",
        "where",
    )

    def __init__(self, order: PlacedOrder, i: int, where: int, seq: int, trail: float | None) -> None:
        self.uid = next(_uids)
        self.order = order
        self.i = i
        self.kind = order.type
        self.stop = order.stopPrice  # the stop it was filed with
        self.where = where
        self.seq = seq
        self.trail = trail
        self.alive = True
        self.heaped = False
        duration = order.duration
        if duration is None:
            self.ioc = self.fok = False
        else:
            self.ioc = duration.type == "IOC"
            self.fok = duration.type == "FOK"

    def __lt__(self, other: _Entry) -> bool:
        """Heap ties (same price and time priority: a re-filed order) go to the newer entry."""
        return self.uid > other.uid


_Heap = list[tuple[float, int, _Entry]]


class _Book:
    """One symbol's resting orders."""

    __slots__ = ("bl", "bm", "bs", "dead", "size", "sl", "sm", "ss", "trailing")

    def __init__(self) -> None:
        self.bl: _Heap = []  # (-limit, seq, entry): highest buy limit on top
        self.sl: _Heap = []  # (limit, seq, entry)
        self.bs: _Heap = []  # (stop, seq, entry): lowest buy stop on top
        self.ss: _Heap = []  # (-stop, seq, entry)
        self.bm: deque[_Entry] = deque()  # market orders waiting for size
        self.sm: deque[_Entry] = deque()
        self.trailing: dict[str, _Entry] = {}
        self.dead = 0  # dead entries still in the heaps
        self.size = 0  # live entries


class RestingOrders:
    """Resting orders per symbol index, with each symbol's thresholds, quote and size.

    ``tick_sizes[i]`` is symbol ``i``'s tick; :meth:`grow` adds symbols.  ``bid``/``ask``
    hold each symbol's current quote (``nan`` before its first) and ``avail_buy`` /
    ``avail_sell`` the size left this tick (``inf``: unlimited).
    """

    def __init__(self, tick_sizes: list[float], bars: bool) -> None:
        self.bars = bars
        self.tick_sizes: list[float] = []
        self.books: list[_Book] = []
        self.bl: list[float] = []
        self.sl: list[float] = []
        self.bs: list[float] = []
        self.ss: list[float] = []
        self.bid: list[float] = []
        self.ask: list[float] = []
        self.avail_buy: list[float] = []
        self.avail_sell: list[float] = []
        self.always: set[int] = set()  # symbols with trailing stops: looked at every tick
        self.pending: dict[int, list[_Entry]] = {}  # IOC/FOK waiting for their first bar
        self._entries: dict[str, _Entry] = {}
        self._triggered: set[str] = set()
        self._seq = 0
        self.grow(tick_sizes)

    def grow(self, tick_sizes: list[float]) -> None:
        """Make room for symbols ``len(self.books)`` .. ``len(tick_sizes) - 1``."""
        for tick in tick_sizes[len(self.books) :]:
            self.tick_sizes.append(tick)
            self.books.append(_Book())
            self.bl.append(-_INF)
            self.sl.append(_INF)
            self.bs.append(_INF)
            self.ss.append(-_INF)
            self.bid.append(math.nan)
            self.ask.append(math.nan)
            self.avail_buy.append(_INF)
            self.avail_sell.append(_INF)

    def __len__(self) -> int:
        return len(self._entries)

    def state(self) -> MatcherState:
        """The index as plain data (see :class:`MatcherState`)."""
        entries = sorted(self._entries.values(), key=lambda entry: entry.uid)  # as filed
        return MatcherState(
            len(self.books),
            np.array(self.bid),
            np.array(self.ask),
            np.array(self.avail_buy),
            np.array(self.avail_sell),
            self._seq,
            tuple(sorted(self._triggered)),
            tuple((e.order.id, e.i, e.seq, e.trail, e.ioc, e.fok) for e in entries),
            tuple((i, tuple(e.order.id for e in waiting if e.alive)) for i, waiting in self.pending.items()),
        )

    def restore(
        self, state: MatcherState, orders: Mapping[str, PlacedOrder], index: Mapping[str, int]
    ) -> None:
        """File ``state``'s resting orders (the book's ``orders``) into this new, empty index
        and take its quotes; ``index`` gives each symbol's number.  Raises PersistenceError
        naming the field when an order is not working, rests under another symbol, is filed
        twice, or a time priority, triggered stop or waiting order does not fit."""
        n = state.symbols
        if n > len(self.books):
            raise PersistenceError(f"symbols {n} is more than the market's {len(self.books)}")
        del self.books[n:], self.tick_sizes[n:]
        for name in ("bl", "sl", "bs", "ss", "bid", "ask", "avail_buy", "avail_sell"):
            del getattr(self, name)[n:]
        for name in ("bid", "ask", "avail_buy", "avail_sell"):
            values = getattr(state, name)
            if len(values) != n:
                raise PersistenceError(f"{name} must hold {n} numbers, got {len(values)}")
            getattr(self, name)[:] = values.tolist()
        self._seq = state.seq
        triggered = set(state.triggered)
        for n_, (order_id, i, seq, trail, ioc, fok) in enumerate(state.entries):
            where = f"entries[{n_}]"
            order = orders.get(order_id)
            if order is None or order.status is not OrderStatus.WORKING:
                what = "not saved" if order is None else order.status.label.lower()
                raise PersistenceError(f"{where}[0] {order_id!r} rests in the market but is {what}")
            if order_id in self._entries:
                raise PersistenceError(f"{where}[0] {order_id!r} is filed twice")
            if i >= n or index.get(order.symbol) != i:
                raise PersistenceError(
                    f"{where}[1] {order_id!r} rests under symbol number {i}, not {order.symbol!r}"
                )
            if seq > state.seq:
                raise PersistenceError(f"{where}[2] {seq} is a later time priority than seq {state.seq}")
            if order_id in triggered:
                self._triggered.add(order_id)
            entry = self._insert(order, i, seq, trail)
            entry.ioc, entry.fok = ioc, fok
        if len(self._triggered) != len(state.triggered):
            raise PersistenceError("triggered lists a stop that does not rest in the market, or one twice")
        self.pending = {}
        for k, (i, ids) in enumerate(state.pending):
            if i >= n or i in self.pending or any(order_id not in self._entries for order_id in ids):
                raise PersistenceError(f"pending[{k}] {[i, list(ids)]} are not orders resting under a symbol")
            self.pending[i] = [self._entries[order_id] for order_id in ids]

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    def is_triggered(self, order_id: str) -> bool:
        """True once a stop or stop-limit order's stop has been touched."""
        return order_id in self._triggered

    # ------------------------------------------------------------------ the index

    def add(self, order: PlacedOrder, i: int, trail_distance: float | None = None) -> None:
        """Index a working order of symbol ``i`` (``trail_distance``: a trailing stop)."""
        self._seq += 1
        if order.type is not _MARKET:
            self._insert(order, i, self._seq, trail_distance)
            return
        # a market order (the usual one): it waits in its side's queue for the next quote
        # or bar, and any quote matches it (what _insert does, without its other cases)
        book = self.books[i]
        if order.side is _BUY:
            entry = _Entry(order, i, _BM, self._seq, trail_distance)
            book.bm.append(entry)
            self.bl[i] = _INF
        else:
            entry = _Entry(order, i, _SM, self._seq, trail_distance)
            book.sm.append(entry)
            self.sl[i] = -_INF
        self._entries[order.id] = entry
        book.size += 1
        if self.bars and (entry.ioc or entry.fok):
            self.pending.setdefault(i, []).append(entry)

    def _insert(self, order: PlacedOrder, i: int, seq: int, trail: float | None) -> _Entry:
        book = self.books[i]
        kind = order.type
        buy = order.side is _BUY
        triggered = order.id in self._triggered
        if kind is _MARKET or (kind is _STOP and triggered):
            where = _BM if buy else _SM
        elif kind is _LIMIT or (kind is _STOP_LIMIT and triggered):
            where = _BL if buy else _SL
        else:
            where = _BS if buy else _SS
        entry = _Entry(order, i, where, seq, trail)
        self._entries[order.id] = entry
        if where == _BM:
            book.bm.append(entry)
        elif where == _SM:
            book.sm.append(entry)
        else:
            limit = order.limitPrice or 0.0
            stop = order.stopPrice or 0.0
            if where == _BL:
                heap, key = book.bl, -limit
            elif where == _SL:
                heap, key = book.sl, limit
            elif where == _BS:
                heap, key = book.bs, stop
            else:
                heap, key = book.ss, -stop
            heappush(heap, (key, seq, entry))
            entry.heaped = True
            if trail is not None and where in (_BS, _SS):
                book.trailing[order.id] = entry
                self.always.add(i)
        book.size += 1
        if self.bars and (entry.ioc or entry.fok):
            self.pending.setdefault(i, []).append(entry)
        if where == _BM:  # what _refresh would find: a market buy waits, so any ask matches
            self.bl[i] = _INF
        elif where == _SM:
            self.sl[i] = -_INF
        else:
            self._refresh(i)
        return entry

    def remove(self, order_id: str) -> None:
        """Forget an order that stopped working (filled, cancelled, expired)."""
        entry = self._entries.pop(order_id, None)
        if entry is None:
            self._triggered.discard(order_id)
            return
        book = self.books[entry.i]
        where = entry.where
        if entry.kind is not _MARKET or book.dead:
            self._triggered.discard(order_id)
            self._kill(entry)
            self._refresh(entry.i)
            return
        # a market order (never triggered, never trailing) leaves its queue; only its
        # side's threshold can change, and the heap tops are live (no dead entries)
        entry.alive = False
        book.size -= 1
        i = entry.i
        queue = book.bm if where == _BM else book.sm
        if queue[0] is entry:  # (it filled first in its queue, as a rule)
            queue.popleft()
        else:
            queue.remove(entry)
        if queue:
            return
        if where == _BM:
            self.bl[i] = -book.bl[0][0] if book.bl else -_INF
        else:
            self.sl[i] = book.sl[0][0] if book.sl else _INF

    def update(self, order: PlacedOrder, i: int, trail_distance: float | None = None) -> None:
        """Re-index an order whose prices or type changed, keeping its time priority."""
        entry = self._entries.pop(order.id, None)
        if entry is None:
            self.add(order, i, trail_distance)
            return
        self._kill(entry)
        if order.type is not entry.kind or order.stopPrice != entry.stop:
            # a triggered stop given a new stop waits for that one to be touched: it
            # fills as its stop price now says (matched at once if the quote touches it)
            self._triggered.discard(order.id)
        new = self._insert(order, i, entry.seq, trail_distance)
        new.ioc, new.fok = entry.ioc, entry.fok

    def _kill(self, entry: _Entry) -> None:
        """Take a live entry out of the book (lazily, when it sits in a heap)."""
        entry.alive = False
        book = self.books[entry.i]
        book.size -= 1
        if book.trailing.pop(entry.order.id, None) is not None and not book.trailing:
            self.always.discard(entry.i)
        if entry.where == _BM:
            book.bm.remove(entry)
        elif entry.where == _SM:
            book.sm.remove(entry)
        elif entry.heaped:
            book.dead += 1
            if book.dead > 64 and book.dead > book.size:
                self._compact(book)

    @staticmethod
    def _compact(book: _Book) -> None:
        for name in ("bl", "sl", "bs", "ss"):
            heap = [item for item in getattr(book, name) if item[2].alive]
            heapify(heap)
            setattr(book, name, heap)
        book.dead = 0

    def _pop(self, heap: _Heap) -> _Entry:
        entry = heappop(heap)[2]
        entry.heaped = False
        if not entry.alive:
            self.books[entry.i].dead -= 1
        return entry

    def _refresh(self, i: int) -> None:
        """Recompute symbol ``i``'s four thresholds from its heap tops."""
        book = self.books[i]
        if book.dead:  # dead entries rest in the heaps: none may be a top
            for heap in (book.bl, book.sl, book.bs, book.ss):
                while heap and not heap[0][2].alive:
                    self._pop(heap)
        self.bl[i] = _INF if book.bm else (-book.bl[0][0] if book.bl else -_INF)
        self.sl[i] = -_INF if book.sm else (book.sl[0][0] if book.sl else _INF)
        self.bs[i] = book.bs[0][0] if book.bs else _INF
        self.ss[i] = -book.ss[0][0] if book.ss else -_INF
