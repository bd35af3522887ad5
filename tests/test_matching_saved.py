"""The matcher's resting orders, slippage and bar rules survive a save and load: after
loading, orders fill as they would have without it (prices worked out by hand; the
quotes are ``ManualQuotes({"X": 100.0}, spread=0.5)``: bid 99.75, ask 100.25)."""

from __future__ import annotations

import pandas as pd

import paperbroker as pb
from paperbroker import OrderStatus


def test_a_loaded_broker_fills_its_resting_orders_with_the_saved_slippage(tmp_path):
    # a buy limit 99 rests; after loading, mid 98.5 (ask 98.75) fills it at the ask (a
    # limit pays no slippage); a market buy pays the ask plus one tick of 0.01: 98.76
    b = pb.BrokerService(
        execution_delay=None,
        market=pb.ManualQuotes({"X": 100.0}, spread=0.5),
        slippage=pb.FixedSlippage(1),
    )
    order = b.buy("X", 1, limit=99.0)
    loaded = pb.BrokerService.load(b.save(tmp_path / "quotes.json"))
    assert loaded.order(order.id).status is OrderStatus.WORKING
    loaded.set_price("X", 98.5)
    done = loaded.order(order.id)
    assert (done.status, done.avgPrice) == (OrderStatus.FILLED, 98.75)
    assert loaded.buy("X", 1).avgPrice == 98.76


def test_a_loaded_bar_replay_still_cancels_an_immediate_or_cancel_order_after_its_first_bar(tmp_path):
    # after loading at the first bar, an IOC buy limit 99 cannot fill on the next bar
    # (its ask never comes down below 100.25) and is cancelled after it
    frame = pd.DataFrame(
        [(100.0, 100.0, 100.0, 100.0), (100.0, 100.5, 100.0, 100.5)],
        columns=["open", "high", "low", "close"],
        index=pd.date_range("2024-01-02 14:30", periods=2, freq="1min", tz="UTC"),
    )
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay(frame, symbol="X", spread=0.5))
    assert b.step()
    loaded = pb.BrokerService.load(b.save(tmp_path / "bars.json"))
    order = loaded.buy("X", 1, limit=99.0, duration="IOC")
    assert loaded.step()
    done = loaded.order(order.id)
    assert (done.status, done.message.text) == (
        OrderStatus.CANCELED,
        "Immediate or cancel: the rest did not fill on the first bar.",
    )
