"""Market mode: what one tick of the market does to a broker.

A :class:`Venue` joins a :class:`~paperbroker.market.source.MarketSource` and a
:class:`~paperbroker.market.matching.Matcher` to the broker.  Each step it:

1. advances the source one tick and sets the broker's simulated clock to the tick's time
   (passing a session end expires day orders first);
2. marks every quoted symbol at its last price (ledger marks, before any fill, so fills
   book positions at the current mark);
3. lets the matcher fill what the new prices trigger (each fill is the broker's full
   cascade: execution -> order -> position -> equity);
4. broadcasts ``pl`` for each position whose P&L the new marks moved, then one ``equity``
   per such account, and the new quotes on ``quotes`` to their subscribers.

A tick applies whole or not at all.  A source that raises, or a tick of a source of your
own that fails :func:`tick_problem` (checked before step 1), raises
:class:`~paperbroker.errors.MarketDataError` and changes nothing.  Once step 2 has begun
only a fill can fail (a commission model that raises, a kernel interrupt in a
subscriber): each fill is booked whole, every symbol still takes its new quote, step 4
still broadcasts, and the orders that did not get their turn match on the next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from ..clock import Clock, SimClock
from ..errors import ConfigurationError, InvalidOrder, InvalidState, MarketDataError
from ..events import TopicHub
from ..models import Execution, OrderMessage, OrderStatus, PlacedOrder, Quote, StopType
from .manual import ManualQuotes
from .matching import Matcher
from .prices import PriceLog, ReplayPrices
from .random_walk import RandomWalk
from .replay_sources import BarReplay, QuoteReplay
from .slippage import Slippage
from .source import MarketSource, Tick, bar_quote, tick_quote
from .tick_checks import tick_problem

if TYPE_CHECKING:
    from .source import QuoteChange

__all__ = ["Venue", "VenueHost", "market_clock", "tick_problem"]

_WORKING = OrderStatus.WORKING
_INF = float("inf")
_TRAILING = StopType.TRAILING_STOP


class VenueHost(Protocol):
    """What the venue needs from the order engine (the engine provides it)."""

    session_end: int

    def execute(
        self, order: PlacedOrder, qty: float, price: float, now: int | None = None, record: bool = False
    ) -> Execution | None:
        """Book and broadcast a fill of ``order`` (its record: see OrderEngine.execute)."""

    def cancel_with(self, order: PlacedOrder, reason: str | None) -> PlacedOrder:
        """Cancel ``order`` with ``reason`` as its message."""

    def publish_order(self, order: PlacedOrder, account_id: str | None = None) -> PlacedOrder:
        """Broadcast ``order`` as it is now."""

    def roll_session(self, now: int) -> None:
        """The clock passed a session end: expire the day's orders."""

    #: mark(symbol, price, short_price): mark ``symbol``'s longs at ``price`` and its shorts
    #: at ``short_price`` (None: ``price`` too); return the positions whose P&L moved
    mark: Callable[[str, float, float | None], list[Any]]
    #: publish_marks(changed, skip, now): broadcast the positions a new mark moved, and
    #: their accounts' equity (booked at ``now``, the tick's time; ``skip`` is for fills)
    publish_marks: Callable[[list[Any], Any, int | None], None]


