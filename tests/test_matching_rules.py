"""The matcher's price rules and the tick grid through the public API, with prices worked out
by hand.  ``ManualQuotes({"X": 100.0}, spread=0.5)`` quotes a mid of 100: bid 99.75, ask
100.25; a buy pays the ask, a sell gets the bid."""

from __future__ import annotations

import pytest

import paperbroker as pb
from paperbroker import OrderStatus, OrderType
from paperbroker.market.slippage import round_to_tick

from .conftest import record


def market(price=100.0, spread=0.5, **kwargs):
    quotes = pb.ManualQuotes({"X": price}, spread=spread)
    return pb.BrokerService(execution_delay=None, market=quotes, **kwargs)


# ---------------------------------------------------------------------- the tick grid


@pytest.mark.parametrize(
    ("price", "tick", "want"),
    [
        # 7.4 / 2.5 = 2.96 -> 3 ticks = 7.5 (was 8.0: rounded to whole numbers, off the grid)
        (7.4, 2.5, 7.5),
        (8.6, 2.5, 7.5),  # 3.44 -> 3 ticks
        (8.9, 2.5, 10.0),  # 3.56 -> 4 ticks
        (97.4, 2.5, 97.5),  # 38.96 -> 39 ticks
        (1.3, 1.25, 1.25),
        (1.9, 1.25, 2.5),  # 1.52 -> 2 ticks
        (123.456, 10.0, 120.0),
        (1234.5, 5.0, 1235.0),  # 246.9 -> 247 ticks
        (1.23456, 0.0001, 1.2346),
        (0.0001234, 0.0000001, 0.0001234),  # a tick of 1e-7 keeps 7 decimals
        (99.99, 0.125, 100.0),
        (99.93, 0.125, 99.875),  # 799.44 -> 799 ticks
    ],
)
def test_round_to_tick_lands_on_the_grid(price, tick, want):
    assert round_to_tick(price, tick) == want
    assert isinstance(round_to_tick(price, tick), float)


def test_a_trailing_stop_sits_on_a_fractional_tick_grid_above_1():
    # tick 2.5, so the quote is bid 100, ask 102.5 (the spread defaults to one tick around
    # 101.25); a buy fills at 102.5, and 5 pips of 1.0 below it is 97.5, on the 2.5 grid
    b = pb.BrokerService(
        execution_delay=None,
        market=pb.ManualQuotes({"X": 101.25}, tick_size=2.5),
        risk=pb.RiskRules(default=pb.SymbolRules(pip_size=1.0)),
    )
    entry = b.buy("X", 1, trailing_stop_pips=5)
    assert entry.avgPrice == 102.5
    (stop,) = b.orders(status="working")
    assert stop.stopPrice == 97.5


# ---------------------------------------------------------------------- brackets armed at once


def test_a_stop_loss_the_quote_already_touches_fills_when_armed_like_a_plain_stop():
    # a plain sell stop at 99.8 with the bid at 99.75 triggers at once and fills at the bid
    plain = market()
    order = plain.sell("X", 1, stop=99.8)
    assert (plain.order(order.id).status, plain.order(order.id).avgPrice) == (OrderStatus.FILLED, 99.75)
    # a bracket's stop-loss at 99.8 is the same stop: the entry fills at the ask, 100.25,
    # the stop-loss is armed with the bid at 99.75 and fills there; -0.50 realized
    b = market()
    rec = record(b)
    start = b.equity().balance
    entry = b.buy("X", 1, stop_loss=99.8)
    (sl,) = [o for o in b.orders() if o.id != entry.id]
    assert (entry.avgPrice, sl.status, sl.avgPrice) == (100.25, OrderStatus.FILLED, 99.75)
    assert b.positions() == []
    assert b.equity().balance - start == pytest.approx(-0.5)
    # the child is broadcast Inactive with its parent, then Working, then filled
    child = [e.status for k, e in rec.events if k == "orders" and e.id == sl.id]
    assert child == [OrderStatus.INACTIVE, OrderStatus.WORKING, OrderStatus.FILLED]


