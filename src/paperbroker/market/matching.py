"""When and how much a working order fills, against quotes or bars (plain synchronous code).

The :class:`Matcher` keeps each symbol's resting orders in four heaps keyed by the price
that triggers them (buy limits by highest limit, sell limits by lowest limit, buy stops by
lowest stop, sell stops by highest stop) plus FIFO queues of market orders waiting for
size.  Each symbol has four thresholds, the tops of those heaps, so a quote that triggers
nothing costs four float comparisons, however many orders rest.  A tick only touches the
orders it triggers.  That index is :class:`~paperbroker.market.resting.RestingOrders`, which the
matcher extends; the slippage models are in :mod:`paperbroker.market.slippage`.

Rules:

* a market order buys at the ask and sells at the bid, plus the slippage model;
* a buy limit fills when the ask reaches its limit, at the ask (the limit or better); a
  sell limit when the bid reaches it, at the bid;
* a stop triggers when the ask (buy) or bid (sell) touches it, then fills as a market
  order: at the quote, so on a gap at the gap price; a stop-limit becomes a limit order
  (the host is told, so the order can say it triggered);
  a triggered stop that is given a new stop price waits for that one to be touched;
* a bar is walked open -> high -> low -> close, or open -> low -> high -> close when the
  low is nearer the open; the open is a quote (gaps fill there), and inside the bar a
  limit fills at its limit and a stop at its stop (plus slippage) when the path crosses it;
* each fill takes at most the size available on its side (quote size, or a share of the
  bar's volume); what is left waits for the next tick, so an order fills in parts;
* IOC orders cancel what did not fill at their first chance, FOK orders fill completely
  at their first chance or are cancelled unfilled.

The matcher never changes an order itself: it calls its host's ``fill``, ``expire`` and
``trail`` and is told by the host when an order stops working (:meth:`Matcher.remove`).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from heapq import heappush
from itertools import pairwise
from typing import Protocol

from ..models import OrderStatus, OrderType, PlacedOrder, Side
from .resting import _SS, MatcherState, RestingOrders, _Entry, _Heap
from .slippage import NoSlippage, Slippage, round_to_tick

__all__ = [
    "MatchHost",
    "Matcher",
    "bar_path",
]

_INF = math.inf
_EPS = 1e-9
_WORKING = OrderStatus.WORKING
_BUY = Side.BUY
_STOP_LIMIT = OrderType.STOP_LIMIT
_FOK_SHORT = "Fill or kill: the market did not have the whole quantity at once."


def bar_path(open_: float, high: float, low: float, close: float) -> tuple[float, float, float, float]:
    """The intrabar path: to the extreme nearer the open first (high on a tie)."""
    if high - open_ <= open_ - low:
        return (open_, high, low, close)
    return (open_, low, high, close)


class MatchHost(Protocol):
    """What the matcher calls: the broker's cascade and order updates."""

    def fill(self, order: PlacedOrder, qty: float, price: float) -> object:
        """Fill ``qty`` of ``order`` at ``price``."""

    def expire(self, order: PlacedOrder, reason: str) -> object:
        """End ``order`` (its time in force ran out), with ``reason``."""

    def trail(self, order: PlacedOrder, stop: float) -> None:
        """A trailing stop moved to ``stop``."""

    def triggered(self, order: PlacedOrder, price: float) -> None:
        """A stop-limit's stop was reached at ``price``."""


