"""The matcher on bars, through the public API, with prices worked out by hand.

A replay quoted 0.50 wide: half 0.25 each side of the bar's prices, so at a path price p
the bid is p - 0.25 and the ask p + 0.25.  A bar is walked open -> high -> low -> close, or
open -> low -> high -> close when the low is nearer the open (high first on a tie).  A
market order placed between bars waits for the next bar; ``broker.fill(order_id)`` without
a price fills it at once at the market's own bid or ask, which is how these tests read the
quote the matcher holds after a bar (``broker.quote()`` reads the source)."""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import OrderStatus

FLAT = (100.0, 100.0, 100.0, 100.0)
# opens 100, nearer its low: 100 -> 99.5 -> 103 -> 102.5
SWING = (100.0, 103.0, 99.5, 102.5)


def frame(rows):
    return pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close"],
        index=pd.date_range("2024-01-02 14:30", periods=len(rows), freq="1min", tz="UTC"),
    )


def bars(*rows, **options):
    """A broker on a one-symbol replay of ``rows`` (unlimited volume), stepped past the first."""
    replay = pb.BarReplay(frame(rows), symbol="X", spread=0.5, volume_share=None)
    b = pb.BrokerService(execution_delay=None, market=replay, **options)
    assert b.step()
    return b


def filled_at(broker, order):
    got = broker.order(order.id)
    return (got.status, got.avgPrice)


def by_hand(broker, symbol, side):
    """A market order filled by hand now: at the market's current ask (buy) or bid (sell)."""
    order = getattr(broker, side)(symbol, 1)
    return broker.fill(order.id).price


# ---------------------------------------------------------------------- the quote a bar leaves


def test_after_a_bar_nothing_walked_the_market_quotes_its_close_with_the_spread():
    # the second bar closes at 101.5: bid 101.25, ask 101.75
    b = bars(FLAT, (101.0, 102.0, 100.5, 101.5))
    assert b.step()
    assert (by_hand(b, "X", "sell"), by_hand(b, "X", "buy")) == (101.25, 101.75)


@pytest.mark.parametrize("symbols", ["ABC", "AB"])
def test_bars_of_several_symbols_each_walk_and_each_close_on_its_own_quote(symbols):
    # second bars: A 100 -> 100.5 -> 99.5 -> 100.2 (high first, a tie), B 50 -> 51.5 -> 49.8
    # -> 51.2, C 20 -> 21 -> 19.5 -> 20.5 with nothing resting.  A's buy limit 99.75 fills
    # where the ask comes down to it (low 99.5); B's sell limit 51 where the bid reaches it
    # (high 51.5); B's IOC buy limit 40 never can and is cancelled after the bar.  Then
    # each symbol quotes its close: A bid 99.95, B ask 51.45, C bid 20.25 and ask 20.75.
    data = {
        "A": frame([FLAT, (100.0, 100.5, 99.5, 100.2)]),
        "B": frame([(50.0, 50.0, 50.0, 50.0), (50.0, 51.5, 49.8, 51.2)]),
        "C": frame([(20.0, 20.0, 20.0, 20.0), (20.0, 21.0, 19.5, 20.5)]),
    }
    replay = pb.BarReplay({s: data[s] for s in symbols}, spread=0.5, volume_share=None)
    b = pb.BrokerService(execution_delay=None, market=replay)
    assert b.step()
    buy_a = b.buy("A", 1, limit=99.75)
    sell_b = b.sell("B", 1, limit=51.0)
    ioc = b.buy("B", 1, limit=40.0, duration="IOC")
    assert b.step()
    assert filled_at(b, buy_a) == (OrderStatus.FILLED, 99.75)
    assert filled_at(b, sell_b) == (OrderStatus.FILLED, 51.0)
    cancelled = b.order(ioc.id)
    assert (cancelled.status, cancelled.message.text) == (
        OrderStatus.CANCELED,
        "Immediate or cancel: the rest did not fill on the first bar.",
    )
    assert [by_hand(b, "A", "sell"), by_hand(b, "B", "buy")] == [99.95, 51.45]
    if "C" in symbols:
        assert [by_hand(b, "C", "sell"), by_hand(b, "C", "buy")] == [20.25, 20.75]


