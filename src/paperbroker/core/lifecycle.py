"""How orders enter, change and leave: the order lifecycle part of the broker.

:class:`OrderLifecycle` is a mixin of :class:`~paperbroker.broker.BrokerService`: the full
admission path of :meth:`~paperbroker.broker.BrokerService.submit` (market, time in force,
brackets, risk rules), ``modify`` and ``cancel``, and the bookkeeping when an order stops
working or a session ends.  The fill cascade and the plain (classic) fast path of
``submit`` stay in :mod:`paperbroker.broker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import InvalidOrder, InvalidState, OrderRejected
from ..models import CurrentQuotes, OrderMessage, OrderStatus, OrderType, PlacedOrder, PreOrder, Side
from .brackets import check_sides
from .ledger import QTY_EPSILON
from .orders import check_order

if TYPE_CHECKING:
    from ..clock import Clock
    from ..events import TopicHub
    from ..market.venue import Venue
    from .brackets import Brackets
    from .ledger import Ledger
    from .orders import OrderBook
    from .risk import RiskBook

__all__ = ["OrderLifecycle"]

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_WORKING = OrderStatus.WORKING
_FILLED = OrderStatus.FILLED
_MARKET = OrderType.MARKET
_BUY = Side.BUY

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


class OrderLifecycle:
    """Admission, modify, cancel and an order's end; the broker provides the state below."""

    clock: Clock
    _book: OrderBook
    _ledger: Ledger
    _risk: RiskBook | None
    _venue: Venue | None
    _brackets: Brackets
    _hooks: bool
    _day_orders: dict[str, PlacedOrder]
    _session_end: int
    _hub: TopicHub

    if TYPE_CHECKING:  # provided by BrokerService and BrokerViews

        def _new_order(
            self, account_id: str, fields: tuple[Any, ...], status: OrderStatus, now: int | None = None
        ) -> PlacedOrder: ...

        def _publish_order(self, order: PlacedOrder, account_id: str) -> PlacedOrder: ...

        def _grid(self, symbol: str) -> tuple[float, float]: ...

        def _trail_distance(self, order: PlacedOrder) -> float | None: ...

    def _admit(self, fields: tuple[Any, ...], account_id: str) -> PlacedOrder:
        """The full path of :meth:`submit`: market, time in force, brackets, risk rules."""
        symbol, kind, side, qty, limit, stop, tp, sl = fields[:8]
        duration = fields[14]
        venue = self._venue
        tif = duration.type if duration is not None else "GTC"
        if venue is not None:
            venue.check_symbol(symbol)
            ref = venue.price(symbol, side is _BUY) if kind is _MARKET else None
            ref = ref or limit or fields[11]
        else:
            if tif in ("IOC", "FOK"):
                msg = f"{tif} needs a market to fill against at once; build the broker with market=..."
                raise InvalidOrder(msg)
            if kind is _MARKET and limit is None:
                limit = self._market_price(symbol, side, fields[11], fields[12])
                fields = (*fields[:4], limit, *fields[5:])
            ref = limit
        if kind is not _MARKET:
            ref = limit if limit is not None else stop
        check_sides(side, ref, tp, sl, f"this {side.label.lower()} order")
        self._hooks = True
        opening = 0.0
        if self._risk is not None:
            reason, opening = self._risk_check(account_id, symbol, side, qty, ref, (limit, stop, tp, sl))
            if reason is not None:
                self._reject(account_id, fields, reason)
        placed = self._new_order(account_id, fields, _WORKING)
        if self._risk is not None:
            self._risk.accept(placed.id, account_id, symbol, int(side), qty, opening * (ref or 0.0))
        if tif == "DAY":
            self._day_orders[placed.id] = placed
        try:
            snapshot = self._publish_order(placed, account_id)
        finally:  # also when a subscriber raised (an interrupt): the order is working
            if tp is not None or sl is not None or placed.trailingStopPips is not None:
                with self._hub.interrupts_held():
                    self._brackets.attach(placed, account_id, ref, self._grid(symbol))
            if venue is not None:
                venue.add(placed, None, immediate=True)
        if venue is not None and placed != snapshot:
            # it changed at once (filled, in part or whole, or its stop triggered): return
            # it as it is now, not as broadcast on placing
            return placed.copy()
        return snapshot

    def _reject(self, account_id: str, fields: tuple[Any, ...], reason: str) -> NoReturn:
        placed = self._new_order(account_id, fields, OrderStatus.REJECTED)
        placed.message = OrderMessage("error", reason)
        self._publish_order(placed, account_id)
        raise OrderRejected(reason, order_id=placed.id)

    def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        """Change a working order's qty, prices or brackets.

        Pass a whole :class:`PreOrder` (its modifiable fields replace the order's), or
        keyword changes (``qty=``, ``limitPrice=`` or ``limit_price=`` ...; ``None`` removes
        a bracket).  Symbol and side cannot change.  With risk rules the changed order is
        checked as a new one would be; refused, it raises OrderRejected and stays as it was.
        """
        placed = self._book.get(order_id)
        if placed.status not in (_WORKING, OrderStatus.INACTIVE):
            msg = f"Order {order_id} is {placed.status.label.lower()}; only working orders can be modified."
            raise InvalidState(msg)
        merged = PreOrder(placed.symbol, placed.type, placed.side, placed.qty)
        for name in _MODIFIABLE_FIELDS[1:]:
            setattr(merged, name, getattr(placed, name))
        if order is not None:
            new = check_order(order)
            if new.symbol != placed.symbol or new.side is not placed.side:
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
        account_id = self._book.account_of(order_id)
        if clean.type is not _MARKET or self._venue is None:
            check_sides(
                placed.side, clean.limitPrice or clean.stopPrice, clean.takeProfit, clean.stopLoss, order_id
            )
        still_working = clean.qty > placed.filledQty + QTY_EPSILON
        if self._risk is not None and placed.status is _WORKING and still_working:
            self._recheck_risk(placed, clean, account_id)
        if self._venue is not None and (clean.type is not placed.type or clean.stopPrice != placed.stopPrice):
            self._venue.rearmed(placed)  # a triggered stop waits for its new stop again
        placed.type = clean.type
        for name in _MODIFIABLE_FIELDS:
            setattr(placed, name, getattr(clean, name))
        placed.updateTime = self.clock.now_ms()
        if placed.qty - placed.filledQty <= QTY_EPSILON:
            self._book.set_status(placed, _FILLED)
            if self._hooks:
                self._order_done(placed)
        try:
            snapshot = self._publish_order(placed, account_id)
        finally:  # also when a subscriber raised: the market and brackets follow the change
            if self._hooks and placed.status is not _FILLED:
                self._modified(placed, account_id)
        return snapshot

    def _risk_check(
        self,
        account_id: str,
        symbol: str,
        side: Side,
        qty: float,
        ref: float | None,
        prices: tuple[float | None, float | None, float | None, float | None],
    ) -> tuple[str | None, float]:
        """The risk rules' verdict on an order: ``(reason refused or None, opening qty)``.

        ``prices`` are its limit, stop, take-profit and stop-loss prices.
        """
        assert self._risk is not None
        account = self._ledger.accounts[account_id]
        pos = account.positions.get(symbol)
        held = pos.qty if pos is not None else 0.0
        named = dict(zip(("limitPrice", "stopPrice", "takeProfit", "stopLoss"), prices, strict=True))
        return self._risk.check(account_id, account.equity().equity, symbol, int(side), qty, ref, held, named)

    def _recheck_risk(self, placed: PlacedOrder, clean: PreOrder, account_id: str) -> None:
        """A modified order must pass the risk rules as a new one would, with what it holds
        itself counted as free; refused (OrderRejected), it stays as it was."""
        risk = self._risk
        assert risk is not None
        symbol, side = placed.symbol, placed.side
        limit, stop = clean.limitPrice, clean.stopPrice
        if clean.type is _MARKET:
            ref = self._venue.price(symbol, side is _BUY) if self._venue is not None else None
            ref = ref or limit
        else:
            ref = limit if limit is not None else stop
        remaining = clean.qty - placed.filledQty
        prices = (limit, stop, clean.takeProfit, clean.stopLoss)
        with risk.without(placed.id):
            reason, opening = self._risk_check(account_id, symbol, side, remaining, ref, prices)
        if reason is not None:
            msg = f"Order {placed.id} was left as it was: {reason}"
            raise OrderRejected(msg, order_id=placed.id)
        risk.release(placed.id)
        risk.accept(placed.id, account_id, symbol, int(side), remaining, opening * (ref or 0.0))

    def _modified(self, order: PlacedOrder, account_id: str) -> None:
        if order.parentType is None and (
            self._brackets.children_of(order.id) or order.takeProfit or order.stopLoss
        ):
            ref = order.limitPrice or order.stopPrice
            with self._hub.interrupts_held():
                self._brackets.parent_changed(order, account_id, ref, self._grid(order.symbol))
        if self._venue is not None and order.status is _WORKING:
            self._venue.reindex(order, self._trail_distance(order))

    def cancel(self, order_id: str) -> PlacedOrder:
        """Cancel a working order; a filled, cancelled or rejected order cannot be cancelled."""
        placed = self._book.get(order_id)
        if placed.status not in _CANCELLABLE:
            msg = (
                f"Order {order_id} is already {placed.status.label.lower()}; "
                "only working orders can be cancelled."
            )
            raise InvalidState(msg)
        return self._cancel_with(placed, None)

    def _cancel_with(self, order: PlacedOrder, reason: str | None) -> PlacedOrder:
        """Cancel ``order`` (with ``reason`` as its message), broadcast it, then its effects."""
        self._book.set_status(order, OrderStatus.CANCELED)
        if reason is not None:
            order.message = OrderMessage("information", reason)
        order.updateTime = self.clock.now_ms()
        try:
            snapshot = self._publish_order(order, self._book.account_of(order.id))
        finally:  # also when a subscriber raised: the order leaves the market and risk book
            if self._hooks:
                self._order_done(order)
        return snapshot

    def _order_done(self, order: PlacedOrder) -> None:
        """``order`` stopped working: drop it from the matcher, risk book and day orders."""
        if self._venue is not None:
            self._venue.matcher.remove(order.id)
        if self._risk is not None:
            self._risk.release(order.id)
        self._day_orders.pop(order.id, None)
        if order.status is not _FILLED and self._brackets.count:
            with self._hub.interrupts_held():
                self._brackets.done(order)

    def _roll_session(self, now: int) -> None:
        """The clock passed a session end: expire day orders, restart the daily loss count."""
        self._session_end = self.clock.next_session_end(now)
        with self._hub.interrupts_held():  # all of them expire, then an interrupt goes on
            for order in list(self._day_orders.values()):
                self._cancel_with(order, "The day order expired at the end of the session.")
        if self._risk is not None:
            self._risk.new_session({a: acc.equity().equity for a, acc in self._ledger.accounts.items()})

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