def test_a_limit_entry_filled_by_a_quote_arms_a_touched_stop_loss_on_that_quote():
    # buy limit 100 with TP 101, SL 99.9; the quote moves to mid 99.7: bid 99.45, ask 99.95.
    # The entry fills at the ask (99.95, better than its limit); the stop-loss at 99.9 is
    # touched by the bid and fills at 99.45 on the same quote; the take-profit is cancelled.
    b = market()
    start = b.equity().balance
    entry = b.buy("X", 1, limit=100.0, take_profit=101.0, stop_loss=99.9)
    tp, sl = b.orders(status="inactive")
    b.set_price("X", 99.7)
    assert b.order(entry.id).avgPrice == 99.95
    assert (b.order(sl.id).status, b.order(sl.id).avgPrice) == (OrderStatus.FILLED, 99.45)
    cancelled = b.order(tp.id)
    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.message.text == f"One-cancels-other: {sl.id} closed the position."
    assert b.positions() == []
    assert b.equity().balance - start == pytest.approx(-0.5)  # 99.45 - 99.95


def test_a_gap_through_the_take_profit_fills_it_when_armed_and_the_stop_loss_never_works():
    # buy stop 101 with TP 105, SL 98; the market gaps to mid 110: bid 109.75, ask 110.25.
    # The entry triggers and fills at 110.25; the take-profit (sell limit 105) is marketable
    # and fills at the bid, 109.75; the stop-loss is cancelled before it ever works.
    b = market()
    rec = record(b)
    entry = b.buy("X", 1, stop=101.0, take_profit=105.0, stop_loss=98.0)
    tp, sl = b.orders(status="inactive")
    assert (tp.type, sl.type) == (OrderType.LIMIT, OrderType.STOP)
    b.set_price("X", 110.0)
    assert b.order(entry.id).avgPrice == 110.25
    assert (b.order(tp.id).status, b.order(tp.id).avgPrice) == (OrderStatus.FILLED, 109.75)
    assert b.order(sl.id).status is OrderStatus.CANCELED
    assert [e.status for k, e in rec.events if k == "orders" and e.id == sl.id] == [
        OrderStatus.INACTIVE,
        OrderStatus.CANCELED,
    ]
    assert b.positions() == []
    assert b.orders(status="working") == []


def test_a_stop_loss_set_on_a_position_below_the_bid_fills_at_once():
    # long 1 at 100.25 (bid 99.75); a stop-loss at 99.9 is already touched: it fills at 99.75
    b = market()
    b.buy("X", 1)
    assert b.edit_brackets("X", stop_loss=99.9) == []  # no working bracket is left
    (sl,) = [o for o in b.orders() if o.type is OrderType.STOP]
    assert (b.order(sl.id).status, b.order(sl.id).avgPrice) == (OrderStatus.FILLED, 99.75)
    assert b.positions() == []


# ---------------------------------------------------------------------- bars with a spread
#
# A replay quoted 0.50 wide (half 0.25 each side of the bar's prices).  The first bar is
# flat at 100 (bid 99.75, ask 100.25); the second opens 100, high 103, low 99.5, close
# 102.5, nearer its low, so its path is 100 -> 99.5 -> 103 -> 102.5.  At the low the ask is
# 99.75 and the bid 99.25; at the high the bid is 102.75 and the ask 103.25.


def spread_bars(volume=1_000_000):
    import pandas as pd

    rows = [(100.0, 100.0, 100.0, 100.0, volume), (100.0, 103.0, 99.5, 102.5, volume)]
    frame = pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close", "volume"],
        index=pd.date_range("2024-01-02 14:30", periods=2, freq="1min", tz="UTC"),
    )
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay(frame, symbol="X", spread=0.5))
    assert b.step()  # the flat bar: quotes, nothing to match
    return b


def test_a_bar_quotes_its_close_with_the_spread_around_it():
    b = spread_bars()
    assert (b.quote("X").bid, b.quote("X").ask) == (99.75, 100.25)
    assert b.step()
    assert (b.quote("X").bid, b.quote("X").ask) == (102.25, 102.75)


@pytest.mark.parametrize(
    ("side", "kind", "price", "fills_at"),
    [
        ("buy", "limit", 99.75, 99.75),  # the ask at the low
        ("sell", "limit", 102.75, 102.75),  # the bid at the high
        ("buy", "stop", 103.25, 103.25),  # the ask at the high
        ("sell", "stop", 99.25, 99.25),  # the bid at the low
        ("buy", "limit", 99.7, None),  # the ask never comes down to it
        ("sell", "limit", 102.8, None),
        ("buy", "stop", 103.3, None),
        ("sell", "stop", 99.2, None),
    ],
)
def test_limits_and_stops_on_a_bar_path_fill_where_the_quote_touches_them(side, kind, price, fills_at):
    # one order per broker, so that no other order makes the bar walk
    b = spread_bars()
    order = getattr(b, side)("X", 1, **{kind: price})
    assert b.step()
    got = b.order(order.id)
    if fills_at is None:
        assert got.status is OrderStatus.WORKING
    else:
        assert (got.status, got.avgPrice) == (OrderStatus.FILLED, fills_at)


