"""The frames' times: in the time zone of the broker's clock, and exact at the clock's
very first millisecond.  ``SimClock()`` starts at 2024-01-02 14:30 UTC, which is 09:30 in
New York (EST, UTC-5)."""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb

TIME_COLUMNS = {
    "orders": (pb.orders_frame, "updated"),
    "executions": (pb.executions_frame, "time"),
    "equity": (pb.equity_frame, "time"),
}


@pytest.mark.parametrize("name", list(TIME_COLUMNS))
@pytest.mark.parametrize(
    ("zone", "wall"), [("America/New_York", "2024-01-02 09:30"), ("UTC", "2024-01-02 14:30")]
)
def test_frame_times_are_in_the_clocks_time_zone(name, zone, wall):
    b = pb.BrokerService(execution_delay=None, clock=pb.SimClock(timezone=zone))
    b.fill(b.buy("X", 2, price=10.0).id)
    frame, column = TIME_COLUMNS[name]
    times = frame(b)[column]
    assert str(times.dt.tz) == zone
    assert list(times) == [pd.Timestamp(wall, tz=zone)] * len(times)
    assert len(times) >= 1


def test_an_order_placed_at_the_clocks_first_millisecond_shows_that_time():
    # SimClock(0) starts at the Unix epoch: the order's update time is 0 ms
    b = pb.BrokerService(execution_delay=None, clock=pb.SimClock(0))
    order = b.buy("X", 1, limit=10.0)
    assert order.updateTime == 0
    (updated,) = pb.orders_frame(b)["updated"]
    assert updated == pd.Timestamp("1970-01-01 00:00:00", tz="UTC")