def test_a_sell_limit_below_the_open_fills_at_the_opens_bid():
    # the second bar opens at 100: bid 99.75, above the sell limit 99, so it fills there
    # (not at its limit further down the path); a buy limit 100.5 fills at the ask, 100.25
    b = bars(FLAT, SWING)
    sell = b.sell("X", 1, limit=99.0)
    buy = b.buy("X", 1, limit=100.5)
    assert b.step()
    assert filled_at(b, sell) == (OrderStatus.FILLED, 99.75)
    assert filled_at(b, buy) == (OrderStatus.FILLED, 100.25)


# ---------------------------------------------------------------------- trailing stops on bars


def long_with_trailing_stop(*later):
    # the market buy fills at the flat second bar's open ask, 100.25; 200 pips of 0.01 =
    # 2.00 below: 98.25
    b = bars(FLAT, FLAT, *later)
    b.buy("X", 1, trailing_stop_pips=200)
    assert b.step()
    (stop,) = b.orders(status="working")
    assert stop.stopPrice == 98.25
    return b, stop


def test_a_trailing_stop_alone_follows_a_bar_that_touches_nothing():
    # 100 -> 100 -> 101 -> 101 (the low is the open): nothing else rests; the bid at the
    # high, 100.75, moves the stop to 98.75
    b, stop = long_with_trailing_stop((100.0, 101.0, 100.0, 101.0))
    assert b.step()
    assert b.order(stop.id).stopPrice == 98.75


def test_a_trailing_stop_follows_a_gap_at_the_open_before_the_path_falls():
    # 103 -> 100.5 -> 106 -> 105 (the low is nearer the open).  At the open the bid 102.75
    # moves the stop to 100.75; the fall to 100.5 (bid 100.25) crosses it, so it fills as a
    # market sell at its stop, 100.75
    b, stop = long_with_trailing_stop((103.0, 106.0, 100.5, 105.0))
    assert b.step()
    assert filled_at(b, stop) == (OrderStatus.FILLED, 100.75)


def test_a_short_positions_trailing_stop_follows_the_ask_along_a_bar():
    # sold at the flat bar's open bid 99.75; 2.00 above: 101.75.  Then 100 -> 100 -> 99 ->
    # 99: the ask at the low, 99.25, moves it to 101.25
    b = bars(FLAT, FLAT, (100.0, 100.0, 99.0, 99.0))
    b.sell("X", 1, trailing_stop_pips=200)
    assert b.step()
    (stop,) = b.orders(status="working")
    assert stop.stopPrice == 101.75
    assert b.step()
    assert b.order(stop.id).stopPrice == 101.25


# ---------------------------------------------------------------------- stops inside a bar


def test_stops_on_a_bar_pay_the_slippage_on_their_own_side():
    # 2 ticks of 0.01: the sell stop 99.25 (the bid at the low) sells at 99.23, the buy
    # stop 103.25 (the ask at the high) buys at 103.27
    b = bars(FLAT, SWING, slippage=pb.FixedSlippage(2))
    sell = b.sell("X", 1, stop=99.25)
    buy = b.buy("X", 1, stop=103.25)
    assert b.step()
    assert filled_at(b, sell) == (OrderStatus.FILLED, pytest.approx(99.23))
    assert filled_at(b, buy) == (OrderStatus.FILLED, pytest.approx(103.27))


def test_a_sell_stop_limit_triggered_inside_a_bar_fills_at_the_bid_there():
    # stop 99.6, limit 99.3: the fall reaches a bid of 99.6 (path price 99.85) and triggers
    # it; its limit is below that bid, so it fills at once at 99.6
    b = bars(FLAT, SWING)
    order = b.sell("X", 1, stop=99.6, limit=99.3)
    assert b.step()
    done = b.order(order.id)
    assert (done.status, done.avgPrice) == (OrderStatus.FILLED, 99.6)
    assert done.message.text == "Stop 99.6 reached at 99.6; became a limit order at 99.3."


