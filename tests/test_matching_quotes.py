"""The matcher on quotes, through the public API: what a tick that raises part way leaves,
each side's size, slippage that depends on price and quantity, time priority of a triggered
stop-limit, and trailing stops of several accounts on one symbol.  Prices are worked out by
hand: ``ManualQuotes({"X": 100.0}, spread=0.5)`` quotes bid 99.75, ask 100.25; a buy pays
the ask, a sell gets the bid, and each takes at most its side's size."""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import OrderStatus


def manual(quote_size=None, slippage=None):
    quotes = pb.ManualQuotes({"X": 100.0}, spread=0.5, quote_size=quote_size)
    return pb.BrokerService(execution_delay=None, market=quotes, slippage=slippage)


def interrupt_on_first(broker, status):
    """An orders subscriber that raises KeyboardInterrupt the first time an order reaches
    ``status``, as a kernel interrupt landing in a widget's callback would."""
    fired = []

    def callback(order):
        if not fired and order.status is status:
            fired.append(order.id)
            raise KeyboardInterrupt

    return broker.subscribe(pb.topic("orders"), callback)


# ---------------------------------------------------------------------- a tick that raises part way


def three_symbol_replay():
    # two times; the second moves every symbol and gives each side its own size
    rows = [
        (0, "A", 100.0, 100.5, 10.0, 10.0),
        (0, "B", 50.0, 50.5, 10.0, 10.0),
        (0, "C", 20.0, 20.5, 10.0, 10.0),
        (60_000, "A", 98.5, 99.0, 7.0, 8.0),
        (60_000, "B", 51.0, 51.5, 4.0, 3.0),
        (60_000, "C", 21.0, 21.5, 6.0, 5.0),
    ]
    frame = pd.DataFrame(rows, columns=["time", "symbol", "bid", "ask", "bid_size", "ask_size"])
    frame["time"] += pb.SimClock().now_ms()
    return pb.QuoteReplay(frame)


def test_after_an_interrupt_in_a_ticks_first_fill_every_symbol_has_its_new_quote_and_sizes():
    # A's buy limit 99 fills on the second tick (ask 99.0, 1 of its ask size 8 taken) and a
    # subscriber raises on that fill, before B and C are reached.  They must still take
    # their new quotes and sizes: afterwards a market buy of B fills B's ask size 3 at 51.5,
    # a market sell of C fills C's bid size 6 at 21.0, and A has 7 left to buy at 99.0 and
    # its bid size 7 to sell at 98.5.
    b = pb.BrokerService(execution_delay=None, market=three_symbol_replay())
    assert b.step()
    order = b.buy("A", 1, limit=99.0)
    interrupt_on_first(b, OrderStatus.FILLED)
    with pytest.raises(KeyboardInterrupt):
        b.step()
    done = b.order(order.id)
    assert (done.status, done.avgPrice) == (OrderStatus.FILLED, 99.0)
    got = [
        (o.filledQty, o.avgPrice)
        for o in (b.buy("B", 100), b.sell("C", 100), b.buy("A", 100), b.sell("A", 100))
    ]
    assert got == [(3.0, 51.5), (6.0, 21.0), (7.0, 99.0), (7.0, 98.5)]


# ---------------------------------------------------------------------- each side's size


def test_each_side_fills_against_its_own_size():
    # 5 a side.  Buying 5 takes the whole ask side; a market sell of 3 still fills at the
    # bid (bid side 5 -> 2); a sell limit 99.5 for 3 fills the 2 left at the bid and rests
    # with 1.  A step offers 5 a side again: the rest fills (bid side 4); a market sell of 4
    # empties the bid side, and a buy limit 100.5 for 2 still fills at the ask.
    b = manual(quote_size=5)
    assert b.buy("X", 5).filledQty == 5
    sold = b.sell("X", 3)
    assert (sold.filledQty, sold.avgPrice) == (3.0, 99.75)
    limit = b.sell("X", 3, limit=99.5)
    assert (limit.status, limit.filledQty, limit.avgPrice) == (OrderStatus.WORKING, 2.0, 99.75)
    b.step()
    assert (b.order(limit.id).status, b.order(limit.id).filledQty) == (OrderStatus.FILLED, 3.0)
    assert b.sell("X", 4).filledQty == 4
    bought = b.buy("X", 2, limit=100.5)
    assert (bought.status, bought.avgPrice) == (OrderStatus.FILLED, 100.25)


