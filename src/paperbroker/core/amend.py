"""Changing orders already placed: modify, cancel, and a position's brackets.

:class:`OrderChanges` works on an :class:`~paperbroker.core.engine.OrderEngine` through its
public methods: a change is checked in full (and, with risk rules, as a new order would be)
before anything is touched, so a refused change leaves the order as it was.
"""

from __future__ import annotations

from typing import Any

from ..errors import InvalidOrder, InvalidState, OrderRejected
from ..models import Brackets, Execution, OrderStatus, OrderType, PlacedOrder, Position, PreOrder, Side
from .brackets import check_sides
from .checks import check_order, check_price, check_qty
from .engine import OrderEngine
from .ledger import QTY_EPSILON, PositionState, flat_tolerance

__all__ = ["OrderChanges", "closing_order"]

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


class OrderChanges:
    """Modify and cancel orders, and edit a position's brackets (see the module docstring)."""

    __slots__ = ("_engine",)

    def __init__(self, engine: OrderEngine) -> None:
        self._engine = engine

    def fill_all(self) -> list[Execution]:
        """Fill every working order, oldest first.  An order an earlier fill of the same call
        finished (one-cancels-other: a take-profit's fill cancels its stop-loss) is skipped."""
        engine = self._engine
        return [engine.fill(order.id) for order in engine.book.working() if order.status is _WORKING]

    def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        """See :meth:`paperbroker.BrokerService.modify`."""
        engine = self._engine
        placed = engine.book.get(order_id)
        if placed.status not in (_WORKING, OrderStatus.INACTIVE):
            msg = f"Order {order_id} is {placed.status.label.lower()}; only working orders can be modified."
            raise InvalidState(msg)
        clean = _merged(placed, order, changes)
        if clean.qty < placed.filledQty - QTY_EPSILON:
            msg = f"qty {clean.qty} is below the {placed.filledQty} already filled of order {order_id}."
            raise InvalidOrder(msg)
        if clean.type is _MARKET and clean.limitPrice is None:
            clean.limitPrice = placed.limitPrice
        account_id = engine.book.account_of(order_id)
        market = engine.market
        if clean.type is not _MARKET or market is None:
            check_sides(
                placed.side, clean.limitPrice or clean.stopPrice, clean.takeProfit, clean.stopLoss, order_id
            )
        still_working = clean.qty > placed.filledQty + QTY_EPSILON
        reserved = False  # did the order's hold on buying power change?
        if engine.risk is not None and placed.status is _WORKING and still_working:
            reserved = self._recheck_risk(placed, clean, account_id)
        if market is not None and (clean.type is not placed.type or clean.stopPrice != placed.stopPrice):
            market.rearmed(placed)  # a triggered stop waits for its new stop again
        placed.type = clean.type
        for name in _MODIFIABLE_FIELDS:
            setattr(placed, name, getattr(clean, name))
        placed.updateTime = engine.clock.now_ms()
        if placed.qty - placed.filledQty <= flat_tolerance(placed.qty):
            engine.book.set_status(placed, _FILLED)
            engine.order_done(placed)
        try:
            snapshot = engine.publish_order(placed, account_id)
        finally:  # also when a subscriber raised: the market and brackets follow the change
            if placed.status is not _FILLED:
                self._modified(placed, account_id)
        if reserved and placed.status is _WORKING:  # the order's effect on buying power
            engine.equity.announce(engine.ledger.accounts[account_id])
        return snapshot

    def _recheck_risk(self, placed: PlacedOrder, clean: PreOrder, account_id: str) -> bool:
        """A modified order must pass the risk rules as a new one would, with what it holds
        itself counted as free; refused (OrderRejected), it stays as it was.  True when it
        held or now holds buying power."""
        engine = self._engine
        risk = engine.risk
        assert risk is not None
        symbol, side = placed.symbol, placed.side
        limit, stop = clean.limitPrice, clean.stopPrice
        if clean.type is _MARKET:
            ref = engine.market.price(symbol, side is _BUY) if engine.market is not None else None
            ref = ref or limit
        else:
            ref = limit if limit is not None else stop
        remaining = clean.qty - placed.filledQty
        prices = (limit, stop, clean.takeProfit, clean.stopLoss)
        with risk.without(placed.id):
            reason, opening = risk.verdict(
                engine.ledger.accounts[account_id], symbol, side, remaining, ref, prices
            )
        if reason is not None:
            msg = f"Order {placed.id} was left as it was: {reason}"
            raise OrderRejected(msg, order_id=placed.id)
        held = risk.release(placed.id)
        risk.accept(placed.id, account_id, symbol, int(side), remaining, opening * (ref or 0.0))
        return held or opening * (ref or 0.0) > 0.0

    def _modified(self, order: PlacedOrder, account_id: str) -> None:
        engine = self._engine
        brackets = engine.brackets
        if order.parentType is None and (
            brackets.children_of(order.id) or order.takeProfit or order.stopLoss
        ):
            ref = order.limitPrice or order.stopPrice
            with engine.hub.interrupts_held():
                brackets.parent_changed(order, account_id, ref, engine.grid(order.symbol))
        if engine.market is not None and order.status is _WORKING:
            engine.market.reindex(order, engine.trail_distance(order))

    def cancel(self, order_id: str) -> PlacedOrder:
        """See :meth:`paperbroker.BrokerService.cancel`."""
        placed = self._engine.book.get(order_id)
        if placed.status not in _CANCELLABLE:
            msg = (
                f"Order {order_id} is already {placed.status.label.lower()}; "
                "only working orders can be cancelled."
            )
            raise InvalidState(msg)
        return self._engine.cancel_with(placed, None)

    def edit_brackets(
        self,
        account_id: str,
        position: Position,
        brackets: Brackets,
    ) -> list[PlacedOrder]:
        """See :meth:`paperbroker.BrokerService.edit_brackets`."""
        engine = self._engine
        tp, sl, pips = brackets.takeProfit, brackets.stopLoss, brackets.trailingStopPips
        tp = None if tp is None else check_price(tp, "takeProfit")
        sl = None if sl is None else check_price(sl, "stopLoss")
        pips = None if pips is None else check_qty(pips, "trailingStopPips")
        mark = position.last if position.last is not None else position.avgPrice
        check_sides(position.side, mark, tp, sl, f"position {position.id}")
        grid = engine.grid(position.symbol)
        with engine.hub.interrupts_held():
            found = engine.brackets.edit_position(account_id, position, tp, sl, pips, grid)
        return [o.snapshot() for o in found]


