"""E0-E2 (bench/e2e.py) at growing lengths: whether a bar costs the same at 10,000 bars as at
1,000,000, and whether what a run keeps is bounded by ``history_limit``.

Each job is a process of its own (paperbroker only): it builds the seeded bars and the
broker, then times ``broker.run()`` alone (``time.process_time``). Memory is the resident
set's growth during the run: the kernel's peak (``VmHWM``) is reset once the broker is
built, read again at the end, and the resident size before the run is taken off, so
the bars and the replay's copy of them (the input, as large as the run) are not counted.
What the run keeps is printed beside it: the executions and equity rows in the history,
the orders it can still show.

    python bench/e2e_scaling.py [--sizes 10000 100000 1000000] [--limits 100000 10000] [--rounds 2]

Linux only for the memory figures (``/proc/self/status``); elsewhere they print as 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import e2e  # noqa: E402  - the scenarios and their bars

STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB, or 0 where there is none."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _reset_peak() -> None:
    """Start the kernel's peak resident size again from the current one."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def job(scenario: str, n: int, limit: int) -> dict[str, Any]:
    """One run: build, then run and measure; what it keeps."""
    bars = e2e.make_bars(n)
    start = time.process_time()
    broker = e2e.paperbroker_backtest(scenario, bars, history_limit=limit)
    built = time.process_time() - start
    del bars
    _reset_peak()
    before = _status_kib("VmRSS")
    start = time.process_time()
    broker.run()
    cpu = time.process_time() - start
    peak = _status_kib("VmHWM")
    history = broker.history
    return {
        "scenario": scenario, "bars": n, "limit": limit, "build": built, "cpu": cpu,
        "growth_kib": max(peak - before, 0), "fills": broker.execution_count,
        "kept_executions": len(history.executions), "kept_equity": len(history.equity),
        "kept_orders": len(broker.orders()), "equity": broker.equity().equity,
    }  # fmt: skip


def spawn(scenario: str, n: int, limit: int) -> dict[str, Any]:
    """:func:`job` in a process of its own."""
    return e2e.run_job(__file__, scenario, n, limit)


def report(runs: dict[tuple[str, int, int], list[dict[str, Any]]], sizes: list[int]) -> None:
    """Per-bar CPU (median of the rounds) against the shortest run, memory, rows kept."""
    print(
        f"\n{'':3s} {'bars':>10s} {'limit':>8s} {'run, us/bar':>12s} {'vs first':>9s} "
        f"{'build, us/bar':>14s} {'growth, MiB':>12s} {'fills':>10s} {'kept: executions':>17s} "
        f"{'equity rows':>12s} {'orders':>8s}"
    )
    for (scenario, n, limit), results in runs.items():
        per_bar = statistics.median(r["cpu"] / n * 1e6 for r in results)
        first = statistics.median(r["cpu"] / sizes[0] * 1e6 for r in runs[scenario, sizes[0], limit])
        build = statistics.median(r["build"] / n * 1e6 for r in results)
        growth = max(r["growth_kib"] for r in results) / 1024
        r = results[0]
        print(
            f"{scenario:3s} {n:>10,} {limit:>8,} {per_bar:>12.2f} {per_bar / first:>8.2f}x {build:>14.2f} "
            f"{growth:>12.1f} {r['fills']:>10,} {r['kept_executions']:>17,} {r['kept_equity']:>12,} "
            f"{r['kept_orders']:>8,}"
        )


def main() -> None:
    """Parse the arguments; run one job, or every job in interleaved rounds."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--limits", type=int, nargs="+", default=[100_000, 10_000], help="history_limit")
    parser.add_argument("--scenarios", nargs="+", choices=e2e.SCENARIOS, default=list(e2e.SCENARIOS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--job", nargs=3, metavar=("SCENARIO", "BARS", "LIMIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        scenario, n, limit = args.job
        print(json.dumps(job(scenario, int(n), int(limit))))
        return
    keys = [(s, n, limit) for limit in args.limits for s in args.scenarios for n in args.sizes]
    runs: dict[tuple[str, int, int], list[dict[str, Any]]] = {key: [] for key in keys}
    for r in range(args.rounds):
        for key in keys:
            runs[key].append(spawn(*key))
        print(f"round {r + 1} of {args.rounds} done", flush=True)
    report(runs, args.sizes)


if __name__ == "__main__":
    main()
