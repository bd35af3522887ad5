"""A random market: :class:`RandomWalk`, a price source for market mode that moves each
symbol's price by geometric Brownian motion and quotes it on a tick grid.

The walk draws its normal variates from the broker's seeded generator, a block of steps at a
time, so a seed gives the same prices.  Prices can also be moved by hand
(``broker.set_price``); the walk goes on from there.  See :mod:`paperbroker.market.source` for
what a price source is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigurationError, InvalidState, MarketDataError, PersistenceError
from ..models import MAX_SIZE
from ..statetypes import Count, Floats, NonNegative, Positive
from .source import MarketSource, QuoteChange, QuotesState, Tick, _digits, _positive

__all__ = ["RandomWalk", "RandomWalkState"]


@dataclass(frozen=True, slots=True, eq=False)
class RandomWalkState:
    """What :meth:`RandomWalk.state` saves: the parameters per symbol, the block of normal
    draws it took from the broker's generator with the mids and quotes made of them, where
    it is in that block (``k``), and its current quotes.  The generator's own state is the
    broker's."""

    tick_sizes: tuple[Positive, ...]
    spread: tuple[NonNegative, ...]
    quote_size: tuple[Positive, ...] | None
    step_ms: int
    log_drift: Floats
    volatility: Floats
    mid: Floats
    draws: Floats
    mids: Floats
    rows: Floats
    k: Count
    quotes: QuotesState


_INF = math.inf


def _per_symbol(
    value: object, symbols: Sequence[str], what: str, example: str, *, zero: bool = False
) -> list[float]:
    """A scalar for every symbol, or a mapping symbol -> value covering all of them."""
    if isinstance(value, Mapping):
        missing = [s for s in symbols if s not in value]
        if missing:
            msg = f"{what} has no value for {', '.join(map(repr, missing))}; give one per symbol or a number."
            raise ConfigurationError(msg)
        return [_positive(value[s], f"{what}[{s!r}]", example, zero=zero) for s in symbols]
    return [_positive(value, what, example, zero=zero)] * len(symbols)


