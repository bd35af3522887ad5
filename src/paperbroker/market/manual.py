"""ManualQuotes: a market whose prices you set by hand (``broker.set_price``,
``broker.set_quote``), for teaching how each order type reacts to a move."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ConfigurationError, PersistenceError
from ..statetypes import NonNegative, Positive
from .source import MarketSource, QuoteChange, QuotesState, Tick, _positive

__all__ = ["ManualQuotes", "ManualQuotesState"]

_INF = math.inf


@dataclass(frozen=True, slots=True, eq=False)
class ManualQuotesState:
    """What :meth:`ManualQuotes.state` saves: its parameters (``quote_size``: ``None`` for
    unlimited, else one size) and its quotes."""

    tick_size: Positive
    spread: NonNegative
    quote_size: tuple[Positive] | None
    step_ms: int
    quotes: QuotesState


class ManualQuotes(MarketSource):
    """Prices that move only when set from code - a teacher's market.

    ``ManualQuotes({"AAPL": 190.0})``; then ``broker.set_price("AAPL", 189.5)`` or
    ``broker.set_quote("AAPL", bid=189.4, ask=189.6)``.  A new symbol can be quoted at any
    time.  Each broker step re-offers the current quotes (refreshing their size) and moves
    the clock ``step_ms`` on.
    """

    def __init__(
        self,
        prices: Mapping[str, float] | None = None,
        *,
        tick_size: float = 0.01,
        spread: float | None = None,
        quote_size: float | None = None,
        step_ms: int = 1_000,
    ) -> None:
        super().__init__()
        self._tick = _positive(tick_size, "tick_size", "tick_size=0.01")
        self._spread = self._tick if spread is None else _positive(spread, "spread", "0.02", zero=True)
        self._size = _INF if quote_size is None else _positive(quote_size, "quote_size", "100")
        if isinstance(step_ms, bool) or not isinstance(step_ms, int) or step_ms <= 0:
            msg = f"step_ms must be a whole number of milliseconds > 0, got {step_ms!r}."
            raise ConfigurationError(msg)
        self.step_ms = step_ms
        if prices is not None and not isinstance(prices, Mapping):
            msg = f"prices must be a dict of symbol -> price such as {{'AAPL': 190.0}}, got {prices!r}."
            raise ConfigurationError(msg)
        for symbol, price in (prices or {}).items():
            self.set_quote(symbol, QuoteChange(price=price), 0)

    def state(self) -> ManualQuotesState:
        """The source as plain data (see :class:`ManualQuotesState`)."""
        size = None if self._size == _INF else (self._size,)
        return ManualQuotesState(self._tick, self._spread, size, self.step_ms, self.quotes_state())

    @classmethod
    def from_state(cls, state: ManualQuotesState, symbols: list[str]) -> ManualQuotes:
        """A new, unbound source with ``state``'s parameters quoting ``symbols`` (its
        quotes follow with :meth:`restore_quotes`, once a broker has bound it)."""
        size = None if state.quote_size is None else state.quote_size[0]
        try:
            source = cls(
                tick_size=state.tick_size, spread=state.spread, quote_size=size, step_ms=state.step_ms
            )
        except ConfigurationError as exc:
            raise PersistenceError(f"is not valid: {str(exc).rstrip('.')}") from None
        for symbol in symbols:
            source.ensure_symbol(symbol)
        return source

    def ensure_symbol(self, symbol: str) -> int | None:
        """Any symbol can be quoted later: orders for it wait for its first quote."""
        i = self.index.get(symbol)
        return self._add_symbol(symbol, self._tick) if i is None else i

    def next_tick(self, now_ms: int) -> Tick:
        """A tick of the quotes as they are now (a manual market moves only when told)."""
        quoted = [(i, row) for i in range(len(self.symbols)) if (row := self._row(i)) is not None]
        sizes = [self._size] * len(quoted)
        return self._store(
            Tick(
                now_ms + self.step_ms,
                [i for i, _ in quoted],
                [t.bid[n] for _, (t, n) in quoted],
                [t.ask[n] for _, (t, n) in quoted],
                sizes,
                sizes,
                [t.last[n] for _, (t, n) in quoted],
            )
        )

    def set_quote(self, symbol: str, change: QuoteChange, now_ms: int) -> Tick:
        """Quote ``symbol`` around ``price``, or at ``bid``/``ask`` (``last`` defaults to mid)."""
        if not isinstance(symbol, str) or not symbol.strip():
            msg = f"symbol must be a non-empty string such as 'AAPL', got {symbol!r}."
            raise ConfigurationError(msg)
        i = self.index.get(symbol)
        if i is None:
            i = self._add_symbol(symbol, self._tick)
        price, bid, ask = change.price, change.bid, change.ask
        if price is not None:
            if bid is not None or ask is not None:
                msg = "Give either price= or bid= and ask=, not both."
                raise ConfigurationError(msg)
            q_bid, q_ask, q_last = self._around(i, _positive(price, "price", "101.5"), self._spread)
        elif bid is not None and ask is not None:
            q_bid = _positive(bid, "bid", "101.4")
            q_ask = _positive(ask, "ask", "101.6")
            if q_ask < q_bid:
                msg = f"ask {q_ask} is below bid {q_bid}; a quote cannot be crossed, swap them."
                raise ConfigurationError(msg)
            q_last = (q_bid + q_ask) / 2.0
        else:
            msg = "Give price= (quoted around it) or both bid= and ask=."
            raise ConfigurationError(msg)
        if change.last is not None:
            q_last = _positive(change.last, "last", "101.5")
        size_i = self._size if change.size is None else _positive(change.size, "size", "100")
        return self._store(Tick(now_ms, [i], [q_bid], [q_ask], [size_i], [size_i], [q_last]))