def test_a_buy_stop_limit_triggered_inside_a_bar_fills_at_the_ask_there_or_waits():
    # 100 -> 99.5 -> 103 -> 102.5: the rise reaches an ask of 101 (path price 100.75) and
    # triggers a buy stop 101; with its limit at 101.5 it fills at once at that ask, 101;
    # with its limit at 100.9, below the ask, it works on as a limit the rest of the bar
    # never comes down to (the lowest ask after it is the close's, 102.75)
    # (each on a broker of its own: the second stop at the same point would otherwise
    # match the first's limit too)
    b = bars(FLAT, SWING)
    at_once = b.buy("X", 1, stop=101.0, limit=101.5)
    assert b.step()
    assert filled_at(b, at_once) == (OrderStatus.FILLED, 101.0)
    b = bars(FLAT, SWING)
    waits = b.buy("X", 1, stop=101.0, limit=100.9)
    assert b.step()
    assert (b.order(waits.id).status, b.order(waits.id).filledQty) == (OrderStatus.WORKING, 0.0)
    assert b.order(waits.id).message.text == "Stop 101 reached at 101; became a limit order at 100.9."


def test_limits_the_quote_does_not_reach_stay_working_when_the_bar_is_walked():
    # the sell stop 99.25 makes the bar walk (the bid at the low touches it).  The ask only
    # comes down to 99.75, so the buy limit 99.7 does not fill; the bid only goes up to
    # 102.75, so the sell limit 102.8 does not either
    b = bars(FLAT, SWING)
    stop = b.sell("X", 1, stop=99.25)
    buy = b.buy("X", 1, limit=99.7)
    sell = b.sell("X", 1, limit=102.8)
    assert b.step()
    assert filled_at(b, stop) == (OrderStatus.FILLED, 99.25)
    assert [b.order(o.id).status for o in (buy, sell)] == [OrderStatus.WORKING] * 2


def test_a_stop_and_a_limit_at_the_same_point_of_a_bar_fill_stop_first():
    # on the fall: the sell stop 99.5 and the buy limit 100 are both reached at path price
    # 99.75 (bid 99.5, ask 100); on the rise the buy stop 103 and the sell limit 102.5 at
    # 102.75 (bid 102.5, ask 103).  At each point the stop fills before the limit.
    b = bars(FLAT, SWING)
    orders = [
        b.sell("X", 1, stop=99.5),
        b.buy("X", 1, limit=100.0),
        b.buy("X", 1, stop=103.0),
        b.sell("X", 1, limit=102.5),
    ]
    assert b.step()
    got = [(e.orderId, e.price) for e in b.executions("X")]
    assert got == [(o.id, p) for o, p in zip(orders, [99.5, 100.0, 103.0, 102.5], strict=True)]


@pytest.mark.parametrize(
    ("side", "stop", "other", "price"),
    [
        # the sell stop 99.4 is reached at path price 99.65: bid 99.4, ask 99.9
        ("sell", 99.4, "buy", 99.9),
        # the buy stop 103.1 at path price 102.85: bid 102.6, ask 103.1
        ("buy", 103.1, "sell", 102.6),
    ],
)
def test_while_a_stop_fills_inside_a_bar_the_market_quotes_that_point(side, stop, other, price):
    # a subscriber fills a market order of the other side by hand when the stop fills: it
    # takes the quote at the point of the path where the stop was reached
    b = bars(FLAT, SWING)
    order = getattr(b, side)("X", 1, stop=stop)
    prices = []

    def fill_the_other_side(execution):
        if execution.orderId == order.id:
            prices.append(by_hand(b, "X", other))

    sub = b.subscribe(pb.topic("executions"), fill_the_other_side)
    assert b.step()
    assert (sub.errors, prices) == (0, [price])


# ---------------------------------------------------------------------- orders re-filed between bars


def test_a_limit_changed_to_a_market_order_between_bars_lets_the_next_limit_fill_at_the_open():
    # buy limits 99 and 98.5 rest; the first becomes a market order.  The next bar gaps
    # down to 97 (ask 97.25): the market order and the limit 98.5 both fill at the open's ask
    b = bars(FLAT, (97.0, 97.5, 96.5, 97.0))
    first = b.buy("X", 1, limit=99.0)
    second = b.buy("X", 1, limit=98.5)
    b.modify(first.id, type=pb.OrderType.MARKET)
    assert b.step()
    assert (filled_at(b, first), filled_at(b, second)) == ((OrderStatus.FILLED, 97.25),) * 2


