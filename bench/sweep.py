"""Sweeps: serial against loky and a Dask LocalCluster, and the overhead per cell.

Part 1 runs 64 cells (8 fast x 8 slow windows) of notebook 05's moving-average crossover
on 756 seeded daily bars, serially, on loky's reusable executor with two workers and on a
Dask ``LocalCluster`` of two worker processes (one thread each, on 127.0.0.1), and reports
the speed-ups.  Each executor is started and warmed up (its workers import paperbroker)
before it is timed; the start-up is reported apart.

Part 2 runs 1,000 cells of a 50-bar backtest, serially and on both executors, with the
automatic chunksize and with one cell per task, and reports the overhead per cell.

Dask runs three times: on a cluster as ``LocalCluster`` makes it, with the bars in every
task; with the workers' statistical profiler off (``distributed.worker.profile.enabled``,
which samples the stack of every running task every 10 ms and costs a CPU-bound backtest
a fifth or more of its time); and with the profiler off and the bars ``scatter``-ed to the
workers once, given to the backtest with ``functools.partial`` (docs/sweeps.md).

Wall-clock speed-ups need idle cores, which a shared machine rarely has, so each run also
reports CPU seconds (user + system) of this process and of every process under it, read
with psutil: the overhead per cell is the CPU a parallel sweep spends beyond the serial
one's, divided by the cells (pickling, task messages, the workers' unpickling, Dask's
profiler), also net of what the executor's processes use when idle (Dask's scheduler and
heartbeats); and the busiest process's CPU time bounds the wall time the sweep would take
on idle cores, so ``serial CPU / busiest`` is the speed-up two idle cores would allow.

The backtest is defined in this script, so loky and Dask pickle it by value, as they do a
function defined in a notebook; it takes the bars as an argument (a ``functools.partial``),
so that they travel with each task unless they are scattered.

    python bench/sweep.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import platform
import time
from typing import Any, NamedTuple

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


def crossover(fast: int, slow: int, seed: int, bars: pd.DataFrame, qty: int = 500) -> dict[str, Any]:
    """Notebook 05's rule: long ``qty`` when the fast average is above the slow one, else short."""
    broker = pb.BrokerService(  # no risk rules, as notebook 05 (and the peers' backtests)
        execution_delay=None,
        seed=seed,
        market=pb.BarReplay(bars, symbol="SYN"),
        commission=pb.PerUnit(0.005),
        risk=None,
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


def backtests(long_bars: Any, short_bars: Any) -> tuple[Any, Any]:
    """The crossover on 756 bars, and on 50 (a backtest of a few milliseconds), as partials.

    The bars are frames, or futures of frames a Dask client has scattered.
    """
    return functools.partial(crossover, bars=long_bars), functools.partial(crossover, bars=short_bars, qty=10)


class Run(NamedTuple):
    """One timed sweep: wall seconds, and CPU seconds of this process and its children."""

    wall: float
    cpu: float  # all processes together
    busiest: float  # the process that was busy longest (a worker, or this one)
    frame: pd.DataFrame


def cpu_seconds() -> dict[int, float]:
    """User + system CPU seconds of this process and of each process under it (the workers)."""
    import psutil  # installed with distributed

    here = psutil.Process()
    seconds = {}
    for process in [here, *here.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


def timed(backtest: Any, grid: Any, executor: Any, chunksize: int | None = None) -> Run:
    before = cpu_seconds()
    start = time.perf_counter()
    frame = pb.sweep(backtest, grid, executor=executor, chunksize=chunksize, progress=False)
    wall = time.perf_counter() - start
    used = [seconds - before.get(pid, 0.0) for pid, seconds in cpu_seconds().items()]
    return Run(wall, sum(used), max(used), frame)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.wall)


EXECUTORS = ("loky", "dask", "dask, profiler off", "dask, profiler off, bars scattered")


def start(name: str) -> tuple[Any, Any, tuple[Any, Any]]:
    """One of EXECUTORS with two workers, warmed up; what stops it; and the two backtests."""
    warm_up = {"fast": [3] * WORKERS * 2, "slow": [5]}
    if name == "loky":
        import loky

        executor = loky.get_reusable_executor(max_workers=WORKERS)
        jobs = backtests(BARS, SHORT)
        pb.sweep(jobs[1], warm_up, executor=executor, progress=False)
        return executor, lambda: executor.shutdown(wait=True), jobs
    import dask
    import distributed

    profile = name == "dask"  # LocalCluster's default: every worker profiles its tasks
    with dask.config.set({"distributed.worker.profile.enabled": profile}):  # read as workers start
        cluster = distributed.LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    client = distributed.Client(cluster)
    executor = client.get_executor()
    if name.endswith("scattered"):
        jobs = backtests(client.scatter(BARS, broadcast=True), client.scatter(SHORT, broadcast=True))
    else:
        jobs = backtests(BARS, SHORT)
    pb.sweep(jobs[1], warm_up, executor=executor, progress=False)

    def stop() -> None:
        client.close()
        cluster.close()

    return executor, stop, jobs


def idle_cpu(seconds: float = 3.0) -> float:
    """CPU seconds per second that this process and its workers use while no sweep runs."""
    before = cpu_seconds()
    time.sleep(seconds)
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in cpu_seconds().items()) / seconds


