"""Market mode: what one tick of the market does to a broker.

A :class:`Venue` joins a :class:`~paperbroker.market.MarketSource` and a
:class:`~paperbroker.matching.Matcher` to the broker.  Each step it:

1. advances the source one tick and sets the broker's simulated clock to the tick's time
   (passing a session end expires day orders first);
2. marks every quoted symbol at its last price (ledger marks, before any fill, so fills
   book positions at the current mark);
3. lets the matcher fill what the new prices trigger (each fill is the broker's full
   cascade: execution -> order -> position -> equity);
4. broadcasts ``pl`` for each position whose P&L the new marks moved, then one ``equity``
   per such account, and the new quotes on ``quotes`` to their subscribers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import InvalidOrder
from .matching import Matcher, Slippage
from .models import OrderStatus, PlacedOrder, StopType

if TYPE_CHECKING:
    from .broker import BrokerService
    from .ledger import Account, PositionState
    from .market import MarketSource, QuoteChange, Tick

__all__ = ["Venue"]

_WORKING = OrderStatus.WORKING
_TRAILING = StopType.TRAILING_STOP


class Venue:
    """The market half of a broker in market mode (see the module docstring)."""

    def __init__(self, broker: BrokerService, source: MarketSource, slippage: Slippage) -> None:
        source.bind(broker.rng, broker.clock.now_ms())
        self._broker = broker
        self.source = source
        self.matcher = Matcher(self, slippage, list(source.tick_sizes), source.bars)
        m = self.matcher
        for i, symbol in enumerate(source.symbols):  # quotes a source starts with (walks, manual)
            m.bid[i], m.ask[i], m.avail_sell[i], m.avail_buy[i] = source.current(i)
            quote = source.quote(symbol)
            if quote is not None:
                broker._ledger.set_mark(symbol, quote.last)
        self._quote_subs = broker._hub._index["quotes"]
        self._deliver = broker._hub._deliver
        self.ticks = 0

    # ------------------------------------------------------------------ the matcher's host

    def fill(self, order: PlacedOrder, qty: float, price: float) -> None:
        self._broker._execute(order, qty, price)

    def expire(self, order: PlacedOrder, reason: str) -> None:
        self._broker._cancel_with(order, reason)

    def trail(self, order: PlacedOrder, stop: float) -> None:
        broker = self._broker
        order.stopPrice = stop
        order.updateTime = broker.clock.now_ms()
        broker._publish_order(order, broker._book.account_of(order.id))

    # ------------------------------------------------------------------ orders

    def tick_size(self, symbol: str) -> float:
        i = self.source.index.get(symbol)
        return self.source.tick_sizes[i] if i is not None else 0.01

    def check_symbol(self, symbol: str) -> None:
        """Refuse an order for a symbol this market will never quote."""
        if self.source.ensure_symbol(symbol) is None:
            known = ", ".join(self.source.symbols)
            msg = f"This market does not trade {symbol!r}; its symbols are {known}."
            raise InvalidOrder(msg)
        self.matcher.grow(self.source.tick_sizes)

    def price(self, symbol: str, buy: bool) -> float | None:
        """What a market order would pay now: the ask to buy, the bid to sell."""
        i = self.source.index.get(symbol)
        if i is None or i >= len(self.matcher.ask):
            return None
        value = self.matcher.ask[i] if buy else self.matcher.bid[i]
        return None if value != value else value

    def add(self, order: PlacedOrder, trail_distance: float | None, immediate: bool) -> None:
        """Index a working order; on a quote market, match it at once when ``immediate``."""
        i = self.source.index[order.symbol]
        if order.stopType is not _TRAILING:
            trail_distance = None
        matcher = self.matcher
        matcher.add(order, i, trail_distance)
        if not immediate or self.source.bars:
            return
        matcher.match_quote(i)
        duration = order.duration
        if duration is not None and duration.type in ("IOC", "FOK") and order.status is _WORKING:
            what = "Immediate or cancel" if duration.type == "IOC" else "Fill or kill"
            rest = "the rest" if order.filledQty else "it"
            self._broker._cancel_with(order, f"{what}: {rest} could not fill at once.")

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
        """Advance the market one tick; False when a replay has no more data."""
        broker = self._broker
        tick = self.source.next_tick(broker.clock.now_ms())
        if tick is None:
            return False
        broker.clock.set(tick.time)  # type: ignore[attr-defined]
        if tick.time >= broker._session_end:
            broker._roll_session(tick.time)
        self.apply(tick)
        return True

    def apply(self, tick: Tick) -> None:
        """Mark, match and broadcast one tick's prices."""
        self.ticks += 1
        source, matcher, broker = self.source, self.matcher, self._broker
        symbols = source.symbols
        if len(symbols) > len(matcher.books):
            matcher.grow(source.tick_sizes)
        set_mark = broker._ledger.set_mark
        changed: list[tuple[Account, PositionState]] = []
        for i, last in zip(tick.index, tick.last, strict=True):
            moved = set_mark(symbols[i], last)
            if moved:
                changed.extend(moved)
        if source.bars:
            matcher.on_bars(
                tick.index, tick.open, tick.high, tick.low, tick.last, tick.ask_size, source.half_spread
            )
        else:
            matcher.on_quotes(tick.index, tick.bid, tick.ask, tick.bid_size, tick.ask_size)
        if changed:
            broker._publish_marks(changed)
        subs_by_symbol = self._quote_subs
        if subs_by_symbol:
            for i in tick.index:
                subs = subs_by_symbol.get(symbols[i])
                if subs:
                    quote = source.quote(symbols[i])
                    if quote is not None:
                        self._deliver(subs, quote)

    def set_quote(self, symbol: str, change: QuoteChange) -> None:
        """Move a symbol's price by hand and let the market react at once."""
        tick = self.source.set_quote(symbol, change, self._broker.clock.now_ms())
        self.apply(tick)
