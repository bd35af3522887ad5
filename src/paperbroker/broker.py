"""BrokerService: the facade users call; it delegates to the parts of :mod:`paperbroker.parts`.
Each operation has a synchronous form (``buy``, ``fill`` ...) and a TradingView-style async one.
Every method is thread-safe and interrupt-atomic (:mod:`paperbroker.guard`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import persistence
from .clock import Clock
from .core.amend import closing_order
from .core.checks import side_order
from .core.history import History
from .core.risk import RiskRules
from .core.settings import DEFAULT_RISK, check_balance
from .events import Subscription
from .guard import guard_methods, guarded
from .market.source import MarketSource, QuoteChange
from .models import (
    DEFAULT_ACCOUNT,
    Brackets,
    EquityData,
    Execution,
    PlacedOrder,
    PlaceOrderResult,
    Position,
    PreOrder,
    Quote,
    Side,
)
from .parts import BrokerParts, build_parts
from .simulator import RANDOM_DELAY, Simulator

__all__ = ["RANDOM_DELAY", "BrokerService"]


@guard_methods("run", "step", "buy", "sell")  # a guard a step of run(); buy/sell call guarded submit
class BrokerService:
    """A simulated broker.

    Parameters
    ----------
    execution_delay
        Seconds between simulated steps: a number, the default ``RANDOM_DELAY`` (classic
        mode: a random 1-2 s; market mode: 1 s), or ``None`` for manual mode, where nothing
        happens on its own (call :meth:`fill`, :meth:`step`, :meth:`run` ...).
    initial_balance
        Starting cash of the default account (and of accounts opened without one).
    seed
        Seed of the broker's one random generator: the same seed and inputs give the same
        orders, fills and equity curve, in any process.
    commission
        ``None`` (free) or a model from :mod:`paperbroker.core.commissions`.
    history_limit
        How many executions, equity rows and finished orders to keep (the newest); totals
        stay exact.  ``None`` keeps everything.
    clock
        Where times come from: the wall clock by default, or a :class:`SimClock` (market
        mode always uses a SimClock, made for you when not given).
    market
        A price source (:class:`RandomWalk`, :class:`BarReplay`, :class:`QuoteReplay`,
        :class:`ManualQuotes`): market mode, where orders fill against its prices.
    slippage
        Market mode: ``None``, :class:`FixedSlippage` or :class:`PercentSlippage`.
    risk
        :class:`RiskRules`, by default :data:`DEFAULT_RISK` (no borrowing); ``None``: unlimited.
    mark
        Market mode: ``"last"`` (default) or ``"bid_ask"``: a long valued at the bid, a short at the ask.

    Every change is broadcast on a topic (:func:`paperbroker.topic`; the types and their
    payloads are listed in :mod:`paperbroker.topics`).
    """

    def __init__(
        self,
        execution_delay: float | None = RANDOM_DELAY,
        *,
        initial_balance: float = 100_000.0,
        seed: int | None = None,
        commission: Any = None,
        history_limit: int | None = 100_000,
        clock: Clock | None = None,
        market: MarketSource | None = None,
        slippage: Any = None,
        risk: RiskRules | None = DEFAULT_RISK,
        mark: str = "last",
    ) -> None:
        settings = (execution_delay, initial_balance, seed, commission, history_limit, clock, market)
        self._use(build_parts(*settings, slippage, risk, mark))
        self.open_account(DEFAULT_ACCOUNT, initial_balance)

    def _use(self, parts: BrokerParts) -> None:  # buy/sell build the order, then one guard: submit
        self._parts = parts
        self.lock = parts.hub.guard  #: Every method holds it; ``with broker.lock:`` makes calls one step.
        #: The broker's one random generator: every random draw comes from it.
        self.rng = parts.rng
        #: Where the broker's times come from.
        self.clock: Clock = parts.clock
        #: How many executions, equity rows and finished orders are kept (None: all).
        self.history_limit = parts.history_limit
        self._engine, self._hub, self._stepper = parts.engine, parts.hub, parts.stepper
        self._changes, self._views = parts.changes, parts.views
        self._submit = self.submit = guarded(self.lock, parts.engine.submit)  # type: ignore[method-assign]
        self.fill = guarded(self.lock, parts.engine.fill)  # type: ignore[method-assign]

    def open_account(self, account_id: str, initial_balance: float | None = None) -> EquityData:
        """Open another account (its own orders, positions and equity)."""
        balance = self._parts.initial_balance if initial_balance is None else check_balance(initial_balance)
        self._engine.open_account(account_id, balance)
        return self.equity(account_id)

    def reset_account(self, account_id: str) -> EquityData:
        """Cancel the account's orders, close its books and give it back its initial balance."""
        return self._parts.reset_account(account_id)

    def accounts(self) -> list[str]:
        """The ids of all accounts, the default one first."""
        return list(self._engine.ledger.accounts)

    def submit(self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place an order and return it (Working, or as it is now in market mode); raises
        InvalidOrder for a malformed order (nothing changes) and OrderRejected when a risk
        rule refuses it (the order is kept and broadcast with status Rejected)."""
        return self._engine.submit(order, account_id)

    def fill(
        self, order_id: str | PlacedOrder, qty: float | None = None, price: float | None = None
    ) -> Execution:
        """Fill a working order (by id, or the order) now: ``qty`` (all) at ``price`` (its own)."""
        return self._engine.fill(order_id, qty, price)

    def fill_all(self) -> list[Execution]:
        """Fill every working order now, oldest first (skipping one an earlier fill cancelled)."""
        return self._changes.fill_all()

    def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        """Change a working order's qty, prices or brackets: pass a whole :class:`PreOrder`
        (its modifiable fields replace the order's) or keyword changes (``qty=``,
        ``limitPrice=`` or ``limit_price=`` ...; ``None`` removes a bracket).  Symbol and side
        cannot change.  With risk rules the changed order is checked as a new one would be;
        refused, it raises OrderRejected and stays as it was."""
        return self._changes.modify(order_id, order, **changes)

    def cancel(self, order_id: str) -> PlacedOrder:
        """Cancel a working order; a filled, cancelled or rejected order cannot be cancelled."""
        return self._changes.cancel(order_id)

    def buy(
        self,
        symbol: str,
        qty: float,
        *,
        price: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        duration: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Buy ``qty`` of ``symbol``: market by default, limit with ``limit=``, stop with
        ``stop=``, stop-limit with both.  ``price`` is the price a market order fills at in
        classic mode (default: the symbol's last price; in market mode: the ask).
        ``take_profit``/``stop_loss``/``trailing_stop_pips`` attach brackets; ``duration``
        is the time in force ("DAY", "GTC", "IOC", "FOK")."""
        prices = (price, limit, stop, take_profit, stop_loss, trailing_stop_pips)
        return self._submit(side_order(Side.BUY, symbol, qty, prices, duration), account_id)

    def sell(
        self,
        symbol: str,
        qty: float,
        *,
        price: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        duration: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Sell ``qty`` of ``symbol``; the same options as :meth:`buy`."""
        prices = (price, limit, stop, take_profit, stop_loss, trailing_stop_pips)
        return self._submit(side_order(Side.SELL, symbol, qty, prices, duration), account_id)

    def flatten(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        """Place a market order that closes the position (or ``amount`` of it)."""
        pos = self._views.position_state(position_id, account_id)
        return self.submit(closing_order(pos, amount), account_id)

    def reverse(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place a market order of twice the position's size on the other side."""
        pos = self._views.position_state(position_id, account_id)
        return self.submit(closing_order(pos, None, reverse=True), account_id)

    def edit_brackets(
        self,
        position_id: str,
        brackets: Brackets | None = None,
        *,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> list[PlacedOrder]:
        """Set a position's take-profit, stop-loss or trailing stop (``None`` removes one) from
        a :class:`Brackets` or the keywords; returns the position's working brackets."""
        position = self._views.position_state(position_id, account_id).snapshot()
        given = brackets or Brackets(stop_loss, None, take_profit, trailing_stop_pips)
        return self._changes.edit_brackets(account_id, position, given)

    def orders(self, account_id: str = DEFAULT_ACCOUNT, *, status: Any = None) -> list[PlacedOrder]:
        """The account's orders (working and the newest finished), oldest first."""
        return self._views.orders(account_id, status)

    def order(self, order_id: str) -> PlacedOrder:
        """One order by id."""
        return self._views.order(order_id)

    def positions(self, account_id: str = DEFAULT_ACCOUNT) -> list[Position]:
        """The account's open positions."""
        return self._views.positions(account_id)

    def position(self, position_id: str, account_id: str = DEFAULT_ACCOUNT) -> Position:
        """One open position by id (the symbol)."""
        return self._views.position_state(position_id, account_id).snapshot()

    def executions(self, symbol: str | None = None, account_id: str = DEFAULT_ACCOUNT) -> list[Execution]:
        """The account's kept executions, oldest first, optionally of one symbol."""
        return self._views.executions(symbol, account_id)

    def equity(self, account_id: str = DEFAULT_ACCOUNT) -> EquityData:
        """The account's balance, equity and P&L now (with margin figures under risk rules)."""
        return self._views.equity(account_id)

    @property
    def history(self) -> History:
        """The columnar execution and equity history the DataFrame exports read."""
        return self._parts.history()

    def price_history(self, symbol: str | None = None) -> dict[str, Any]:
        """The prices the market showed, oldest first, as numpy columns: ``time``, ``symbol``,
        ``last`` and a quote's ``bid``/``ask``/sizes or a bar's ``open``/``high``/``low``/``volume``."""
        return self._parts.price_history(symbol)

    @property
    def execution_count(self) -> int:
        """Executions ever made, including those dropped from the kept history."""
        return self._engine.executions.total

    def quote(self, symbol: str) -> Quote:
        """The market's current quote of ``symbol`` (market mode)."""
        return self._parts.quote(symbol)

    def quotes(self) -> list[Quote]:
        """The current quote of every symbol the market has quoted (market mode)."""
        return self._parts.quotes()

    @property
    def simulator_running(self) -> bool:
        """True while the background task runs (it needs a subscriber and a running loop)."""
        return self._stepper.simulator.running

    @property
    def simulator(self) -> Simulator:
        """The background task's state: how many ``steps`` it ran, how many of them raised
        (``errors``), how many of the latest failed in a row (``failing``), ``last_error``."""
        return self._stepper.simulator

    def step(self) -> bool:
        """One step now: a market tick, or without a market (manual mode too) one random
        working order filled at its own price; False when a replay has no more data."""
        return self._stepper.step()

    def run(self, steps: int | None = None, *, progress: bool = False) -> int:
        """Run ``steps`` steps at once, without sleeping (``None``: to the end of a replay);
        ``progress=True`` shows a ``tqdm`` progress bar.  Returns the steps taken."""
        return self._stepper.run(steps, progress=progress)

    async def run_for(
        self, seconds: float | None = None, *, steps: int | None = None, interval: float | None = None
    ) -> int:
        """Step for ``seconds`` of clock time or ``steps`` steps, awaiting ``interval`` seconds
        between steps (default: the simulator's) so widgets update as it runs; the background
        task pauses meanwhile (one task, ever).  Returns the steps taken."""
        return await self._stepper.run_for(seconds, steps=steps, interval=interval)

    def set_price(self, symbol: str, price: float) -> None:
        """Market mode: move ``symbol`` to ``price`` now (ManualQuotes, RandomWalk); orders
        it triggers fill and positions are marked at once."""
        self._stepper.set_quote("set_price", symbol, QuoteChange(price=price))

    def set_quote(
        self,
        symbol: str,
        *,
        bid: float | None = None,
        ask: float | None = None,
        last: float | None = None,
        size: float | None = None,
    ) -> None:
        """Market mode (ManualQuotes): quote ``symbol`` at ``bid``/``ask`` now."""
        self._stepper.set_quote("set_quote", symbol, QuoteChange(bid=bid, ask=ask, last=last, size=size))

    def shutdown(self) -> None:
        """Stop the simulator, close every subscription, then run the ``on_shutdown`` callbacks."""
        self._parts.shutdown()

    def on_shutdown(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once when :meth:`shutdown` runs (a server stops with its broker)."""
        self._parts.shutdown_hooks.append(callback)

    def subscribe(self, topic: str, callback: Callable[[Any], Any]) -> Subscription:
        """Call ``callback(payload)`` for every event on ``topic``; close the handle to stop."""
        sub = self._hub.subscribe(topic, callback)
        if sub.kind == "broker-connection":
            self._hub.deliver((sub,), self._stepper.connection_status())
        return sub

    async def create_topic(self, topic: str, callback: Callable[[Any], Any]) -> Subscription:
        """Subscribe (TradingView style); the first subscription starts the simulator."""
        return self.subscribe(topic, callback)

    def remove_topic(self, topic: str, callback: Callable[[Any], Any] | None = None) -> int:
        """Unsubscribe the topic's callbacks (or just ``callback``); returns how many."""
        return self._hub.remove_topic(topic, callback)

    def subscriptions(self) -> list[Subscription]:
        """Every open subscription."""
        return self._hub.subscriptions()

    @property
    def subscriber_errors(self) -> int:
        """How many times a subscriber raised (each is logged and skipped)."""
        return self._hub.errors

    async def place_order(
        self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT
    ) -> PlaceOrderResult:
        """Place an order (see :meth:`submit`); returns its id."""
        self._stepper.ensure_running()
        return PlaceOrderResult(self.submit(order, account_id).id)

    async def modify_order(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        """Change a working order (see :meth:`modify`)."""
        self._stepper.ensure_running()
        return self.modify(order_id, order, **changes)

    async def cancel_order(self, order_id: str) -> PlacedOrder:
        """Cancel a working order (see :meth:`cancel`)."""
        self._stepper.ensure_running()
        return self.cancel(order_id)

    async def close_position(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        """Close a position or ``amount`` of it (see :meth:`flatten`)."""
        self._stepper.ensure_running()
        return self.flatten(position_id, amount, account_id=account_id)

    async def reverse_position(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Reverse a position (see :meth:`reverse`)."""
        self._stepper.ensure_running()
        return self.reverse(position_id, account_id=account_id)

    async def edit_position_brackets(
        self, position_id: str, brackets: Brackets, account_id: str = DEFAULT_ACCOUNT
    ) -> list[PlacedOrder]:
        """Set the position's take-profit / stop-loss / trailing stop (``None`` removes one)."""
        self._stepper.ensure_running()
        return self.edit_brackets(position_id, brackets, account_id=account_id)

    async def simulate_execution(self, order_id: str) -> Execution:
        """Fill one working order now, completely, at its own price."""
        return self.fill(order_id)

    async def execute_all_working_orders(self) -> int:
        """Fill every working order now; returns how many filled."""
        return len(self.fill_all())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole broker to ``path`` atomically; see :func:`paperbroker.save`."""
        return persistence.write(self._parts, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **replacements: Any) -> BrokerService:
        """Read a broker written by :meth:`save`; :func:`paperbroker.load` lists the ``replacements``."""
        broker = cls.__new__(cls)
        broker._use(persistence.read(path, **replacements))  # noqa: SLF001 - its own new instance
        return broker

    def __repr__(self) -> str:
        return f"<BrokerService {self._parts.describe()}>"