# ---------------------------------------------------------------------- slippage


def one_tick_per_unit(price, qty, tick):
    """Market impact: one tick for every unit still to fill."""
    return qty * tick


def test_slippage_is_asked_for_the_quantity_still_to_fill_on_each_part():
    # 4 a side; a market buy of 10 pays 100.25 + 10 ticks = 100.35 for its first 4, then
    # (6 left) 100.25 + 0.06 = 100.31 for 4 on the next step, then 100.27 for the last 2
    b = manual(quote_size=4, slippage=one_tick_per_unit)
    order = b.buy("X", 10)
    b.step()
    b.step()
    assert b.order(order.id).status is OrderStatus.FILLED
    fills = [(e.qty, e.price) for e in b.executions("X")]
    assert fills == [(4.0, pytest.approx(100.35)), (4.0, pytest.approx(100.31)), (2.0, pytest.approx(100.27))]


def test_slippage_on_a_market_buy_does_not_take_the_bid_sides_size():
    # a sell of 4 empties the bid side (99.75 - 4 ticks = 99.71); a buy of 4 then still
    # fills its 4 against the ask side, at 100.25 + 4 ticks = 100.29
    b = manual(quote_size=4, slippage=one_tick_per_unit)
    sold = b.sell("X", 4)
    bought = b.buy("X", 4)
    assert (sold.filledQty, sold.avgPrice) == (4.0, pytest.approx(99.71))
    assert (bought.filledQty, bought.avgPrice) == (4.0, pytest.approx(100.29))


def test_percent_slippage_is_a_share_of_the_quote():
    # 0.1 % of the ask 100.25 is 0.10025: a buy fills at 100.35025; of the bid 99.75,
    # 0.09975: a sell fills at 99.65025
    b = manual(slippage=pb.PercentSlippage(0.1))
    assert b.buy("X", 1).avgPrice == pytest.approx(100.35025)
    assert b.sell("X", 1).avgPrice == pytest.approx(99.65025)


# ---------------------------------------------------------------------- a triggered stop-limit


def test_a_triggered_stop_limit_keeps_its_time_priority_among_limits_at_its_price():
    # the buy stop-limit (stop 100.5, limit 99.9) is placed before the buy limit 99.9.  The
    # mid 100.5 (ask 100.75) triggers it; 99.9 is below the ask, so it rests beside the
    # other.  At mid 99.6 (ask 99.85) one unit is quoted: the older order fills first.
    b = manual(quote_size=1)
    first = b.buy("X", 1, stop=100.5, limit=99.9)
    second = b.buy("X", 1, limit=99.9)
    b.set_price("X", 100.5)
    assert [b.order(o.id).status for o in (first, second)] == [OrderStatus.WORKING] * 2
    b.set_price("X", 99.6)
    assert (b.order(first.id).status, b.order(first.id).avgPrice) == (OrderStatus.FILLED, 99.85)
    assert b.order(second.id).status is OrderStatus.WORKING
    b.step()  # a new unit: now the second
    assert (b.order(second.id).status, b.order(second.id).avgPrice) == (OrderStatus.FILLED, 99.85)


# ---------------------------------------------------------------------- trailing stops


def stop_events(broker, order_id, account_id=pb.DEFAULT_ACCOUNT):
    seen = []
    broker.subscribe(
        pb.topic("orders", account_id), lambda o: seen.append(o.stopPrice) if o.id == order_id else None
    )
    return seen


@pytest.mark.parametrize(("side", "mid", "stop"), [("buy", 100.5, 99.25), ("sell", 99.5, 100.75)])
def test_a_trailing_stop_the_quote_leaves_where_it_is_sends_no_update(side, mid, stop):
    # long: filled at 100.25, 1.00 below = 99.25; mid 100.5 (bid 100.25) puts it at 99.25
    # again.  Short: filled at 99.75, stop 100.75; mid 99.5 (ask 99.75) puts it there again.
    b = manual()
    getattr(b, side)("X", 1, trailing_stop_pips=100)
    (trailing,) = b.orders(status="working")
    assert trailing.stopPrice == stop
    seen = stop_events(b, trailing.id)
    b.set_price("X", mid)
    assert seen == []
    assert b.order(trailing.id).stopPrice == stop