def _merged(placed: PlacedOrder, order: PreOrder | None, changes: dict[str, Any]) -> PreOrder:
    """The order as it would be after the change, checked as a new order."""
    merged = PreOrder(placed.symbol, placed.type, placed.side, placed.qty)
    for name in _MODIFIABLE_FIELDS[1:]:
        setattr(merged, name, getattr(placed, name))
    if order is not None:
        new = check_order(order)
        if new.symbol != placed.symbol or new.side is not placed.side:
            msg = (
                f"Order {placed.id} is a {placed.side.label.lower()} of {placed.symbol}; "
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
    return check_order(merged)


def closing_order(pos: PositionState, amount: float | None, *, reverse: bool = False) -> PreOrder:
    """The market order that closes ``pos`` (or ``amount`` of it), or that reverses it."""
    qty = abs(pos.qty)
    if reverse:
        return PreOrder(pos.symbol, _MARKET, pos.side.opposite, 2 * qty)
    if amount is not None:
        amount = check_qty(amount, "amount")
        if amount > qty + flat_tolerance(qty):
            msg = f"Cannot close {amount} of position {pos.symbol}: it holds only {qty}."
            raise InvalidOrder(msg)
        qty = min(amount, qty)
    return PreOrder(pos.symbol, _MARKET, pos.side.opposite, qty, isClose=True)
