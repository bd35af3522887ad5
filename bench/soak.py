"""Soak: a million fills with subscribers attached stay within bounded memory, and a thousand
subscribe/unsubscribe cycles leave nothing behind.

    python bench/soak.py            # 1,000,000 fills (about a minute)
    python bench/soak.py --fills 200000

Fills run in fast mode (``broker.run(steps=...)``, classic mode with a SimClock): each step
fills one working order.  Four subscribers (executions, orders, positions, equity) count
what they get.  Memory is traced with tracemalloc (Python allocations, which is where the
broker's state lives); the peak is reported per quarter of the run, so a leak shows as a
peak that keeps rising.  The default ``history_limit`` (100,000) bounds the kept history.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import platform
import time
import tracemalloc
from typing import Any

import paperbroker as pb

BATCH = 1_000


def fill_soak(fills: int) -> dict[str, Any]:
    broker = pb.BrokerService(
        execution_delay=0.001, seed=1, clock=pb.SimClock(), commission=pb.PerUnit(0.005)
    )
    counts = {kind: 0 for kind in ("executions", "orders", "positions", "equity")}
    for kind in counts:

        def count(payload: Any, kind: str = kind) -> None:
            counts[kind] += 1

        broker.subscribe(pb.topic(kind), count)
    symbols = ("AAA", "BBB", "CCC", "DDD")
    quarters = []
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    done = 0
    while done < fills:
        for i in range(BATCH):
            side = "buy" if (done // BATCH + i) % 2 else "sell"
            price = 100.0 + (i % 50) * 0.1
            broker.submit(pb.PreOrder(symbols[i % 4], "market", side, 1 + i % 5, seenPrice=price))
        done += broker.run(steps=BATCH)
        if done % (fills // 4) < BATCH:
            current, peak = tracemalloc.get_traced_memory()
            quarters.append((done, current, peak))
            tracemalloc.reset_peak()
    elapsed = time.perf_counter() - start
    tracemalloc.stop()
    equity = broker.equity()
    assert broker.execution_count == done == counts["executions"] == counts["positions"] == counts["equity"]
    assert counts["orders"] == 2 * done  # Working, then Filled
    assert math.isclose(equity.equity, equity.balance + sum(p.unrealizedPL for p in broker.positions()))
    assert len(broker.executions()) <= 2 * (broker.history_limit or 0)
    return {"fills": done, "seconds": elapsed, "quarters": quarters, "kept": len(broker.executions())}


async def subscription_cycles(cycles: int) -> dict[str, Any]:
    # a small history_limit, so that the orders placed below do not count as growth
    broker = pb.BrokerService(execution_delay=0.0, seed=2, clock=pb.SimClock(), history_limit=10)
    before = {t.get_name() for t in asyncio.all_tasks()}
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]

    async def slow(payload: Any) -> None:
        await asyncio.sleep(0)

    def quick(payload: Any) -> None:
        pass

    for i in range(cycles):
        subs = [
            broker.subscribe(pb.topic(kind), slow if i % 2 else (lambda payload: None))
            for kind in ("orders", "equity")
        ]
        subs.append(broker.subscribe(pb.topic("executions"), lambda e: None))
        order = broker.buy("AAA", 1, limit=100.0)
        await asyncio.sleep(0)  # the simulator and async subscribers get to run
        if broker.order(order.id).status is pb.OrderStatus.WORKING:
            broker.cancel(order.id)
        for sub in subs:
            sub.close()
    await asyncio.sleep(0)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    left = {t.get_name() for t in asyncio.all_tasks()} - before
    assert broker.subscriptions() == [], broker.subscriptions()
    assert not broker.simulator_running
    assert not left, left
    return {"cycles": cycles, "grown": grown, "tasks_left": len(left), "fills": broker.execution_count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=1_000)
    args = parser.parse_args()
    print(f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    result = fill_soak(args.fills)
    us = result["seconds"] / result["fills"] * 1e6
    print(f"{result['fills']:,} fills in {result['seconds']:.1f} s ({us:.1f} us per fill, tracemalloc on)")
    for done, current, peak in result["quarters"]:
        mib = f"traced {current / 2**20:6.1f} MiB, peak this quarter {peak / 2**20:6.1f} MiB"
        print(f"  after {done:>9,} fills: {mib}")
    print(f"  executions kept: {result['kept']:,}")
    cycles = asyncio.run(subscription_cycles(args.cycles))
    print(
        f"{cycles['cycles']:,} subscribe/unsubscribe cycles: {cycles['tasks_left']} tasks left, "
        f"0 subscriptions, traced memory grew {cycles['grown'] / 1024:.1f} KiB"
    )


if __name__ == "__main__":
    main()