def test_a_trailing_stop_follows_a_bar_path_point_by_point():
    # a market buy fills at the second bar's open ask, 100.25; its trailing stop 200 pips
    # (2.00) below: 98.25.  The bid goes 99.75 -> 99.25 -> 102.75 -> 102.25: the stop
    # follows the high to 102.75 - 2.00 = 100.75 and does not come back with the close
    b = spread_bars()
    b.buy("X", 1, trailing_stop_pips=200)
    assert b.step()
    (stop,) = b.orders(status="working")
    assert (b.positions()[0].avgPrice, stop.stopPrice) == (100.25, 100.75)


# ---------------------------------------------------------------------- time in force


def test_fill_or_kill_fills_when_the_quote_has_exactly_its_quantity():
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}, quote_size=5))
    order = b.buy("X", 5, duration="FOK")
    assert (b.order(order.id).status, b.order(order.id).filledQty) == (OrderStatus.FILLED, 5)
    short = b.buy("X", 6, duration="FOK")
    killed = b.order(short.id)
    assert (killed.status, killed.filledQty) == (OrderStatus.CANCELED, 0)
    assert killed.message.text == "Fill or kill: it could not fill at once."


def test_on_bars_fill_or_kill_needs_the_whole_quantity_in_the_bars_volume():
    b = spread_bars(volume=50)  # 10 % of the volume may fill: 5
    exact = b.buy("X", 5, duration="FOK")
    assert b.step()
    assert (b.order(exact.id).status, b.order(exact.id).avgPrice) == (OrderStatus.FILLED, 100.25)
    b = spread_bars(volume=50)  # 10 % of the volume may fill: 5
    short = b.buy("X", 6, duration="FOK")
    assert b.step()
    killed = b.order(short.id)
    assert (killed.status, killed.filledQty) == (OrderStatus.CANCELED, 0)
    assert killed.message.text == "Fill or kill: the market did not have the whole quantity at once."


@pytest.mark.parametrize(("duration", "what"), [("IOC", "Immediate or cancel"), ("FOK", "Fill or kill")])
def test_on_bars_an_ioc_or_fok_order_that_cannot_fill_on_the_first_bar_is_cancelled(duration, what):
    b = spread_bars()
    order = b.buy("X", 1, limit=99.0, duration=duration)  # the ask never comes down to 99
    assert b.step()
    done = b.order(order.id)
    assert done.status is OrderStatus.CANCELED
    assert done.message.text == f"{what}: the rest did not fill on the first bar."


# ---------------------------------------------------------------------- trailing on quotes


def test_a_short_positions_trailing_stop_trails_the_ask_down():
    # sold 1 at the bid, 99.75; 100 pips of 0.01 = 1.00 above the fill: 100.75.  The mid
    # falls to 99 (ask 99.25): the stop follows the ask to 100.25, and not back up at 99.5.
    b = market()
    b.sell("X", 1, trailing_stop_pips=100)
    (stop,) = b.orders(status="working")
    assert stop.stopPrice == 100.75
    b.set_price("X", 99.0)
    assert b.order(stop.id).stopPrice == 100.25
    b.set_price("X", 99.5)
    assert b.order(stop.id).stopPrice == 100.25


def test_a_triggered_sell_stop_limit_says_it_was_reached_at_the_bid():
    # sell stop 99.6 limit 99.0 (the bid is 99.75): the mid drops to 99.5 (bid 99.25), which
    # triggers it; the limit 99.0 is below the bid, so it fills there at once
    b = market()
    order = b.sell("X", 1, stop=99.6, limit=99.0)
    assert b.order(order.id).status is OrderStatus.WORKING
    b.set_price("X", 99.5)
    done = b.order(order.id)
    assert (done.status, done.avgPrice) == (OrderStatus.FILLED, 99.25)
    assert done.message.text == "Stop 99.6 reached at 99.25; became a limit order at 99."
