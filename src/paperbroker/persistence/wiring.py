"""Where a broker's parts are taken apart into saved states, and put together again.

This is the one module of :mod:`paperbroker.persistence` that knows which part holds
what: :func:`collect` reads each component's state off a
:class:`~paperbroker.parts.BrokerParts`, and :func:`assemble` builds new parts from a
checked :class:`~.schema.Document`, each component made by its own ``from_state``.
Everything else in the package works on components and typed states only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..clock import Clock, SimClock, SimClockState, WallClock, WallClockState
from ..core.brackets import Brackets
from ..core.children import ChildOrders
from ..core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit, custom_model
from ..core.history import Codes, EquityLog, ExecutionLog
from ..core.ledger import Ledger
from ..core.orders import OrderBook
from ..core.ports import Books
from ..core.risk import RiskBook
from ..errors import ConfigurationError, PersistenceError
from ..market.manual import ManualQuotes, ManualQuotesState
from ..market.matching import Matcher
from ..market.random_walk import RandomWalk, RandomWalkState
from ..market.replay_sources import BarReplay, BarReplayState, QuoteReplay, QuoteReplayState
from ..market.slippage import FixedSlippage, NoSlippage, PercentSlippage
from ..market.source import MarketSource
from ..models import PlacedOrder
from ..parts import BrokerParts, build_parts
from ..simulator import RANDOM_DELAY
from .decode import FieldError
from .schema import Custom, CustomSource, Document, History, Market, RandomState, Session, Settings

__all__ = ["assemble", "check_free", "collect", "within"]

_MODELS = (
    NoCommission,
    FixedPerOrder,
    PerUnit,
    PercentOfNotional,
    NoSlippage,
    FixedSlippage,
    PercentSlippage,
)
_SOURCES: dict[type[Any], type[MarketSource]] = {
    RandomWalkState: RandomWalk,
    ManualQuotesState: ManualQuotes,
    BarReplayState: BarReplay,
    QuoteReplayState: QuoteReplay,
}
_BIT_GENERATORS = {
    name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
}


@contextlib.contextmanager
def within(path: str) -> Iterator[None]:
    """Name the field of a PersistenceError raised inside by its full ``path`` in the file."""
    try:
        yield
    except PersistenceError as exc:
        text = str(exc)
        joint = "" if text.startswith("[") else " " if text.startswith("is ") else "."
        raise FieldError(text if isinstance(exc, FieldError) else f"{path}{joint}{text}") from None


# ---------------------------------------------------------------------- collect


def _model(model: Any) -> Any:
    own = custom_model(model)
    return model if own is None and type(model) in _MODELS else Custom(repr(own or model))


def collect(parts: BrokerParts) -> Document:
    """Every component's state, as the typed document a file holds."""
    engine, clock, delay = parts.engine, parts.clock, parts.stepper.delay
    settings = Settings(
        "random" if delay is RANDOM_DELAY else delay,
        parts.initial_balance,
        parts.history_limit,
        _model(engine.commission),
        clock.state() if type(clock) in (SimClock, WallClock) else Custom(repr(clock)),  # type: ignore[attr-defined]
        engine.order_seq,
        engine.exec_seq,
        engine.session_end,
        parts.mark,
    )
    history = History(
        engine.symbols.state(),
        engine.account_codes.state(),
        engine.executions.state(),
        engine.equity_log.state(),
    )
    market = None
    venue = parts.venue
    if venue is not None:
        source = venue.source
        own = type(source) not in _SOURCES.values()
        market = Market(
            tuple(source.symbols),
            CustomSource(repr(source), source.quotes_state()) if own else source.state(),  # type: ignore[attr-defined]
            _model(venue.matcher.slippage),
            venue.matcher.state(),
            venue.ticks,
            tuple((account, time, row) for account, (time, row) in engine.equity.last_rows.items()),
        )
    brackets = engine.brackets.state()
    # the session section: a plain classic broker (no day orders, market, risk or brackets)
    # has none, so its file reads in any paperbroker of format 1
    session = engine.day_orders or venue or engine.risk or engine.brackets.count or parts.keep_session
    return Document(
        settings,
        RandomState(dict(parts.rng.bit_generator.state)),
        engine.ledger.state(),
        engine.book.state(),
        history,
        market,
        None if engine.risk is None else engine.risk.state(engine.ledger.accounts.values()),
        brackets if brackets.parents or brackets.positions else None,
        Session(tuple(engine.day_orders)) if session else None,
    )


