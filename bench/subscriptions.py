"""Subscribing and closing many subscribers on one topic: each must cost O(1).

    python bench/subscriptions.py [--counts 20000 40000]

Subscribes N callbacks to one topic, fills one order (every live one is called once),
then closes them all in a random order; prints the time per subscribe and per close.
Flat figures from 20,000 to 40,000 show that neither grows with N.
"""

from __future__ import annotations

import argparse
import random
import time

import paperbroker as pb


def run(n: int) -> tuple[float, float]:
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(0))
    topic = pb.topic("executions")
    calls = [0]

    def count(_execution: object) -> None:
        calls[0] += 1

    start = time.perf_counter()
    subs = [broker.subscribe(topic, count) for _ in range(n)]
    subscribed = time.perf_counter() - start
    broker.fill(broker.buy("X", 1, price=10.0).id)
    assert calls[0] == n, "every subscriber is called once"
    random.Random(1).shuffle(subs)
    start = time.perf_counter()
    for sub in subs:
        sub.close()
    closed = time.perf_counter() - start
    assert broker.subscriptions() == []
    return subscribed / n, closed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[20_000, 40_000])
    args = parser.parse_args()
    print(f"{'subscribers':>12} {'per subscribe':>15} {'per close':>12}")
    for n in args.counts:
        sub, close = run(n)
        print(f"{n:>12,} {sub * 1e6:>12.2f} us {close * 1e6:>9.2f} us")


if __name__ == "__main__":
    main()
