"""What the price chart draws over the price: order lines, fill markers, the position.

Plain functions from broker records to small JSON-ready dicts, shared by the live chart
(sent to the browser) and its SVG snapshot, so both say the same thing.  Labels are made
here, once: ``Buy limit 10 @ 189.50``, ``Take profit of ORDER-3: Sell limit 10 @ 195.00``.
"""

from __future__ import annotations

from typing import Any

from ..models import Execution, OrderStatus, OrderType, ParentType, PlacedOrder, Position, Side
from ._html import decimals, fixed, qty, signed

__all__ = ["LIVE", "bracket_of", "fill_marker", "order_lines", "position_line", "role"]

#: Order states drawn as lines: working, and bracket children waiting for their parent.
LIVE = frozenset((OrderStatus.WORKING, OrderStatus.INACTIVE))

_KIND = {OrderType.LIMIT: "limit", OrderType.STOP: "stop", OrderType.STOP_LIMIT: "stop-limit"}


def _price(value: float) -> str:
    return fixed(value, decimals(value))


def role(order: PlacedOrder) -> str | None:
    """``"take-profit"`` or ``"stop-loss"`` for a bracket child, else ``None``."""
    if order.parentId is None:
        return None
    return "take-profit" if order.type is OrderType.LIMIT else "stop-loss"


def bracket_of(order: PlacedOrder) -> str | None:
    """``"Take profit of ORDER-3"`` (or ``Stop loss``, ``Trailing stop``; ``of position
    AAPL`` once its parent filled) for a bracket child, else ``None``."""
    kind = role(order)
    if kind is None:
        return None
    what = "Take profit" if kind == "take-profit" else "Stop loss"
    if order.trailingStopPips is not None and kind == "stop-loss":
        what = "Trailing stop"
    of = f"position {order.parentId}" if order.parentType is ParentType.POSITION else order.parentId
    return f"{what} of {of}"


def order_lines(order: PlacedOrder) -> list[dict[str, Any]]:
    """The horizontal lines of one live order: one per price it waits for.

    A stop-limit has two (its stop, then its limit); a market order waiting for its fill
    has none.  ``field`` is the order field that dragging the line changes.
    """
    kind = _KIND.get(order.type)
    if kind is None or order.status not in LIVE:
        return []
    remaining = qty(order.qty - order.filledQty)
    side = order.side.label
    prices = []
    if order.stopPrice is not None and order.type in (OrderType.STOP, OrderType.STOP_LIMIT):
        prices.append(("stopPrice", order.stopPrice, "stop" if kind == "stop" else "stop-limit stop"))
    if order.limitPrice is not None and order.type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        prices.append(("limitPrice", order.limitPrice, "limit" if kind == "limit" else "stop-limit limit"))
    bracket = bracket_of(order)
    lines = []
    for field, price, what in prices:
        label = f"{side} {what} {remaining} @ {_price(price)}"
        if bracket is not None:
            label = f"{bracket}: {label}"
        if order.status is OrderStatus.INACTIVE:
            label += " (waits for its order)"
        lines.append(
            {
                "id": order.id,
                "field": field,
                "price": price,
                "label": label,
                "style": role(order) or kind,
                "side": int(order.side),
                "inactive": order.status is OrderStatus.INACTIVE,
            }
        )
    return lines


def position_line(position: Position | None) -> dict[str, Any] | None:
    """The position's average price, with its quantity and unrealized P&L."""
    if position is None or position.qty <= 0:
        return None
    direction = "Long" if position.side is Side.BUY else "Short"
    pl = signed(position.unrealizedPL)
    # an average price has as many decimals as the prices it averages (the mark's)
    digits = decimals(position.last) if position.last is not None else 2
    label = f"{direction} {qty(position.qty)} @ {fixed(position.avgPrice, digits)}  P&L {pl}"
    return {
        "price": position.avgPrice,
        "label": label,
        "qty": position.qty,
        "side": int(position.side),
        "pl": position.unrealizedPL,
    }


def fill_marker(execution: Execution) -> list[Any]:
    """One fill as ``[time ms, price, qty, side, order id, text]``; ``text`` is its hover."""
    text = (
        f"{execution.side.label} {qty(execution.qty)} @ {_price(execution.price)}"
        f" ({execution.orderId or 'no order'})"
    )
    return [execution.time, execution.price, execution.qty, int(execution.side), execution.orderId, text]
