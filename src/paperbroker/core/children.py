"""Bracket orders as the engine makes them: :class:`ChildOrders` is the
:class:`~paperbroker.core.brackets.BracketHost` of a broker's brackets."""

from __future__ import annotations

from ..models import OrderStatus, OrderType, ParentType, PlacedOrder, Side, StopType
from .checks import OrderFields
from .engine import OrderEngine

__all__ = ["ChildOrders"]


class ChildOrders:
    """Creates, arms, resizes and moves the take-profit and stop-loss orders of brackets."""

    __slots__ = ("_engine",)

    def __init__(self, engine: OrderEngine) -> None:
        self._engine = engine

    def new_child(
        self,
        account_id: str,
        symbol: str,
        kind: OrderType,
        side: Side,
        qty: float,
        price: float,
        parent_id: str,
        parent_type: ParentType,
        trailing_pips: float | None,
    ) -> PlacedOrder:
        """An Inactive Limit (take-profit) or Stop (stop-loss) child of ``parent_id``."""
        engine = self._engine
        limit, stop = (price, None) if kind is OrderType.LIMIT else (None, price)
        stop_type = None if stop is None else StopType.TRAILING_STOP if trailing_pips else StopType.STOP_LOSS
        fields = OrderFields(
            symbol, kind, side, qty, limit, stop, trailing=trailing_pips, stop_type=stop_type
        )
        child = engine.new_order(account_id, fields, OrderStatus.INACTIVE)
        child.parentId, child.parentType = parent_id, parent_type
        if parent_type is ParentType.ORDER:
            engine.publish_order(child, account_id)
        return child

    def activate(self, order: PlacedOrder, account_id: str) -> None:
        """Arm a child: Working, broadcast, then in the market, where it fills at once when
        the quote already touches it (as a plain order would)."""
        engine = self._engine
        engine.book.set_status(order, OrderStatus.WORKING)
        order.updateTime = engine.clock.now_ms()
        try:
            engine.publish_order(order, account_id)
        finally:  # also when a subscriber raised (an interrupt): the child is in the market
            if engine.market is not None:
                engine.market.add(order, engine.trail_distance(order), immediate=True)

    def cancel_with(self, order: PlacedOrder, reason: str) -> PlacedOrder:
        """Cancel a child with ``reason``."""
        return self._engine.cancel_with(order, reason)

    def resized(self, order: PlacedOrder, account_id: str) -> None:
        """A child follows its position's new size."""
        order.updateTime = self._engine.clock.now_ms()
        self._engine.publish_order(order, account_id)

    def reprice(self, order: PlacedOrder, account_id: str, price: float, trailing_pips: float | None) -> None:
        """Move a child's limit or stop (and its trailing distance)."""
        engine = self._engine
        if order.type is OrderType.LIMIT:
            order.limitPrice = price
        else:
            order.stopPrice = price
            order.trailingStopPips = trailing_pips
            order.stopType = StopType.TRAILING_STOP if trailing_pips else StopType.STOP_LOSS
        order.updateTime = engine.clock.now_ms()
        if engine.market is not None and order.status is OrderStatus.WORKING:
            engine.market.reindex(order, engine.trail_distance(order))
        engine.publish_order(order, account_id)
