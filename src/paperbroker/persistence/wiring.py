"""Where a broker is taken apart into saved states, and put together again from them.

This is the one module of :mod:`paperbroker.persistence` that knows the broker's insides:
:func:`collect` reads each component's state off a :class:`BrokerService`, and
:func:`assemble` builds a new one from a checked :class:`~.schema.Document`, each component
made by its own ``from_state``.  Everything else in the package works on components and
typed states only.  (For now this reads and sets the broker's private attributes as they
are; when the broker becomes a facade over an engine, these two functions are what changes.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..broker import RANDOM_DELAY, BrokerService
from ..clock import Clock, SimClock, SimClockState, WallClock, WallClockState
from ..core.brackets import Brackets, BrokerBracketHost
from ..core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit, custom_model
from ..core.history import Codes, EquityLog, ExecutionLog
from ..core.ledger import Ledger
from ..core.orders import OrderBook
from ..core.risk import RiskBook
from ..errors import ConfigurationError, PersistenceError
from ..market.matching import Matcher
from ..market.random_walk import RandomWalk, RandomWalkState
from ..market.replay_sources import BarReplay, BarReplayState, QuoteReplay, QuoteReplayState
from ..market.slippage import FixedSlippage, NoSlippage, PercentSlippage
from ..market.source import ManualQuotes, ManualQuotesState, MarketSource
from ..market.venue import Venue
from ..models import PlacedOrder
from .decode import FieldError
from .schema import Custom, CustomSource, Document, History, Market, RandomState, Session, Settings

__all__ = ["BrokerService", "assemble", "check_free", "collect", "within"]

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


def collect(broker: BrokerService) -> Document:
    """Every component's state, as the typed document a file holds."""
    if not isinstance(broker, BrokerService):
        msg = f"save() needs a BrokerService, got {type(broker).__name__}."
        raise PersistenceError(msg)
    delay = broker._delay
    clock = broker.clock
    settings = Settings(
        "random" if delay is RANDOM_DELAY else delay,
        broker._initial_balance,
        broker.history_limit,
        _model(broker._commission),
        clock.state() if type(clock) in (SimClock, WallClock) else Custom(repr(clock)),  # type: ignore[attr-defined]
        broker._order_seq,
        broker._exec_seq,
        broker._session_end,
    )
    history = History(
        broker._symbols.state(),
        broker._account_codes.state(),
        broker._executions.state(),
        broker._equity_log.state(),
    )
    market = None
    venue = broker._venue
    if venue is not None:
        source = venue.source
        own = type(source) not in _SOURCES.values()
        market = Market(
            tuple(source.symbols),
            CustomSource(repr(source), source.quotes_state()) if own else source.state(),  # type: ignore[attr-defined]
            _model(venue.matcher.slippage),
            venue.matcher.state(),
            venue.ticks,
            tuple((account, time, row) for account, (time, row) in venue._last_equity.items()),
        )
    brackets = broker._brackets.state()
    return Document(
        settings,
        RandomState(dict(broker.rng.bit_generator.state)),
        broker._ledger.state(),
        broker._book.state(),
        history,
        market,
        None if broker._risk is None else broker._risk.state(),
        brackets if brackets.parents or brackets.positions else None,
        Session(tuple(broker._day_orders)) if broker._hooks else None,  # only a classic broker has none
    )


# ---------------------------------------------------------------------- assemble


def check_free(market: MarketSource) -> None:
    """Refuse a price source that a broker already uses (``load(path, market=...)``)."""
    if market._rng is not None:
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
) -> BrokerService:
    """A new broker in the state of ``doc`` (checked by :func:`~.check.check_document`);
    the keyword arguments replace the saved model, clock, price source and slippage.

    Every component is built and checked before the broker is, and a ``market`` given is
    bound only once nothing else can fail: a failed load leaves it free for another try.
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
    parts: dict[str, Any] = {"rng": _generator(doc.random)}
    with within("ledger"):
        parts["ledger"] = Ledger.from_state(doc.ledger)
    with within("orders"):
        parts["book"] = book = OrderBook.from_state(doc.orders, limit)
    for name, path, names in (
        ("symbols", "history.symbols", doc.history.symbols),
        ("account_codes", "history.accounts", doc.history.accounts),
    ):
        with within(path):
            parts[name] = Codes.from_state(names)
    with within("history.executions"):
        parts["executions"] = ExecutionLog.from_state(doc.history.executions, limit)
    with within("history.equity"):
        parts["equity_log"] = EquityLog.from_state(doc.history.equity, limit)
    with within("risk"):
        parts["risk"] = None if doc.risk is None else RiskBook.from_state(doc.risk)
    broker = BrokerService(
        RANDOM_DELAY if settings.execution_delay == "random" else settings.execution_delay,
        initial_balance=settings.initial_balance,
        commission=commission,
        history_limit=limit,
        clock=clock,
    )
    broker.rng = parts["rng"]
    if doc.brackets is not None:
        with within("brackets"):
            broker._brackets = Brackets.from_state(doc.brackets, BrokerBracketHost(broker), book.orders)
    # the market last: a source given to load() is used only once nothing else can fail
    joined = None if doc.market is None else _market(doc.market, clock, book.orders, market, slippage)
    if joined is not None:  # the venue marks the source's quotes in the broker's first ledger: dropped below
        _join(broker, doc.market, *joined, book.orders)  # type: ignore[arg-type]
    _install(broker, parts)
    broker._order_seq, broker._exec_seq = settings.order_seq, settings.exec_seq
    broker._session_end = settings.session_end
    if doc.session is not None:
        broker._day_orders = {order_id: book.orders[order_id] for order_id in doc.session.day_orders}
    parts_with_hooks = (doc.session, doc.market, doc.risk, doc.brackets)
    broker._hooks = any(part is not None for part in parts_with_hooks)
    return broker


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
    broker: BrokerService, saved: Market, source: MarketSource, slippage: Any, orders: dict[str, PlacedOrder]
) -> None:
    venue = Venue(broker, source, slippage)  # binds the source: nothing below can fail
    index = {symbol: i for i, symbol in enumerate(saved.symbols)}
    venue.matcher = Matcher.from_state(
        saved.matcher, venue, slippage, list(source.tick_sizes), source.bars, orders, index
    )
    source.restore_quotes(saved.source.quotes)
    venue.ticks = saved.ticks
    venue._last_equity = {account: (time, row) for account, time, row in saved.last_equity}
    broker._venue = venue


def _install(broker: BrokerService, parts: dict[str, Any]) -> None:
    """Put the loaded components in place of the new broker's empty ones, with the bound
    methods and tables the broker looks up once (see ``BrokerService.__init__``)."""
    broker._ledger = parts["ledger"]
    broker._book = parts["book"]
    broker._risk = parts["risk"]
    broker._symbols, broker._account_codes = parts["symbols"], parts["account_codes"]
    broker._executions, broker._equity_log = parts["executions"], parts["equity_log"]
    broker._exec_rows = broker._executions.data.frombytes
    broker._exec_pack = broker._executions.pack
    broker._exec_ids = broker._executions.exec_ids.append
    broker._exec_order_ids = broker._executions.order_ids.append
    broker._equity_rows = broker._equity_log.data.frombytes
    broker._equity_pack = broker._equity_log.pack
    broker._symbol_code = broker._symbols._code
    broker._account_code = broker._account_codes._code
