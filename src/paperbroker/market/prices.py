"""The prices a broker's market showed, tick by tick, as bounded columns.

A :class:`PriceLog` keeps one row per symbol per tick: the tick's time, the symbol's
position in the source's symbol list, and for a bar source the bar's open, high, low,
close and volume, for a quote source the bid, ask, last price and the bid and ask sizes
(``inf``: unlimited).  (A bar source's quotes are made from its bars, so they are not
kept again.)

Like the execution and equity logs, the numbers go into one ``array('d')`` through
:mod:`struct` (one ``frombytes`` per row, no pandas, no numpy per tick), and the log keeps
at least its ``limit`` newest rows: once it holds twice that, the oldest are dropped in
one go, so the amortised cost per tick is O(1).  :meth:`PriceLog.columns` copies the rows
out as numpy columns, on demand.
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import NotFound

if TYPE_CHECKING:
    from .source import Tick

__all__ = ["BAR_COLUMNS", "QUOTE_COLUMNS", "PriceLog"]

#: what a row of a bar source keeps after its time and symbol position
BAR_COLUMNS = ("open", "high", "low", "last", "volume")
#: what a row of a quote source keeps after its time and symbol position
QUOTE_COLUMNS = ("bid", "ask", "last", "bid_size", "ask_size")
_ALL = ("bid", "ask", "bid_size", "ask_size", "last", "open", "high", "low", "volume")
_WIDTH = 7


class PriceLog:
    """Bounded columnar history of the ticks a market applied (see the module docstring).

    ``symbols`` is the source's own list of symbol names (it may grow; rows refer to it by
    position).  ``bars`` says whether the source gives OHLCV bars (then a row keeps
    :data:`BAR_COLUMNS`) or quotes (:data:`QUOTE_COLUMNS`).
    """

    __slots__ = ("_cap", "_data", "_pack", "bars", "limit", "record", "symbols", "total")

    def __init__(self, limit: int | None, symbols: list[str], bars: bool) -> None:
        self.limit = limit
        self.symbols = symbols
        self.bars = bars
        self.total = 0  # rows ever recorded
        self._data = array("d")
        self._cap: float = math.inf if limit is None else 2 * limit * _WIDTH
        self._pack = struct.Struct(f"{_WIDTH}d").pack
        #: ``record(tick)`` appends one row per symbol of the tick
        self.record: Callable[[Tick], None] = self._record_bars if bars else self._record_quotes

    def __len__(self) -> int:
        return len(self._data) // _WIDTH

    def _record_bars(self, tick: Tick) -> None:
        add, pack, time = self._data.frombytes, self._pack, tick.time
        o, h, lo, c, v = tick.open, tick.high, tick.low, tick.last, tick.volume
        for n, i in enumerate(tick.index):
            add(pack(time, i, o[n], h[n], lo[n], c[n], v[n]))
        self.total += len(tick.index)
        if len(self._data) >= self._cap:
            self._trim()

    def _record_quotes(self, tick: Tick) -> None:
        add, pack, time, index = self._data.frombytes, self._pack, tick.time, tick.index
        b, a, c, bsz, asz = tick.bid, tick.ask, tick.last, tick.bid_size, tick.ask_size
        if len(index) == 1:
            add(pack(time, index[0], b[0], a[0], c[0], bsz[0], asz[0]))
        else:
            for n, i in enumerate(index):
                add(pack(time, i, b[n], a[n], c[n], bsz[n], asz[n]))
        self.total += len(index)
        if len(self._data) >= self._cap:
            self._trim()

    def _trim(self) -> None:
        drop = len(self) - (self.limit or 0)
        if drop > 0:
            del self._data[: drop * _WIDTH]

    def columns(self, symbol: str | None = None) -> dict[str, Any]:
        """The kept rows, oldest first, as numpy columns of their own.

        ``time`` is int64 Unix milliseconds, ``symbol`` an array of names, the others
        (``bid``, ``ask``, ``bid_size``, ``ask_size``, ``last``, ``open``, ``high``, ``low``,
        ``volume``) float64, NaN where the source does not give them.  With ``symbol`` only
        that symbol's rows.
        """
        import numpy as np

        table = np.frombuffer(self._data, dtype=np.float64).reshape(-1, _WIDTH).copy()
        kept = BAR_COLUMNS if self.bars else QUOTE_COLUMNS
        values = {name: table[:, 2 + n] for n, name in enumerate(kept)}
        time, codes = table[:, 0].astype(np.int64), table[:, 1].astype(np.int64)
        return price_columns(self.symbols, time, codes, values, symbol)

    def clear(self) -> None:
        """Drop every kept row."""
        del self._data[:]


class ReplayPrices:
    """The price log of a :class:`~paperbroker.market.replay_sources.BarReplay` that the
    venue plays itself: the replay's own rows from where the broker began up to its cursor,
    the newest ``limit`` of them.  Nothing is copied per bar: the replay holds the bars.
    """

    __slots__ = ("_begin", "_replay", "bars", "limit", "symbols")

    def __init__(self, limit: int | None, replay: Any) -> None:
        self.limit = limit
        self.bars = True
        self.symbols: list[str] = replay.symbols
        self._replay = replay
        self._begin: int = replay.rows_played()  # a broker loaded part way logs from there

    def record(self, tick: Tick) -> None:
        """Nothing to do: the tick's rows are the replay's."""

    def __len__(self) -> int:
        end, begin = self._end_begin()
        return end - begin

    def _end_begin(self) -> tuple[int, int]:
        end = self._replay.rows_played()
        return end, self._begin if self.limit is None else max(self._begin, end - self.limit)

    def columns(self, symbol: str | None = None) -> dict[str, Any]:
        """As :meth:`PriceLog.columns`."""
        end, begin = self._end_begin()
        time, codes, values = self._replay.bar_columns(begin, end)
        return price_columns(self.symbols, time, codes, values, symbol)

    def clear(self) -> None:
        """Drop every kept row."""
        self._begin = self._replay.rows_played()


def price_columns(
    symbols: list[str], time: Any, codes: Any, values: dict[str, Any], symbol: str | None
) -> dict[str, Any]:
    """A price log's output: ``time``, ``symbol`` and every price column (NaN where
    ``values`` has none), each an array of its own, only ``symbol``'s rows when given."""
    import numpy as np

    if symbol is not None:
        if symbol not in symbols:
            known = ", ".join(symbols) or "none"
            msg = f"The market has no prices of {symbol!r}; its symbols are {known}."
            raise NotFound(msg)
        keep = codes == symbols.index(symbol)
        time, codes, values = time[keep], codes[keep], {k: v[keep] for k, v in values.items()}
    names = np.array([*symbols, ""], dtype=object)  # never empty, for the indexing
    out: dict[str, Any] = {"time": np.array(time, dtype=np.int64), "symbol": names[codes]}
    for name in _ALL:
        out[name] = np.array(values[name], dtype=np.float64) if name in values else np.full(len(time), np.nan)
    return out
