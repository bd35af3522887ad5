"""Price sources for market mode: a seeded random walk, replays of bars or quotes, manual quotes.

``BrokerService(market=source)`` binds a source to the broker: the broker hands it its one
seeded ``numpy.random.Generator`` and asks it for one :class:`Tick` per step.  A tick
carries new quotes (or OHLCV bars) for some or all of the source's symbols, as plain lists
so the broker and the matcher read them without numpy overhead.  A source also keeps each
symbol's current :class:`~paperbroker.models.Quote`.

* :class:`ManualQuotes` - prices set from code: ``broker.set_price("AAPL", 101.5)``.
* :class:`~paperbroker.market.random_walk.RandomWalk` (in :mod:`paperbroker.market.random_walk`) -
  geometric Brownian motion per symbol on a tick grid, with spread, drift and volatility
  per step, and an optional quote size.
* :class:`~paperbroker.market.replay_sources.BarReplay` and
  :class:`~paperbroker.market.replay_sources.QuoteReplay` (in :mod:`paperbroker.market.replay_sources`) -
  OHLCV bars or bid/ask quotes from pandas DataFrames.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import ConfigurationError, InvalidState, PersistenceError
from ..models import Quote
from ..native import mypyc_attr
from ..records import read_only_class
from ..statetypes import Floats

__all__ = [
    "MarketSource",
    "Quote",
    "QuoteChange",
    "QuotesState",
    "Tick",
    "tick_quote",
]

_INF = math.inf
_new = object.__new__
_READ_ONLY_QUOTE = read_only_class(Quote)  # tick_quote switches a quote's class itself: a call less a bar
_NAN = math.nan


@dataclass(frozen=True, slots=True)
class QuoteChange:
    """A quote set by hand: around ``price``, or at ``bid``/``ask``; ``size`` per side."""

    price: float | None = None
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    size: float | None = None


@dataclass(frozen=True, slots=True, eq=False)
class QuotesState:
    """Each symbol's current quote, as a source saves it: whether it has one yet, and the
    rows of those that do, packed (bid, ask, bid size, ask size, last, then open, high,
    low, volume or NaN when it is not a bar, then the time)."""

    quoted: tuple[bool, ...]
    rows: Floats

    def ticks(self, symbols: int) -> list[Tick | None]:
        """Each symbol's quote as a one-symbol tick (``None``: not quoted yet), for a source
        of ``symbols`` symbols; raises PersistenceError naming what does not fit."""
        if len(self.quoted) > symbols:
            raise PersistenceError(f"quoted has {len(self.quoted)} values for the source's {symbols} symbols")
        if len(self.rows) != _ROW * sum(self.quoted):
            raise PersistenceError(f"rows must hold {_ROW} numbers per quoted symbol")
        rows = iter(self.rows.reshape(-1, _ROW).tolist())
        out: list[Tick | None] = []
        for i, is_quoted in enumerate(self.quoted):
            tick = None
            if is_quoted:
                bid, ask, bid_size, ask_size, last, open_, high, low, volume, time = next(rows)
                if not (math.isfinite(time) and time >= 0):
                    raise PersistenceError(f"rows has the time {time!r} for symbol {i}")
                bars = None if math.isnan(open_) else ([open_], [high], [low], [volume])
                tick = Tick(int(time), [i], [bid], [ask], [bid_size], [ask_size], [last], bars)
            out.append(tick)
        return out


_QUOTE = ("bid", "ask", "bid_size", "ask_size", "last")
_BAR = ("open", "high", "low", "volume")
_ROW = len(_QUOTE) + len(_BAR) + 1


class Tick:
    """One step of a market: new prices for the symbols ``index`` (positions in ``symbols``).

    Quote sources fill ``bid``, ``ask``, ``bid_size``, ``ask_size`` (``inf``: unlimited) and
    ``last``; bar sources also fill ``open``, ``high``, ``low`` and ``volume`` (``last`` is
    the close, ``bid_size``/``ask_size`` the fillable share of the volume).
    """

    __slots__ = (
        "ask",
        "ask_size",
        "bid",
        "bid_size",
        "high",
        "index",
        "last",
        "low",
        "open",
        "time",
        "volume",
    )

    def __init__(
        self,
        time: int,
        index: list[int],
        bid: list[float],
        ask: list[float],
        bid_size: list[float],
        ask_size: list[float],
        last: list[float],
        bars: tuple[list[float], list[float], list[float], list[float]] | None = None,
    ) -> None:
        self.time = time
        self.index = index
        self.bid = bid
        self.ask = ask
        self.bid_size = bid_size
        self.ask_size = ask_size
        self.last = last
        self.open, self.high, self.low, self.volume = bars if bars is not None else ([], [], [], [])


#: One symbol's bar as the venue applies it: time, symbol position, open, high, low, close,
#: volume, bid, ask, bid size, ask size (``inf``: unlimited).
BarRow = tuple[int, int, float, float, float, float, float, float, float, float, float]


def bar_row(tick: Tick, n: int) -> BarRow:
    """Row ``n`` of a bar ``tick`` as a :data:`BarRow`."""
    return (
        tick.time,
        tick.index[n],
        tick.open[n],
        tick.high[n],
        tick.low[n],
        tick.last[n],
        tick.volume[n],
        tick.bid[n],
        tick.ask[n],
        tick.bid_size[n],
        tick.ask_size[n],
    )


def tick_quote(symbol: str, tick: Tick, n: int) -> Quote:
    """Row ``n`` of ``tick`` as the :class:`Quote` of ``symbol``."""
    if tick.open:  # a bar
        return bar_quote(symbol, bar_row(tick, n))
    bid_size, ask_size = tick.bid_size[n], tick.ask_size[n]
    quote = Quote(
        symbol,
        tick.bid[n],
        tick.ask[n],
        None if bid_size == _INF else bid_size,
        None if ask_size == _INF else ask_size,
        tick.last[n],
        tick.time,
    )
    quote.__class__ = _READ_ONLY_QUOTE
    return quote


def bar_quote(symbol: str, row: BarRow) -> Quote:
    """A bar's read-only :class:`Quote` (its sizes are the fillable share of the volume;
    ``inf``, there and in the volume, means unlimited and shows as ``None``)."""
    # Quote(...) written out: its __init__ is a Python call a bar; every field is set here
    # (tests/test_bar_path.py compares the result with a Quote built by its constructor)
    quote = _new(Quote)
    q = quote
    q.time, _i, q.open, q.high, q.low, q.last, volume, q.bid, q.ask, bid_size, ask_size = row
    q.symbol = symbol
    q.bidSize = None if bid_size == _INF else bid_size
    q.askSize = None if ask_size == _INF else ask_size
    q.volume = None if volume == _INF else volume
    quote.__class__ = _READ_ONLY_QUOTE
    return quote


def _digits(ticks: Sequence[float]) -> int:
    """Decimals needed to write every tick size exactly (0.01 -> 2, 0.25 -> 2, 1 -> 0)."""
    best = 0
    for tick in ticks:
        for d in range(11):
            if abs(round(tick, d) - tick) < 1e-12:
                best = max(best, d)
                break
        else:
            best = 10
    return best


def _positive(value: object, what: str, example: str, *, zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (value < 0 if zero else value <= 0):  # type: ignore[operator]
        bound = ">= 0" if zero else "> 0"
        msg = f"{what} must be a finite number {bound}, got {value!r}; for example {example}."
        raise ConfigurationError(msg)
    return float(value)  # type: ignore[arg-type]


@mypyc_attr(allow_interpreted_subclasses=True)  # your own price sources extend it
class MarketSource(ABC):
    """What the broker needs from a price source.  Subclass it for your own feed."""

    #: True when ticks are OHLCV bars (matched along the intrabar path).
    bars: ClassVar[bool] = False

    def __init__(self) -> None:
        self.symbols: list[str] = []
        self.index: dict[str, int] = {}
        self.tick_sizes: list[float] = []
        self.half_spread = 0.0
        self._rng: np.random.Generator | None = None
        self._latest: list[Tick | None] = []  # per symbol: the last tick that quoted it

    def _add_symbol(self, symbol: str, tick: float) -> int:
        i = self.index[symbol] = len(self.symbols)
        self.symbols.append(symbol)
        self.tick_sizes.append(tick)
        self._latest.append(None)
        return i

    @property
    def bound(self) -> bool:
        """Whether a broker uses this source already (a source serves one broker)."""
        return self._rng is not None

    def bind(self, rng: np.random.Generator, now_ms: int) -> None:
        """Called once by the broker that owns this source; quotes so far are stamped ``now_ms``."""
        if self._rng is not None:
            msg = f"This {type(self).__name__} already belongs to a broker; build a new one per broker."
            raise ConfigurationError(msg)
        self._rng = rng
        for tick in self._latest:
            if tick is not None:
                tick.time = now_ms

    def current(self, i: int) -> tuple[float, float, float, float]:
        """Symbol ``i``'s (bid, ask, bid size, ask size) now (``nan`` before its first quote)."""
        row = self._row(i)
        if row is None:
            return _NAN, _NAN, _INF, _INF
        tick, n = row
        return tick.bid[n], tick.ask[n], tick.bid_size[n], tick.ask_size[n]

    def start_ms(self) -> int | None:
        """The time of the first tick, when the data decide it (replays)."""
        return None

    def ensure_symbol(self, symbol: str) -> int | None:
        """The symbol's index, or ``None`` when this source never quotes it."""
        return self.index.get(symbol)

    @abstractmethod
    def next_tick(self, now_ms: int) -> Tick | None:
        """Advance one step from ``now_ms``; ``None`` when the data are used up."""

    def set_quote(self, symbol: str, change: QuoteChange, now_ms: int) -> Tick:
        """Set a symbol's price by hand (sources that allow it); returns the one-symbol tick."""
        msg = (
            f"A {type(self).__name__} takes its prices from its data; to move prices by hand use "
            "ManualQuotes or RandomWalk."
        )
        raise InvalidState(msg)

    def _store(self, tick: Tick) -> Tick:
        latest = self._latest
        if len(tick.index) == 1:  # one symbol (most ticks of a replay)
            latest[tick.index[0]] = tick
        elif len(tick.index) == len(latest):  # every symbol: one list, no loop
            self._latest = [tick] * len(latest)
        else:
            for i in tick.index:
                latest[i] = tick
        return tick

    def latest(self) -> list[Tick | None]:
        """What the source last quoted, per symbol: keep it to undo a failed tick."""
        return self._latest.copy()

    def restore(self, latest: list[Tick | None]) -> None:
        """Go back to what :meth:`latest` returned (a tick that failed leaves nothing)."""
        self._latest = latest

    def quotes_state(self) -> QuotesState:
        """The current quotes as plain data (see :class:`QuotesState`)."""
        rows = [self._row(i) for i in range(len(self.symbols))]
        values: list[float] = []
        for tick, n in filter(None, rows):
            values.extend(getattr(tick, name)[n] for name in _QUOTE)
            values.extend(getattr(tick, name)[n] if tick.open else _NAN for name in _BAR)
            values.append(tick.time)
        return QuotesState(tuple(row is not None for row in rows), np.array(values))

    def restore_quotes(self, state: QuotesState) -> None:
        """Take the quotes :meth:`quotes_state` saved (after :meth:`bind`, which stamps
        quotes with the broker's time); raises PersistenceError when they do not fit."""
        for i, tick in enumerate(state.ticks(len(self.symbols))):
            self._latest[i] = tick

    def _row(self, i: int) -> tuple[Tick, int] | None:
        tick = self._latest[i]
        return None if tick is None else (tick, tick.index.index(i))

    def quote(self, symbol: str) -> Quote | None:
        """The symbol's current quote, or ``None`` before its first tick."""
        i = self.index.get(symbol)
        row = None if i is None else self._row(i)
        return None if row is None else tick_quote(symbol, *row)

    def _around(self, i: int, price: float, spread: float) -> tuple[float, float, float]:
        """(bid, ask, last) on symbol ``i``'s tick grid around ``price``."""
        tick = self.tick_sizes[i]
        digits = _digits([tick])
        steps = max(0, round(spread / tick))
        bid = max(tick, round(round((price - steps * tick / 2) / tick) * tick, digits))
        ask = round(bid + steps * tick, digits)
        last = min(max(round(round(price / tick) * tick, digits), bid), ask)
        return bid, ask, last

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {', '.join(self.symbols) or 'no symbols'}>"
