"""How the price sources and slippage models of market mode are written to a saved broker.

A source is written with its parameters and its state, so that a loaded broker's market goes
on from where the saved one was:

* :class:`~paperbroker.market.random_walk.RandomWalk` - its parameters, the block of normal draws it
  took from the broker's generator and the quotes it made of them, and where it is in that
  block (the generator's own state is in the ``random`` section);
* :class:`~paperbroker.market.replay_sources.BarReplay` and
  :class:`~paperbroker.market.replay_sources.QuoteReplay` -
  the checked data (times, symbols, columns) and the cursor: a replay is self-contained;
* :class:`~paperbroker.market.source.ManualQuotes` - its parameters;
* every source, also one of the user's own class - each symbol's current quote (or bar).

Numbers are packed (:func:`~paperbroker.persistence.codec.pack`), so they load bit for bit.  A source
or slippage model of the user's own class is noted, not written; ``load()`` asks for it
(and gives the source it is passed the saved quotes).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

import numpy as np

from ..market.random_walk import RandomWalk
from ..market.replay import Loaded
from ..market.replay_sources import BarReplay, QuoteReplay
from ..market.slippage import FixedSlippage, NoSlippage, PercentSlippage, Slippage
from ..market.source import ManualQuotes, MarketSource, Tick
from .codec import count, custom, not_custom, pack, unpack

__all__ = ["dump_quotes", "dump_slippage", "dump_source", "load_quotes", "load_slippage", "load_source"]

_QUOTE = ("bid", "ask", "bid_size", "ask_size", "last")  # a quote's row: these, the bar's, the time
_BAR = ("open", "high", "low", "volume")
_SLIPPAGES: dict[str, type[Any]] = {cls.__name__: cls for cls in (NoSlippage, FixedSlippage, PercentSlippage)}


def _builtin(thing: object, known: dict[str, Any]) -> str | None:
    """The name of ``thing``'s class when it is one of ``known`` exactly (not a subclass)."""
    name = type(thing).__name__
    return name if known.get(name) is type(thing) else None


# ---------------------------------------------------------------------- slippage


def dump_slippage(model: Slippage) -> dict[str, Any]:
    name = _builtin(model, _SLIPPAGES)
    return custom(model) if name is None else {"type": name, **asdict(model)}  # type: ignore[call-overload]


def load_slippage(saved: dict[str, Any]) -> Slippage:
    kind = not_custom(saved, "slippage model", "slippage=model")
    params = {k: v for k, v in saved.items() if k != "type"}
    return _SLIPPAGES[kind](**params)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------- current quotes


def dump_quotes(source: MarketSource) -> dict[str, Any]:
    """Each symbol's current quote: a row of numbers (``nan`` for the bar's when it is not a
    bar), or ``false`` before its first."""
    quoted: list[bool] = []
    values: list[float] = []
    for i in range(len(source.symbols)):
        row = source._row(i)
        quoted.append(row is not None)
        if row is not None:
            tick, n = row
            values.extend(getattr(tick, name)[n] for name in _QUOTE)
            values.extend(getattr(tick, name)[n] if tick.open else math.nan for name in _BAR)
            values.append(tick.time)
    return {"quoted": quoted, "rows": pack(values)}


def load_quotes(source: MarketSource, saved: dict[str, Any]) -> None:
    """Give ``source`` the quotes :func:`dump_quotes` wrote (after the broker bound it)."""
    quoted = saved["quoted"]
    if len(quoted) > len(source.symbols) or not all(isinstance(q, bool) for q in quoted):
        msg = f"the market's quotes do not match its {len(source.symbols)} symbols"
        raise ValueError(msg)
    width = len(_QUOTE) + len(_BAR) + 1
    rows = iter(unpack(saved["rows"], width * sum(quoted)).reshape(-1, width).tolist())
    for i, is_quoted in enumerate(quoted):
        tick = None
        if is_quoted:
            bid, ask, bid_size, ask_size, last, open_, high, low, volume, time = next(rows)
            bars = None if math.isnan(open_) else ([open_], [high], [low], [volume])
            tick = Tick(count(int(time)), [i], [bid], [ask], [bid_size], [ask_size], [last], bars)
        source._latest[i] = tick


# ---------------------------------------------------------------------- sources


def _sizes(values: list[float]) -> list[float] | None:
    """Quote sizes as JSON: ``None`` for unlimited (they are all unlimited or none is)."""
    return None if all(math.isinf(v) for v in values) else values


def _dump_walk(source: RandomWalk) -> dict[str, Any]:
    return {
        "tick_sizes": source.tick_sizes,
        "spread": source._spread,
        "quote_size": _sizes(source._sizes),
        "step_ms": source.step_ms,
        "log_drift": pack(source._log_drift),
        "volatility": pack(source._vol),
        "mid": pack(source._mid),
        "draws": pack(source._z),
        "mids": pack(source._mids),
        "rows": pack(np.array(source._rows, dtype=float)),
        "k": source._k,
    }


