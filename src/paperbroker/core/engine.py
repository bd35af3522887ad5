"""The order engine: how an order enters, fills, expires and leaves, and what each fill
books and broadcasts.

:class:`OrderEngine` owns the books (ledger, order book, history) and drives the parts
around them through small interfaces: the market (:class:`~paperbroker.core.ports.MarketPort`,
in market mode), the risk rules, the brackets and the event hub.  Every order takes the
same path through :meth:`OrderEngine.submit`; a step that a part adds is skipped when the
part is absent.

Each fill runs one cascade (:meth:`OrderEngine.execute`): the fill is booked everywhere
first, then its events go to the hub in one call, always in this order: execution ->
order -> position -> equity.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..clock import Clock
from ..errors import BrokerError, InvalidOrder, InvalidState, OrderRejected
from ..events import TopicHub
from ..models import DEFAULT_ACCOUNT, Execution, OrderMessage, OrderStatus, OrderType, PlacedOrder, Side
from ..records import read_only_class
from .brackets import Brackets, check_sides
from .checks import Checked, OrderFields, check_price, checked_fields, fill_qty
from .commissions import CommissionModel, NoCommission
from .equity import EquityBook
from .history import Codes, EquityLog, ExecutionLog
from .ledger import QTY_EPSILON, QTY_RELATIVE, Account, Ledger, Marked
from .orders import OrderBook
from .ports import Books, MarketPort
from .risk import RiskBook

__all__ = ["OrderEngine"]


# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_WORKING = OrderStatus.WORKING
_FILLED = OrderStatus.FILLED
_MARKET = OrderType.MARKET
_STOP = OrderType.STOP
_BUY = Side.BUY
_NO_MARKS: Marked = []
_EXECUTION = read_only_class(Execution)


class OrderEngine:
    """Admission, fills and the cascade, expiry and cancellation (see the module docstring).

    The books are public attributes for the broker's views and for saving; the parts
    outside the core reach the engine only through its public methods.
    """

    def __init__(
        self,
        clock: Clock,
        hub: TopicHub,
        commission: CommissionModel,
        history_limit: int | None,
        risk: RiskBook | None,
    ) -> None:
        self.clock = clock
        self.hub = hub
        self.commission = commission
        self.free = isinstance(commission, NoCommission)  # skips a call per fill
        self.risk = risk
        self.market: MarketPort | None = None
        self.brackets = Brackets()  # its host (the child orders) is bound by the broker
        self.ledger = Ledger()
        self.book = OrderBook(keep_done=history_limit)
        self.executions = ExecutionLog(history_limit)
        self.equity_log = EquityLog(history_limit)
        self.equity = EquityBook(clock, hub, self.equity_log, risk)
        #: broadcast the positions new marks moved (``pl``) and their accounts' equity
        self.publish_marks: Callable[[Marked, Account | None, int | None], None] = self.equity.publish_marks
        self.symbols = Codes()
        self.account_codes = self.equity.account_codes
        self.order_seq = 0
        self.exec_seq = 0
        self.day_orders: dict[str, PlacedOrder] = {}
        self.session_end = clock.next_session_end(clock.now_ms())
        # the hub's tables, looked up once: they run per fill
        self._orders_subs = hub.table("orders")
        self._exec_subs = hub.table("executions")
        self._pos_subs = hub.table("positions")
        self._equity_subs = hub.table("equity")
        self._bind_books()

    def _bind_books(self) -> None:
        # what runs per fill or tick, bound once: the history's appenders, and the mark
        #: mark(symbol, price, short): mark ``symbol`` at ``price`` (its shorts at ``short``,
        #: or ``price`` when None); returns the positions whose P&L moved
        self.mark: Callable[[str, float, float | None], Marked] = self.ledger.set_mark
        self._exec_rows = self.executions.data.frombytes
        self._exec_ids = self.executions.exec_ids.append
        self._exec_order_ids = self.executions.order_ids.append

    def restore(self, books: Books) -> None:
        """Take the books of a loaded broker in place of this engine's empty ones."""
        self.ledger, self.book, self.risk = books.ledger, books.book, books.risk
        self.executions, self.equity_log = books.executions, books.equity_log
        self.symbols, self.account_codes = books.symbols, books.account_codes
        self.equity.restore(books.equity_log, books.account_codes, books.risk)
        self._bind_books()

    def open_account(self, account_id: object, balance: float) -> Account:
        """Open an account with ``balance`` and broadcast its first equity."""
        account = self.ledger.open_account(account_id, balance)
        self.account_codes.code(account.account_id)
        if self.risk is not None:
            self.risk.new_session({account.account_id: balance})
        self.equity.open(account)
        return account

    def submit(self, order: object, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place an order: check it, price it, apply the risk rules, attach its brackets,
        hand it to the market; return it as it is now (see BrokerService.submit)."""
        fields = order if type(order) is Checked else checked_fields(order)  # (buy/sell checked it)
        if type(account_id) is not str or account_id not in self.ledger.accounts:
            self.ledger.account(account_id)  # raises UnknownAccount with the explanation
        now = self.clock.now_ms()
        if now >= self.session_end:
            self.roll_session(now)
        symbol, kind, side, qty, limit, stop, take_profit, stop_loss, _, trailing, _, seen, _, _, duration = (
            fields
        )
        market = self.market
        tif = "GTC" if duration is None else duration.type
        brackets, risk = take_profit is not None or stop_loss is not None or trailing is not None, self.risk
        if market is not None:
            # a market order's reference price (its quote) serves only risk rules and brackets
            priced = kind is _MARKET and (risk is not None or brackets)
            ref = market.check_symbol(symbol, side is _BUY if priced else None) or limit or seen
        else:
            if tif == "IOC" or tif == "FOK":
                msg = f"{tif} needs a market to fill against at once; build the broker with market=..."
                raise InvalidOrder(msg)
            if kind is _MARKET and limit is None:  # priced now: seenPrice, quotes or the last price
                limit = seen if seen is not None else self.ledger.market_price(symbol, side, fields.quotes)
            ref = limit
        if kind is not _MARKET:
            ref = limit if limit is not None else stop
        if brackets:
            check_sides(side, ref, take_profit, stop_loss, f"this {side.label.lower()} order")
        opening = 0.0
        if risk is not None:
            prices = (limit, stop, take_profit, stop_loss)
            reason, opening = risk.verdict(self.ledger.accounts[account_id], symbol, side, qty, ref, prices)
            if reason is not None:
                self.reject(account_id, fields, reason, limit)
        placed = self.new_order(account_id, fields, _WORKING, now, limit)
        reserved = opening * (ref or 0.0)  # buying power held while the order works
        if risk is not None:
            risk.accept(placed.id, account_id, symbol, int(side), qty, reserved)
        if tif == "DAY":
            self.day_orders[placed.id] = placed
        if market is None and not brackets:  # nothing else follows: the usual classic order
            snapshot = placed.snapshot()  # publish_order(), inline: it runs per order
            subs = self._orders_subs.get(account_id)
            if subs:
                self.hub.send(((subs, snapshot),))
            if reserved > 0.0 and account_id in self._equity_subs:
                self.equity.announce(self.ledger.accounts[account_id])
            return snapshot
        matched = False
        try:
            snapshot = placed.snapshot()  # publish_order(), inline: it runs per order
            subs = self._orders_subs.get(account_id)
            if subs:
                self.hub.send(((subs, snapshot),))
        finally:  # also when a subscriber raised (an interrupt): the order is working
            if brackets:
                with self.hub.interrupts_held():
                    self.brackets.attach(placed, account_id, ref, self.grid(symbol))
            if market is not None:
                matched = market.add(placed, None, True)  # (immediate: by position, cheaper)
            if reserved > 0.0 and placed.status is _WORKING and account_id in self._equity_subs:
                self.equity.announce(self.ledger.accounts[account_id])  # (a fill announced its own)
        seen_now = matched or brackets or account_id in self._orders_subs  # changed at once?
        return placed.snapshot() if market is not None and seen_now and placed != snapshot else snapshot

    def new_order(
        self,
        account_id: str,
        fields: OrderFields,
        status: OrderStatus,
        now: int | None = None,
        limit: float | None = None,
    ) -> PlacedOrder:
        """Create an order from checked fields (with ``limit`` when the engine priced a
        market order) and add it to the book."""
        self.order_seq += 1
        symbol, kind, side, qty, given, stop, take_profit, stop_loss, guaranteed, trailing, stop_type = (
            fields[:11]
        )
        placed = PlacedOrder(
            f"ORDER-{self.order_seq}",
            symbol,
            kind,
            side,
            qty,
            status,
            given if limit is None else limit,
            stop,
            take_profit,
            stop_loss,
            guaranteed,
            trailing,
            stop_type,
            0.0,
            None,
            self.clock.now_ms() if now is None else now,
        )
        placed.duration = fields.duration
        self.book.add(placed, account_id)
        return placed

    def reject(self, account_id: str, fields: OrderFields, reason: str, limit: float | None = None) -> None:
        """Keep the order as Rejected with ``reason``, broadcast it, raise OrderRejected."""
        placed = self.new_order(account_id, fields, OrderStatus.REJECTED, limit=limit)
        placed.message = OrderMessage("error", reason)
        self.publish_order(placed, account_id)
        raise OrderRejected(reason, order_id=placed.id)

    def grid(self, symbol: str) -> tuple[float, float]:
        """(pip size, tick size) of ``symbol``: from the risk rules, else the market's tick."""
        tick = self.market.tick_size(symbol) if self.market is not None else 0.01
        pip = self.risk.pip_size(symbol, tick) if self.risk is not None else tick
        return pip, tick

    def trail_distance(self, order: PlacedOrder) -> float | None:
        """How far a trailing stop trails, in price."""
        pips = order.trailingStopPips
        return None if pips is None else pips * self.grid(order.symbol)[0]

    def fill(self, order_id: object, qty: float | None = None, price: float | None = None) -> Execution:
        """Fill a working order now: all that remains or ``qty``, at ``price`` (default: the
        order's own price, or the market's); runs the full cascade."""
        order = self.book.orders.get(order_id) if type(order_id) is str else None
        if order is None:
            order = self.book.get(order_id)  # an order record, or UnknownOrder with the explanation
            order_id = order.id
        if order.status is not _WORKING:
            msg = f"Order {order_id} is {order.status.label.lower()}; only working orders can fill."
            raise InvalidState(msg)
        qty = order.qty - order.filledQty if qty is None else fill_qty(order, qty)  # (all: no call)
        if price is None:
            price = order.stopPrice if order.type is _STOP else order.limitPrice
            if price is None and self.market is not None:
                price = self.market.price(order.symbol, order.side is _BUY)
            if price is None:
                msg = f"There is no price to fill {order_id} at yet; give price= or step the market first."
                raise InvalidState(msg)
        else:
            price = check_price(price, "price")
        now = self.clock.now_ms()
        if now >= self.session_end:
            self.roll_session(now)
            if order.status is not _WORKING:
                msg = f"Order {order_id} expired at the end of its session; it can no longer fill."
                raise InvalidState(msg)
        return self.execute(order, qty, price, now, True)  # type: ignore[return-value]  # (record=True)

    def execute(
        self, order: PlacedOrder, qty: float, price: float, now: int | None = None, record: bool = False
    ) -> Execution | None:
        """Book a fill completely, then broadcast it: execution, order, position, equity.
        Returns the :class:`Execution` when ``record`` or someone subscribes to executions
        (the market's fills: nobody asks for it otherwise, and the history keeps its row).

        Nothing is broadcast until the fill is booked everywhere, so a subscriber (or a
        kernel interrupt landing in one) never sees or leaves a half-booked fill, and a
        subscriber that calls back into the broker finds the books consistent.
        """
        order_id = order.id
        account_id = self.book.account_ids[order_id]  # account_of(), without the call
        ledger = self.ledger
        account = ledger.accounts[account_id]
        symbol = order.symbol
        side = order.side
        commission = 0.0 if self.free else self.commission(qty, price, order.filledQty == 0.0)
        if not self.free and not (commission >= 0.0 and math.isfinite(commission)):
            msg = (
                f"The commission model returned {commission!r} for {qty} @ {price}; "
                "it must return a finite number >= 0."
            )
            raise BrokerError(msg)
        if now is None:
            now = self.clock.now_ms()
        # -- book: history, order, position, risk, equity
        self.exec_seq += 1
        exec_id = f"EXEC-{self.exec_seq}"
        execution = None
        if record or self._exec_subs:
            execution = Execution(symbol, price, qty, side, now, commission, exec_id, order_id)
            execution.__class__ = _EXECUTION  # read_only(), inline: it runs per fill
        log = self.executions
        symbol_code = self.symbols.by_name.get(symbol)
        if symbol_code is None:
            symbol_code = self.symbols.code(symbol)
        self._exec_rows(
            log.pack(now, self.account_codes.by_name[account_id], symbol_code, side, qty, price, commission)
        )
        self._exec_ids(exec_id)
        self._exec_order_ids(order_id)
        log.total += 1  # log.added(), inline: it runs per fill
        if len(log.data) >= log.cap:
            log.trim()
        done = order.filledQty
        filled = done + qty
        order.avgPrice = price if done == 0.0 else (order.avgPrice * done + price * qty) / filled  # type: ignore[operator]
        order.filledQty = filled
        order.updateTime = now
        tol = order.qty * QTY_RELATIVE  # flat_tolerance(order.qty), inline: it runs per fill
        if order.qty - filled <= (tol if tol > QTY_EPSILON else QTY_EPSILON):
            self.book.finish(order, _FILLED)
            if self.market is not None or self.risk is not None or self.day_orders:
                self.order_done(order)
        # the position is marked first so that equity is current (market mode: the tick's mark)
        remarked = _NO_MARKS
        if self.market is None or symbol not in ledger.marks:
            holders = ledger.holders.get(symbol)
            if holders and (len(holders) > 1 or account_id not in holders):
                remarked = ledger.set_mark(symbol, price)
            else:  # no one else holds it: apply_fill below marks this account's position
                ledger.marks[symbol] = price
        pos = ledger.apply_fill(account, symbol, side, qty, price, commission)
        risk = self.risk
        if risk is not None and order.status is _WORKING:  # (a finished one's went with order_done)
            risk.filled(order_id, qty)
        equity = self.equity.book(account, now)
        # -- broadcast, in cascade order, as one batch
        order_subs = self._orders_subs.get(account_id, ())
        pos_subs = self._pos_subs.get(account_id, ())
        follow = self.brackets.count
        pos_snapshot = pos.snapshot() if pos_subs or follow else None
        try:
            if order_subs or pos_subs or self._exec_subs or self._equity_subs:  # else no one listens
                self.hub.send(
                    (
                        (self._exec_subs.get(account_id, ()), execution),
                        (self._exec_subs.get((account_id, symbol), ()), execution),
                        (order_subs, order.snapshot() if order_subs else None),
                        (pos_subs, pos_snapshot),
                        (self._equity_subs.get(account_id, ()), equity),
                    )
                )
            if remarked:
                self.equity.publish_marks(remarked, account, now)
        finally:  # also when a subscriber raised (an interrupt): brackets follow the fill
            if follow:
                with self.hub.interrupts_held():  # every bracket follows, then the interrupt
                    self.brackets.after_fill(order, account_id, pos_snapshot or pos.snapshot())
        return execution

    def publish_order(self, order: PlacedOrder, account_id: str | None = None) -> PlacedOrder:
        """Broadcast a snapshot of ``order`` and return it (the engine keeps ``order``)."""
        snapshot = order.snapshot()
        subs = self._orders_subs.get(self.book.account_of(order.id) if account_id is None else account_id)
        if subs:
            self.hub.send(((subs, snapshot),))
        return snapshot

    def cancel_with(self, order: PlacedOrder, reason: str | None) -> PlacedOrder:
        """Cancel ``order`` (with ``reason`` as its message), broadcast it, then its effects."""
        self.book.set_status(order, OrderStatus.CANCELED)
        if reason is not None:
            order.message = OrderMessage("information", reason)
        order.updateTime = self.clock.now_ms()
        try:
            snapshot = self.publish_order(order)
        finally:  # also when a subscriber raised: the order leaves the market and risk book
            self.order_done(order)
        return snapshot

    def order_done(self, order: PlacedOrder) -> None:
        """``order`` stopped working: drop it from the market, risk book and day orders."""
        if self.market is not None:
            self.market.remove(order.id)
        if self.risk is not None and self.risk.release(order.id) and order.status is not _FILLED:
            self.equity.announce(self.ledger.accounts[self.book.account_of(order.id)])
        self.day_orders.pop(order.id, None)
        if order.status is not _FILLED and self.brackets.count:
            with self.hub.interrupts_held():
                self.brackets.done(order)

    def roll_session(self, now: int) -> None:
        """The clock passed a session end: expire day orders, restart the daily loss count."""
        self.session_end = self.clock.next_session_end(now)
        with self.hub.interrupts_held():  # all of them expire, then an interrupt goes on
            for order in list(self.day_orders.values()):
                self.cancel_with(order, "The day order expired at the end of the session.")
        if self.risk is not None:
            self.risk.new_session({a: acc.equity().equity for a, acc in self.ledger.accounts.items()})