def report(name: str, run: Run, serial: Run, cells: int, idle: float) -> None:
    overhead = (run.cpu - serial.cpu) / cells
    net = (run.cpu - idle * run.wall - serial.cpu) / cells
    print(
        f"  {name:30} {run.wall:6.2f} s  speed-up {serial.wall / run.wall:4.2f}x  "
        f"CPU {run.cpu:6.2f} s (overhead {overhead * 1e3:+.2f} ms a cell, {net * 1e3:+.2f} net of idle)  "
        f"busiest process {run.busiest:5.2f} s (bound on two idle cores {serial.cpu / run.busiest:4.2f}x)"
    )


LONG = {"fast": FAST, "slow": SLOW}  # 64 cells of 756 bars
SHORT_GRID = {"fast": list(range(2, 27)) * 5, "slow": [5, 10, 15, 20, 25, 30, 35, 40]}  # 1,000 of 50
WORKLOADS = [("64 x 756 bars", LONG, [None]), ("1000 x 50 bars", SHORT_GRID, [None, 1])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--executors", nargs="+", choices=EXECUTORS, default=list(EXECUTORS), help="default: all"
    )
    args = parser.parse_args()
    print(
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    # Serial first, with no worker alive; then each executor alone, stopped before the next
    # starts, so that no idle cluster's threads are counted in another's figures.
    serial = {}
    for (label, grid, _), backtest in zip(WORKLOADS, backtests(BARS, SHORT), strict=True):
        serial[label] = best([timed(backtest, grid, None) for _ in range(args.repeat)])
        cells = len(serial[label].frame)
        print(
            f"{label}: serial {serial[label].wall:.2f} s, CPU {serial[label].cpu:.2f} s "
            f"({serial[label].cpu / cells * 1e3:.2f} ms a cell), best of {args.repeat}"
        )
    for name in args.executors:
        t0 = time.perf_counter()
        executor, stop, jobs = start(name)
        started = time.perf_counter() - t0
        idle = idle_cpu()
        print(f"{name}: started and warmed up in {started:.1f} s; idle, it uses {idle:.3f} CPU s a second")
        try:
            for (label, grid, chunksizes), backtest in zip(WORKLOADS, jobs, strict=True):
                for chunksize in chunksizes:
                    runs = [timed(backtest, grid, executor, chunksize) for _ in range(args.repeat)]
                    assert all(run.frame.equals(serial[label].frame) for run in runs), (
                        f"{name}: another frame"
                    )
                    size = "auto" if chunksize is None else str(chunksize)
                    report(f"{label}, chunksize {size}", best(runs), serial[label], len(runs[0].frame), idle)
        finally:
            stop()
    print(f"every frame was identical to the serial one; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