class Venue:
    """The market half of a broker in market mode (see the module docstring)."""

    def __init__(
        self,
        host: VenueHost,
        hub: TopicHub,
        clock: SimClock,
        rng: np.random.Generator,
        source: MarketSource,
        slippage: Slippage,
        history_limit: int | None = None,
        bid_ask: bool = False,
    ) -> None:
        source.bind(rng, clock.now_ms())
        self._host = host
        # the matcher's host: it fills ``qty`` of an order at a price, and ends an order
        # (time in force) with a reason, through the engine's own methods (a call less)
        self.fill: Callable[[PlacedOrder, float, float], object] = host.execute
        self.expire: Callable[[PlacedOrder, str], object] = host.cancel_with
        #: ``mark="bid_ask"``: positions are marked at the bid (longs) and the ask (shorts)
        self.bid_ask = bid_ask
        self._clock = clock
        self.source = source
        self.use_matcher(Matcher(self, slippage, list(source.tick_sizes), source.bars))
        m = self.matcher
        for i, symbol in enumerate(source.symbols):  # quotes a source starts with (walks, manual)
            m.bid[i], m.ask[i], m.avail_sell[i], m.avail_buy[i] = source.current(i)
            quote = source.quote(symbol)
            if quote is not None:
                host.mark(symbol, *((quote.bid, quote.ask) if bid_ask else (quote.last, None)))
        self._quote_subs = hub.table("quotes")
        self._send = hub.send
        self.ticks = 0
        # the built-in sources make sound ticks from checked input; a source of your own
        # (any next_tick but theirs) has each tick checked before it is applied
        self._checked = type(source).next_tick not in _OWN_TICKS
        # a bar replay of ours hands a time with one symbol's bar over as numbers (next_bar)
        kind = type(source)
        own = kind.next_tick is BarReplay.next_tick and getattr(kind, "next_bar", None) is BarReplay.next_bar
        self._next_bar = source.next_bar if own else None  # type: ignore[attr-defined]
        #: what the market showed: a bar replay of ours keeps it already
        self.prices: PriceLog | ReplayPrices
        if own:
            self.prices = ReplayPrices(history_limit, source)
        else:
            self.prices = PriceLog(history_limit, source.symbols, source.bars)

    # ------------------------------------------------------------------ the matcher's host

    def trail(self, order: PlacedOrder, stop: float) -> None:
        """A trailing stop moved to ``stop``."""
        order.stopPrice = stop
        order.updateTime = self._clock.now_ms()
        self._host.publish_order(order)

    def triggered(self, order: PlacedOrder, price: float) -> None:
        """A stop-limit's stop was reached: it works on as a limit order, and says so."""
        order.message = OrderMessage(
            "information",
            f"Stop {order.stopPrice:.10g} reached at {price:.10g}; "
            f"became a limit order at {order.limitPrice:.10g}.",
        )
        order.updateTime = self._clock.now_ms()
        self._host.publish_order(order)

    def rearmed(self, order: PlacedOrder) -> None:
        """A triggered stop got a new stop price (or type): its trigger note no longer holds."""
        if self.matcher.is_triggered(order.id) and order.message is not None:
            order.message = None

    # ------------------------------------------------------------------ the engine's market

    def use_matcher(self, matcher: Matcher) -> None:
        """Match with ``matcher`` (a loaded broker's) from now on."""
        self.matcher = matcher
        #: remove(order_id): the order stopped working, the matcher forgets it (bound: the
        #: engine calls it for every order that ends)
        self.remove: Callable[[str], None] = matcher.remove

    def quote(self, symbol: str) -> Quote:
        """The current quote of ``symbol``, or InvalidState when it has none yet."""
        quote = self.source.quote(symbol)
        if quote is None:
            known = ", ".join(self.source.symbols) or "none yet"
            msg = f"The market has no quote for {symbol!r} yet (symbols: {known}); step it or set one."
            raise InvalidState(msg)
        return quote

    def quotes(self) -> list[Quote]:
        """The current quote of every symbol the market has quoted."""
        found = (self.source.quote(s) for s in self.source.symbols)
        return [q for q in found if q is not None]

    def tick_size(self, symbol: str) -> float:
        """The symbol's price grid (0.01 for a symbol the market does not know)."""
        i = self.source.index.get(symbol)
        return self.source.tick_sizes[i] if i is not None else 0.01

    def check_symbol(self, symbol: str, buy: bool | None = None) -> float | None:
        """Refuse an order for a symbol this market will never quote; with ``buy``, also
        return what :meth:`price` would (one call for the two on an order's way in)."""
        source = self.source
        i = source.index.get(symbol)
        matcher = self.matcher
        if i is None or i >= len(matcher.books):  # not known yet, or not in the matcher yet
            if source.ensure_symbol(symbol) is None:
                known = ", ".join(source.symbols)
                msg = f"This market does not trade {symbol!r}; its symbols are {known}."
                raise InvalidOrder(msg)
            matcher.grow(source.tick_sizes)
            return None  # (no quote yet)
        if buy is None:
            return None
        value = matcher.ask[i] if buy else matcher.bid[i]
        return None if value != value else value

    def price(self, symbol: str, buy: bool) -> float | None:
        """What a market order would pay now: the ask to buy, the bid to sell."""
        i = self.source.index.get(symbol)
        if i is None or i >= len(self.matcher.ask):
            return None
        value = self.matcher.ask[i] if buy else self.matcher.bid[i]
        return None if value != value else value

    def add(self, order: PlacedOrder, trail_distance: float | None, immediate: bool) -> bool:
        """Index a working order; on a quote market, match it at once when ``immediate``.
        Returns whether it was matched (and so may have changed)."""
        i = self.source.index[order.symbol]
        if order.stopType is not _TRAILING:
            trail_distance = None
        matcher = self.matcher
        matcher.add(order, i, trail_distance)
        if not immediate or self.source.bars:
            return False
        matcher.match_quote(i)
        duration = order.duration
        if duration is not None and duration.type in ("IOC", "FOK") and order.status is _WORKING:
            what = "Immediate or cancel" if duration.type == "IOC" else "Fill or kill"
            rest = "the rest" if order.filledQty else "it"
            self._host.cancel_with(order, f"{what}: {rest} could not fill at once.")
        return True

    def reindex(self, order: PlacedOrder, trail_distance: float | None) -> None:
        """A working order's prices changed: file it again and match it if it now can."""
        if order.stopType is not _TRAILING:
            trail_distance = None
        i = self.source.index[order.symbol]
        self.matcher.update(order, i, trail_distance)
        if not self.source.bars:
            self.matcher.match_quote(i)

    # ------------------------------------------------------------------ ticks

    def step(self) -> bool:
        """Advance the market one tick; False when a replay has no more data.

        A source that raises, or gives a tick that cannot be used, raises MarketDataError
        before anything changes: the clock, the books and the matcher are as they were.
        """
        next_bar = self._next_bar
        if next_bar is not None:  # a bar replay of ours: a time with one symbol's bar as numbers
            source = self.source
            try:
                row = source.pull()  # type: ignore[attr-defined]  # the chunk's next row: no frame
            except StopIteration:
                row = next_bar()  # the next chunk's, or None: several bars at once, or the end
            if row is not None:
                # the bar applied here, in this frame: the step of most backtests
                time, i, o, h, lo, c, _volume, bid, ask, _bid_size, ask_size = row
                clock = self._clock
                if time >= clock._now:  # noqa: SLF001 - SimClock.set() inline: never back
                    clock._now = time  # noqa: SLF001
                else:
                    clock.set(time)  # raises: the clock is past the data
                host = self._host
                if time >= host.session_end:
                    host.roll_session(time)
                self.ticks += 1
                symbol = source.symbols[i]
                changed = host.mark(symbol, bid, ask) if self.bid_ask else host.mark(symbol, c, None)
                matcher = self.matcher
                try:
                    if matcher.books[i].size or matcher.pending:
                        matcher.on_bar(i, o, h, lo, c, ask_size, source.half_spread)
                    else:  # no order of the symbol works: on_bar would set the size and close only
                        half = source.half_spread
                        matcher.avail_buy[i] = matcher.avail_sell[i] = ask_size
                        matcher.bid[i] = c - half
                        matcher.ask[i] = c + half
                finally:  # as in apply
                    if changed:
                        host.publish_marks(changed, None, time)
                    subs = self._quote_subs.get(symbol)
                    if subs:
                        self._send(((subs, bar_quote(symbol, row)),))
                return True
        source = self.source
        now = self._clock.now_ms()
        checked = self._checked
        quoted = source.latest() if checked else None  # what a failed tick must not leave
        try:
            tick = source.next_tick(now)
        except Exception as exc:
            if quoted is not None:
                source.restore(quoted)
            if isinstance(exc, MarketDataError):
                raise
            msg = (
                f"The price source {source!r} failed: {type(exc).__name__}: {exc}. Nothing of "
                "that tick was applied; the next step asks the source again."
            )
            raise MarketDataError(msg) from exc
        if tick is None:
            return False
        problem = tick_problem(tick, now, source.symbols, source.bars) if checked else None
        if problem is not None:
            source.restore(quoted)  # type: ignore[arg-type]
            msg = (
                f"The price source {source!r} gave a tick that cannot be used: {problem}. "
                "Nothing of it was applied; fix the source's next_tick()."
            )
            raise MarketDataError(msg)
        self._clock.set(tick.time)
        if tick.time >= self._host.session_end:
            self._host.roll_session(tick.time)
        self.apply(tick)
        return True

    def apply(self, tick: Tick) -> None:
        """Mark, match and broadcast one tick's prices, row by row: quotes, or bars of one
        or several symbols (a bar replay's usual step is :meth:`step`'s own)."""
        self.ticks += 1
        self.prices.record(tick)
        source, matcher = self.source, self.matcher
        symbols = source.symbols
        if len(symbols) > len(matcher.books):
            matcher.grow(source.tick_sizes)
        index = tick.index
        mark = self._host.mark
        if self.bid_ask:
            changed = []
            for n, i in enumerate(index):
                changed.extend(mark(symbols[i], tick.bid[n], tick.ask[n]))
        elif len(index) == 1:
            changed = mark(symbols[index[0]], tick.last[0], None)
        else:
            changed = []
            for i, last in zip(index, tick.last, strict=True):
                changed.extend(mark(symbols[i], last, None))
        try:
            if source.bars:
                matcher.on_bars(
                    index, tick.open, tick.high, tick.low, tick.last, tick.ask_size, source.half_spread
                )
            else:
                matcher.on_quotes(index, tick.bid, tick.ask, tick.bid_size, tick.ask_size)
        finally:
            # also when a fill raised part way (each fill is whole): the new marks and
            # quotes are in the books already, so their events go out
            if changed:
                self._host.publish_marks(changed, None, tick.time)
            subs_by_symbol = self._quote_subs
            if subs_by_symbol:
                for n, i in enumerate(index):
                    symbol = symbols[i]
                    subs = subs_by_symbol.get(symbol)
                    if subs:
                        self._send(((subs, tick_quote(symbol, tick, n)),))

    def set_quote(self, symbol: str, change: QuoteChange) -> None:
        """Move a symbol's price by hand and let the market react at once."""
        tick = self.source.set_quote(symbol, change, self._clock.now_ms())
        self.apply(tick)


_OWN_TICKS = {cls.next_tick for cls in (RandomWalk, ManualQuotes, BarReplay, QuoteReplay)}


def market_clock(market: object, clock: Clock | None) -> SimClock:
    """The simulated clock a market runs on: ``clock`` checked, or a new one at its start."""
    if not isinstance(market, MarketSource):
        msg = (
            f"market must be a price source such as pb.RandomWalk(...), pb.BarReplay(frame) or "
            f"pb.ManualQuotes(...), got {market!r}."
        )
        raise ConfigurationError(msg)
    start = market.start_ms()
    if clock is None:
        return SimClock() if start is None else SimClock(start)
    if not isinstance(clock, SimClock):
        msg = "Market mode runs on a simulated clock: pass clock=pb.SimClock(...) or leave clock out."
        raise ConfigurationError(msg)
    if start is not None and clock.now_ms() > start:
        msg = (
            f"The clock is at {clock.now_ms()} ms, after the replay's first time {start} ms; start "
            "the SimClock at or before the data, or leave clock out."
        )
        raise ConfigurationError(msg)
    return clock
