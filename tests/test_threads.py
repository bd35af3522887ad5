"""Calls from other threads: every public method takes the broker's lock.

Issue: four threads doing ``buy``/``fill``/``cancel`` for two seconds gave raw
``KeyError('ORDER-n')`` and ``IndexError``, filled or cancelled orders left in the working
index (so ``fill_all()`` failed for good) and positions that no longer matched the
executions.  The harness below does that, with reads, brackets, subscriptions opened and
closed, and a market moving, then checks the books (:mod:`tests.books`).

CI runs a bounded profile (about a second a case); ``PAPERBROKER_THREADS_SECONDS=30``
runs a longer one.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb

from .books import check_books

SECONDS = float(os.environ.get("PAPERBROKER_THREADS_SECONDS", "0.8"))
THREADS = 4
SYMBOLS = ("X", "Y")


def _hammer(broker: pb.BrokerService, seed: int, stop: float, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    subs: list[pb.Subscription] = []
    try:
        while time.monotonic() < stop:
            roll = rng.random()
            symbol = rng.choice(SYMBOLS)
            try:
                if roll < 0.3:
                    side = broker.buy if rng.random() < 0.5 else broker.sell
                    side(symbol, rng.randint(1, 5), limit=round(rng.uniform(90, 110), 2))
                elif roll < 0.55:
                    working = broker.orders(status=pb.OrderStatus.WORKING)
                    if working:
                        broker.fill(rng.choice(working).id)
                elif roll < 0.7:
                    working = broker.orders(status=pb.OrderStatus.WORKING)
                    if working:
                        broker.cancel(rng.choice(working).id)
                elif roll < 0.75:
                    broker.flatten(symbol)
                elif roll < 0.8:
                    broker.buy(symbol, 1, limit=100.0, take_profit=120.0, stop_loss=80.0)
                elif roll < 0.85:
                    subs.append(broker.subscribe(pb.topic("orders"), lambda _o: None))
                elif roll < 0.9 and subs:
                    subs.pop(rng.randrange(len(subs))).close()
                else:
                    broker.positions()
                    broker.executions()
                    broker.equity()
            except (pb.InvalidState, pb.UnknownOrder, pb.UnknownPosition):
                pass  # another thread got there first: a fair answer, nothing changed
    except BaseException as exc:  # noqa: BLE001 - the test reports it
        errors.append(exc)
    finally:
        for sub in subs:
            sub.close()


def _run_threads(broker: pb.BrokerService, target: Callable[..., None]) -> list[BaseException]:
    errors: list[BaseException] = []
    stop = time.monotonic() + SECONDS
    threads = [threading.Thread(target=target, args=(broker, seed, stop, errors)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 60)
    assert not any(t.is_alive() for t in threads), "a thread never finished: a deadlock"
    return errors


@pytest.mark.parametrize("market", [False, True], ids=["classic", "manual-quotes"])
def test_four_threads_trading_leave_consistent_books(market: bool) -> None:
    options = {"market": pb.ManualQuotes({"X": 100.0, "Y": 100.0})} if market else {}
    broker = pb.BrokerService(execution_delay=None, history_limit=None, **options)
    errors = _run_threads(broker, _hammer)
    assert not errors, f"raised from a thread: {errors[0]!r}"
    check_books(broker)
    for _ in range(10):  # the working index holds exactly the working orders
        broker.fill_all()  # (a fill can arm a position's brackets: new working orders)
        if not broker.orders(status=pb.OrderStatus.WORKING):
            break
    assert broker.orders(status=pb.OrderStatus.WORKING) == []
    check_books(broker)
    assert broker.subscriptions() == []


def test_a_market_stepping_on_one_thread_while_others_trade() -> None:
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, 2_000)))
    frame = pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": 1e6},
        index=pd.date_range("2024-01-02 14:30", periods=len(close), freq="1min", tz="UTC"),
    )
    bars = pb.BarReplay({"X": frame, "Y": frame * 1.01})
    broker = pb.BrokerService(execution_delay=None, history_limit=None, market=bars)
    done = threading.Event()

    def stepper() -> None:
        while not done.is_set() and broker.step():
            pass

    runner = threading.Thread(target=stepper)
    runner.start()
    try:
        errors = _run_threads(broker, _hammer)
    finally:
        done.set()
        runner.join(timeout=60)
    assert not errors, f"raised from a thread: {errors[0]!r}"
    check_books(broker)


def test_several_calls_are_one_step_under_the_lock() -> None:
    broker = pb.BrokerService(execution_delay=None)
    seen: list[int] = []

    def reader() -> None:
        for _ in range(200):
            seen.append(len(broker.orders()))

    with broker.lock:
        t = threading.Thread(target=reader)
        t.start()
        a = broker.buy("X", 1, limit=10.0)
        broker.cancel(a.id)
        broker.buy("X", 1, limit=10.0)
        assert seen == []  # the reader waits for the lock
    t.join(timeout=30)
    assert seen and set(seen) == {2}


async def test_widgets_stay_true_while_other_threads_trade() -> None:
    from paperbroker.widgets import OrdersTable, PositionsTable

    broker = pb.BrokerService(execution_delay=None, risk=None)
    rows = 4_000  # the orders table keeps its newest ``rows`` orders
    orders = OrdersTable(broker, interval=0.05, max_rows=rows)
    positions = PositionsTable(broker, interval=0.05)
    stop = time.monotonic() + SECONDS

    def trade(seed: int) -> None:
        rng = random.Random(seed)
        # bounded in count too: all the threads' orders together fit in the table however
        # fast the machine is
        for _ in range(rows // THREADS):
            if time.monotonic() >= stop:
                break
            order = broker.buy(rng.choice(SYMBOLS), rng.randint(1, 3), limit=100.0)
            if rng.random() < 0.5:
                broker.fill(order.id)
            else:
                broker.cancel(order.id)

    await asyncio.gather(*(asyncio.to_thread(trade, seed) for seed in range(THREADS)))
    orders.flush()
    positions.flush()
    assert {r["id"]: r["status"] for r in orders.rows()} == {o.id: o.status for o in broker.orders()}
    assert {r["id"]: r["qty"] for r in positions.rows()} == {p.id: p.qty for p in broker.positions()}
    assert orders.error == "" and positions.error == ""
    orders.close()
    positions.close()