# ---------------------------------------------------------------------- assemble


def check_free(market: MarketSource) -> None:
    """Refuse a price source that a broker already uses (``load(path, market=...)``)."""
    if market.bound:
        msg = f"The price source {market!r} already belongs to a broker; pass a new one to load()."
        raise ConfigurationError(msg)


def _own(saved: object, what: str, argument: str) -> None:
    if isinstance(saved, (Custom, CustomSource)):
        msg = (
            f"The broker was saved with a {what} of your own ({saved.repr}), which a file "
            f"cannot hold; pass it again: load(path, {argument})."
        )
        raise PersistenceError(msg)


def _generator(saved: RandomState) -> np.random.Generator:
    name = saved.state.get("bit_generator")
    if not isinstance(name, str) or name not in _BIT_GENERATORS:
        raise FieldError(f"random.state.bit_generator must be one of {sorted(_BIT_GENERATORS)}, got {name!r}")
    bit_generator = _BIT_GENERATORS[name]()
    try:
        bit_generator.state = saved.state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise FieldError(f"random.state is not a state of {name} ({exc})") from None
    return np.random.Generator(bit_generator)


def _clock(saved: SimClockState | WallClockState | Custom) -> Clock:
    with within("settings.clock"):
        if isinstance(saved, SimClockState):
            return SimClock.from_state(saved)
        if isinstance(saved, WallClockState):
            return WallClock.from_state(saved)
    _own(saved, "clock", "clock=clock")
    raise AssertionError(saved)  # pragma: no cover - _own raised


def assemble(
    doc: Document,
    *,
    commission: Any = None,
    clock: Clock | None = None,
    market: MarketSource | None = None,
    slippage: Any = None,
) -> BrokerParts:
    """New parts in the state of ``doc`` (checked by :func:`~.check.check_document`); the
    keyword arguments replace the saved model, clock, price source and slippage.

    Every component is built and checked before the parts are wired, and a ``market``
    given is bound only once nothing else can fail: a failed load leaves it free.
    """
    settings = doc.settings
    if commission is None:
        _own(settings.commission, "commission model", "commission=model")
        commission = settings.commission
    if clock is None:
        clock = _clock(settings.clock)
    if doc.market is None and (market is not None or slippage is not None):
        msg = "The saved broker has no market, so it takes no market= or slippage=; leave them out."
        raise PersistenceError(msg)
    limit = settings.history_limit
    rng = _generator(doc.random)
    with within("ledger"):
        ledger = Ledger.from_state(doc.ledger)
    with within("orders"):
        book = OrderBook.from_state(doc.orders, limit)
    with within("history.symbols"):
        symbols = Codes.from_state(doc.history.symbols)
    with within("history.accounts"):
        account_codes = Codes.from_state(doc.history.accounts)
    with within("history.executions"):
        executions = ExecutionLog.from_state(doc.history.executions, limit)
    with within("history.equity"):
        equity_log = EquityLog.from_state(doc.history.equity, limit)
    with within("risk"):
        risk = None if doc.risk is None else RiskBook.from_state(doc.risk)
    if doc.risk is not None:  # the running sums as saved (checked against the positions):
        for account_id, total in doc.risk.gross:  # a loaded book decides as the saved one
            ledger.accounts[account_id].gross = total
    delay = RANDOM_DELAY if settings.execution_delay == "random" else settings.execution_delay
    parts = build_parts(delay, settings.initial_balance, rng, commission, limit, clock, None, None, None)
    engine = parts.engine
    parts.mark = settings.mark  # before the market joins: its venue marks that way
    if doc.brackets is not None:
        with within("brackets"):
            engine.brackets = Brackets.from_state(doc.brackets, ChildOrders(engine), book.orders)
    # the market last: a source given to load() is used only once nothing else can fail
    joined = None if doc.market is None else _market(doc.market, clock, book.orders, market, slippage)
    if joined is not None:  # joining marks the source's quotes in the engine's first, empty ledger
        _join(parts, doc.market, *joined, book.orders)  # type: ignore[arg-type]
    engine.restore(Books(ledger, book, executions, equity_log, symbols, account_codes, risk))
    engine.order_seq, engine.exec_seq = settings.order_seq, settings.exec_seq
    engine.session_end = settings.session_end
    if doc.session is not None:
        engine.day_orders = {order_id: book.orders[order_id] for order_id in doc.session.day_orders}
        parts.keep_session = True
    return parts


