"""Results on a long backtest: stats, report and the frames they read, and the price log's cost.

One-minute bars of a random walk (default 100,000) are replayed in fast mode with a
moving-average crossover (10/30, 100 shares, reversing on each cross).  Then each results
function is timed, best of ``--repeat`` (targets: ``stats`` < 50 ms, ``report``'s figure
built < 300 ms), and the figure's JSON size is printed.  Last, the cost the price history
adds to every tick: ``PriceLog.record`` alone, per tick, on the same bars.

    python bench/results.py [--bars 100000] [--repeat 5]

For instruction counts (which, unlike times, do not move with the machine's load), replay
only, with or without the price log, under callgrind, and divide the difference of two
lengths by the difference of bars:

    PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind \
        python bench/results.py --replay-only 2000 [--no-price-log]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import paperbroker as pb
from paperbroker.market.prices import PriceLog
from paperbroker.market.source import Tick


def make_bars(n: int, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0, 0.0004, (2, n)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": 1e6,
        },
        index=pd.date_range("2024-01-02 14:30", periods=n, freq="1min", name="time"),
    )


def backtest(bars: pd.DataFrame) -> pb.BrokerService:
    broker = pb.BrokerService(
        execution_delay=None, market=pb.BarReplay(bars, symbol="X"), commission=pb.PerUnit(0.005)
    )
    closes: list[float] = []
    held = [0]

    def on_bar(quote: pb.Quote) -> None:
        closes.append(quote.last)
        if len(closes) < 30:
            return
        want = 100 if sum(closes[-10:]) / 10 > sum(closes[-30:]) / 30 else -100
        if want != held[0]:
            (broker.buy if want > held[0] else broker.sell)("X", abs(want - held[0]))
            held[0] = want

    broker.subscribe(pb.topic("quotes", symbol="X"), on_bar)
    broker.run()
    return broker


def best(repeat: int, call: Callable[[], Any]) -> tuple[float, float, Any]:
    """The best wall-clock and the best CPU seconds of ``repeat`` calls, and the last result.

    On a shared machine the CPU time (``time.process_time``) moves less than the wall clock.
    """
    call()  # imports and caches outside the timing
    wall = cpu = float("inf")
    out = None
    for _ in range(repeat):
        out = None
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        out = call()
        wall = min(wall, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    return wall, cpu, out


def record_cost(bars: pd.DataFrame) -> float:
    """Seconds per tick that PriceLog.record takes, on bar ticks of these bars."""
    log = PriceLog(len(bars), ["X"], bars=True)
    cols = [bars[c].tolist() for c in ("open", "high", "low", "close", "volume")]
    ticks = [
        Tick(i, [0], [c], [c], [1e5], [1e5], [c], ([o], [h], [lo], [v]))
        for i, (o, h, lo, c, v) in enumerate(zip(*cols, strict=True))
    ]
    start = time.process_time()
    for tick in ticks:
        log.record(tick)
    return (time.process_time() - start) / len(ticks)


def replay_cost(bars: pd.DataFrame, record: bool) -> float:
    """CPU seconds per bar of ``broker.run()`` with no subscriber (E0), with or without the
    price log (replaced by one that records nothing: a bench-only reach into the venue)."""
    broker = pb.BrokerService(execution_delay=None, market=pb.BarReplay(bars, symbol="X"))
    if not record:
        broker._venue.prices = _NoPrices()  # type: ignore[union-attr]
    start = time.process_time()
    broker.run()
    return (time.process_time() - start) / len(bars)


class _NoPrices:
    def record(self, tick: Tick) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--replay-only", type=int, metavar="BARS", help="only replay BARS bars (E0)")
    parser.add_argument("--no-price-log", action="store_true", help="with --replay-only: no price log")
    args = parser.parse_args()
    if args.replay_only:
        replay_cost(make_bars(args.replay_only), record=not args.no_price_log)
        return
    bars = make_bars(args.bars)
    start = time.perf_counter()
    broker = backtest(bars)
    run = time.perf_counter() - start
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    fills = len(pb.executions_frame(broker))
    print(f"backtest          {args.bars} bars, {fills} fills  {run:7.2f} s")
    for name, call in [
        ("prices_frame", lambda: pb.prices_frame(broker)),
        ("trades_frame", lambda: pb.trades_frame(broker)),
        ("equity_curve", lambda: pb.equity_curve(broker)),
        ("stats", lambda: pb.stats(broker)),
        ("report", lambda: pb.report(broker)),
    ]:
        wall, cpu, out = best(args.repeat, call)
        print(f"{name:<17} {wall * 1e3:7.1f} ms wall, {cpu * 1e3:7.1f} ms CPU  (best of {args.repeat})")
    size = len(out.to_json())
    print(
        f"report JSON       {size / 1e6:7.2f} MB, {sum(len(t.x) for t in out.data if t.x is not None)} points"
    )
    print(f"PriceLog.record   {min(record_cost(bars) for _ in range(3)) * 1e6:7.2f} µs CPU per tick")
    with_log = min(replay_cost(bars, True) for _ in range(3))
    without = min(replay_cost(bars, False) for _ in range(3))
    print(
        f"E0 replay         {with_log * 1e6:7.2f} µs CPU per bar with the price log, "
        f"{without * 1e6:.2f} without"
    )


if __name__ == "__main__":
    main()
