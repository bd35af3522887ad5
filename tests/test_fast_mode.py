"""Clock, time in force, fast mode and reproducibility across processes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

import paperbroker as pb
from paperbroker import OrderStatus

HOUR = 3_600_000


def walk(**kwargs):
    return pb.BrokerService(
        execution_delay=None, seed=7, market=pb.RandomWalk({"A": 100.0, "B": 50.0}), **kwargs
    )


def test_run_steps_the_market_without_sleeping_and_moves_the_clock():
    b = walk()
    start = b.clock.now_ms()
    assert b.run(1_000) == 1_000
    assert b.clock.now_ms() == start + 1_000 * 1_000
    assert b.run(5, progress=True) == 5


def test_run_in_classic_mode_fills_random_orders_on_a_sim_clock():
    b = pb.BrokerService(execution_delay=None, seed=1, clock=pb.SimClock(0))
    for i in range(3):
        b.buy("X", 1, limit=10.0 + i)
    assert b.run(3) == 3
    assert b.orders(status="working") == [] and 3_000 <= b.clock.now_ms() <= 6_000
    with pytest.raises(pb.ConfigurationError, match="run\\(\\) needs steps="):
        b.run()
    with pytest.raises(pb.ConfigurationError, match="steps must be a whole number"):
        b.run(-1)


async def test_run_for_steps_or_clock_seconds_and_pauses_the_background_task():
    b = pb.BrokerService(execution_delay=0.001, seed=2, market=pb.RandomWalk(["A"]))
    b.subscribe(pb.topic("quotes", symbol="A"), lambda q: None)
    assert b.simulator_running
    assert await b.run_for(steps=5, interval=0) == 5
    assert b.simulator_running  # resumed
    b.shutdown()
    start = b.clock.now_ms()
    assert await b.run_for(seconds=10, interval=0) == 10
    assert b.clock.now_ms() - start == 10_000
    with pytest.raises(pb.ConfigurationError, match="exactly one of"):
        await b.run_for()


async def test_market_mode_background_task_ticks_at_the_simulators_interval():
    b = pb.BrokerService(execution_delay=0.001, market=pb.RandomWalk(["A"]))
    quotes = []
    b.subscribe(pb.topic("quotes", symbol="A"), quotes.append)
    for _ in range(200):
        if len(quotes) >= 3:
            break
        await asyncio.sleep(0.005)
    b.shutdown()
    assert len(quotes) >= 3 and quotes[0].time < quotes[-1].time


def test_day_orders_expire_at_the_session_end():
    b = pb.BrokerService(
        execution_delay=None,
        market=pb.ManualQuotes({"X": 100.0}, step_ms=HOUR),
        clock=pb.SimClock(pb.SimClock().now_ms(), session_end="16:00", timezone="America/New_York"),
    )
    day = b.buy("X", 1, limit=90.0, duration="DAY")
    gtc = b.buy("X", 1, limit=90.0, duration="GTC")
    plain = b.buy("X", 1, limit=90.0)
    b.run(6)  # 09:30 -> 15:30 New York
    assert b.order(day.id).status is OrderStatus.WORKING
    b.step()  # 16:30
    expired = b.order(day.id)
    assert expired.status is OrderStatus.CANCELED
    assert expired.message.text == "The day order expired at the end of the session."
    assert expired.duration == pb.OrderDuration("DAY")
    assert {b.order(gtc.id).status, b.order(plain.id).status} == {OrderStatus.WORKING}


def test_day_orders_expire_in_manual_mode_when_the_clock_passes_the_session_end():
    clock = pb.SimClock()
    b = pb.BrokerService(execution_delay=None, clock=clock)
    day = b.buy("X", 1, limit=5.0, duration="day")
    clock.advance(8 * HOUR)
    with pytest.raises(pb.InvalidState, match="expired at the end of its session"):
        b.fill(day.id)


def test_ioc_fills_what_it_can_and_cancels_the_rest_fok_all_or_nothing():
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 10.0}, quote_size=5))
    ioc = b.buy("X", 8, duration="IOC")
    assert (ioc.status, ioc.filledQty) == (OrderStatus.CANCELED, 5)
    assert ioc.message.text == "Immediate or cancel: the rest could not fill at once."
    b.step()
    fok = b.buy("X", 8, duration=pb.OrderDuration("FOK"))
    assert (fok.status, fok.filledQty) == (OrderStatus.CANCELED, 0)
    small = b.buy("X", 5, duration="FOK")
    assert small.status is OrderStatus.FILLED
    away = b.buy("X", 1, limit=1.0, duration="IOC")
    assert away.status is OrderStatus.CANCELED


@pytest.mark.parametrize("value", ["WEEK", 3, {"type": "GTD", "datetime": 1}])
def test_unknown_durations_are_invalid_and_list_the_choices(value):
    b = pb.BrokerService(execution_delay=None)
    with pytest.raises(pb.InvalidOrder, match="use one of DAY, GTC, IOC, FOK"):
        b.submit(pb.PreOrder("X", pb.OrderType.LIMIT, pb.Side.BUY, 1, limitPrice=1.0, duration=value))
    assert b.orders() == []


def test_ioc_without_a_market_is_invalid():
    b = pb.BrokerService(execution_delay=None)
    with pytest.raises(pb.InvalidOrder, match="IOC needs a market"):
        b.buy("X", 1, price=1.0, duration="IOC")


SCRIPT = """
import json, paperbroker as pb
b = pb.BrokerService(execution_delay=None, seed=42, market=pb.RandomWalk({"A": 100.0, "B": 20.0},
    volatility=0.002, quote_size=30), risk=pb.RiskRules(account="margin", leverage=4))
for i in range(40):
    b.run(25)
    side = b.buy if b.rng.random() < 0.5 else b.sell
    sym = "A" if i % 2 else "B"
    side(sym, 50, take_profit=None)
    side(sym, 10, limit=b.quote(sym).bid - 0.05)
b.run(200)
print(json.dumps({
    "executions": [(e.id, e.orderId, e.price, e.qty, e.time) for e in b.executions()],
    "equity": pb.equity_frame(b)["equity"].round(10).tolist(),
}))
"""


def test_same_seed_same_executions_and_equity_in_two_processes():
    runs = [
        json.loads(
            subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert len(runs[0]["executions"]) > 50 and len(runs[0]["equity"]) > 100
