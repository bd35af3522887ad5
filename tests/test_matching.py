"""matching.Matcher on its own: triggers, fill prices, sizes, bar paths, IOC/FOK, trailing."""

from __future__ import annotations

import math

import pytest

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, PlacedOrder, Side
from paperbroker.market.matching import Matcher, bar_path
from paperbroker.market.slippage import FixedSlippage, NoSlippage, PercentSlippage, round_to_tick

INF = math.inf


class Host:
    """Plays the broker: applies fills to the order and tells the matcher when it is done."""

    def __init__(self) -> None:
        self.matcher: Matcher | None = None
        self.fills: list[tuple[str, float, float]] = []
        self.expired: list[tuple[str, str]] = []
        self.trails: list[tuple[str, float]] = []
        self.triggers: list[tuple[str, float]] = []

    def fill(self, order: PlacedOrder, qty: float, price: float) -> None:
        done = order.filledQty
        order.avgPrice = price if not done else (order.avgPrice * done + price * qty) / (done + qty)
        order.filledQty = done + qty
        self.fills.append((order.id, qty, price))
        if order.qty - order.filledQty <= 1e-9:
            order.status = OrderStatus.FILLED
            self.matcher.remove(order.id)

    def expire(self, order: PlacedOrder, reason: str) -> None:
        order.status = OrderStatus.CANCELED
        self.expired.append((order.id, reason))
        self.matcher.remove(order.id)

    def trail(self, order: PlacedOrder, stop: float) -> None:
        order.stopPrice = stop
        self.trails.append((order.id, stop))

    def triggered(self, order: PlacedOrder, price: float) -> None:
        self.triggers.append((order.id, price))


def make(bars=False, slippage=None, symbols=1):
    host = Host()
    matcher = Matcher(host, slippage or NoSlippage(), [0.01] * symbols, bars)
    host.matcher = matcher
    return host, matcher


_n = [0]


def order(kind, side, qty=10.0, limit=None, stop=None, duration=None):
    _n[0] += 1
    o = PlacedOrder(f"O{_n[0]}", "X", kind, side, qty, OrderStatus.WORKING, limitPrice=limit, stopPrice=stop)
    if duration:
        o.duration = pb.OrderDuration(duration)
    return o


def quote(matcher, bid, ask, size=INF):
    matcher.on_quotes([0], [bid], [ask], [size], [size])


def test_resting_orders_do_not_trigger_until_the_price_reaches_them():
    host, m = make()
    bl = order(OrderType.LIMIT, Side.BUY, limit=99.0)
    sl = order(OrderType.LIMIT, Side.SELL, limit=101.0)
    bs = order(OrderType.STOP, Side.BUY, stop=102.0)
    ss = order(OrderType.STOP, Side.SELL, stop=98.0)
    for o in (bl, sl, bs, ss):
        m.add(o, 0)
    assert (m.bl[0], m.sl[0], m.bs[0], m.ss[0]) == (99.0, 101.0, 102.0, 98.0)
    quote(m, 99.5, 99.6)
    assert host.fills == []
    quote(m, 98.9, 99.0)  # ask reaches the buy limit: filled at the ask
    assert host.fills == [(bl.id, 10.0, 99.0)]
    quote(m, 101.2, 101.3)  # bid above the sell limit: filled at the bid (better)
    assert host.fills[-1] == (sl.id, 10.0, 101.2)


def test_a_stop_fills_at_the_gap_price():
    host, m = make()
    ss = order(OrderType.STOP, Side.SELL, stop=98.0)
    m.add(ss, 0)
    quote(m, 99.0, 99.1)
    quote(m, 95.0, 95.1)  # gapped through 98
    assert host.fills == [(ss.id, 10.0, 95.0)]


def test_market_orders_pay_the_spread_and_slippage():
    host, m = make(slippage=FixedSlippage(2))
    quote(m, 10.0, 10.1)
    buy = order(OrderType.MARKET, Side.BUY)
    m.add(buy, 0)
    m.match_quote(0)
    sell = order(OrderType.MARKET, Side.SELL)
    m.add(sell, 0)
    m.match_quote(0)
    assert host.fills == [(buy.id, 10.0, pytest.approx(10.12)), (sell.id, 10.0, pytest.approx(9.98))]
    assert PercentSlippage(1.0)(200.0, 1, 0.01) == 2.0


