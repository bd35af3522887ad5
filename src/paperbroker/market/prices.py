"""The prices a broker's market showed, tick by tick, as bounded columns.

A :class:`PriceLog` keeps one row per symbol per tick: the tick's time, the symbol's
position in the source's symbol list, the bid, ask, their sizes and the last price, and
for bar sources the bar's open, high, low and volume (``last`` is the close).  Quote
sources leave the bar columns NaN.  A size of ``inf`` means unlimited.

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
from typing import TYPE_CHECKING, Any

from ..errors import NotFound

if TYPE_CHECKING:
    from .source import Tick

__all__ = ["PRICE_COLUMNS", "PriceLog"]

#: the numeric columns of a row, in order (``symbol`` is a position in the symbol list)
PRICE_COLUMNS = (
    "time",
    "symbol",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
    "last",
    "open",
    "high",
    "low",
    "volume",
)
_WIDTH = len(PRICE_COLUMNS)
_NAN = math.nan


class PriceLog:
    """Bounded columnar history of the ticks a market applied (see the module docstring).

    ``symbols`` is the source's own list of symbol names (it may grow; rows refer to it by
    position).  ``bars`` says whether the source gives OHLCV bars.
    """

    __slots__ = ("_cap", "_data", "_pack", "bars", "limit", "symbols", "total")

    def __init__(self, limit: int | None, symbols: list[str], bars: bool) -> None:
        self.limit = limit
        self.symbols = symbols
        self.bars = bars
        self.total = 0  # rows ever recorded
        self._data = array("d")
        self._cap: float = math.inf if limit is None else 2 * limit * _WIDTH
        self._pack = struct.Struct(f"{_WIDTH}d").pack

    def __len__(self) -> int:
        return len(self._data) // _WIDTH

    def record(self, tick: Tick) -> None:
        """Append one row per symbol of ``tick``."""
        add, pack, time = self._data.frombytes, self._pack, tick.time
        bid, ask, bsz, asz, last = tick.bid, tick.ask, tick.bid_size, tick.ask_size, tick.last
        if tick.open:
            o, h, lo, v = tick.open, tick.high, tick.low, tick.volume
            for n, i in enumerate(tick.index):
                add(pack(time, i, bid[n], ask[n], bsz[n], asz[n], last[n], o[n], h[n], lo[n], v[n]))
        else:
            for n, i in enumerate(tick.index):
                add(pack(time, i, bid[n], ask[n], bsz[n], asz[n], last[n], _NAN, _NAN, _NAN, _NAN))
        self.total += len(tick.index)
        if len(self._data) >= self._cap:
            self._trim()

    def _trim(self) -> None:
        drop = len(self) - (self.limit or 0)
        if drop > 0:
            del self._data[: drop * _WIDTH]

    def columns(self, symbol: str | None = None) -> dict[str, Any]:
        """The kept rows, oldest first, as numpy columns of their own.

        ``time`` is int64 Unix milliseconds, ``symbol`` an array of names, the rest float64.
        With ``symbol`` only that symbol's rows (none when the market never quoted it).
        """
        import numpy as np

        table = np.frombuffer(self._data, dtype=np.float64).reshape(-1, _WIDTH).copy()
        codes = table[:, 1].astype(np.int64)
        if symbol is not None:
            if symbol not in self.symbols:
                known = ", ".join(self.symbols) or "none"
                msg = f"The market has no prices of {symbol!r}; its symbols are {known}."
                raise NotFound(msg)
            code = self.symbols.index(symbol)
            keep = codes == code
            table, codes = table[keep], codes[keep]
        names = np.array(self.symbols, dtype=object) if self.symbols else np.array([], dtype=object)
        out: dict[str, Any] = {
            "time": table[:, 0].astype(np.int64),
            "symbol": names[codes] if len(codes) else np.array([], dtype=object),
        }
        for k, name in enumerate(PRICE_COLUMNS[2:], start=2):
            out[name] = table[:, k]
        return out

    def clear(self) -> None:
        del self._data[:]
