"""What makes a tick of a price source of your own unusable (the venue checks each one
before it applies it: see :class:`~paperbroker.market.venue.Venue`)."""

from __future__ import annotations

from numbers import Integral

from .source import Tick

__all__ = ["tick_problem"]

_INF = float("inf")


def tick_problem(tick: object, now_ms: int, symbols: list[str], bars: bool) -> str | None:
    """What makes ``tick`` unusable, as a clause, or ``None`` when it is sound.

    A :class:`~paperbroker.market.source.Tick` whose time is whole milliseconds not before
    ``now_ms``; every row names one of the ``symbols`` once; prices are finite and > 0 with
    bid <= ask (and low <= open, close <= high for bars); sizes are >= 0 (``inf``:
    unlimited).  A numpy integer time becomes an int.
    """
    if not isinstance(tick, Tick):
        return f"next_tick() must return a Tick or None, got {tick!r}"
    time = tick.time
    if isinstance(time, bool) or not isinstance(time, Integral):
        return f"its time must be whole Unix milliseconds, got {time!r}"
    tick.time = time = int(time)
    if time < now_ms:
        return f"its time {time} ms is before the broker's clock ({now_ms} ms)"
    try:
        return _rows_problem(tick, symbols, bars)
    except TypeError:
        return "its index must be a list of symbol positions, and its prices and sizes lists of numbers"


def _rows_problem(tick: Tick, symbols: list[str], bars: bool) -> str | None:
    index = tick.index
    n, count = len(index), len(symbols)
    columns = [tick.bid, tick.ask, tick.bid_size, tick.ask_size, tick.last]
    if bars:
        columns += [tick.open, tick.high, tick.low, tick.volume]
    if any(len(column) != n for column in columns):
        return "its columns (index, bid, ask, sizes, last ...) differ in length"
    if len(set(index)) != n or not all(
        isinstance(i, Integral) and not isinstance(i, bool) and 0 <= i < count for i in index
    ):
        return f"its index must name each of the source's {count} symbols at most once, got {index!r}"
    tick.index = index = [int(i) for i in index]  # numpy integers, say
    for row, (b, a, last, bsz, asz) in enumerate(
        zip(tick.bid, tick.ask, tick.last, tick.bid_size, tick.ask_size, strict=True)
    ):
        if not (0.0 < b <= a < _INF and 0.0 < last < _INF):
            return (
                f"{symbols[index[row]]!r} has bid {b!r}, ask {a!r} and last {last!r} "
                "(prices must be finite and > 0, with bid <= ask)"
            )
        if not (bsz >= 0.0 and asz >= 0.0):
            return f"{symbols[index[row]]!r} has sizes {bsz!r} and {asz!r} (sizes must be >= 0)"
    if bars:
        for row, (o, h, lo, c) in enumerate(zip(tick.open, tick.high, tick.low, tick.last, strict=True)):
            if not (0.0 < lo <= min(o, c) and max(o, c) <= h < _INF):
                return (
                    f"{symbols[index[row]]!r} has the bar open {o!r}, high {h!r}, low {lo!r} and "
                    f"close {c!r} (need 0 < low <= open, close <= high)"
                )
    return None