@pytest.mark.parametrize(
    ("side", "moves", "want"),
    [
        # long: A bought at 100.25, 3.00 below = 97.25, trailed at bid 101.75 to 98.75; B
        # bought at 100.25 (mid back at 100), 1.00 below = 99.25.  At mid 101 (bid 100.75) A
        # would be at 97.75 and stays at 98.75; B moves to 99.75.
        ("buy", (102.0, 100.0, 101.0), (98.75, 99.25, 99.75)),
        # short: A sold at 99.75, 3.00 above = 102.75, trailed at ask 98.25 to 101.25; B sold
        # at 99.75, 1.00 above = 100.75.  At mid 99 (ask 99.25) A would be at 102.25 and
        # stays at 101.25; B moves to 100.25.
        ("sell", (98.0, 100.0, 99.0), (101.25, 100.75, 100.25)),
    ],
)
def test_every_accounts_trailing_stop_is_looked_at_when_the_first_does_not_move(side, moves, want):
    b = manual()
    b.open_account("B", 100_000.0)
    away, back, last = moves
    getattr(b, side)("X", 1, trailing_stop_pips=300)
    b.set_price("X", away)
    b.set_price("X", back)
    getattr(b, side)("X", 1, trailing_stop_pips=100, account_id="B")
    (a,) = b.orders(status="working")
    (bb,) = b.orders("B", status="working")
    assert (a.stopPrice, bb.stopPrice) == want[:2]
    b.set_price("X", last)
    assert (b.order(a.id).stopPrice, b.order(bb.id).stopPrice) == (want[0], want[2])


def test_a_trailing_stop_cancelled_while_another_trails_is_left_alone_and_the_next_trails():
    # three accounts bought at 100.25 with 1.00 trailing stops at 99.25.  At mid 101 (bid
    # 100.75) the first moves to 99.75, and its update cancels the second; the second keeps
    # 99.25 and the third moves to 99.75.
    b = manual()
    for name in ("B", "C"):
        b.open_account(name, 100_000.0)
    stops = []
    for account in (pb.DEFAULT_ACCOUNT, "B", "C"):
        b.buy("X", 1, trailing_stop_pips=100, account_id=account)
        (stop,) = b.orders(account, status="working")
        stops.append(stop)
    first, second, third = stops

    def cancel_second(order):
        if order.id == first.id and order.stopPrice == 99.75:
            b.cancel(second.id)

    b.subscribe(pb.topic("orders"), cancel_second)
    b.set_price("X", 101.0)
    assert (b.order(second.id).status, b.order(second.id).stopPrice) == (OrderStatus.CANCELED, 99.25)
    assert (b.order(first.id).stopPrice, b.order(third.id).stopPrice) == (99.75, 99.75)


def test_other_trailing_stops_keep_trailing_after_one_triggers():
    # A (0.60 below 100.25: 99.65) and B (3.00 below: 97.25).  Mid 99.5 (bid 99.25) triggers
    # A, which sells at 99.25; mid 101 (bid 100.75) then moves B to 97.75.
    b = manual()
    b.open_account("B", 100_000.0)
    b.buy("X", 1, trailing_stop_pips=60)
    b.buy("X", 1, trailing_stop_pips=300, account_id="B")
    (a,) = b.orders(status="working")
    (bb,) = b.orders("B", status="working")
    b.set_price("X", 99.5)
    assert (b.order(a.id).status, b.order(a.id).avgPrice) == (OrderStatus.FILLED, 99.25)
    b.set_price("X", 101.0)
    assert b.order(bb.id).stopPrice == 97.75


def test_a_trailing_distance_changed_by_a_subscriber_during_a_trail_holds_afterwards():
    # 1.00 below 100.25: 99.25.  Mid 101 (bid 100.75) trails it to 99.75; on that update a
    # subscriber widens it to 300 pips.  Mid 101.5 (bid 101.25) then puts it 3.00 below the
    # bid, at 98.25 (at 1.00 it would be 100.25).
    b = manual()
    b.buy("X", 1, trailing_stop_pips=100)
    (trailing,) = b.orders(status="working")
    (position,) = b.positions()
    widened = []

    def widen(order):
        if order.id == trailing.id and order.stopPrice == 99.75 and not widened:
            widened.append(order.id)
            b.edit_brackets(position.id, trailing_stop_pips=300)

    sub = b.subscribe(pb.topic("orders"), widen)
    b.set_price("X", 101.0)
    assert (widened, sub.errors) == ([trailing.id], 0)
    b.set_price("X", 101.5)
    assert (b.order(trailing.id).trailingStopPips, b.order(trailing.id).stopPrice) == (300.0, 98.25)
