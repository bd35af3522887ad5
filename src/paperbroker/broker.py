"""BrokerService: takes orders, fills them, keeps the books, broadcasts every change.

The service is a thin coordinator over an :class:`~paperbroker.core.orders.OrderBook`, a
:class:`~paperbroker.core.ledger.Ledger`, a :class:`~paperbroker.events.TopicHub`, a
:class:`~paperbroker.simulator.Simulator`, and optionally a market
(:class:`~paperbroker.market.venue.Venue`: price source + matcher), risk rules
(:class:`~paperbroker.core.risk.RiskBook`) and brackets (:class:`~paperbroker.core.brackets.Brackets`).
Each fill runs one cascade, always in this order: execution -> order -> position -> equity,
each broadcast on its topic.

Every operation has a synchronous form for scripts, notebooks and widgets (``buy``,
``submit``, ``cancel``, ``fill``, ``run`` ...) and the TradingView-style async form
(``place_order``, ``cancel_order``, ``simulate_execution`` ...; see
:mod:`paperbroker.core.views`) that awaits nothing but lets the first call on a running loop
start the simulator.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .clock import Clock, WallClock
from .core.brackets import Brackets, BrokerBracketHost
from .core.commissions import NoCommission, as_commission_model
from .core.history import Codes, EquityLog, ExecutionLog
from .core.ledger import QTY_EPSILON, Account, Ledger, PositionState
from .core.lifecycle import OrderLifecycle
from .core.orders import OrderBook, check_price, check_qty, checked_fields
from .core.risk import RiskBook, RiskRules
from .core.views import BrokerViews
from .errors import (
    BrokerError,
    ConfigurationError,
    InvalidOrder,
    InvalidState,
    UnknownAccount,
)
from .events import Subscription, TopicHub
from .market.slippage import as_slippage
from .market.source import MarketSource
from .market.venue import Venue, market_clock
from .models import (
    DEFAULT_ACCOUNT,
    BrokerConnectionStatus,
    ConnectionStatus,
    EquityData,
    Execution,
    OrderStatus,
    OrderType,
    PlacedOrder,
    PreOrder,
    Side,
)
from .simulator import RANDOM_DELAY, Simulator, Stepping, check_delay

__all__ = ["RANDOM_DELAY", "BrokerService"]

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_WORKING = OrderStatus.WORKING
_FILLED = OrderStatus.FILLED
_MARKET = OrderType.MARKET
_STOP = OrderType.STOP
_BUY = Side.BUY
_NO_MARKS: list[tuple[Account, PositionState]] = []


class BrokerService(OrderLifecycle, BrokerViews, Stepping):
    """A simulated broker.

    Parameters
    ----------
    execution_delay
        Seconds between simulated steps: a number for a fixed interval, the default
        ``RANDOM_DELAY`` (classic mode: a random 1-2 s; market mode: 1 s), or ``None`` for
        manual mode, where nothing happens on its own (call :meth:`fill`, :meth:`step`,
        :meth:`run` ...).
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
        :class:`RiskRules` to refuse orders (buying power, limits ...); ``None``: no rules.

    Events (topic type, payload): ``orders`` PlacedOrder on every state change;
    ``executions`` Execution; ``positions`` Position (``qty=0`` once on close);
    ``equity`` EquityData; ``pl`` Position when a new mark moves its P&L; ``quotes`` Quote
    (market mode); ``broker-connection`` BrokerConnectionStatus on subscribe, and Error /
    Connected again when the background task's steps begin to fail / work again.
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
        risk: RiskRules | None = None,
    ) -> None:
        self._delay = check_delay(execution_delay)
        self._initial_balance = _check_balance(initial_balance)
        if history_limit is not None and (
            isinstance(history_limit, bool) or not isinstance(history_limit, int) or history_limit < 1
        ):
            msg = f"history_limit must be a whole number >= 1 or None, got {history_limit!r}."
            raise ConfigurationError(msg)
        if clock is not None and not isinstance(clock, Clock):
            msg = f"clock must be a paperbroker Clock (WallClock or SimClock), got {clock!r}."
            raise ConfigurationError(msg)
        if risk is not None and not isinstance(risk, RiskRules):
            msg = f"risk must be RiskRules(...) or None, got {risk!r}."
            raise ConfigurationError(msg)
        if market is not None:
            clock = market_clock(market, clock)
        elif slippage is not None:
            msg = "slippage applies to market mode only; pass market=... as well, or leave slippage out."
            raise ConfigurationError(msg)
        try:
            self.rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            msg = f"seed must be a non-negative whole number or None, got {seed!r}."
            raise ConfigurationError(msg) from exc
        self._commission = as_commission_model(commission)
        self._free = isinstance(self._commission, NoCommission)  # skip the call per fill
        self.clock: Clock = clock or WallClock()
        self.history_limit = history_limit
        self._ledger = Ledger()
        self._book = OrderBook(keep_done=history_limit)
        self._executions = ExecutionLog(history_limit)
        self._equity_log = EquityLog(history_limit)
        self._symbols = Codes()
        self._account_codes = Codes()
        self._hub = TopicHub(on_change=self._subscribers_changed)
        self._orders_subs = self._hub._index["orders"]
        self._exec_subs = self._hub._index["executions"]
        self._pos_subs = self._hub._index["positions"]
        self._equity_subs = self._hub._index["equity"]
        self._simulator = Simulator(self._step_once, self._next_interval, self._health_changed)
        self._risk = None if risk is None else RiskBook(risk)
        self._brackets = Brackets(BrokerBracketHost(self))
        self._venue = None if market is None else Venue(self, market, as_slippage(slippage))
        self._day_orders: dict[str, PlacedOrder] = {}
        # order events need bookkeeping beyond the book (market, risk, brackets, day orders)
        self._hooks = market is not None or risk is not None
        self._session_end = self.clock.next_session_end(self.clock.now_ms())
        # bound methods and tables used on every fill, looked up once
        self._exec_rows = self._executions.data.frombytes
        self._exec_pack = self._executions.pack
        self._exec_ids = self._executions.exec_ids.append
        self._exec_order_ids = self._executions.order_ids.append
        self._equity_rows = self._equity_log.data.frombytes
        self._equity_pack = self._equity_log.pack
        self._symbol_code = self._symbols._code
        self._account_code = self._account_codes._code
        self._order_seq = 0
        self._exec_seq = 0
        self._shutdown_hooks: list[Callable[[], Any]] = []
        self.open_account(DEFAULT_ACCOUNT, initial_balance)

    # ------------------------------------------------------------------ accounts

    def open_account(self, account_id: str, initial_balance: float | None = None) -> EquityData:
        """Open another account (its own orders, positions and equity)."""
        if not isinstance(account_id, str) or not account_id.strip():
            msg = f"account_id must be a non-empty string such as 'ALICE', got {account_id!r}."
            raise ConfigurationError(msg)
        if account_id in self._ledger.accounts:
            msg = f"Account {account_id!r} is already open; pick another id."
            raise InvalidState(msg)
        balance = self._initial_balance if initial_balance is None else _check_balance(initial_balance)
        account = self._ledger.open_account(account_id, balance)
        self._account_codes.code(account_id)
        if self._risk is not None:
            self._risk.new_session({account_id: balance})
        self._publish_equity(account)
        return self.equity(account_id)

    def accounts(self) -> list[str]:
        """The ids of all accounts, the default one first."""
        return list(self._ledger.accounts)

    def _account(self, account_id: object) -> Account:
        account = self._ledger.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            known = ", ".join(self._ledger.accounts)
            msg = (
                f"There is no account {account_id!r}; open it with "
                f"broker.open_account({account_id!r}) (open accounts: {known})."
            )
            raise UnknownAccount(msg)
        return account

    # ------------------------------------------------------------------ orders (sync)

    def submit(self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place an order and return it (status Working).

        Raises InvalidOrder for a malformed order (nothing changes) and OrderRejected when
        a risk rule refuses it (the order is kept and broadcast with status Rejected).
        """
        fields = checked_fields(order)
        if type(account_id) is not str or account_id not in self._ledger.accounts:
            self._account(account_id)  # raises UnknownAccount with the explanation
        now = self.clock.now_ms()
        if now >= self._session_end:
            self._roll_session(now)
        if self._hooks or fields[6] is not None or fields[7] is not None or fields[9] is not None:
            return self._admit(fields, account_id)
        if fields[14] is not None and fields[14].type != "GTC":
            return self._admit(fields, account_id)
        if fields[1] is _MARKET and fields[4] is None:
            price = fields[11]  # seenPrice, the usual way a market order is priced here
            if price is None:
                price = self._market_price(fields[0], fields[2], None, fields[12])
            fields = (*fields[:4], price, *fields[5:])
        placed = self._new_order(account_id, fields, _WORKING, now)
        snapshot = placed.copy()
        subs = self._orders_subs.get(account_id)
        if subs:
            hub = self._hub
            if hub._busy:  # a subscriber is placing this order: its event waits its turn
                hub._queue.append((subs, snapshot))
            else:
                hub._send(((subs, snapshot),))
        return snapshot

    def _new_order(
        self, account_id: str, fields: tuple[Any, ...], status: OrderStatus, now: int | None = None
    ) -> PlacedOrder:
        """Create an order from ``checked_fields`` values and add it to the book."""
        self._order_seq += 1
        symbol, kind, side, qty, limit, stop, tp, sl, gs, trailing, stop_type = fields[:11]
        placed = PlacedOrder(
            f"ORDER-{self._order_seq}",
            symbol,
            kind,
            side,
            qty,
            status,
            limit,
            stop,
            tp,
            sl,
            gs,
            trailing,
            stop_type,
            0.0,
            None,
            self.clock.now_ms() if now is None else now,
        )
        placed.duration = fields[14]
        self._book.add(placed, account_id)
        return placed

    def fill(self, order_id: str, qty: float | None = None, price: float | None = None) -> Execution:
        """Fill a working order now: all that remains, or ``qty`` of it, at ``price``
        (default: the order's own price).  Runs the full cascade."""
        order = self._book.orders.get(order_id) if type(order_id) is str else None
        if order is None:
            order = self._book.get(order_id)  # raises UnknownOrder with the explanation
        if order.status is not _WORKING:
            msg = f"Order {order_id} is {order.status.label.lower()}; only working orders can fill."
            raise InvalidState(msg)
        remaining = order.qty - order.filledQty
        if qty is None:
            qty = remaining
        else:
            qty = check_qty(qty)
            if qty > remaining + QTY_EPSILON:
                msg = f"Cannot fill {qty} of order {order_id}: only {remaining} remains."
                raise InvalidOrder(msg)
            qty = min(qty, remaining)
        if price is None:
            price = order.stopPrice if order.type is _STOP else order.limitPrice
            if price is None and self._venue is not None:
                price = self._venue.price(order.symbol, order.side is _BUY)
            if price is None:
                msg = f"There is no price to fill {order_id} at yet; give price= or step the market first."
                raise InvalidState(msg)
        else:
            price = check_price(price, "price")
        now = self.clock.now_ms()
        if now >= self._session_end:
            self._roll_session(now)
            if order.status is not _WORKING:
                msg = f"Order {order_id} expired at the end of its session; it can no longer fill."
                raise InvalidState(msg)
        return self._execute(order, qty, price, now)

    def fill_all(self) -> list[Execution]:
        """Fill every working order now, oldest first."""
        return [self.fill(order.id) for order in self._book.working()]

    # ------------------------------------------------------------------ the cascade

    def _execute(self, order: PlacedOrder, qty: float, price: float, now: int | None = None) -> Execution:
        """Book a fill completely, then broadcast it: execution, order, position, equity.

        Nothing is broadcast until the fill is booked everywhere, so a subscriber (or a
        kernel interrupt landing in one) never sees or leaves a half-booked fill, and a
        subscriber that calls back into the broker finds the books consistent.
        """
        order_id = order.id
        account_id = self._book._account[order_id]
        account = self._ledger.accounts[account_id]
        symbol = order.symbol
        side = order.side
        commission = 0.0 if self._free else self._commission(qty, price, order.filledQty == 0.0)
        if not (commission >= 0.0 and math.isfinite(commission)):
            msg = (
                f"The commission model returned {commission!r} for {qty} @ {price}; "
                "it must return a finite number >= 0."
            )
            raise BrokerError(msg)
        if now is None:
            now = self.clock.now_ms()
        # -- book: history, order, position, risk, equity
        self._exec_seq += 1
        exec_id = f"EXEC-{self._exec_seq}"
        execution = Execution(symbol, price, qty, side, now, commission, exec_id, order_id)
        symbol_code = self._symbol_code.get(symbol)
        if symbol_code is None:
            symbol_code = self._symbols.code(symbol)
        row = self._exec_pack(now, self._account_code[account_id], symbol_code, side, qty, price, commission)
        self._exec_rows(row)
        self._exec_ids(exec_id)
        self._exec_order_ids(order_id)
        log = self._executions  # log.added(), inline
        log.total += 1
        if len(log.data) >= log.cap:
            log.trim()
        done = order.filledQty
        filled = done + qty
        order.avgPrice = price if done == 0.0 else (order.avgPrice * done + price * qty) / filled  # type: ignore[operator]
        order.filledQty = filled
        order.updateTime = now
        if order.qty - filled <= QTY_EPSILON:
            self._book.finish(order, _FILLED)
            if self._hooks:
                self._order_done(order)
        ledger = self._ledger
        # the position is marked first so that equity is current (in market mode the
        # market's price is the mark, set by the tick)
        remarked = _NO_MARKS
        if self._venue is None or symbol not in ledger.marks:
            holders = ledger._holders.get(symbol)
            if holders and (len(holders) > 1 or account_id not in holders):
                remarked = ledger.set_mark(symbol, price)
            else:  # no one else holds it: apply_fill below marks this account's position
                ledger.marks[symbol] = price
        pos = ledger.apply_fill(account, symbol, side, qty, price, commission)
        risk = self._risk
        if risk is not None:
            risk.filled(order_id, qty)
            risk.position(account_id, symbol, pos.qty, pos.mark)
        equity = self._book_equity(account, now)
        # -- broadcast, in cascade order, as one batch (see TopicHub._send)
        order_subs = self._orders_subs.get(account_id, ())
        pos_subs = self._pos_subs.get(account_id, ())
        brackets = self._brackets.count
        pos_snapshot = pos.snapshot() if pos_subs or brackets else None
        events = (
            (self._exec_subs.get(account_id, ()), execution),
            (self._exec_subs.get((account_id, symbol), ()), execution),
            (order_subs, order.copy() if order_subs else None),
            (pos_subs, pos_snapshot),
            (self._equity_subs.get(account_id, ()), equity),
        )
        hub = self._hub
        try:
            if hub._busy:  # a subscriber made this fill: its events wait their turn
                hub._queue.extend(events)
            else:
                hub._send(events)
            if remarked:
                for other, other_pos in remarked:
                    if other is not account:
                        self._publish_mark(other, other_pos)
        finally:  # also when a subscriber raised (an interrupt): brackets follow the fill
            if brackets:
                with hub.interrupts_held():  # every bracket follows, then the interrupt
                    self._brackets.after_fill(order, account_id, pos_snapshot or pos.snapshot())
        return execution

    def _publish_order(self, order: PlacedOrder, account_id: str) -> PlacedOrder:
        """Broadcast a snapshot of ``order`` and return it (the broker keeps ``order``)."""
        snapshot = order.copy()
        subs = self._orders_subs.get(account_id)
        if subs:
            self._hub._deliver(subs, snapshot)
        return snapshot

    def _publish_equity(self, account: Account, now: int | None = None) -> None:
        equity = self._book_equity(account, now)
        if equity is not None:
            self._hub._deliver(self._equity_subs[account.account_id], equity)

    def _book_equity(self, account: Account, now: int | None = None) -> EquityData | None:
        """Log the account's equity row; return its EquityData when someone listens."""
        realized = account.realized
        commission = account.commission
        unrealized = account.unrealized
        balance = account.initial_balance + realized - commission
        account_id = account.account_id
        row = (
            self.clock.now_ms() if now is None else now,
            self._account_code[account_id],
            balance,
            balance + unrealized,
            realized,
            unrealized,
            commission,
        )
        if self._venue is None or not self._venue.overwrite_equity_row(account_id, row):
            self._equity_rows(self._equity_pack(*row))
            log = self._equity_log  # log.added(), inline
            log.total += 1
            if len(log.data) >= log.cap:
                log.trim()
        if account_id not in self._equity_subs:
            return None
        data = EquityData(balance + unrealized, balance, unrealized, realized, commission)
        if self._risk is not None:
            data.marginUsed, data.buyingPower = self._risk.margin(account_id, data.equity)
        return data

    def _publish_mark(self, account: Account, pos: PositionState) -> None:
        """A new mark moved ``pos``'s P&L: broadcast it on ``pl`` and the account's equity."""
        if self._risk is not None:
            self._risk.position(account.account_id, pos.symbol, pos.qty, pos.mark)
        self._hub.publish("pl", account.account_id, pos.snapshot())
        self._publish_equity(account)

    # ------------------------------------------------------------------ topics

    def subscribe(self, topic: str, callback: Callable[[Any], Any]) -> Subscription:
        """Call ``callback(payload)`` for every event on ``topic``; close the handle to stop."""
        sub = self._hub.subscribe(topic, callback)
        if sub.kind == "broker-connection":
            self._hub._deliver((sub,), self._connection_status())
        return sub

    async def create_topic(self, topic: str, callback: Callable[[Any], Any]) -> Subscription:
        """Subscribe (TradingView style); the first subscription starts the simulator."""
        return self.subscribe(topic, callback)

    def remove_topic(self, topic: str, callback: Callable[[Any], Any] | None = None) -> int:
        """Unsubscribe the topic's callbacks (or just ``callback``); returns how many."""
        return self._hub.remove_topic(topic, callback)

    def subscriptions(self) -> list[Subscription]:
        return self._hub.subscriptions()

    def on_shutdown(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` once when :meth:`shutdown` runs (a server stops with its broker)."""
        self._shutdown_hooks.append(callback)

    def shutdown(self) -> None:
        """Stop the simulator, close every subscription, then run the ``on_shutdown`` callbacks."""
        super().shutdown()
        hooks, self._shutdown_hooks = self._shutdown_hooks, []
        for hook in hooks:
            hook()

    @property
    def subscriber_errors(self) -> int:
        """How many times a subscriber raised (each is logged and skipped)."""
        return self._hub.errors

    def _connection_status(self) -> BrokerConnectionStatus:
        """Connected, or Error while the background task's steps fail (a price source that
        is down, say), with the failure as the message."""
        simulator = self._simulator
        if simulator.failing and simulator.last_error is not None:
            text = f"The simulator's steps are failing: {simulator.last_error}"
            return BrokerConnectionStatus(ConnectionStatus.ERROR, text, None, self.clock.now_ms())
        return BrokerConnectionStatus(
            ConnectionStatus.CONNECTED, "Connected to paperbroker", None, self.clock.now_ms()
        )

    def _health_changed(self, _error: BaseException | None) -> None:
        """The background task began to fail, or works again: tell broker-connection."""
        for subs in self._hub._index["broker-connection"].values():
            self._hub._deliver(subs, self._connection_status())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the whole broker to ``path`` atomically; see :func:`paperbroker.save`."""
        from .persistence import save

        return save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **replacements: Any) -> BrokerService:
        """Read a broker written by :meth:`save`; see :func:`paperbroker.load` for the
        ``commission=``, ``clock=``, ``market=`` and ``slippage=`` it takes."""
        from .persistence import load

        return load(path, **replacements)

    def __repr__(self) -> str:
        mode = "market" if self._venue is not None else "manual" if self._delay is None else "classic"
        eq = self._ledger.accounts[DEFAULT_ACCOUNT].equity()
        state = "running" if self.simulator_running else "idle"
        return (
            f"<BrokerService {mode}, {self._book.working_count()} working orders, "
            f"equity {eq.equity:,.2f}, simulator {state}>"
        )


def _check_balance(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        msg = f"initial_balance must be a finite amount >= 0, got {value!r}."
        raise ConfigurationError(msg)
    return float(value)
