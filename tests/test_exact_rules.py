"""Rules a reader checks to the millisecond or the cent: when a day order expires, the
time a cancel is stamped with, and that a stop triggers when the price touches it.

Every expected value is worked out here by hand.  The simulated clock starts at
1_704_205_800_000 ms = 2024-01-02 14:30:00 UTC = 09:30 in New York (EST, UTC-5), so the
16:00 New York session end is 21:00 UTC: 1_704_205_800_000 + 6.5 h (23_400_000 ms).
"""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import OrderStatus

START = 1_704_205_800_000
CLOSE_NY = 1_704_229_200_000  # 2024-01-02 16:00:00.000 America/New_York
HOUR = 3_600_000


def new_york_clock(start: int = START) -> pb.SimClock:
    return pb.SimClock(start, session_end="16:00", timezone="America/New_York")


def test_the_session_end_is_sixteen_hundred_new_york_to_the_millisecond():
    assert pd.Timestamp(CLOSE_NY, unit="ms", tz="UTC").tz_convert("America/New_York") == pd.Timestamp(
        "2024-01-02 16:00:00", tz="America/New_York"
    )
    clock = new_york_clock()
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    before = broker.buy("X", 1, limit=10.0, duration="DAY")
    at = broker.buy("X", 1, limit=10.0, duration="DAY")
    clock.set(CLOSE_NY - 1)  # 15:59:59.999: still in the session
    assert broker.fill(before.id).time == CLOSE_NY - 1
    clock.set(CLOSE_NY)  # 16:00:00.000: the session is over
    with pytest.raises(pb.InvalidState, match="expired at the end of its session"):
        broker.fill(at.id)
    expired = broker.order(at.id)
    assert expired.status is OrderStatus.CANCELED and expired.updateTime == CLOSE_NY


def test_a_day_order_expires_on_the_market_tick_at_sixteen_hundred():
    broker = pb.BrokerService(
        execution_delay=None,
        market=pb.ManualQuotes({"X": 100.0}, step_ms=30_000),
        clock=new_york_clock(CLOSE_NY - 90_000),  # 15:58:30
    )
    day = broker.buy("X", 1, limit=90.0, duration="DAY")
    broker.run(2)  # ticks at 15:59:00 and 15:59:30
    assert broker.clock.now_ms() == CLOSE_NY - 30_000
    assert broker.order(day.id).status is OrderStatus.WORKING
    broker.step()  # the tick at 16:00:00.000
    expired = broker.order(day.id)
    assert expired.status is OrderStatus.CANCELED
    assert expired.updateTime == CLOSE_NY
    assert pb.orders_frame(broker).set_index("id").loc[day.id, "updated"] == pd.Timestamp(
        "2024-01-02 21:00:00", tz="UTC"
    )


def test_a_cancel_is_stamped_with_the_time_it_happened():
    clock = pb.SimClock()
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    order = broker.buy("X", 1, limit=10.0)
    assert order.updateTime == START
    clock.advance(2 * HOUR + 123)
    cancelled = broker.cancel(order.id)
    assert cancelled.updateTime == START + 7_200_123
    assert broker.order(order.id).updateTime == START + 7_200_123
    row = pb.orders_frame(broker).set_index("id").loc[order.id]
    assert row["updated"] == pd.Timestamp("2024-01-02 16:30:00.123", tz="UTC")
    assert row["status"] == "Canceled"


def quoted_broker() -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}))


def test_a_sell_stop_triggers_when_the_bid_touches_it():
    broker = quoted_broker()
    stop = broker.sell("X", 3, stop=99.0)
    broker.set_quote("X", bid=99.01, ask=99.03)
    broker.step()
    assert broker.order(stop.id).status is OrderStatus.WORKING  # one cent above: not yet
    broker.set_quote("X", bid=99.0, ask=99.02)  # the bid touches 99.00 exactly
    broker.step()
    filled = broker.order(stop.id)
    assert filled.status is OrderStatus.FILLED
    assert (filled.filledQty, filled.avgPrice) == (3.0, 99.0)


def test_a_buy_stop_triggers_when_the_ask_touches_it():
    broker = quoted_broker()
    stop = broker.buy("X", 2, stop=101.0)
    broker.set_quote("X", bid=100.97, ask=100.99)
    broker.step()
    assert broker.order(stop.id).status is OrderStatus.WORKING
    broker.set_quote("X", bid=100.98, ask=101.0)
    broker.step()
    filled = broker.order(stop.id)
    assert filled.status is OrderStatus.FILLED and filled.avgPrice == 101.0


def test_a_sell_stop_triggers_when_a_bar_low_touches_it():
    """Bars: the path open -> low -> high -> close; a low of exactly 99.00 touches the stop."""
    frame = pd.DataFrame(
        {"open": [100.0, 100.0], "high": [100.5, 100.5], "low": [99.5, 99.0], "close": [100.0, 100.0]},
        index=pd.date_range("2024-01-02 14:30", periods=2, freq="1min", tz="UTC"),
    )
    broker = pb.BrokerService(execution_delay=None, market=pb.BarReplay(frame, symbol="X"))
    broker.step()
    stop = broker.sell("X", 1, stop=99.0)
    assert broker.order(stop.id).status is OrderStatus.WORKING
    broker.step()
    filled = broker.order(stop.id)
    assert filled.status is OrderStatus.FILLED


def test_limits_fill_when_the_quote_touches_them():
    """A sell limit at 100.50 fills when the bid reaches 100.50 exactly, at 100.50; a buy
    limit at 99.50 when the ask comes down to 99.50."""
    broker = quoted_broker()
    sell = broker.sell("X", 2, limit=100.5)
    buy = broker.buy("X", 3, limit=99.5)
    broker.set_quote("X", bid=100.49, ask=100.51)
    assert broker.order(sell.id).status is OrderStatus.WORKING
    broker.set_quote("X", bid=100.5, ask=100.52)
    assert (broker.order(sell.id).status, broker.order(sell.id).avgPrice) == (OrderStatus.FILLED, 100.5)
    broker.set_quote("X", bid=99.49, ask=99.51)
    assert broker.order(buy.id).status is OrderStatus.WORKING
    broker.set_quote("X", bid=99.48, ask=99.5)
    assert (broker.order(buy.id).status, broker.order(buy.id).avgPrice) == (OrderStatus.FILLED, 99.5)
