"""Soak, light enough for every test run (``bench/soak.py`` is the million-fill version):
memory stays bounded under a long run of fills, and subscribe/unsubscribe cycles leave no
subscriptions, tasks or simulator behind."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

import pytest

import paperbroker as pb

from .reliability import Reference, check_consistent, close


# the delayed fills are stepped by run() below, without a loop: the broker's warning that
# its background simulator cannot start is expected
@pytest.mark.filterwarnings("ignore:No asyncio event loop is running:RuntimeWarning")
def test_memory_is_bounded_by_the_history_limit() -> None:
    """With history_limit=200, once the kept history has reached its bound (the first 2,000
    fills), later rounds of 2,000 fills need no more memory: the kept executions, equity rows
    and finished orders are all bounded."""
    broker = pb.BrokerService(0.001, seed=1, clock=pb.SimClock(), history_limit=200, risk=None)
    got = {"n": 0}
    for kind in ("executions", "orders", "positions", "equity"):
        broker.subscribe(pb.topic(kind), lambda payload: got.__setitem__("n", got["n"] + 1))
    # the money, recomputed from every execution as it is broadcast (the broker keeps only
    # the last 200): a reference ledger that holds per symbol, not per order, state
    ref = Reference({pb.DEFAULT_ACCOUNT: 100_000.0})

    def replay(execution: pb.Execution) -> None:
        ref.apply(pb.DEFAULT_ACCOUNT, execution)
        ref.filled.clear()  # per-order sums are not needed here, and would grow

    broker.subscribe(pb.topic("executions"), replay)
    peaks = []
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(4):
            tracemalloc.reset_peak()
            for i in range(2_000):
                side = "buy" if i % 3 else "sell"
                broker.submit(
                    pb.PreOrder(("AAA", "BBB")[i % 2], "market", side, 1 + i % 4, seenPrice=100.0 + i % 7)
                )
            assert broker.run(steps=2_000) == 2_000
            peaks.append(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()
    assert broker.execution_count == 8_000 and got["n"] == 8_000 * 5
    assert len(broker.executions()) <= 400 and len(broker.orders()) <= 200
    assert max(peaks[2:]) <= peaks[1] * 1.05, peaks
    assert ref.count == 8_000
    equity, acc = broker.equity(), ref.accounts[pb.DEFAULT_ACCOUNT]
    assert close(equity.realizedPL, acc.realized) and close(equity.commission, acc.commission)
    unrealized = ref.unrealized(pb.DEFAULT_ACCOUNT)
    assert close(equity.unrealizedPL, unrealized)
    assert close(equity.equity, 100_000.0 + acc.realized - acc.commission + unrealized)
    for position in broker.positions():
        want = ref.accounts[pb.DEFAULT_ACCOUNT].positions[position.id]
        assert close(position.qty * int(position.side), want.qty) and close(position.avgPrice, want.avg)


async def test_a_thousand_subscribe_unsubscribe_cycles_leave_nothing_behind() -> None:
    broker = pb.BrokerService(0.0, seed=2, clock=pb.SimClock(), history_limit=None, risk=None)
    before = set(asyncio.all_tasks())
    received = {"sync": 0, "async": 0}

    async def slow(payload: Any) -> None:
        received["async"] += 1
        await asyncio.sleep(0)  # still running when its subscription closes: cancelled

    def quick(payload: Any) -> None:
        received["sync"] += 1

    for i in range(1_000):
        subs = [broker.subscribe(pb.topic(kind), slow if i % 2 else quick) for kind in ("orders", "equity")]
        subs.append(broker.subscribe(pb.topic("executions", symbol="AAA"), quick))
        assert broker.simulator_running
        broker.buy("AAA", 1, limit=100.0 + i % 5)
        await asyncio.sleep(0)  # the simulator and the async subscribers run
        if i % 3:
            for sub in subs:
                sub.close()
        else:
            assert broker.remove_topic(pb.topic("orders")) + broker.remove_topic(pb.topic("equity")) == 2
            subs[2].close()
        assert broker.subscriptions() == [] and not broker.simulator_running
    await asyncio.sleep(0)
    assert set(asyncio.all_tasks()) == before  # no simulator, no subscriber task
    assert received["sync"] > 0 and received["async"] > 0
    check_consistent(broker, {pb.DEFAULT_ACCOUNT: 100_000.0})