def test_partial_fills_against_quote_size_keep_the_order_working():
    host, m = make()
    quote(m, 10.0, 10.1, size=4)
    buy = order(OrderType.MARKET, Side.BUY, qty=10)
    m.add(buy, 0)
    m.match_quote(0)
    assert buy.filledQty == 4 and buy.status is OrderStatus.WORKING
    quote(m, 10.1, 10.2, size=4)
    quote(m, 10.2, 10.3, size=4)
    assert [(q, p) for _, q, p in host.fills] == [(4, 10.1), (4, 10.2), (2, 10.3)]
    assert buy.status is OrderStatus.FILLED  # (its avgPrice is this file's Host's arithmetic)


def test_partial_fills_average_to_the_broker_s_avg_price():
    """The same three partial fills through the broker: 4 @ 10.10, 4 @ 10.20, 2 @ 10.30
    average (40.40 + 40.80 + 20.60) / 10 = 10.18 on the order and in its frame."""
    broker = pb.BrokerService(None, market=pb.ManualQuotes(quote_size=4))
    broker.set_quote("X", bid=10.0, ask=10.1)
    buy = broker.buy("X", 10)
    for bid, ask in ((10.1, 10.2), (10.2, 10.3)):
        broker.set_quote("X", bid=bid, ask=ask)  # a new quote, with 4 for sale
    done = broker.order(buy.id)
    assert (done.status, done.filledQty) == (OrderStatus.FILLED, 10.0)
    assert done.avgPrice == pytest.approx(10.18, abs=1e-12)
    assert pb.orders_frame(broker).set_index("id").loc[buy.id, "avg_price"] == pytest.approx(10.18, abs=1e-12)
    assert [e.price for e in broker.executions()] == [10.1, 10.2, 10.3]


def test_price_priority_decides_who_gets_limited_size():
    host, m = make()
    low = order(OrderType.LIMIT, Side.BUY, qty=5, limit=10.0)
    high = order(OrderType.LIMIT, Side.BUY, qty=5, limit=10.5)
    m.add(low, 0)
    m.add(high, 0)
    quote(m, 9.8, 9.9, size=6)
    assert [(i, q) for i, q, _ in host.fills] == [(high.id, 5), (low.id, 1)]


def test_cancelled_orders_leave_the_index():
    host, m = make()
    buys = [order(OrderType.LIMIT, Side.BUY, limit=10.0 + i) for i in range(100)]
    for o in buys:
        m.add(o, 0)
    for o in buys[50:]:
        m.remove(o.id)
    assert len(m) == 50 and m.bl[0] == 59.0
    quote(m, 55.0, 55.5)
    assert sorted(p for _, _, p in host.fills) == [55.5] * 4  # limits 56..59
    assert m.bl[0] == 55.0


def test_stop_limit_becomes_a_limit_when_triggered():
    host, m = make()
    o = order(OrderType.STOP_LIMIT, Side.BUY, stop=10.0, limit=10.2)
    m.add(o, 0)
    quote(m, 10.4, 10.5)  # triggered, but the ask is above the limit
    assert host.fills == [] and m.is_triggered(o.id)
    assert host.triggers == [(o.id, 10.5)]  # the host hears it once, at the touching ask
    quote(m, 10.3, 10.45)
    assert host.triggers == [(o.id, 10.5)]
    quote(m, 10.1, 10.15)
    assert host.fills == [(o.id, 10.0, 10.15)]


def test_bar_path_goes_to_the_nearer_extreme_first():
    assert bar_path(10.0, 10.2, 9.0, 9.5) == (10.0, 10.2, 9.0, 9.5)
    assert bar_path(10.0, 11.0, 9.9, 10.5) == (10.0, 9.9, 11.0, 10.5)


def test_bar_fills_at_limit_and_stop_prices_inside_the_bar():
    host, m = make(bars=True)
    bl = order(OrderType.LIMIT, Side.BUY, limit=99.0)
    bs = order(OrderType.STOP, Side.BUY, stop=101.0)
    m.add(bl, 0)
    m.add(bs, 0)
    m.on_bars([0], [100.0], [102.0], [98.0], [100.5], [INF])  # nearer the low first? no: tie -> high
    assert host.fills == [(bs.id, 10.0, 101.0), (bl.id, 10.0, 99.0)]


def test_bar_gap_fills_at_the_open():
    host, m = make(bars=True)
    ss = order(OrderType.STOP, Side.SELL, stop=95.0)
    m.add(ss, 0)
    m.on_bars([0], [90.0], [91.0], [89.0], [90.5], [INF])
    assert host.fills == [(ss.id, 10.0, 90.0)]