def _market(
    saved: Market, clock: Clock, orders: dict[str, PlacedOrder], market: MarketSource | None, slippage: Any
) -> tuple[MarketSource, Any]:
    """The market's source and slippage model, checked (with the matcher) before any is used."""
    if not isinstance(clock, SimClock):
        msg = (
            f"Market mode runs on a simulated clock, but the clock given to load() is "
            f"{clock!r}; pass a pb.SimClock or leave clock= out."
        )
        raise PersistenceError(msg)
    symbols = list(saved.symbols)
    if market is None:
        _own(saved.source, "price source", "market=source")
        with within("market.source"):
            source = _SOURCES[type(saved.source)].from_state(saved.source, symbols)  # type: ignore[attr-defined]
    else:
        source = market
    if slippage is None:
        _own(saved.slippage, "slippage model", "slippage=model")
        slippage = saved.slippage
    with within("market.source.quotes"):
        saved.source.quotes.ticks(len(symbols))
    index = {symbol: i for i, symbol in enumerate(symbols)}
    ticks = [0.01] * len(symbols) if market is not None else list(source.tick_sizes)
    with within("market.matcher"):  # a trial run: the real matcher is filed once the venue exists
        Matcher.from_state(saved.matcher, _NoHost(), slippage, ticks, source.bars, orders, index)
    if market is not None:
        for i, symbol in enumerate(symbols):
            if market.ensure_symbol(symbol) != i:
                msg = (
                    f"The price source passed to load() does not quote {symbol!r} as symbol "
                    f"number {i}; the saved market's symbols are {symbols}. Pass a source with "
                    "these symbols, in this order."
                )
                raise PersistenceError(msg)
    return source, slippage


class _NoHost:
    """The matcher's host while its state is only checked: it is never asked to fill."""

    def fill(self, order: PlacedOrder, qty: float, price: float) -> None:
        raise AssertionError(order.id)  # pragma: no cover

    def expire(self, order: PlacedOrder, reason: str) -> None:
        raise AssertionError(order.id)  # pragma: no cover

    def trail(self, order: PlacedOrder, stop: float) -> None:
        raise AssertionError(order.id)  # pragma: no cover

    def triggered(self, order: PlacedOrder, price: float) -> None:
        raise AssertionError(order.id)  # pragma: no cover


def _join(
    parts: BrokerParts, saved: Market, source: MarketSource, slippage: Any, orders: dict[str, PlacedOrder]
) -> None:
    venue = parts.join_market(source, slippage)  # binds the source: nothing below can fail
    index = {symbol: i for i, symbol in enumerate(saved.symbols)}
    venue.use_matcher(
        Matcher.from_state(
            saved.matcher, venue, slippage, list(source.tick_sizes), source.bars, orders, index
        )
    )
    source.restore_quotes(saved.source.quotes)
    venue.ticks = saved.ticks
    parts.engine.equity.last_rows = {account: (time, row) for account, time, row in saved.last_equity}
