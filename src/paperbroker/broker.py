"""BrokerService: takes orders, fills them, keeps the books, broadcasts every change.

The service is a thin coordinator over an :class:`~paperbroker.orders.OrderBook`, a
:class:`~paperbroker.ledger.Ledger`, a :class:`~paperbroker.topics.TopicHub` and a
:class:`~paperbroker.simulator.Simulator`.  Each fill runs one cascade, always in this
order: execution -> order -> position -> equity, each broadcast on its topic.

Every operation has a synchronous form for scripts, notebooks and widgets (``buy``,
``submit``, ``cancel``, ``fill`` ...) and the TradingView-style async form (``place_order``,
``cancel_order``, ``simulate_execution`` ...) that awaits nothing but lets the first call on
a running loop start the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .commissions import as_commission_model
from .errors import (
    BrokerError,
    ConfigurationError,
    InvalidOrder,
    InvalidState,
    UnknownAccount,
    UnknownPosition,
)
from .history import Codes, EquityLog, ExecutionLog
from .ledger import QTY_EPSILON, Account, Ledger, PositionState
from .models import (
    DEFAULT_ACCOUNT,
    BrokerConnectionStatus,
    ConnectionStatus,
    CurrentQuotes,
    EquityData,
    Execution,
    OrderStatus,
    OrderType,
    PlacedOrder,
    PlaceOrderResult,
    Position,
    PreOrder,
    Side,
)
from .orders import OrderBook, check_order, check_price, check_qty, checked_fields
from .simulator import Clock, Simulator, WallClock
from .topics import Subscription, TopicHub

__all__ = ["RANDOM_DELAY", "BrokerService"]

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_WORKING = OrderStatus.WORKING
_FILLED = OrderStatus.FILLED
_MARKET = OrderType.MARKET
_STOP = OrderType.STOP
_BUY = Side.BUY


class _RandomDelay:
    def __repr__(self) -> str:
        return "RANDOM_DELAY"


#: The default ``execution_delay``: a random 1-2 s between fills, as in the design document.
RANDOM_DELAY: Any = _RandomDelay()

_CANCELLABLE = (_WORKING, OrderStatus.INACTIVE, OrderStatus.PLACING)
_MODIFIABLE_FIELDS = (
    "qty",
    "limitPrice",
    "stopPrice",
    "takeProfit",
    "stopLoss",
    "guaranteedStop",
    "trailingStopPips",
    "stopType",
)
_SNAKE = {
    "limit_price": "limitPrice",
    "stop_price": "stopPrice",
    "take_profit": "takeProfit",
    "stop_loss": "stopLoss",
    "guaranteed_stop": "guaranteedStop",
    "trailing_stop_pips": "trailingStopPips",
    "stop_type": "stopType",
}


class BrokerService:
    """A simulated broker.

    Parameters
    ----------
    execution_delay
        Seconds between simulated fills in classic mode: a number for a fixed interval,
        the default ``RANDOM_DELAY`` for a random 1-2 s, or ``None`` for manual mode, where
        nothing fills on its own (call :meth:`fill` or :meth:`execute_all_working_orders`).
    initial_balance
        Starting cash of the default account (and of accounts opened without one).
    seed
        Seed of the broker's one random generator: the same seed and inputs give the same
        orders, fills and equity curve.
    commission
        ``None`` (free) or a model from :mod:`paperbroker.commissions`.
    history_limit
        How many executions, equity rows and finished orders to keep (the newest); totals
        stay exact.  ``None`` keeps everything.
    clock
        Where times come from: the wall clock by default, or a :class:`SimClock`.

    Events (topic type, payload): ``orders`` PlacedOrder on every state change;
    ``executions`` Execution; ``positions`` Position (``qty=0`` once on close);
    ``equity`` EquityData; ``pl`` Position when a new mark moves its P&L;
    ``broker-connection`` BrokerConnectionStatus on subscribe.
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
    ) -> None:
        self._delay = _check_delay(execution_delay)
        self._initial_balance = _check_balance(initial_balance)
        if history_limit is not None and (
            isinstance(history_limit, bool) or not isinstance(history_limit, int) or history_limit < 1
        ):
            msg = f"history_limit must be a whole number >= 1 or None, got {history_limit!r}."
            raise ConfigurationError(msg)
        if clock is not None and not isinstance(clock, Clock):
            msg = f"clock must be a paperbroker Clock (WallClock or SimClock), got {clock!r}."
            raise ConfigurationError(msg)
        try:
            self.rng = np.random.default_rng(seed)
        except (TypeError, ValueError) as exc:
            msg = f"seed must be a non-negative whole number or None, got {seed!r}."
            raise ConfigurationError(msg) from exc
        self._commission = as_commission_model(commission)
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
        self._simulator = Simulator(self._classic_step, self._next_interval)
        # bound methods and tables used on every fill, looked up once
        self._exec_rows = self._executions.data.extend
        self._exec_order_ids = self._executions.order_ids.append
        self._equity_rows = self._equity_log.data.extend
        self._symbol_code = self._symbols._code
        self._account_code = self._account_codes._code
        self._order_seq = 0
        self._exec_seq = 0
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
        self._publish_equity(account)
        return account.equity()

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
        """Place an order and return it (status Working)."""
        symbol, kind, side, qty, limit, stop, tp, sl, gs, trailing, stop_type, seen, quotes, _ = (
            checked_fields(order)
        )
        if account_id not in self._ledger.accounts:
            self._account(account_id)  # raises UnknownAccount with the explanation
        if kind is _MARKET and limit is None:
            limit = self._market_price(symbol, side, seen, quotes)
        self._order_seq += 1
        placed = PlacedOrder(
            f"ORDER-{self._order_seq}",
            symbol,
            kind,
            side,
            qty,
            _WORKING,
            limit,
            stop,
            tp,
            sl,
            gs,
            trailing,
            stop_type,
            0.0,
            None,
            self.clock.now_ms(),
        )
        self._book.add(placed, account_id)
        return self._publish_order(placed, account_id)

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
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Buy ``qty`` of ``symbol``: market by default, limit with ``limit=``, stop with
        ``stop=``, stop-limit with both.  ``price`` is the price a market order fills at in
        classic mode (default: the symbol's last price)."""
        return self._side_order(_BUY, symbol, qty, price, limit, stop, take_profit, stop_loss, account_id)

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
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Sell ``qty`` of ``symbol``; the same options as :meth:`buy`."""
        return self._side_order(
            Side.SELL, symbol, qty, price, limit, stop, take_profit, stop_loss, account_id
        )

    def _side_order(
        self,
        side: Side,
        symbol: str,
        qty: float,
        price: float | None,
        limit: float | None,
        stop: float | None,
        take_profit: float | None,
        stop_loss: float | None,
        account_id: str,
    ) -> PlacedOrder:
        if limit is not None and stop is not None:
            kind = OrderType.STOP_LIMIT
        elif limit is not None:
            kind = OrderType.LIMIT
        elif stop is not None:
            kind = _STOP
        else:
            kind = _MARKET
        if price is not None and kind is not _MARKET:
            msg = "price= is the fill price of a market order; for a limit order use limit=."
            raise InvalidOrder(msg)
        pre = PreOrder(symbol, kind, side, qty, limit, stop, take_profit, stop_loss, seenPrice=price)
        return self.submit(pre, account_id)

    def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        """Change a working order's qty, prices or brackets.

        Pass a whole :class:`PreOrder` (its modifiable fields replace the order's), or
        keyword changes (``qty=``, ``limitPrice=`` or ``limit_price=`` ...; ``None`` removes
        a bracket).  Symbol and side cannot change.
        """
        placed = self._book.get(order_id)
        if placed.status not in (_WORKING, OrderStatus.INACTIVE):
            msg = f"Order {order_id} is {placed.status.label.lower()}; only working orders can be modified."
            raise InvalidState(msg)
        merged = PreOrder(placed.symbol, placed.type, placed.side, placed.qty)
        for name in _MODIFIABLE_FIELDS[1:]:
            setattr(merged, name, getattr(placed, name))
        if order is not None:
            new = order if isinstance(order, PreOrder) else check_order(order)
            if new.symbol != placed.symbol or Side.coerce(new.side, "side") is not placed.side:
                msg = (
                    f"Order {order_id} is a {placed.side.label.lower()} of {placed.symbol}; "
                    "symbol and side cannot change. Cancel it and place a new one."
                )
                raise InvalidOrder(msg)
            merged.type = new.type
            for name in _MODIFIABLE_FIELDS:
                setattr(merged, name, getattr(new, name))
        for key, value in changes.items():
            name = _SNAKE.get(key, key)
            if name not in _MODIFIABLE_FIELDS and name != "type":
                allowed = ", ".join(_MODIFIABLE_FIELDS)
                msg = f"{key!r} cannot be modified; the modifiable fields are type, {allowed}."
                raise InvalidOrder(msg)
            setattr(merged, name, value)
        clean = check_order(merged)
        if clean.qty < placed.filledQty - QTY_EPSILON:
            msg = f"qty {clean.qty} is below the {placed.filledQty} already filled of order {order_id}."
            raise InvalidOrder(msg)
        if clean.type is _MARKET and clean.limitPrice is None:
            clean.limitPrice = placed.limitPrice
        placed.type = clean.type
        for name in _MODIFIABLE_FIELDS:
            setattr(placed, name, getattr(clean, name))
        placed.updateTime = self.clock.now_ms()
        if placed.qty - placed.filledQty <= QTY_EPSILON:
            self._book.set_status(placed, _FILLED)
        return self._publish_order(placed, self._book.account_of(order_id))

    def cancel(self, order_id: str) -> PlacedOrder:
        """Cancel a working order; a filled, cancelled or rejected order cannot be cancelled."""
        placed = self._book.get(order_id)
        if placed.status not in _CANCELLABLE:
            msg = (
                f"Order {order_id} is already {placed.status.label.lower()}; "
                "only working orders can be cancelled."
            )
            raise InvalidState(msg)
        self._book.set_status(placed, OrderStatus.CANCELED)
        placed.updateTime = self.clock.now_ms()
        return self._publish_order(placed, self._book.account_of(order_id))

    def flatten(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        """Place a market order that closes the position (or ``amount`` of it)."""
        pos = self._position_state(position_id, account_id)
        qty = abs(pos.qty)
        if amount is not None:
            amount = check_qty(amount, "amount")
            if amount > qty + QTY_EPSILON:
                msg = f"Cannot close {amount} of position {position_id}: it holds only {qty}."
                raise InvalidOrder(msg)
            qty = min(amount, qty)
        pre = PreOrder(pos.symbol, _MARKET, pos.side.opposite, qty, isClose=True)
        return self.submit(pre, account_id)

    def reverse(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place a market order of twice the position's size on the other side."""
        pos = self._position_state(position_id, account_id)
        pre = PreOrder(pos.symbol, _MARKET, pos.side.opposite, 2 * abs(pos.qty))
        return self.submit(pre, account_id)

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
        else:
            price = check_price(price, "price")
        return self._execute(order, qty, price)  # type: ignore[arg-type]

    def fill_all(self) -> list[Execution]:
        """Fill every working order now, oldest first."""
        return [self.fill(order.id) for order in self._book.working()]

    # ------------------------------------------------------------------ the cascade

    def _execute(self, order: PlacedOrder, qty: float, price: float) -> Execution:
        order_id = order.id
        account_id = self._book._account[order_id]
        account = self._ledger.accounts[account_id]
        symbol = order.symbol
        side = order.side
        commission = self._commission(qty, price, order.filledQty == 0.0)
        if not (commission >= 0.0 and math.isfinite(commission)):
            msg = (
                f"The commission model returned {commission!r} for {qty} @ {price}; "
                "it must return a finite number >= 0."
            )
            raise BrokerError(msg)
        now = self.clock.now_ms()
        self._exec_seq += 1
        exec_id = f"EXEC-{self._exec_seq}"
        execution = Execution(symbol, price, qty, side, now, commission, exec_id, order_id)
        symbol_code = self._symbol_code.get(symbol)
        if symbol_code is None:
            symbol_code = self._symbols.code(symbol)
        self._exec_rows((now, self._account_code[account_id], symbol_code, side, qty, price, commission))
        self._exec_order_ids(order_id)
        self._executions.added()
        deliver = self._hub._deliver
        # 1. execution
        subs = self._exec_subs.get(account_id)
        if subs:
            deliver(subs, execution)
        subs = self._exec_subs.get((account_id, symbol))
        if subs:
            deliver(subs, execution)
        # 2. order
        done = order.filledQty
        filled = done + qty
        order.avgPrice = price if done == 0.0 else (order.avgPrice * done + price * qty) / filled  # type: ignore[operator]
        order.filledQty = filled
        order.updateTime = now
        if order.qty - filled <= QTY_EPSILON:
            self._book.finish(order, _FILLED)
        subs = self._orders_subs.get(account_id)
        if subs:
            deliver(subs, order.copy())
        # 3. position, marked first so that the equity below is current
        remarked = self._ledger.set_mark(symbol, price)
        pos = self._ledger.apply_fill(account, symbol, side, qty, price, commission)
        subs = self._pos_subs.get(account_id)
        if subs:
            deliver(subs, pos.snapshot())
        # 4. equity
        self._publish_equity(account, now)
        if remarked:
            for other, other_pos in remarked:
                if other is not account:
                    self._publish_mark(other, other_pos)
        return execution

    def _publish_order(self, order: PlacedOrder, account_id: str) -> PlacedOrder:
        """Broadcast a snapshot of ``order`` and return it (the broker keeps ``order``)."""
        snapshot = order.copy()
        subs = self._orders_subs.get(account_id)
        if subs:
            self._hub._deliver(subs, snapshot)
        return snapshot

    def _publish_equity(self, account: Account, now: int | None = None) -> None:
        realized = account.realized
        commission = account.commission
        unrealized = account.unrealized
        balance = account.initial_balance + realized - commission
        account_id = account.account_id
        self._equity_rows(
            (
                self.clock.now_ms() if now is None else now,
                self._account_code[account_id],
                balance,
                balance + unrealized,
                realized,
                unrealized,
                commission,
            )
        )
        self._equity_log.added()
        subs = self._equity_subs.get(account_id)
        if subs:
            self._hub._deliver(
                subs, EquityData(balance + unrealized, balance, unrealized, realized, commission)
            )

    def _publish_mark(self, account: Account, pos: PositionState) -> None:
        """A new mark moved ``pos``'s P&L: broadcast it on ``pl`` and the account's equity."""
        self._hub.publish("pl", account.account_id, pos.snapshot())
        self._publish_equity(account)

    # ------------------------------------------------------------------ prices

    def _market_price(
        self, symbol: str, side: Side, seen: float | None, quotes: CurrentQuotes | None
    ) -> float:
        """Fill price of a market order: seenPrice, then ask/bid, then the last price."""
        if seen is not None:
            return seen
        if quotes is not None:
            return quotes.ask if side is _BUY else quotes.bid
        last = self._ledger.marks.get(symbol)
        if last is not None:
            return last
        msg = (
            f"No price is known for {symbol!r} yet, so a market order cannot be priced: "
            "give limitPrice or seenPrice (buy(..., price=...)) or currentQuotes."
        )
        raise InvalidOrder(msg)

    # ------------------------------------------------------------------ snapshots

    def orders(self, account_id: str = DEFAULT_ACCOUNT, *, status: Any = None) -> list[PlacedOrder]:
        """The account's orders (working and the newest finished), oldest first."""
        self._account(account_id)
        wanted = None if status is None else OrderStatus.coerce(status, "order status")
        return [o.copy() for o in self._book.of_account(account_id) if wanted is None or o.status is wanted]

    def order(self, order_id: str) -> PlacedOrder:
        """One order by id."""
        return self._book.get(order_id).copy()

    def positions(self, account_id: str = DEFAULT_ACCOUNT) -> list[Position]:
        """The account's open positions."""
        return [p.snapshot() for p in self._account(account_id).positions.values()]

    def position(self, position_id: str, account_id: str = DEFAULT_ACCOUNT) -> Position:
        """One open position by id (the symbol)."""
        return self._position_state(position_id, account_id).snapshot()

    def _position_state(self, position_id: object, account_id: str) -> PositionState:
        account = self._account(account_id)
        pos = account.positions.get(position_id) if isinstance(position_id, str) else None
        if pos is None:
            open_ids = ", ".join(account.positions) or "none"
            msg = f"Account {account_id} has no open position {position_id!r} (open: {open_ids})."
            raise UnknownPosition(msg)
        return pos

    def executions(self, symbol: str | None = None, account_id: str = DEFAULT_ACCOUNT) -> list[Execution]:
        """The account's kept executions, oldest first, optionally of one symbol."""
        self._account(account_id)
        log = self._executions
        account_code = self._account_codes.find(account_id)
        symbol_code = None if symbol is None else self._symbols.find(symbol)
        if account_code is None or (symbol is not None and symbol_code is None):
            return []
        names = self._symbols.names
        first = log.first_seq()
        rows = log.table().tolist()
        return [
            Execution(
                names[int(row[2])],
                row[5],
                row[4],
                Side(int(row[3])),
                int(row[0]),
                row[6],
                f"EXEC-{first + i}",
                log.order_ids[i],
            )
            for i, row in enumerate(rows)
            if row[1] == account_code and (symbol_code is None or row[2] == symbol_code)
        ]

    def equity(self, account_id: str = DEFAULT_ACCOUNT) -> EquityData:
        """The account's balance, equity and P&L now."""
        return self._account(account_id).equity()

    @property
    def execution_count(self) -> int:
        """Executions ever made, including those dropped from the kept history."""
        return self._executions.total

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

    @property
    def subscriber_errors(self) -> int:
        """How many times a subscriber raised (each is logged and skipped)."""
        return self._hub.errors

    def _connection_status(self) -> BrokerConnectionStatus:
        return BrokerConnectionStatus(
            ConnectionStatus.CONNECTED, "Connected to paperbroker", None, self.clock.now_ms()
        )

    # ------------------------------------------------------------------ simulator

    @property
    def simulator_running(self) -> bool:
        """True while the background task runs (it needs a subscriber and a running loop)."""
        return self._simulator.running

    @property
    def simulator(self) -> Simulator:
        """The background task's state: ``errors``, ``last_error``, ``steps``."""
        return self._simulator

    def _subscribers_changed(self, count: int) -> None:
        if count == 0:
            self._simulator.stop()
        else:
            self._ensure_simulator()

    def _ensure_simulator(self) -> None:
        if self._delay is not None and len(self._hub) and not self._simulator.running:
            self._simulator.start()

    def _next_interval(self) -> float:
        if self._delay is RANDOM_DELAY:
            return float(self.rng.uniform(1.0, 2.0))
        return float(self._delay)

    def _classic_step(self) -> None:
        n = self._book.working_count()
        if n:
            order = self._book.working_at(int(self.rng.integers(n)))
            self.fill(order.id)

    def shutdown(self) -> None:
        """Stop the simulator and close every subscription."""
        for sub in self._hub.subscriptions():
            sub.close()
        self._simulator.stop()

    # ------------------------------------------------------------------ async API

    async def place_order(
        self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT
    ) -> PlaceOrderResult:
        self._ensure_simulator()
        return PlaceOrderResult(self.submit(order, account_id).id)

    async def modify_order(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        self._ensure_simulator()
        return self.modify(order_id, order, **changes)

    async def cancel_order(self, order_id: str) -> PlacedOrder:
        self._ensure_simulator()
        return self.cancel(order_id)

    async def close_position(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        self._ensure_simulator()
        return self.flatten(position_id, amount, account_id=account_id)

    async def reverse_position(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        self._ensure_simulator()
        return self.reverse(position_id, account_id=account_id)

    async def simulate_execution(self, order_id: str) -> Execution:
        """Fill one working order now, completely, at its own price."""
        return self.fill(order_id)

    async def execute_all_working_orders(self) -> int:
        """Fill every working order now; returns how many filled."""
        return len(self.fill_all())

    def __repr__(self) -> str:
        mode = "manual" if self._delay is None else "classic"
        eq = self._ledger.accounts[DEFAULT_ACCOUNT].equity()
        state = "running" if self.simulator_running else "idle"
        return (
            f"<BrokerService {mode}, {self._book.working_count()} working orders, "
            f"equity {eq.equity:,.2f}, simulator {state}>"
        )


def _check_delay(value: object) -> Any:
    if value is None or value is RANDOM_DELAY:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        msg = (
            f"execution_delay must be seconds >= 0, None for manual fills, or left out for a "
            f"random 1-2 s; got {value!r}."
        )
        raise ConfigurationError(msg)
    return float(value)


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