def test_bar_volume_share_limits_fills():
    host, m = make(bars=True)
    o = order(OrderType.MARKET, Side.BUY, qty=25)
    m.add(o, 0)
    for _ in range(3):
        m.on_bars([0], [10.0], [10.0], [10.0], [10.0], [10.0])
    assert [q for _, q, _ in host.fills] == [10, 10, 5]


def test_ioc_and_fok_on_bars_are_decided_by_the_first_bar():
    host, m = make(bars=True)
    ioc = order(OrderType.MARKET, Side.BUY, qty=25, duration="IOC")
    fok = order(OrderType.MARKET, Side.SELL, qty=25, duration="FOK")
    far = order(OrderType.LIMIT, Side.BUY, qty=1, limit=1.0, duration="IOC")
    for o in (ioc, fok, far):
        m.add(o, 0)
    m.on_bars([0], [10.0], [10.0], [10.0], [10.0], [10.0])
    assert host.fills == [(ioc.id, 10.0, 10.0)]
    assert {i for i, _ in host.expired} == {ioc.id, fok.id, far.id}
    assert len(m) == 0


def test_trailing_stop_follows_the_price_and_never_goes_back():
    host, m = make()
    stop = order(OrderType.STOP, Side.SELL, stop=9.0)
    m.add(stop, 0, trail_distance=1.0)
    quote(m, 10.5, 10.6)
    quote(m, 10.2, 10.3)  # falls: the stop stays
    quote(m, 11.0, 11.1)
    assert [p for _, p in host.trails] == [9.5, 10.0]
    quote(m, 9.9, 10.0)
    assert host.fills == [(stop.id, 10.0, 9.9)]


def test_round_to_tick_gives_the_decimal_a_person_writes():
    assert round_to_tick(100.014999, 0.01) == 100.01
    assert round_to_tick(10.13, 0.25) == 10.25
    with pytest.raises(pb.ConfigurationError, match="FixedSlippage ticks"):
        FixedSlippage(-1)


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), True, "1", None])
def test_fixed_slippage_refuses_a_bad_tick_count(bad):
    with pytest.raises(pb.ConfigurationError, match="FixedSlippage ticks must be a number >= 0"):
        FixedSlippage(bad)


@pytest.mark.parametrize("bad", [-0.01, 100, 100.0, 250, float("nan"), True, "1"])
def test_percent_slippage_refuses_a_share_outside_0_to_100(bad):
    with pytest.raises(pb.ConfigurationError, match=r"PercentSlippage percent must be in \[0, 100\)"):
        PercentSlippage(bad)


def test_slippage_amounts_by_hand():
    assert FixedSlippage(0)(50.0, 3, 0.01) == 0.0
    assert FixedSlippage(2)(50.0, 3, 0.05) == pytest.approx(0.10)
    assert PercentSlippage(0)(50.0, 3, 0.01) == 0.0
    assert PercentSlippage(99.5)(200.0, 1, 0.01) == pytest.approx(199.0)
    assert PercentSlippage(0.5)(80.0, 1, 0.01) == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("price", "tick", "want"),
    [(10.004, 0.01, 10.0), (10.006, 0.01, 10.01), (0.123, 0.05, 0.1), (0.13, 0.05, 0.15), (7.0, 1.0, 7.0)],
)
def test_round_to_tick_by_hand(price, tick, want):
    assert round_to_tick(price, tick) == want


# ---------------------------------------------------------------------- bar paths by hand
#
# A bar open 100, high 103, low 99.5, close 102 is nearer its low: the path is
# 100 -> 99.5 -> 103 -> 102.  On the way down a buy limit at 99.8 fills at 99.8 and a sell
# stop at 99.6 triggers and fills at 99.6; on the way up a buy stop at 101 fills at 101
# and a sell limit at 102.5 at 102.5.  Orders beyond the bar (99.4, 103.5) stay working.

BAR = ([0], [100.0], [103.0], [99.5], [102.0])


def resting(m, *orders):
    for o in orders:
        m.add(o, 0)
    return orders


