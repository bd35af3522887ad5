"""DataFrame export of a long execution history, and memory for a million fills.

1. Memory: a million fills with the default history bound (100,000), subscribers
   attached; report the process's peak resident memory before and after, and how many
   records the broker kept.  Runs first, so the peak is not the export's.
2. Export: fill 300,000 orders (history kept in full), then time
   ``executions_frame`` and ``equity_frame`` (target: <= 50 ms for the executions).

    python bench/history_export.py [--export-rows 300000] [--fills 1000000]
"""

from __future__ import annotations

import argparse
import gc
import platform
import resource
import time

import paperbroker as pb


def fill_many(broker: pb.BrokerService, n: int) -> None:
    clock = broker.clock
    assert isinstance(clock, pb.SimClock)
    market, buy, sell = pb.OrderType.MARKET, pb.Side.BUY, pb.Side.SELL
    submit, fill, PreOrder = broker.submit, broker.fill, pb.PreOrder  # noqa: N806
    symbols = ("AAA", "BBB", "CCC", "DDD")
    for i in range(n):
        clock.advance(1000)
        price = 100.0 + (i % 200) * 0.05
        order = submit(PreOrder(symbols[i % 4], market, buy if i % 3 else sell, 1.0, seenPrice=price))
        fill(order.id)


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_export(rows: int, repeat: int) -> None:
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), history_limit=None)
    fill_many(broker, rows)
    pb.executions_frame(broker)  # import pandas and warm up outside the timing
    best_exec = best_equity = float("inf")
    frame = equity = None
    for _ in range(repeat):
        frame = equity = None  # freeing the previous frames is not part of the export
        gc.collect()
        start = time.perf_counter()
        frame = pb.executions_frame(broker)
        best_exec = min(best_exec, time.perf_counter() - start)
        start = time.perf_counter()
        equity = pb.equity_frame(broker)
        best_equity = min(best_equity, time.perf_counter() - start)
    assert len(frame) == rows
    assert len(equity) == rows + 1
    print(f"executions_frame  {rows} rows  {best_exec * 1e3:7.1f} ms  (best of {repeat})")
    print(f"equity_frame      {rows + 1} rows  {best_equity * 1e3:7.1f} ms  (best of {repeat})")


def bench_memory(fills: int) -> None:
    before = peak_rss_mib()
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock())
    counts = [0]

    def count(_payload: object) -> None:
        counts[0] += 1

    for kind in ("orders", "positions", "executions", "equity"):
        broker.subscribe(pb.topic(kind), count)
    start = time.perf_counter()
    fill_many(broker, fills)
    elapsed = time.perf_counter() - start
    after = peak_rss_mib()
    assert broker.execution_count == fills
    print(
        f"{fills} fills in {elapsed:.1f} s: peak RSS {before:.0f} MiB before, {after:.0f} MiB after; "
        f"kept {len(broker.executions())} executions and {len(broker.orders())} orders "
        f"(history_limit={broker.history_limit})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export-rows", type=int, default=300_000)
    parser.add_argument("--fills", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    bench_memory(args.fills)  # first, so the peak is not the export's
    bench_export(args.export_rows, args.repeat)


if __name__ == "__main__":
    main()
