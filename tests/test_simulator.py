"""Classic mode: the single background task, its lifecycle, randomness and resilience."""

import asyncio

import pytest

import paperbroker as pb


async def wait_until(predicate, timeout=3.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        assert loop.time() < end, "timed out"
        await asyncio.sleep(0.005)


async def test_classic_mode_fills_working_orders_in_the_background():
    b = pb.BrokerService(execution_delay=0.01, seed=3)
    fills = []
    b.subscribe(pb.topic("executions"), fills.append)
    orders = [b.buy("X", 1, limit=10.0 + i) for i in range(3)]
    await wait_until(lambda: len(fills) == 3)
    assert {e.orderId for e in fills} == {o.id for o in orders}
    assert all(b.order(o.id).status is pb.OrderStatus.FILLED for o in orders)
    b.shutdown()


async def test_one_task_however_many_subscribers():
    b = pb.BrokerService(execution_delay=0.01)
    subs = [b.subscribe(pb.topic(kind), lambda x: None) for kind in ("orders", "positions", "equity")]
    tasks = [t for t in asyncio.all_tasks() if t.get_name() == "paperbroker-simulator"]
    assert len(tasks) == 1 and b.simulator_running
    for sub in subs[:-1]:
        sub.close()
        assert b.simulator_running
    subs[-1].close()
    assert not b.simulator_running
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t.get_name() == "paperbroker-simulator"] == []


def test_without_a_running_loop_nothing_starts_and_the_warning_says_what_to_do():
    b = pb.BrokerService(execution_delay=0.01)
    with pytest.warns(RuntimeWarning, match=r"No asyncio event loop is running.*execution_delay=None"):
        b.subscribe(pb.topic("orders"), lambda x: None)
    assert not b.simulator_running


async def test_manual_mode_never_starts_a_task():
    b = pb.BrokerService(execution_delay=None)
    await b.create_topic(pb.topic("orders"), lambda x: None)
    assert not b.simulator_running


async def _fill_sequence(seed):
    b = pb.BrokerService(execution_delay=0.001, seed=seed)
    fills = []
    b.subscribe(pb.topic("executions"), fills.append)
    for i in range(8):
        b.buy("X", 1, limit=100.0 + i)
    await wait_until(lambda: len(fills) == 8)
    b.shutdown()
    return [e.orderId for e in fills]


async def test_same_seed_same_fill_order():
    first = await _fill_sequence(11)
    assert first == await _fill_sequence(11)
    assert sorted(first) == sorted(await _fill_sequence(12))


async def test_the_simulator_survives_a_failing_step():
    calls = {"n": 0}

    def flaky(qty, price, first):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("flaky commission feed")
        return 0.0

    b = pb.BrokerService(execution_delay=0.005, commission=flaky)
    fills = []
    b.subscribe(pb.topic("executions"), fills.append)
    order = b.buy("X", 1, limit=10.0)
    await wait_until(lambda: len(fills) == 1)
    assert b.simulator.errors == 1
    assert isinstance(b.simulator.last_error, RuntimeError)
    assert b.order(order.id).status is pb.OrderStatus.FILLED
    b.shutdown()


async def test_a_cancelled_task_restarts_on_the_next_call():
    b = pb.BrokerService(execution_delay=0.005)
    b.subscribe(pb.topic("executions"), lambda x: None)
    task = next(t for t in asyncio.all_tasks() if t.get_name() == "paperbroker-simulator")
    task.cancel()
    await asyncio.sleep(0.01)
    assert not b.simulator_running
    await b.place_order(pb.PreOrder("X", pb.OrderType.LIMIT, pb.Side.BUY, 1, limitPrice=1.0))
    assert b.simulator_running
    b.shutdown()


def test_sim_clock_never_goes_back():
    clock = pb.SimClock(100)
    assert clock.advance(50) == 150
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="cannot go backwards"):
        clock.set(10)


@pytest.mark.parametrize("bad", ["abc", float("nan"), None, True])
def test_sim_clock_refuses_non_numbers(bad):
    with pytest.raises(pb.ConfigurationError, match="takes milliseconds as a finite number"):
        pb.SimClock(bad)
    clock = pb.SimClock(100)
    with pytest.raises(pb.ConfigurationError, match="takes milliseconds"):
        clock.advance(bad)
    assert clock.now_ms() == 100


async def test_an_interrupt_in_a_background_step_stops_the_simulator_only():
    calls = {"n": 0}

    def interrupted(qty, price, first):
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        return 0.0

    b = pb.BrokerService(execution_delay=0.005, commission=interrupted)
    b.subscribe(pb.topic("executions"), lambda x: None)
    order = b.buy("X", 1, limit=10.0)
    await wait_until(lambda: not b.simulator_running)
    assert isinstance(b.simulator.last_error, KeyboardInterrupt)
    assert b.order(order.id).status is pb.OrderStatus.WORKING  # the fill changed nothing
    await b.place_order(pb.PreOrder("X", pb.OrderType.LIMIT, pb.Side.BUY, 1, limitPrice=9.0))
    assert b.simulator_running  # the next call starts it again
    await wait_until(lambda: b.order(order.id).status is pb.OrderStatus.FILLED)
    b.shutdown()