@pytest.mark.parametrize("half", [0.0, 0.05])
def test_a_bar_fills_everything_its_path_crosses_in_path_order(half):
    host, m = make(bars=True)
    bl, ss, bs, sl = resting(
        m,
        order(OrderType.LIMIT, Side.BUY, qty=1, limit=99.8),
        order(OrderType.STOP, Side.SELL, qty=2, stop=99.6),
        order(OrderType.STOP, Side.BUY, qty=3, stop=101.0),
        order(OrderType.LIMIT, Side.SELL, qty=4, limit=102.5),
    )
    out = resting(
        m,
        order(OrderType.LIMIT, Side.BUY, qty=1, limit=99.4),
        order(OrderType.STOP, Side.SELL, qty=1, stop=99.4),
        order(OrderType.STOP, Side.BUY, qty=1, stop=103.5),
        order(OrderType.LIMIT, Side.SELL, qty=1, limit=103.5),
    )
    m.on_bars(*BAR, [INF], half)
    fills = [(i, q, pytest.approx(p, abs=1e-9)) for i, q, p in host.fills]
    assert fills == [(bl.id, 1, 99.8), (ss.id, 2, 99.6), (bs.id, 3, 101.0), (sl.id, 4, 102.5)]
    assert len(m) == 4 and all(o.status is OrderStatus.WORKING for o in out)
    assert (m.bid[0], m.ask[0]) == (pytest.approx(102.0 - half), pytest.approx(102.0 + half))


def test_a_bar_nearer_its_high_goes_up_first():
    """Open 100, high 100.5, low 97, close 98: the path is 100 -> 100.5 -> 97 -> 98, so a
    sell limit at 100.4 fills before a buy limit at 97.5."""
    host, m = make(bars=True)
    bl, sl = resting(
        m,
        order(OrderType.LIMIT, Side.BUY, qty=1, limit=97.5),
        order(OrderType.LIMIT, Side.SELL, qty=1, limit=100.4),
    )
    m.on_bars([0], [100.0], [100.5], [97.0], [98.0], [INF])
    assert host.fills == [(sl.id, 1, 100.4), (bl.id, 1, 97.5)]


def test_a_bar_that_opens_through_orders_fills_them_at_the_open():
    """Open 105 above a buy stop at 101 and a sell limit at 102: both fill at 105; a buy
    limit at 106 fills at 105 too (better than its limit)."""
    host, m = make(bars=True)
    bs, sl, bl = resting(
        m,
        order(OrderType.STOP, Side.BUY, qty=1, stop=101.0),
        order(OrderType.LIMIT, Side.SELL, qty=1, limit=102.0),
        order(OrderType.LIMIT, Side.BUY, qty=1, limit=106.0),
    )
    m.on_bars([0], [105.0], [105.5], [104.5], [105.0], [INF])
    assert sorted(host.fills) == sorted([(bs.id, 1, 105.0), (sl.id, 1, 105.0), (bl.id, 1, 105.0)])


def test_a_bar_s_size_is_shared_in_price_order():
    """Size 5 on a falling path: buy limits at 99.8 (3) and 99.7 (3) get 3 and 2."""
    host, m = make(bars=True)
    high, low = resting(
        m,
        order(OrderType.LIMIT, Side.BUY, qty=3, limit=99.8),
        order(OrderType.LIMIT, Side.BUY, qty=3, limit=99.7),
    )
    m.on_bars(*BAR, [5.0])
    assert host.fills == [(high.id, 3, 99.8), (low.id, 2, 99.7)]
    assert low.status is OrderStatus.WORKING and len(m) == 1


def test_a_stop_limit_on_a_bar_becomes_a_limit_at_its_trigger():
    """A buy stop-limit 101 / 101.2 triggers at 101 on the way up and fills there (the ask
    is at 101, inside its limit); one with limit 100.9 triggers but waits below 101."""
    host, m = make(bars=True)
    inside, below = resting(
        m,
        order(OrderType.STOP_LIMIT, Side.BUY, qty=1, stop=101.0, limit=101.2),
        order(OrderType.STOP_LIMIT, Side.BUY, qty=1, stop=101.0, limit=100.9),
    )
    m.on_bars(*BAR, [INF])
    assert host.fills == [(inside.id, 1, 101.0)]
    assert [t for t, _ in host.triggers] == [inside.id, below.id]
    assert below.status is OrderStatus.WORKING


def test_a_slippage_model_of_your_own_is_used_and_garbage_is_refused():
    # one cent worse on every market fill: a buy at the ask 10.01 fills at 10.02
    broker = pb.BrokerService(None, market=pb.ManualQuotes({"X": 10.0}), slippage=lambda p, q, t: 0.01)
    broker.set_quote("X", bid=9.99, ask=10.01)
    assert broker.buy("X", 1).avgPrice == pytest.approx(10.02)
    with pytest.raises(pb.ConfigurationError, match="slippage must be None, FixedSlippage"):
        pb.BrokerService(None, market=pb.ManualQuotes({"X": 10.0}), slippage=5)
