"""What a classic-mode market order (no market source) is priced at, by hand: the ask of
the quotes it was given to buy, their bid to sell, else the symbol's last fill price, and a
clear refusal when no price is known yet (nothing is booked)."""

from __future__ import annotations

import pytest

import paperbroker as pb


@pytest.fixture
def broker():
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)


QUOTES = {"ask": 10.5, "bid": 10.0}


def test_a_market_order_with_current_quotes_buys_at_the_ask_and_sells_at_the_bid(broker):
    buy = broker.submit({"symbol": "X", "type": 2, "side": 1, "qty": 1, "currentQuotes": QUOTES})
    assert broker.fill(buy.id).price == 10.5
    sell = broker.submit({"symbol": "X", "type": 2, "side": -1, "qty": 2, "currentQuotes": QUOTES})
    assert broker.fill(sell.id).price == 10.0
    # long 1 at 10.5, then 2 sold at 10.0: 1 closed at -0.50, short 1 at 10.0
    (pos,) = broker.positions()
    assert (pos.side, pos.qty, pos.avgPrice, pos.realizedPL) == (pb.Side.SELL, 1, 10.0, -0.5)


def test_a_market_order_without_quotes_takes_the_last_fill_price(broker):
    broker.fill(broker.buy("Y", 1, limit=12.0).id)
    sell = broker.sell("Y", 1)
    assert (sell.limitPrice, broker.fill(sell.id).price) == (12.0, 12.0)


def test_a_market_order_with_no_known_price_is_refused_and_changes_nothing(broker):
    with pytest.raises(pb.InvalidOrder) as caught:
        broker.buy("X", 1)
    assert str(caught.value) == (
        "No price is known for 'X' yet, so a market order cannot be priced: give the price it "
        "fills at (buy(..., price=...), or seenPrice in a PreOrder) or place a limit order (limit=...)."
    )
    assert broker.orders() == [] and broker.positions() == []