def test_an_immediate_or_cancel_stop_that_fills_on_its_first_bar_stays_filled():
    # the IOC buy stop 103.25 is reached at the high and fills there; nothing is left to
    # cancel after the bar
    b = bars(FLAT, SWING)
    rec = []
    order = b.buy("X", 1, stop=103.25, duration="IOC")
    b.subscribe(pb.topic("orders"), lambda o: rec.append(o.status) if o.id == order.id else None)
    assert b.step()
    assert filled_at(b, order) == (OrderStatus.FILLED, 103.25)
    assert rec[-1] is OrderStatus.FILLED
    assert OrderStatus.CANCELED not in rec


# ---------------------------------------------------------------------- a stop-loss armed inside a bar


@pytest.mark.parametrize(
    ("bar", "side", "stop", "stop_loss", "prices"),
    [
        # 100 -> 100.5 -> 99 -> 99: the sell stop 99 is touched at path price 99.25 and fills
        # at the bid, 99.0; its stop-loss, a buy stop at 99.2, is armed with the ask at 99.5,
        # already above it, so it triggers at once and fills at that ask
        ((100.0, 100.5, 99.0, 99.0), "sell", 99.0, 99.2, (99.0, 99.5)),
        # 100 -> 99.5 -> 101 -> 101: the buy stop 101 is touched at path price 100.75 and
        # fills at the ask, 101.0; its stop-loss, a sell stop at 100.8, is armed with the bid
        # at 100.5, already below it, so it fills at that bid
        ((100.0, 101.0, 99.5, 101.0), "buy", 101.0, 100.8, (101.0, 100.5)),
        # the same with the stop-loss exactly at that ask (99.5) or bid (100.5): touched too
        ((100.0, 100.5, 99.0, 99.0), "sell", 99.0, 99.5, (99.0, 99.5)),
        ((100.0, 101.0, 99.5, 101.0), "buy", 101.0, 100.5, (101.0, 100.5)),
    ],
)
def test_a_stop_loss_armed_inside_a_bar_that_the_quote_touches_fills_where_it_was_armed(
    bar, side, stop, stop_loss, prices
):
    b = bars(FLAT, bar)
    entry = getattr(b, side)("X", 1, stop=stop, stop_loss=stop_loss)
    assert b.step()
    (child,) = [o for o in b.orders() if o.id != entry.id]
    assert (filled_at(b, entry), filled_at(b, child)) == (
        (OrderStatus.FILLED, prices[0]),
        (OrderStatus.FILLED, prices[1]),
    )
    assert b.positions() == []


def test_a_stop_loss_inside_the_spread_fills_at_the_open_it_was_armed_at():
    # a market buy fills at the open's ask, 100.25; its stop-loss at 99.9 is above the bid
    # (99.75) from the moment it is armed, so it fills at that bid on the same bar, as it
    # would on a quote, rather than waiting for the next bar
    b = bars(FLAT, FLAT, FLAT)
    entry = b.buy("X", 1, stop_loss=99.9)
    assert b.step()
    (child,) = [o for o in b.orders() if o.id != entry.id]
    assert (filled_at(b, entry), filled_at(b, child)) == (
        (OrderStatus.FILLED, 100.25),
        (OrderStatus.FILLED, 99.75),
    )
    quotes = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}, spread=0.5))
    entry = quotes.buy("X", 1, stop_loss=99.9)
    (child,) = [o for o in quotes.orders() if o.id != entry.id]
    assert filled_at(quotes, child) == (OrderStatus.FILLED, 99.75)


def test_a_stop_loss_armed_inside_a_bar_triggers_however_many_orders_came_before():
    # as the first case above, after 150 orders placed and cancelled: the matcher's order
    # count has passed the prices, and the stop-loss still triggers where it is armed
    b = bars(FLAT, (100.0, 100.5, 99.0, 99.0))
    for _ in range(150):
        b.cancel(b.buy("X", 1, limit=90.0).id)
    entry = b.sell("X", 1, stop=99.0, stop_loss=99.2)
    assert b.step()
    (child,) = [o for o in b.orders(status=OrderStatus.FILLED) if o.id != entry.id]
    assert (filled_at(b, entry), filled_at(b, child)) == (
        (OrderStatus.FILLED, 99.0),
        (OrderStatus.FILLED, 99.5),
    )