def _load_walk(saved: dict[str, Any], symbols: list[str]) -> RandomWalk:
    n = len(symbols)

    def per_symbol(values: Any) -> dict[str, float]:
        return dict(zip(symbols, values, strict=True))

    sizes = saved["quote_size"]
    source = RandomWalk(
        per_symbol(unpack(saved["mid"], n).tolist()),
        tick_size=per_symbol(saved["tick_sizes"]),
        spread=per_symbol(saved["spread"]),
        volatility=per_symbol(unpack(saved["volatility"], n).tolist()),
        quote_size=None if sizes is None else per_symbol(sizes),
        step_ms=saved["step_ms"],
    )
    source._log_drift = unpack(saved["log_drift"], n)
    draws = unpack(saved["draws"]).reshape(-1, n)
    mids = unpack(saved["mids"]).reshape(-1, n)
    rows = unpack(saved["rows"]).reshape(-1, 3, n)
    k = count(saved["k"])
    # fewer quotes than draws: the walk ended before a price it could not trade
    if not len(draws) >= len(mids) == len(rows) >= k:
        msg = "the random walk's draws, mids and quotes do not line up"
        raise ValueError(msg)
    source._z, source._mids, source._k = draws, mids, k
    source._rows = [(bid, ask, last) for bid, ask, last in rows.tolist()]
    return source


def _dump_manual(source: ManualQuotes) -> dict[str, Any]:
    return {
        "tick_size": source._tick,
        "spread": source._spread,
        "quote_size": _sizes([source._size]),
        "step_ms": source.step_ms,
    }


def _load_manual(saved: dict[str, Any], symbols: list[str]) -> ManualQuotes:
    sizes = saved["quote_size"]
    source = ManualQuotes(
        tick_size=saved["tick_size"],
        spread=saved["spread"],
        quote_size=None if sizes is None else sizes[0],
        step_ms=saved["step_ms"],
    )
    for symbol in symbols:
        source.ensure_symbol(symbol)
    return source


def _dump_replay(source: BarReplay | QuoteReplay) -> dict[str, Any]:
    out = {
        "tick_size": source.tick_sizes[0],
        "times": pack(source._time, "<i8"),
        "codes": pack(source._codes, "<i8"),
        "starts": pack(source._starts, "<i8"),
        "columns": {name: pack(column) for name, column in source._cols.items()},
        "k": source._k,
    }
    if isinstance(source, BarReplay):
        out["spread"] = source.half_spread * 2.0
        out["volume_share"] = source._share
    return out


def _checked_data(saved: dict[str, Any], symbols: list[str], required: tuple[str, ...]) -> Loaded:
    """The replay's data, checked to be what a replay made of a frame."""
    times = unpack(saved["times"], dtype="<i8")
    rows = len(times)
    codes = unpack(saved["codes"], rows, "<i8")
    starts = unpack(saved["starts"], dtype="<i8")
    columns = {name: unpack(text, rows) for name, text in saved["columns"].items()}
    ok = (
        rows > 0
        and all(name in columns for name in required)
        and bool((np.diff(times) >= 0).all())
        and bool(((codes >= 0) & (codes < len(symbols))).all())
        and len(starts) >= 2
        and starts[0] == 0
        and starts[-1] == rows
        and bool((np.diff(starts) > 0).all())
    )
    if not ok:
        msg = "the replay's data are not sorted rows of its symbols"
        raise ValueError(msg)
    return Loaded(list(symbols), times, codes, columns, starts)


def _load_bars(saved: dict[str, Any], symbols: list[str]) -> BarReplay:
    data = _checked_data(saved, symbols, BarReplay._required)
    source = BarReplay(
        data, tick_size=saved["tick_size"], spread=saved["spread"], volume_share=saved["volume_share"]
    )
    return _at(source, saved["k"])


def _load_quote_replay(saved: dict[str, Any], symbols: list[str]) -> QuoteReplay:
    data = _checked_data(saved, symbols, QuoteReplay._required)
    return _at(QuoteReplay(data, tick_size=saved["tick_size"]), saved["k"])


_R = TypeVar("_R", BarReplay, QuoteReplay)


def _at(source: _R, k: object) -> _R:
    source._k = count(k)
    if source._k > len(source):
        msg = f"the replay's cursor {source._k} is past its {len(source)} steps"
        raise ValueError(msg)
    return source


_Codec = tuple[type[MarketSource], Callable[[Any], dict[str, Any]], Callable[..., MarketSource]]
_SOURCES: dict[str, _Codec] = {
    "RandomWalk": (RandomWalk, _dump_walk, _load_walk),
    "ManualQuotes": (ManualQuotes, _dump_manual, _load_manual),
    "BarReplay": (BarReplay, _dump_replay, _load_bars),
    "QuoteReplay": (QuoteReplay, _dump_replay, _load_quote_replay),
}


def dump_source(source: MarketSource) -> dict[str, Any]:
    name = _builtin(source, {name: cls for name, (cls, _, _) in _SOURCES.items()})
    state = custom(source) if name is None else {"type": name, **_SOURCES[name][1](source)}
    return {**state, "quotes": dump_quotes(source)}


def load_source(saved: dict[str, Any], symbols: list[str]) -> MarketSource:
    """A new, unbound source as saved (its quotes follow with :func:`load_quotes`)."""
    kind = not_custom(saved, "price source", "market=source")
    source = _SOURCES[kind][2](saved, symbols)
    if source.symbols != symbols:
        msg = f"the {kind}'s symbols {source.symbols} differ from the market's {symbols}"
        raise ValueError(msg)
    return source
