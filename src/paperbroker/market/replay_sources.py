"""Replayed markets: :class:`BarReplay` (OHLCV bars) and :class:`QuoteReplay` (bid/ask
quotes), price sources for market mode made from pandas DataFrames.

* :class:`BarReplay` - OHLCV bars from a pandas DataFrame (one symbol, a ``symbol``
  column, or a dict of frames); orders match along each bar's intrabar path.
* :class:`QuoteReplay` - bid/ask quotes (with optional sizes) from a DataFrame.

Each step is the next time in the data; the frames are checked and loaded by
:mod:`paperbroker.market.replay` (pandas is imported only by the constructors).  See
:mod:`paperbroker.market.source` for what a price source is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import length_hint
from typing import Any, ClassVar, TypeVar

import numpy as np

from ..errors import ConfigurationError, PersistenceError
from ..statetypes import Count, Floats, Ints, NonNegative, Positive
from .replay import CHUNK_TIMES, NO_CHUNK, Chunk, Loaded, load_frames
from .source import BarRow, MarketSource, QuotesState, Tick, _positive

_INF = math.inf
_PULLED_OUT: Callable[[], Any] = iter(()).__next__  # pull with no rows: StopIteration

__all__ = ["BarReplay", "BarReplayState", "QuoteReplay", "QuoteReplayState"]


@dataclass(frozen=True, slots=True, eq=False)
class QuoteReplayState:
    """What a replay saves: its tick size, its checked data (each row's time and symbol
    number, the first row of each time, the columns), its cursor ``k`` and its quotes."""

    tick_size: Positive
    times: Ints
    codes: Ints
    starts: Ints
    columns: dict[str, Floats]
    k: Count
    quotes: QuotesState


@dataclass(frozen=True, slots=True, eq=False)
class BarReplayState(QuoteReplayState):
    """What a :class:`BarReplay` saves: a replay's state, its spread and volume share."""

    spread: NonNegative
    volume_share: Positive | None


_R = TypeVar("_R", bound="_Replay")


class _Replay(MarketSource):
    """Rows grouped by time; each step is the next group."""

    _required: ClassVar[tuple[str, ...]] = ()
    _optional: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        data: Any,
        symbol: str | None,
        tick_size: float,
        allow_gaps: bool,
        frequency: Any,
    ) -> None:
        super().__init__()
        tick = _positive(tick_size, "tick_size", "tick_size=0.01")
        if isinstance(data, Loaded):  # data checked before, by a replay that was saved
            loaded = data
        else:
            loaded = load_frames(
                data,
                symbol=symbol,
                required=self._required,
                optional=self._optional,
                allow_gaps=allow_gaps,
                frequency=frequency,
                check=self._check_row,
            )
        for name in loaded.symbols:
            self._add_symbol(name, tick)
        self._time = loaded.times
        self._codes = loaded.codes
        self._cols = loaded.columns
        self._starts = loaded.starts
        self._k = 0
        self._chunk: Chunk = NO_CHUNK

    @staticmethod
    def _check_row(columns: dict[str, Any]) -> tuple[Any, str] | None:
        """Rows (a boolean mask) that break a rule, and the rule as a sentence."""
        return None

    def _state_fields(self) -> dict[str, Any]:
        return {
            "tick_size": self.tick_sizes[0],
            "times": self._time,
            "codes": self._codes,
            "starts": self._starts,
            "columns": dict(self._cols),
            "k": self._k,
            "quotes": self.quotes_state(),
        }

    @classmethod
    def _data(cls, state: QuoteReplayState, symbols: list[str]) -> Loaded:
        """``state``'s data, checked to be what a replay made of a frame."""
        times, codes, starts = state.times, state.codes, state.starts
        rows = len(times)
        columns = state.columns
        missing = [name for name in cls._required if name not in columns]
        if missing or any(len(column) != rows for column in columns.values()):
            raise PersistenceError(f"columns must be {list(cls._required)} and more, one number per row")
        ok = (
            rows > 0
            and len(codes) == rows
            and bool((np.diff(times) >= 0).all())
            and bool(((codes >= 0) & (codes < len(symbols))).all())
            and len(starts) >= 2
            and starts[0] == 0
            and starts[-1] == rows
            and bool((np.diff(starts) > 0).all())
        )
        if not ok:
            raise PersistenceError("times, codes and starts must be sorted rows of the market's symbols")
        if state.k > len(starts) - 1:
            raise PersistenceError(f"k {state.k} is past the replay's {len(starts) - 1} steps")
        return Loaded(list(symbols), times, codes, dict(columns), starts)

    def _at(self: _R, k: int) -> _R:
        self._k = k
        self._chunk = NO_CHUNK
        return self

    def __len__(self) -> int:
        """How many steps the replay has."""
        return len(self._starts) - 1

    @property
    def remaining(self) -> int:
        return len(self) - self._k

    def start_ms(self) -> int | None:
        return int(self._time[0]) if len(self._time) else None

    def _step(self) -> tuple[Chunk, int] | None:
        """Move to the next time: the chunk that holds it (converted to lists now when it
        is a new one) and its position there; None at the end of the data."""
        k = self._k
        chunk = self._chunk
        if not chunk.first <= k < chunk.end:
            if k >= len(self):
                return None
            chunk = self._load(k)
        self._k = k + 1
        return chunk, k - chunk.first

    def _load(self, k: int) -> Chunk:
        """The chunk of the times from ``k`` on, made the current one."""
        chunk = Chunk(self._time, self._codes, self._cols, self._starts, k, min(k + CHUNK_TIMES, len(self)))
        self._chunk = chunk
        return chunk


