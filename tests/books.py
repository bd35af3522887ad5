"""What "the books are consistent" means, checked through the public API only.

Used by the thread and interrupt harnesses: whatever happened, the positions must be what
the executions add up to, every order's filled quantity what its executions add up to, a
working order must be fillable and a finished one must not be, and the account's money
must follow from the executions (average cost, no commission in these harnesses).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

import paperbroker as pb


def digest(broker: pb.BrokerService) -> tuple[Any, ...]:
    """The whole visible state, to compare two brokers (or one before and after)."""
    orders = tuple((o.id, int(o.status), o.qty, o.filledQty, o.avgPrice) for o in broker.orders())
    positions = tuple((p.id, p.qty, int(p.side), p.avgPrice) for p in broker.positions())
    executions = tuple((e.id, e.orderId, e.qty, e.price, int(e.side)) for e in broker.executions())
    money = broker.equity()
    return orders, positions, executions, round(money.balance, 6), round(money.realizedPL, 6)


def check_books(broker: pb.BrokerService, account_id: str = pb.DEFAULT_ACCOUNT) -> None:
    """Assert every rule above; raises AssertionError naming the first one broken."""
    executions = broker.executions(account_id=account_id)
    assert len(executions) <= broker.execution_count
    net: dict[str, float] = defaultdict(float)
    per_order: dict[str, float] = defaultdict(float)
    realized = 0.0
    held: dict[str, tuple[float, float]] = {}  # symbol -> (signed qty, average price)
    for e in executions:
        signed = e.qty if e.side is pb.Side.BUY else -e.qty
        net[e.symbol] += signed
        per_order[e.orderId] += e.qty
        qty, avg = held.get(e.symbol, (0.0, 0.0))
        if qty == 0.0 or (qty > 0) == (signed > 0):
            total = qty + signed
            avg = (avg * abs(qty) + e.price * abs(signed)) / abs(total)
        else:
            closed = min(abs(qty), abs(signed))
            realized += (e.price - avg) * closed * (1.0 if qty > 0 else -1.0)
            total = qty + signed
            if total != 0.0 and (total > 0) != (qty > 0):
                avg = e.price
        held[e.symbol] = (0.0 if abs(total) < 1e-9 else total, avg)
    positions = {p.id: (p.qty if p.side is pb.Side.BUY else -p.qty) for p in broker.positions(account_id)}
    for symbol, qty in net.items():
        assert positions.get(symbol, 0.0) == pytest.approx(qty, abs=1e-9), f"position {symbol} != executions"
    assert set(positions) <= set(net), "a position without executions"
    assert broker.equity(account_id).realizedPL == pytest.approx(realized, rel=1e-9, abs=1e-6)
    for order in broker.orders(account_id):
        assert order.filledQty == pytest.approx(per_order.get(order.id, 0.0), abs=1e-9), (
            f"{order.id} filledQty"
        )
        if order.status is pb.OrderStatus.FILLED:
            assert order.filledQty == pytest.approx(order.qty)
        if order.status is pb.OrderStatus.WORKING:
            assert order.filledQty < order.qty
        else:
            with pytest.raises(pb.InvalidState):
                broker.fill(order.id)
