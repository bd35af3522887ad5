"""The parts a broker is made of, and how they are wired together.

:func:`build_parts` makes them from the broker's settings; :class:`BrokerParts` holds
them.  :class:`~paperbroker.broker.BrokerService` is a facade over one; saving writes one
(:mod:`paperbroker.persistence`) and loading rebuilds one, so neither needs the facade.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .clock import Clock, SimClock, WallClock
from .core.amend import OrderChanges
from .core.children import ChildOrders
from .core.commissions import as_commission_model
from .core.engine import OrderEngine
from .core.history import History
from .core.reset import reset_account
from .core.risk import RiskBook, RiskRules
from .core.settings import Mark, check_balance, check_mark, check_settings, seeded_generator
from .core.views import BookViews
from .errors import InvalidState
from .events import TopicHub
from .market.prices import PriceLog
from .market.slippage import Slippage, as_slippage
from .market.source import MarketSource
from .market.venue import Venue, market_clock
from .models import DEFAULT_ACCOUNT, EquityData, Quote
from .simulator import Stepper, check_delay

__all__ = ["BrokerParts", "build_parts"]


@dataclass(slots=True)
class BrokerParts:
    """A broker's parts: the books and their engine, the hub, the market, the steps."""

    clock: Clock
    rng: np.random.Generator
    hub: TopicHub
    engine: OrderEngine
    changes: OrderChanges
    views: BookViews
    stepper: Stepper
    initial_balance: float
    history_limit: int | None
    #: How positions are marked: ``"last"`` or ``"bid_ask"`` (see BrokerService).
    mark: Mark = "last"
    venue: Venue | None = None
    #: Called once by :meth:`shutdown`, after the subscriptions are closed.
    shutdown_hooks: list[Callable[[], Any]] = field(default_factory=list)
    #: A loaded file had a session section: saving keeps it, so the file reads back the same.
    keep_session: bool = False

    def join_market(self, source: MarketSource, slippage: Slippage) -> Venue:
        """Market mode: the venue of ``source`` becomes the engine's market and the steps'."""
        assert isinstance(self.clock, SimClock)
        limit, bid_ask = self.history_limit, self.mark == "bid_ask"
        venue = Venue(self.engine, self.hub, self.clock, self.rng, source, slippage, limit, bid_ask)
        self.venue = venue
        self.engine.market = venue
        self.engine.equity.one_row_per_tick = True
        self.stepper.venue = venue
        return venue

    def quote(self, symbol: str) -> Quote:
        """The market's current quote of ``symbol``; InvalidState in classic mode."""
        if self.venue is None:
            msg = "There are no quotes in classic mode; build the broker with BrokerService(market=...)."
            raise InvalidState(msg)
        return self.venue.quote(symbol)

    def quotes(self) -> list[Quote]:
        """The current quote of every symbol the market has quoted (none in classic mode)."""
        return [] if self.venue is None else self.venue.quotes()

    def history(self) -> History:
        """The columnar execution and equity history (see BrokerService.history)."""
        engine = self.engine
        return History(engine.executions, engine.equity_log, engine.symbols, engine.account_codes)

    def price_history(self, symbol: str | None) -> dict[str, Any]:
        """The market's price log as columns (empty ones in classic mode)."""
        log = self.venue.prices if self.venue is not None else PriceLog(None, [], False)
        return log.columns(symbol)

    def describe(self) -> str:
        """The mode, working orders, the default account's equity and the simulator's state."""
        working, mode = self.engine.book.working_count(), self.stepper.mode
        state = "running" if self.stepper.simulator.running else "idle"
        equity = self.engine.ledger.accounts[DEFAULT_ACCOUNT].equity().equity
        return f"{mode}, {working} working orders, equity {equity:,.2f}, simulator {state}"

    def reset_account(self, account_id: str) -> EquityData:
        """Put one account back to its start (see :mod:`paperbroker.core.reset`); returns its
        equity as :meth:`~paperbroker.BrokerService.equity` gives it (with the risk figures)."""
        reset_account(self.engine, account_id)
        return self.views.equity(account_id)

    def shutdown(self) -> None:
        """Close every subscription, stop the simulator, then run the shutdown hooks."""
        for sub in self.hub.subscriptions():
            sub.close()
        self.stepper.simulator.stop()
        hooks, self.shutdown_hooks = self.shutdown_hooks, []
        for hook in hooks:
            hook()


def build_parts(
    execution_delay: Any,
    initial_balance: Any,
    seed: Any,
    commission: Any,
    history_limit: Any,
    clock: Any,
    market: Any,
    slippage: Any,
    risk: Any,
    mark: Any = "last",
) -> BrokerParts:
    """Check the settings of :class:`~paperbroker.BrokerService` (in its order; each is
    refused with what to pass instead) and wire the parts."""
    delay = check_delay(execution_delay)
    balance = check_balance(initial_balance)
    check_settings(history_limit, clock, risk, market, slippage)
    check_mark(mark, market)
    if market is not None:
        clock = market_clock(market, clock)
    rng = seeded_generator(seed)
    clock = clock or WallClock()
    hub = TopicHub()
    rules: RiskRules | None = risk
    engine = OrderEngine(
        clock, hub, as_commission_model(commission), history_limit, None if rules is None else RiskBook(rules)
    )
    engine.brackets.bind(ChildOrders(engine))
    stepper = Stepper(engine, None, hub, rng, delay)
    hub.watch(stepper.subscribers_changed)
    changes, views = OrderChanges(engine), BookViews(engine)
    parts = BrokerParts(clock, rng, hub, engine, changes, views, stepper, balance, history_limit, mark)
    if market is not None:
        parts.join_market(market, as_slippage(slippage))
    return parts
