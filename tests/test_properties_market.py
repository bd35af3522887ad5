"""Market mode: orders that fill against moving quotes.

Found defects (regression tests); the stateful property test that found them comes
next in this file.
"""

from __future__ import annotations

import paperbroker as pb
from paperbroker import OrderStatus

# ---------------------------------------------------------------------- found defects


def test_an_order_that_fills_in_part_when_placed_is_returned_as_it_is() -> None:
    """submit() returned the record broadcast on placing (filledQty 0) although the order
    had already filled against the quote's size."""
    broker = pb.BrokerService(None, market=pb.ManualQuotes({"X": 10.0}, quote_size=4))
    order = broker.buy("X", 10)
    assert (order.status, order.filledQty) == (OrderStatus.WORKING, 4.0)
    assert order == broker.order(order.id)


def test_a_triggered_stop_given_a_new_stop_waits_for_it() -> None:
    """A stop touched when no size was left stayed triggered when its stop was moved away,
    and then filled above its new sell stop, as its record said it could not."""
    broker = pb.BrokerService(None, market=pb.ManualQuotes({"X": 20.0}, quote_size=1))
    broker.sell("X", 1)  # takes the bid's size
    stop = broker.sell("X", 1, stop=20.0)  # touched, but nothing left to fill against
    assert broker.order(stop.id).status is OrderStatus.WORKING
    broker.modify(stop.id, stopPrice=19.9)
    broker.step()  # fresh size at 20.00: above the new stop
    assert broker.order(stop.id).filledQty == 0.0
    broker.set_price("X", 19.85)
    filled = broker.order(stop.id)
    assert filled.status is OrderStatus.FILLED and filled.avgPrice <= 19.9
