"""The path of an order in market mode, through the public API: market orders waiting for
the next bar keep their time priority, can be cancelled or saved while they wait, and
leave the limit and stop orders resting beside them as they were.

A one-symbol replay quoted 0.50 wide (bid = price - 0.25, ask = price + 0.25), stepped
past its first bar; a market order placed between bars fills at the next bar's open.
"""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import OrderStatus


def frame(rows):
    return pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close", "volume"],
        index=pd.date_range("2024-01-02 14:30", periods=len(rows), freq="1min", tz="UTC"),
    )


def replay(*rows, volume_share=None, **options):
    source = pb.BarReplay(frame(rows), symbol="X", spread=0.5, volume_share=volume_share)
    broker = pb.BrokerService(execution_delay=None, market=source, risk=None, **options)
    assert broker.step()
    return broker


def fills(broker):
    return [(e.orderId, e.qty, e.price) for e in broker.executions()]


FLAT = (100.0, 100.0, 100.0, 100.0, 1e9)


def test_waiting_market_orders_fill_in_the_order_placed_and_a_cancelled_one_not_at_all():
    b = replay(FLAT, (101.0, 101.0, 101.0, 101.0, 1e9))
    first, second, third = b.buy("X", 1), b.buy("X", 2), b.buy("X", 3)
    assert b.cancel(second.id).status is OrderStatus.CANCELED
    assert b.step()
    assert fills(b) == [(first.id, 1.0, 101.25), (third.id, 3.0, 101.25)]
    assert b.order(second.id).status is OrderStatus.CANCELED
    assert b.positions()[0].qty == 4.0


def test_a_limit_resting_beside_market_orders_fills_when_the_price_reaches_it_later():
    # the market buy fills at bar 2's open; the buy limit 99 waits until bar 3 comes
    # down to it (ask 99 at the path price 98.75), then fills at its limit
    b = replay(FLAT, (101.0, 101.0, 101.0, 101.0, 1e9), (100.0, 100.0, 98.0, 99.0, 1e9))
    limit = b.buy("X", 1, limit=99.0)
    market = b.buy("X", 1)
    assert b.step()
    assert fills(b) == [(market.id, 1.0, 101.25)]
    assert b.order(limit.id).status is OrderStatus.WORKING
    assert b.step()
    assert fills(b)[-1] == (limit.id, 1.0, 99.0)


def test_a_sell_limit_beside_market_sells_and_a_cancelled_limit_in_the_book():
    # a cancelled buy limit stays in the heap as a dead entry; the market sell still fills
    # at bar 2's open (bid 100.75) and the sell limit 102 at bar 3, where the bid reaches it
    b = replay(FLAT, (101.0, 101.0, 101.0, 101.0, 1e9), (101.0, 103.0, 101.0, 102.5, 1e9))
    b.buy("X", 5, price=100.0)  # a position to sell from (filled at once by hand below)
    b.fill(b.orders(status="working")[0].id, price=100.0)
    gone = b.buy("X", 1, limit=90.0)
    b.cancel(gone.id)
    limit = b.sell("X", 1, limit=102.0)
    market = b.sell("X", 2)
    assert b.step()
    assert fills(b)[-1] == (market.id, 2.0, 100.75)
    assert b.step()
    assert fills(b)[-1] == (limit.id, 1.0, 102.0)
    assert b.order(gone.id).status is OrderStatus.CANCELED


def test_with_a_share_of_the_volume_the_older_order_fills_first_in_parts():
    # each bar lets 10 units fill (a tenth of 100): the 15 of the first order take bar 2
    # and 5 of bar 3, then the second order's 8 fill from what bar 3 has left
    bar = (100.0, 100.0, 100.0, 100.0, 100.0)
    b = replay(bar, bar, bar, bar, volume_share=0.1)
    older, newer = b.buy("X", 15), b.buy("X", 8)
    assert b.step()
    assert [(o, q) for o, q, _ in fills(b)] == [(older.id, 10.0)]
    assert b.step()
    assert [(o, q) for o, q, _ in fills(b)] == [(older.id, 10.0), (older.id, 5.0), (newer.id, 5.0)]
    assert b.step()
    assert [(o, q) for o, q, _ in fills(b)][-1] == (newer.id, 3.0)
    assert b.order(newer.id).status is OrderStatus.FILLED


def test_market_orders_saved_while_they_wait_fill_after_loading_as_they_would_have(tmp_path):
    rows = (FLAT, (101.0, 101.0, 101.0, 101.0, 1e9), (102.0, 102.0, 102.0, 102.0, 1e9))
    b = replay(*rows)
    # at a bar's open the waiting buys fill first, oldest first, then the sells
    first, sell, second = b.buy("X", 2), b.sell("X", 1), b.buy("X", 3)
    loaded = pb.BrokerService.load(b.save(tmp_path / "waiting.json"))
    for broker in (b, loaded):
        assert broker.step()
        assert fills(broker) == [(first.id, 2.0, 101.25), (second.id, 3.0, 101.25), (sell.id, 1.0, 100.75)]
        assert broker.positions()[0].qty == 4.0


def test_a_fill_or_kill_market_order_waits_for_one_bar_only():
    bar = (100.0, 100.0, 100.0, 100.0, 100.0)
    b = replay(bar, bar, bar, volume_share=0.1)
    fok = b.buy("X", 15, duration="FOK")
    ioc = b.buy("X", 15, duration="IOC")
    assert b.step()
    assert fills(b) == [(ioc.id, 10.0, 100.25)]
    assert b.order(fok.id).status is OrderStatus.CANCELED
    assert b.order(ioc.id).status is OrderStatus.CANCELED
    assert b.order(ioc.id).filledQty == 10.0


def test_a_plain_market_order_is_checked_as_any_other():
    b = replay(FLAT, FLAT)
    order = b.buy(" X ", 2)  # a padded symbol is trimmed, a whole qty becomes a float
    assert (order.symbol, order.qty, type(order.qty)) == ("X", 2.0, float)
    for symbol, qty, words in (
        ("X", 0, "qty must be a finite number greater than 0, got 0"),
        ("X", True, "qty must be a finite number greater than 0, got True"),
        ("X", float("nan"), "qty must be a finite number greater than 0, got nan"),
        ("", 1, "symbol must be a non-empty string"),
        ("   ", 1.0, "symbol must be a non-empty string"),
    ):
        with pytest.raises(pb.InvalidOrder, match=words):
            b.sell(symbol, qty)
    assert [o.id for o in b.orders()] == [order.id]