class BarReplay(_Replay):
    """Replay OHLCV bars from a pandas DataFrame.

    The frame has columns ``open``, ``high``, ``low``, ``close`` and optionally ``volume``
    (any case), times in a DatetimeIndex or a ``time`` column, and either one symbol
    (``symbol="SPY"``), a ``symbol`` column, or it is a dict ``{symbol: frame}``.  Each
    step is the next bar time; orders match along each bar's path.  A bar offers
    ``volume_share`` of its volume to fill against (``None``: unlimited).  ``spread`` is a
    quoted bid/ask spread around the bar prices.  Missing bars of one symbol at a time others
    have, and with ``frequency="1min"`` (a pandas offset) any hole in the series, are
    errors unless ``allow_gaps=True``.
    """

    bars = True
    _required = ("open", "high", "low", "close")
    _pulled: Iterator[BarRow] | None = None  # the chunk's rows pull hands out
    _k_at = 0
    #: the next row of a one-symbol replay, one C call; StopIteration: ask :meth:`next_bar`
    pull: Callable[[], BarRow] = _PULLED_OUT
    _optional = ("volume",)

    def __init__(
        self,
        data: Any,
        *,
        symbol: str | None = None,
        volume_share: float | None = 0.1,
        spread: float = 0.0,
        tick_size: float = 0.01,
        allow_gaps: bool = False,
        frequency: Any = None,
    ) -> None:
        super().__init__(data, symbol, tick_size, allow_gaps, frequency)
        self.half_spread = _positive(spread, "spread", "spread=0.02", zero=True) / 2.0
        if volume_share is not None:
            volume_share = _positive(volume_share, "volume_share", "volume_share=0.1")
            if volume_share > 1:
                msg = f"volume_share is a fraction of each bar's volume in (0, 1], got {volume_share!r}."
                raise ConfigurationError(msg)
        self._share = volume_share

    def state(self) -> BarReplayState:
        """The replay as plain data (see :class:`BarReplayState`)."""
        return BarReplayState(**self._state_fields(), spread=self.half_spread * 2.0, volume_share=self._share)

    @classmethod
    def from_state(cls, state: BarReplayState, symbols: list[str]) -> BarReplay:
        """A new, unbound replay of ``symbols`` in ``state`` (its quotes follow with
        :meth:`restore_quotes`); raises PersistenceError naming what does not fit."""
        data = cls._data(state, symbols)
        try:
            source = cls(
                data, tick_size=state.tick_size, spread=state.spread, volume_share=state.volume_share
            )
        except ConfigurationError as exc:
            raise PersistenceError(f"is not valid: {str(exc).rstrip('.')}") from None
        return source._at(state.k)

    @staticmethod
    def _check_row(columns: dict[str, Any]) -> tuple[Any, str] | None:
        o, h, lo, c = columns["open"], columns["high"], columns["low"], columns["close"]
        bad = (h < np.maximum(o, c)) | (lo > np.minimum(o, c)) | (h < lo)
        return bad, "high must be the highest and low the lowest price of its bar"

    def _load(self, k: int) -> Chunk:
        chunk = super()._load(k)
        cols, arrays = chunk.columns, self._cols  # the chunk's columns are lists already: reused
        r0, r1 = int(self._starts[chunk.first]), int(self._starts[chunk.end])
        volume = cols.get("volume", [_INF] * (r1 - r0))
        share, half, close = self._share, self.half_spread, cols["close"]
        unlimited = share is None or "volume" not in cols
        sizes = [_INF] * (r1 - r0) if unlimited else (arrays["volume"][r0:r1] * share).tolist()
        bid = ask = close
        if half:
            bid, ask = (arrays["close"][r0:r1] - half).tolist(), (arrays["close"][r0:r1] + half).tolist()
        times, opens, highs, lows = self._time[r0:r1].tolist(), cols["open"], cols["high"], cols["low"]
        rows = zip(times, chunk.codes, opens, highs, lows, close, volume, bid, ask, sizes, sizes, strict=True)
        chunk.rows = list(rows)
        return chunk

    def rows_played(self) -> int:
        """How many rows (one per symbol per time) the replay has given so far."""
        return int(self._starts[self._k])

    def bar_columns(self, begin: int, end: int) -> tuple[Any, Any, dict[str, Any]]:
        """Rows ``begin`` to ``end`` as numpy columns: times, symbol positions, and ``open``,
        ``high``, ``low``, ``last`` (the close) and ``volume`` (``inf`` without a volume)."""
        cols = self._cols
        rows = slice(begin, end)
        volume = cols["volume"][rows] if "volume" in cols else np.full(end - begin, _INF)
        values = {"open": cols["open"][rows], "high": cols["high"][rows], "low": cols["low"][rows]}
        return self._time[rows], self._codes[rows], {**values, "last": cols["close"][rows], "volume": volume}

    def next_bar(self) -> BarRow | None:
        """The next time's bar as a :data:`BarRow`, when one symbol has a bar then (the
        venue's short path: no :class:`Tick`); ``None`` when several have (then
        :meth:`next_tick` gives it) or at the end of the data.  In a replay of one symbol
        :attr:`pull` then hands out the rest of the chunk, a C call a row, no Python frame.
        """
        k, chunk = self._k, self._chunk
        if not chunk.first <= k < chunk.end:
            if k >= len(self):
                return None
            chunk = self._load(k)
        j = k - chunk.first
        s0 = chunk.starts[j]
        if chunk.starts[j + 1] - s0 != 1:
            return None
        self._k = k + 1
        row = chunk.rows[s0]
        latest = self._latest
        latest[row[1]] = row  # type: ignore[call-overload]  # a Tick only if asked for (_row)
        if len(latest) == 1:  # a row a time to the chunk's end: pull takes over
            self._pulled = pulled = iter(chunk.rows[j + 1 :])
            self.pull = pulled.__next__
        return row

    # pull's rows: the cursor and last row are read off its rows left; moving the cursor ends it
    @property
    def _k(self) -> int:
        pulled = self._pulled
        return self._k_at if pulled is None else self._chunk.end - length_hint(pulled)

    @_k.setter
    def _k(self, k: int) -> None:
        self._k_at = k
        if self._pulled is not None:
            self._pulled = None
            self.pull = _PULLED_OUT

    @property
    def _latest(self) -> list[Tick | None]:
        latest = self._latest_at
        if self._pulled is not None:
            chunk = self._chunk
            latest[0] = chunk.rows[self._k - 1 - chunk.first]  # type: ignore[call-overload]
        return latest

    @_latest.setter
    def _latest(self, latest: list[Tick | None]) -> None:
        self._k = self._k  # (the cursor as it is, pull ended)
        self._latest_at = latest

    def _row(self, i: int) -> tuple[Tick, int] | None:
        tick: Any = self._latest[i]
        if type(tick) is tuple:  # a row next_bar gave: its Tick now
            tick = self._latest[i] = _row_tick(tick)
        return None if tick is None else (tick, tick.index.index(i))

    def next_tick(self, now_ms: int) -> Tick | None:
        """The next bar of each symbol at the next time, or None at the end."""
        step = self._step()
        if step is None:
            return None
        chunk, j = step
        s0, s1 = chunk.starts[j], chunk.starts[j + 1]
        cols = chunk.columns
        half, share = self.half_spread, self._share
        close = cols["close"][s0:s1]
        volume = cols.get("volume")
        vol = [_INF] * len(close) if volume is None else volume[s0:s1]
        size = [_INF if share is None else v * share for v in vol]
        bars = (cols["open"][s0:s1], cols["high"][s0:s1], cols["low"][s0:s1], vol)
        bid, ask = [c - half for c in close], [c + half for c in close]
        return self._store(Tick(chunk.times[j], chunk.codes[s0:s1], bid, ask, size, size, close, bars))


