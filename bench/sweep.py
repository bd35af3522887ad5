"""Sweeps: serial against loky and a Dask LocalCluster, and the overhead per cell.

Part 1 runs 64 cells (8 fast x 8 slow windows) of notebook 05's moving-average crossover
on 756 seeded daily bars, serially, on loky's reusable executor with two workers and on a
Dask ``LocalCluster`` of two worker processes (one thread each, on 127.0.0.1), and reports
the speed-ups.  Each executor is started and warmed up (its workers import paperbroker)
before it is timed; the start-up is reported apart.

Part 2 runs 1,000 cells of a 50-bar backtest, serially and on both executors, with the
automatic chunksize and with one cell per task, and reports the overhead per cell: the
worker time spent beyond the serial run's, ``(workers * wall - serial wall) / cells``.

The backtests are defined in this script, so loky and Dask pickle them by value (with the
bars they use), as they do a function defined in a notebook.

    python bench/sweep.py [--repeat 3] [--part 1|2|all]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from typing import Any

import numpy as np
import pandas as pd

import paperbroker as pb

WORKERS = 2
FAST = [3, 5, 8, 10, 13, 15, 20, 25]
SLOW = [30, 40, 50, 60, 80, 100, 150, 200]


def make_bars(n: int = 756, seed: int = 2024) -> pd.DataFrame:
    """Notebook 05's bars: a random walk whose drift changes every 63 business days."""
    rng = np.random.default_rng(seed)
    drift = np.repeat(rng.choice([-0.0015, 0.0, 0.002], size=n // 63 + 1), 63)[:n]
    close = 100 * np.exp(np.cumsum(drift + rng.normal(0, 0.012, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    wick = np.abs(rng.normal(0, 0.006, (2, n)))
    bars = pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": rng.integers(50_000, 200_000, n),
        },
        index=pd.bdate_range("2021-01-04", periods=n, name="time"),
    )
    return bars.round(2)


BARS = make_bars()
SHORT = make_bars(50, seed=7)


def crossover(fast: int, slow: int, seed: int, bars: pd.DataFrame = BARS, qty: int = 500) -> dict[str, Any]:
    """Notebook 05's rule: long ``qty`` when the fast average is above the slow one, else short."""
    broker = pb.BrokerService(
        execution_delay=None, seed=seed, market=pb.BarReplay(bars, symbol="SYN"), commission=pb.PerUnit(0.005)
    )
    closes: list[float] = []
    target = [0]

    def on_bar(quote: pb.Quote) -> None:
        closes.append(quote.last)
        if len(closes) < slow:
            return
        want = qty if sum(closes[-fast:]) / fast > sum(closes[-slow:]) / slow else -qty
        if want > target[0]:
            broker.buy("SYN", want - target[0])
        elif want < target[0]:
            broker.sell("SYN", target[0] - want)
        target[0] = want

    broker.subscribe(pb.topic("quotes", symbol="SYN"), on_bar)
    broker.run()
    account = broker.equity()
    broker.shutdown()
    return {"final_equity": account.equity, "commission": account.commission}


def short_backtest(fast: int, slow: int, seed: int) -> dict[str, Any]:
    """The crossover on 50 bars: a backtest of a few milliseconds."""
    return crossover(fast, slow, seed, bars=SHORT, qty=10)


def timed(
    backtest: Any, grid: Any, executor: Any, chunksize: int | None = None
) -> tuple[float, pd.DataFrame]:
    start = time.perf_counter()
    frame = pb.sweep(backtest, grid, executor=executor, chunksize=chunksize, progress=False)
    return time.perf_counter() - start, frame


def start_executors() -> tuple[dict[str, Any], dict[str, float], Any]:
    """loky's and Dask's executors, each warmed up; the seconds each took to start."""
    import distributed
    import loky

    started: dict[str, float] = {}
    t0 = time.perf_counter()
    loky_executor = loky.get_reusable_executor(max_workers=WORKERS)
    pb.sweep(short_backtest, {"fast": [3] * WORKERS * 2, "slow": [5]}, executor=loky_executor, progress=False)
    started["loky"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    dask_executor = client.get_executor()
    pb.sweep(short_backtest, {"fast": [3] * WORKERS * 2, "slow": [5]}, executor=dask_executor, progress=False)
    started["dask"] = time.perf_counter() - t0
    return {"loky": loky_executor, "dask": dask_executor}, started, (client, cluster)


def part1(executors: dict[str, Any], repeat: int) -> None:
    grid = {"fast": FAST, "slow": SLOW}
    serial = min(timed(crossover, grid, None)[0] for _ in range(repeat))
    reference = pb.sweep(crossover, grid, progress=False)
    print(
        f"64 cells x {len(BARS)} bars, best of {repeat}: "
        f"serial {serial:.2f} s ({serial / 64 * 1e3:.1f} ms a cell)"
    )
    for name, executor in executors.items():
        runs = [timed(crossover, grid, executor) for _ in range(repeat)]
        best = min(seconds for seconds, _ in runs)
        same = all(frame.equals(reference) for _, frame in runs)
        print(f"  {name:5} {best:.2f} s  speed-up {serial / best:.2f}x  frame identical to serial: {same}")


def part2(executors: dict[str, Any], repeat: int) -> None:
    grid = {"fast": list(range(2, 27)), "slow": [5, 10, 15, 20, 25, 30, 35, 40]}
    grid["fast"] = grid["fast"] * 5  # 125 x 8 = 1,000 cells
    cells = len(grid["fast"]) * len(grid["slow"])
    serial = min(timed(short_backtest, grid, None)[0] for _ in range(repeat))
    print(
        f"{cells} cells x {len(SHORT)} bars, best of {repeat}: "
        f"serial {serial:.2f} s ({serial / cells * 1e3:.2f} ms a cell)"
    )
    for name, executor in executors.items():
        for chunksize in (None, 1):
            best = min(timed(short_backtest, grid, executor, chunksize)[0] for _ in range(repeat))
            overhead = (WORKERS * best - serial) / cells
            label = "auto" if chunksize is None else str(chunksize)
            print(
                f"  {name:5} chunksize {label:4} {best:.2f} s  speed-up {serial / best:.2f}x  "
                f"overhead {overhead * 1e3:+.2f} ms a cell"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["1", "2", "all"], default="all")
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    executors, started, (client, cluster) = start_executors()
    print("executors started and warmed up in " + ", ".join(f"{k} {v:.1f} s" for k, v in started.items()))
    try:
        if args.part in ("1", "all"):
            part1(executors, args.repeat)
        if args.part in ("2", "all"):
            part2(executors, args.repeat)
    finally:
        executors["loky"].shutdown(wait=True)
        client.close()
        cluster.close()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