class Matcher(RestingOrders):
    """Resting orders, indexed per symbol, matched against quotes and bars.

    The index itself (adding, re-filing and dropping orders, each symbol's thresholds,
    quote and size left) is :class:`~paperbroker.market.resting.RestingOrders`.
    """

    def __init__(self, host: MatchHost, slippage: Slippage, tick_sizes: list[float], bars: bool) -> None:
        self._host = host
        self._slip = slippage
        self._free = isinstance(slippage, NoSlippage)  # no call per market fill
        super().__init__(tick_sizes, bars)

    @property
    def slippage(self) -> Slippage:
        """The slippage model market fills pay."""
        return self._slip

    @classmethod
    def from_state(
        cls,
        state: MatcherState,
        host: MatchHost,
        slippage: Slippage,
        tick_sizes: list[float],
        bars: bool,
        orders: Mapping[str, PlacedOrder],
        index: Mapping[str, int],
    ) -> Matcher:
        """A new matcher in ``state`` over the book's ``orders`` (see
        :meth:`~paperbroker.market.resting.RestingOrders.restore`)."""
        matcher = cls(host, slippage, tick_sizes, bars)
        matcher.restore(state, orders, index)
        return matcher

    # ------------------------------------------------------------------ quotes

    def on_quotes(
        self,
        index: list[int],
        bid: list[float],
        ask: list[float],
        bid_size: list[float],
        ask_size: list[float],
    ) -> None:
        """New quotes for the symbols in ``index``: match what they trigger."""
        bl, sl, bs, ss, always = self.bl, self.sl, self.bs, self.ss, self.always
        bids, asks, avail_b, avail_s = self.bid, self.ask, self.avail_buy, self.avail_sell
        i = -1
        try:
            for i, b, a, bsz, asz in zip(index, bid, ask, bid_size, ask_size, strict=True):
                bids[i] = b
                asks[i] = a
                avail_b[i] = asz
                avail_s[i] = bsz
                if a <= bl[i] or b >= sl[i] or a >= bs[i] or b <= ss[i]:
                    self.match_quote(i)
                if always and i in always:
                    self._trail(i, b, a)
        except BaseException:
            # a fill raised part way: the symbols not reached yet still take their new
            # quotes (none stays on an old one), and the next tick matches what remained
            for n in range(index.index(i) + 1 if i in index else 0, len(index)):
                j = index[n]
                bids[j], asks[j], avail_b[j], avail_s[j] = bid[n], ask[n], ask_size[n], bid_size[n]
            raise

    def match_quote(self, i: int) -> None:
        """Match symbol ``i``'s orders against its current quote (a point: gaps fill here)."""
        b, a = self.bid[i], self.ask[i]
        if a != a:  # nan: no quote yet
            return
        book = self.books[i]
        heaped = book.bs or book.ss or book.bl or book.sl  # else only market orders rest
        try:
            # stops touched by the quote become market (stop-limit: limit) orders, then fill
            while book.bs and book.bs[0][0] <= a:
                self._trigger(self._pop(book.bs))
            while book.ss and -book.ss[0][0] >= b:
                self._trigger(self._pop(book.ss))
            # (each only when it holds orders: a call that finds nothing costs a quote's compare)
            if book.bm:
                self._market(book.bm, i, a, True)
            if book.sm:
                self._market(book.sm, i, b, False)
            if book.bl:
                self._limits(book.bl, i, -a, a)
            if book.sl:
                self._limits(book.sl, i, b, b)
        finally:  # also when a fill raised: the thresholds must match the heaps
            if heaped or book.bs or book.ss or book.bl or book.sl or book.dead:  # (queues set theirs)
                self._refresh(i)

    def _market(self, queue: deque[_Entry], i: int, price: float, buy: bool) -> None:
        avail = self.avail_buy if buy else self.avail_sell
        while queue and avail[i] > _EPS:
            entry = queue[0]
            order = entry.order
            remaining = order.qty - order.filledQty
            at = price
            if not self._free:
                slip = self._slip(price, remaining, self.tick_sizes[i])
                at = price + slip if buy else price - slip
            size = avail[i]  # what _take does, inline: it runs for every market order
            if entry.fok and size < remaining - _EPS:
                self._host.expire(order, _FOK_SHORT)
            else:
                qty = remaining if remaining <= size else size
                avail[i] = size - qty
                self._host.fill(order, qty, at)
            if entry.alive:  # only part filled: no size left this tick
                return

    def _limits(self, heap: _Heap, i: int, bound: float, price: float | None) -> None:
        """Fill limit entries keyed <= ``bound``, at ``price`` (``None``: at their limit)."""
        buy = heap is self.books[i].bl
        avail = self.avail_buy if buy else self.avail_sell
        while heap and heap[0][0] <= bound and avail[i] > _EPS:
            key, seq, entry = heap[0]
            entry = self._pop(heap)
            if not entry.alive:
                continue
            try:
                self._take(entry, (-key if buy else key) if price is None else price, buy)
            finally:
                # only part filled (no size left this tick), or the fill raised: the order
                # still works, so it goes back on the heap rather than out of the book
                if entry.alive:
                    heappush(heap, (key, seq, entry))
                    entry.heaped = True
            if entry.alive:
                return

    def _trigger(self, entry: _Entry) -> None:
        """A stop was touched: re-file it as a market order (a stop-limit as a limit)."""
        if not entry.alive:
            return
        order = entry.order
        book = self.books[entry.i]
        entry.alive = False
        book.size -= 1
        if book.trailing.pop(order.id, None) is not None and not book.trailing:
            self.always.discard(entry.i)
        self._triggered.add(order.id)
        new = self._insert(order, entry.i, entry.seq, None)
        new.ioc, new.fok = entry.ioc, entry.fok
        if entry.kind is _STOP_LIMIT:  # it works on as a limit order: the host says so
            self._host.triggered(order, self.ask[entry.i] if order.side is _BUY else self.bid[entry.i])

    def _take(self, entry: _Entry, price: float, buy: bool) -> None:
        """Fill as much of ``entry`` as its side's size allows, at ``price``."""
        order = entry.order
        remaining = order.qty - order.filledQty
        avail = self.avail_buy if buy else self.avail_sell
        size = avail[entry.i]
        if entry.fok and size < remaining - _EPS:
            self._host.expire(order, _FOK_SHORT)
            return
        qty = remaining if remaining <= size else size
        avail[entry.i] = size - qty
        self._host.fill(order, qty, price)

    # ------------------------------------------------------------------ bars

    def on_bars(
        self,
        index: list[int],
        open_: list[float],
        high: list[float],
        low: list[float],
        close: list[float],
        size: list[float],
        half_spread: float = 0.0,
    ) -> None:
        """New bars for the symbols in ``index``; ``size`` is each bar's fillable volume."""
        half = half_spread
        if len(index) == 1:  # one symbol (most replays): no rows to build
            self.on_bar(index[0], open_[0], high[0], low[0], close[0], size[0], half)
            return
        rows = list(zip(index, open_, high, low, close, size, strict=True))
        # every bar's size and closing quote first (a walk starts from its bar's open), so a
        # fill that raises part way leaves no symbol on its old quote
        for i, _o, _h, _lo, c, v in rows:
            self.avail_buy[i] = self.avail_sell[i] = v
            self.bid[i] = c - half
            self.ask[i] = c + half
        for i, o, h, lo, c, v in rows:
            self.on_bar(i, o, h, lo, c, v, half)

    def on_bar(self, i: int, o: float, h: float, lo: float, c: float, size: float, half: float) -> None:
        """A new bar for symbol ``i`` (see :meth:`on_bars`): its size and closing quote are
        set, then it matches along its path when a threshold, a trailing stop or an IOC/FOK
        order waiting for it asks to.  (One frame a bar: a replay's bars come here.)"""
        self.avail_buy[i] = self.avail_sell[i] = size
        self.bid[i] = c - half
        self.ask[i] = c + half
        pending = self.pending
        if not self.books[i].size:  # no order of this symbol works: nothing to match (most bars)
            if pending:  # (what waits is of orders that ended before their first bar)
                pending.pop(i, None)
            return
        if (
            lo + half <= self.bl[i]
            or h - half >= self.sl[i]
            or h + half >= self.bs[i]
            or lo - half <= self.ss[i]
            or i in self.always
            or i in pending
        ):
            try:  # the open is a quote: market orders (and gaps) fill there
                self.bid[i] = o - half
                self.ask[i] = o + half
                self.match_quote(i)
                book = self.books[i]
                # with market orders only (or none left) nothing rests that the rest of the
                # path could reach
                if book.bl or book.sl or book.bs or book.ss or i in self.always:
                    self._walk(i, bar_path(o, h, lo, c), half)
            finally:  # the bar ends at its close, also when a fill on the way raised
                self.bid[i] = c - half
                self.ask[i] = c + half
        waiting = pending.pop(i, None) if pending else None
        for entry in waiting or ():
            if entry.alive:
                what = "Fill or kill" if entry.fok else "Immediate or cancel"
                self._host.expire(entry.order, f"{what}: the rest did not fill on the first bar.")

    def _walk(self, i: int, path: tuple[float, float, float, float], half: float) -> None:
        """The rest of the bar's path, from its open (matched already) to its close."""
        always = self.always
        self._armed(i)  # a stop armed at the open that its quote touches
        if i in always:
            self._trail(i, self.bid[i], self.ask[i])
        for p0, p1 in pairwise(path):
            if p1 > p0:
                self._rise(i, p1, half)
            elif p1 < p0:
                self._fall(i, p1, half)
            self.bid[i] = p1 - half
            self.ask[i] = p1 + half
            if i in always:
                self._trail(i, self.bid[i], self.ask[i])
            self._refresh(i)

    def _rise(self, i: int, top: float, half: float) -> None:
        """The price climbs to ``top``: buy stops and sell limits it crosses, lowest first."""
        book = self.books[i]
        while True:
            stop_at = book.bs[0][0] - half if book.bs else _INF
            has_size = self.avail_sell[i] > _EPS
            limit_at = book.sl[0][0] + half if book.sl and has_size else _INF
            at = stop_at if stop_at <= limit_at else limit_at
            if at > top:
                return
            self.bid[i], self.ask[i] = at - half, at + half
            if stop_at <= limit_at:
                entry = self._pop(book.bs)
                self._trigger(entry)
                if entry.kind is _STOP_LIMIT:
                    self._limits(book.bl, i, -self.ask[i], self.ask[i])
                else:
                    self._market(book.bm, i, self.ask[i], True)
            else:
                self._limits(book.sl, i, book.sl[0][0], None)
            self._armed(i)

    def _fall(self, i: int, bottom: float, half: float) -> None:
        """The price drops to ``bottom``: sell stops and buy limits it crosses, highest first."""
        book = self.books[i]
        while True:
            stop_at = -book.ss[0][0] + half if book.ss else -_INF
            has_size = self.avail_buy[i] > _EPS
            limit_at = -book.bl[0][0] - half if book.bl and has_size else -_INF
            at = stop_at if stop_at >= limit_at else limit_at
            if at < bottom:
                return
            self.bid[i], self.ask[i] = at - half, at + half
            if stop_at >= limit_at:
                entry = self._pop(book.ss)
                self._trigger(entry)
                if entry.kind is _STOP_LIMIT:
                    self._limits(book.sl, i, self.bid[i], self.bid[i])
                else:
                    self._market(book.sm, i, self.bid[i], False)
            else:
                self._limits(book.bl, i, book.bl[0][0], None)
            self._armed(i)

    def _armed(self, i: int) -> None:
        """A fill on the way armed a stop (its stop-loss) that the quote already touches:
        it triggers here and now, as it would when armed on a quote."""
        book = self.books[i]
        if (book.bs and book.bs[0][0] <= self.ask[i]) or (book.ss and -book.ss[0][0] >= self.bid[i]):
            self.match_quote(i)

    # ------------------------------------------------------------------ trailing stops

    def _trail(self, i: int, bid: float, ask: float) -> None:
        """Move symbol ``i``'s trailing stops after the price, never back."""
        book = self.books[i]
        tick = self.tick_sizes[i]
        for entry in list(book.trailing.values()):
            order = entry.order
            distance = entry.trail
            if distance is None or not entry.alive:
                continue
            if entry.where == _SS:
                stop = round_to_tick(bid - distance, tick)
                if stop <= order.stopPrice:  # type: ignore[operator]
                    continue
            else:
                stop = round_to_tick(ask + distance, tick)
                if stop >= order.stopPrice:  # type: ignore[operator]
                    continue
            try:
                self._host.trail(order, stop)  # the host sets stopPrice and broadcasts
            finally:  # re-filed at the new stop even when a subscriber raised
                if order.status is _WORKING and self._entries.get(order.id) is entry:
                    self.update(order, entry.i, distance)