def _row_tick(row: BarRow) -> Tick:
    """A :data:`BarRow` as a one-symbol bar :class:`Tick`."""
    time, i, o, h, lo, c, volume, bid, ask, bid_size, ask_size = row
    return Tick(time, [i], [bid], [ask], [bid_size], [ask_size], [c], ([o], [h], [lo], [volume]))


class QuoteReplay(_Replay):
    """Replay bid/ask quotes from a pandas DataFrame.

    Columns ``bid`` and ``ask``, optionally ``bid_size``/``ask_size`` (or ``bidSize`` /
    ``askSize``; missing: unlimited) and ``last`` (missing: the mid); times and symbols as
    for :class:`BarReplay`.  Each step is the next time stamp; symbols quote when they
    have a row (``allow_gaps`` defaults to True: quotes arrive when they arrive).
    """

    _required = ("bid", "ask")
    _optional = ("bid_size", "ask_size", "last")

    def __init__(
        self,
        data: Any,
        *,
        symbol: str | None = None,
        tick_size: float = 0.01,
        allow_gaps: bool = True,
        frequency: Any = None,
    ) -> None:
        super().__init__(data, symbol, tick_size, allow_gaps, frequency)

    def state(self) -> QuoteReplayState:
        """The replay as plain data (see :class:`QuoteReplayState`)."""
        return QuoteReplayState(**self._state_fields())

    @classmethod
    def from_state(cls, state: QuoteReplayState, symbols: list[str]) -> QuoteReplay:
        """A new, unbound replay of ``symbols`` in ``state`` (its quotes follow with
        :meth:`restore_quotes`); raises PersistenceError naming what does not fit."""
        return cls(cls._data(state, symbols), tick_size=state.tick_size)._at(state.k)  # noqa: SLF001 - its own

    @staticmethod
    def _check_row(columns: dict[str, Any]) -> tuple[Any, str] | None:
        return columns["ask"] < columns["bid"], "a quote's ask must not be below its bid (swap them)"

    def next_tick(self, now_ms: int) -> Tick | None:
        """The next quotes at the next time, or None at the end."""
        step = self._step()
        if step is None:
            return None
        chunk, j = step
        rows = slice(chunk.starts[j], chunk.starts[j + 1])
        cols = chunk.columns
        bid, ask = cols["bid"][rows], cols["ask"][rows]
        bid_size = cols["bid_size"][rows] if "bid_size" in cols else [_INF] * len(bid)
        ask_size = cols["ask_size"][rows] if "ask_size" in cols else [_INF] * len(bid)
        last = cols["last"][rows] if "last" in cols else [(b + a) / 2 for b, a in zip(bid, ask, strict=True)]
        return self._store(Tick(chunk.times[j], chunk.codes[rows], bid, ask, bid_size, ask_size, last))