class RandomWalk(MarketSource):
    """Geometric Brownian motion per symbol, quoted on a tick grid.

    ``RandomWalk({"AAPL": 190.0, "MSFT": 370.0})`` or ``RandomWalk(["X", "Y"])`` (start at
    100).  Each step the mid moves by ``exp(drift - volatility**2 / 2 + volatility * z)``
    with ``z`` standard normal, so ``volatility=0.001`` is a 0.1 % move per step.  Quotes
    are ``spread`` wide (default one tick) around the mid, each side ``quote_size`` deep
    (``None``: unlimited).  ``tick_size``, ``spread``, ``drift``, ``volatility`` and
    ``quote_size`` take a number or a dict per symbol.  Each step is ``step_ms`` of
    simulated time.
    """

    _BLOCK = 256

    def __init__(
        self,
        prices: Mapping[str, float] | Sequence[str],
        *,
        tick_size: float | Mapping[str, float] = 0.01,
        spread: float | Mapping[str, float] | None = None,
        drift: float | Mapping[str, float] = 0.0,
        volatility: float | Mapping[str, float] = 0.001,
        quote_size: float | Mapping[str, float] | None = None,
        step_ms: int = 1_000,
    ) -> None:
        super().__init__()
        if isinstance(prices, str) or not isinstance(prices, (Mapping, Sequence)) or not prices:
            msg = (
                "prices must be a dict of symbol -> starting price, e.g. {'AAPL': 190.0}, "
                f"or a list of symbols; got {prices!r}."
            )
            raise ConfigurationError(msg)
        names = list(prices)
        for name in names:
            if not isinstance(name, str) or not name.strip():
                msg = f"Symbols must be non-empty strings, got {name!r}."
                raise ConfigurationError(msg)
        start = (
            _per_symbol(dict(prices), names, "price", "{'AAPL': 190.0}")
            if isinstance(prices, Mapping)
            else [100.0] * len(names)
        )
        ticks = _per_symbol(tick_size, names, "tick_size", "tick_size=0.01")
        self._spread = (
            list(ticks) if spread is None else _per_symbol(spread, names, "spread", "spread=0.02", zero=True)
        )
        vol = np.array(_per_symbol(volatility, names, "volatility", "volatility=0.001", zero=True))
        if isinstance(drift, Mapping):
            mu = [float(drift.get(s, 0.0)) for s in names]
        else:
            mu = [float(drift)] * len(names)
        if not all(math.isfinite(m) for m in mu):
            msg = f"drift must be a finite number per step (e.g. 0.0001), got {drift!r}."
            raise ConfigurationError(msg)
        sizes = (
            [_INF] * len(names) if quote_size is None else _per_symbol(quote_size, names, "quote_size", "100")
        )
        if isinstance(step_ms, bool) or not isinstance(step_ms, int) or step_ms <= 0:
            msg = f"step_ms must be a whole number of milliseconds > 0, got {step_ms!r}."
            raise ConfigurationError(msg)
        self.step_ms = step_ms
        for name, tick in zip(names, ticks, strict=True):
            self._add_symbol(name, tick)
        self._sizes = sizes
        self._mid = np.array(start, dtype=float)
        self._log_drift = np.array(mu) - vol**2 / 2.0
        self._vol = vol
        self._tick = np.array(ticks)
        self._steps = np.maximum(0.0, np.round(np.array(self._spread) / self._tick))
        self._digits = _digits(ticks)
        self._z = np.zeros((0, len(names)))
        self._rows: list[tuple[list[float], list[float], list[float]]] = []
        self._mids = np.zeros((0, len(names)))
        self._k = 0
        self._index_all = list(range(len(names)))
        for i, price in enumerate(start):
            bid, ask, last = self._around(i, price, self._spread[i])
            self._store(Tick(0, [i], [bid], [ask], [sizes[i]], [sizes[i]], [last]))

    def state(self) -> RandomWalkState:
        """The walk as plain data (see :class:`RandomWalkState`)."""
        sizes = None if all(math.isinf(v) for v in self._sizes) else tuple(self._sizes)
        return RandomWalkState(
            tuple(self.tick_sizes),
            tuple(self._spread),
            sizes,
            self.step_ms,
            self._log_drift,
            self._vol,
            self._mid,
            self._z,
            self._mids,
            np.array(self._rows, dtype=float),
            self._k,
            self.quotes_state(),
        )

    @classmethod
    def from_state(cls, state: RandomWalkState, symbols: list[str]) -> RandomWalk:
        """A new, unbound walk of ``symbols`` in ``state`` (its quotes follow with
        :meth:`restore_quotes`); raises PersistenceError naming the field that does not fit."""
        n = len(symbols)
        for name in ("tick_sizes", "spread", "quote_size", "log_drift", "volatility", "mid"):
            values = getattr(state, name)
            if values is not None and len(values) != n:
                raise PersistenceError(f"{name} must hold one number per symbol ({n}), got {len(values)}")
        for name, width in (("draws", n), ("mids", n), ("rows", 3 * n)):
            if len(getattr(state, name)) % max(width, 1):
                raise PersistenceError(f"{name} must hold whole rows of {width} numbers")
        draws, mids = state.draws.reshape(-1, n), state.mids.reshape(-1, n)
        rows = state.rows.reshape(-1, 3, n)
        # fewer quotes than draws: the walk ended before a price it could not trade
        if not len(draws) >= len(mids) == len(rows) >= state.k:
            raise PersistenceError(f"k {state.k} and the draws, mids and rows do not line up")
        if not (np.isfinite(state.log_drift).all() and np.isfinite(mids).all() and np.isfinite(rows).all()):
            raise PersistenceError("log_drift, mids and rows must be finite numbers")

        def per_symbol(values: Any) -> dict[str, float]:
            return dict(zip(symbols, values, strict=True))

        try:
            source = cls(
                per_symbol(state.mid.tolist()),
                tick_size=per_symbol(state.tick_sizes),
                spread=per_symbol(state.spread),
                volatility=per_symbol(state.volatility.tolist()),
                quote_size=None if state.quote_size is None else per_symbol(state.quote_size),
                step_ms=state.step_ms,
            )
        except ConfigurationError as exc:
            raise PersistenceError(f"is not valid: {str(exc).rstrip('.')}") from None
        source._log_drift = state.log_drift.copy()
        source._z, source._mids, source._k = draws.copy(), mids.copy(), state.k
        source._rows = [(bid, ask, last) for bid, ask, last in rows.tolist()]
        return source

    def _fill_block(self, from_row: int, mid: np.ndarray[Any, Any]) -> None:
        """Turn draws ``z[from_row:]`` into quotes, starting from ``mid``."""
        ret = self._log_drift + self._vol * self._z[from_row:]
        with np.errstate(over="ignore"):
            mids = mid * np.exp(np.cumsum(ret, axis=0))
        beyond = ~(mids <= MAX_SIZE).all(axis=1)  # inf and nan are beyond too
        if beyond.any():
            # the walk ends before its first price that cannot be traded: rows shorter
            # than the draws tell next_tick (and a saved walk) so
            mids = mids[: int(np.argmax(beyond))]
        tick, digits = self._tick, self._digits
        bid = np.maximum(tick, np.round(np.round((mids - self._steps * tick / 2) / tick) * tick, digits))
        ask = np.round(bid + self._steps * tick, digits)
        last = np.clip(np.round(np.round(mids / tick) * tick, digits), bid, ask)
        rows = list(zip(bid.tolist(), ask.tolist(), last.tolist(), strict=True))
        self._rows[from_row:] = rows
        self._mids = np.concatenate([self._mids[:from_row], mids]) if from_row else mids

    def _current_mid(self) -> np.ndarray[Any, Any]:
        """The mids after the last step taken (the start prices before the first)."""
        return self._mids[self._k - 1] if 0 < self._k <= len(self._mids) else self._mid

    def next_tick(self, now_ms: int) -> Tick:
        """The next step of every symbol's walk."""
        if self._k >= len(self._rows):
            if len(self._rows) < len(self._z):
                msg = (
                    f"This RandomWalk's next price would be above {MAX_SIZE:g}, more than "
                    "paperbroker can trade; give it a smaller volatility or drift."
                )
                raise MarketDataError(msg)
            if self._rng is None:
                msg = "This RandomWalk is not bound to a broker; pass it as BrokerService(market=...)."
                raise InvalidState(msg)
            self._mid = self._current_mid()
            self._z = self._rng.standard_normal((self._BLOCK, len(self.symbols)))
            self._rows = []
            self._fill_block(0, self._mid)
            self._k = 0
        bid, ask, last = self._rows[self._k]
        self._k += 1
        sizes = self._sizes
        return self._store(Tick(now_ms + self.step_ms, self._index_all, bid, ask, sizes, sizes, last))

    def set_quote(self, symbol: str, change: QuoteChange, now_ms: int) -> Tick:
        """Jump ``symbol``'s walk to ``price`` (the walk goes on from there)."""
        i = self.index.get(symbol)
        if i is None:
            msg = f"{symbol!r} is not in this RandomWalk; its symbols are {', '.join(self.symbols)}."
            raise ConfigurationError(msg)
        if (
            change.price is None
            or change.bid is not None
            or change.ask is not None
            or change.last is not None
        ):
            msg = "A RandomWalk is moved by price= only: set_price(symbol, price)."
            raise ConfigurationError(msg)
        price = _positive(change.price, "price", "101.5")
        mid = self._current_mid().copy()
        mid[i] = price
        if self._k == 0:
            self._mid = mid
        else:
            self._mids[self._k - 1] = mid  # the walk goes on from here
        if self._k < len(self._rows):
            self._fill_block(self._k, mid)
        q_bid, q_ask, q_last = self._around(i, price, self._spread[i])
        size_i = self._sizes[i] if change.size is None else _positive(change.size, "size", "100")
        return self._store(Tick(now_ms, [i], [q_bid], [q_ask], [size_i], [size_i], [q_last]))
