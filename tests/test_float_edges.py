"""Zero is relative to the sizes involved, and quantities too small to book are refused.

Issue: ``buy 10,000,000.1 @ 1.10; buy 0.2 @ 1.10; sell 10,000,000.3 @ 1.20`` left
``Position(qty=1.86e-09, side=SELL)`` open (above about 8.4 million units one float step is
larger than the old absolute 1e-9), the closing ``qty=0`` broadcast never came and the next
position inherited 1,000,000.03 of realized P&L.  And ten buys of 5e-10 left no position,
an order of 1e-300 "filled" and vanished.  The brokers here have no risk rules
(``risk=None``): the sizes are far beyond a default account's buying power.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import paperbroker as pb


def _fill(broker: pb.BrokerService, side: str, symbol: str, qty: float, price: float) -> None:
    order = (broker.buy if side == "buy" else broker.sell)(symbol, qty, price=price)
    broker.fill(order.id)


def test_a_large_fractional_position_closes_and_the_next_starts_clean() -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    seen: list[pb.Position] = []
    broker.subscribe(pb.topic("positions"), seen.append)
    _fill(broker, "buy", "EUR", 10_000_000.1, 1.10)
    _fill(broker, "buy", "EUR", 0.2, 1.10)
    _fill(broker, "sell", "EUR", 10_000_000.3, 1.20)
    assert broker.positions() == []
    assert seen[-1].qty == 0.0  # the closing broadcast came
    # 10,000,000.3 units x 0.10, to float precision
    assert broker.equity().realizedPL == pytest.approx(1_000_000.03, rel=1e-12)
    _fill(broker, "buy", "EUR", 5.0, 1.30)
    assert broker.position("EUR").realizedPL == 0.0  # nothing inherited
    assert broker.position("EUR").qty == 5.0


def test_a_real_remainder_of_a_large_position_stays_open() -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    _fill(broker, "buy", "EUR", 10_000_000.0, 1.10)
    _fill(broker, "sell", "EUR", 10_000_000.0 - 1e-6, 1.10)
    (left,) = broker.positions()
    assert left.qty == pytest.approx(1e-6, rel=1e-3)


@given(
    tenths=st.integers(min_value=10**7, max_value=10**12),
    part=st.integers(min_value=1, max_value=9),
)
def test_buying_in_two_parts_and_selling_the_sum_is_flat(tenths: int, part: int) -> None:
    # the sum typed as one decimal number is not the float sum of the parts
    broker = pb.BrokerService(execution_delay=None, risk=None)
    _fill(broker, "buy", "X", tenths / 10, 10.0)
    _fill(broker, "buy", "X", part / 10, 10.0)
    _fill(broker, "sell", "X", (tenths + part) / 10, 10.0)
    assert broker.positions() == []


def test_a_partly_filled_large_order_finishes_when_the_parts_add_up() -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    order = broker.buy("X", 10_000_000.3, limit=1.0)
    broker.fill(order.id, qty=10_000_000.1)
    broker.fill(order.id, qty=0.2)  # the float sum falls one step short of 10,000,000.3
    assert broker.order(order.id).status is pb.OrderStatus.FILLED


@pytest.mark.parametrize("qty", [5e-10, 1e-300, 9.99e-9])
def test_quantities_below_what_the_ledger_books_are_refused(qty: float) -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    with pytest.raises(pb.InvalidOrder, match="too small"):
        broker.buy("X", qty, price=1.0)
    assert broker.orders() == [] and broker.executions() == []
    order = broker.buy("X", 1.0, limit=1.0)
    with pytest.raises(pb.InvalidOrder, match="too small"):
        broker.fill(order.id, qty=qty)
    assert broker.order(order.id).filledQty == 0.0


def test_the_smallest_quantity_is_booked() -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    for _ in range(10):
        _fill(broker, "buy", "X", 1e-8, 1.0)
    assert broker.position("X").qty == pytest.approx(1e-7, rel=1e-9)


def test_an_enum_member_is_not_a_quantity() -> None:
    broker = pb.BrokerService(execution_delay=None, risk=None)
    with pytest.raises(pb.InvalidOrder, match="finite number"):
        broker.buy("X", pb.Side.BUY, price=1.0)  # type: ignore[arg-type]
    assert broker.orders() == []
