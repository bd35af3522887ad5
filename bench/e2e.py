"""E0-E2: a backtest in market mode, side by side with backtesting.py and backtrader.

Seeded one-minute bars (a random walk; each bar opens at the previous close, so
paperbroker's "market order fills at the next bar's open" and the peers' "fill at this
bar's close" give the same price) go through three strategies:

* **E0**: receives every bar and does nothing;
* **E1**: a 10/30 moving-average crossover, long 100 when the fast average is above the
  slow one, short 100 otherwise, from bar 30 on (backtesting.py's first ``next()`` once
  a 30-bar indicator is warm);
* **E2**: an order on every bar from bar 1 on, one share, buy and sell in turn.

No strategy trades on the last bar (backtrader's cheat-on-close would fill that order,
the others would not).  Each runs in paperbroker (``BarReplay`` bars, a ``quotes``
subscriber, ``broker.run()``), backtesting.py (``trade_on_close=True``), backtrader
(cheat-on-close) and a plain Python loop with the same semantics (a record per bar to a
callback, fill at the next open, average-cost position, cash and equity), each run in a
process of its own, interleaved, several rounds.  The figures are CPU time
(``time.process_time``) from building the backtest to its end, per bar; the ratios are
taken within each round and their median is shown; and the script checks that every
framework makes the same fills and ends with the same equity, to the cent.

    python bench/e2e.py [--bars 100000] [--slow-bars 10000] [--rounds 3]
    python bench/e2e.py --callgrind [--peers] [--sizes 2000 6000]

The peers come with the ``bench`` extra (``pip install -e ".[bench]"``).  backtrader,
and backtesting.py on E2, run ``--slow-bars`` bars (they take 0.2-0.6 ms a bar);
paperbroker and the loop run both sizes, and each ratio compares runs of one size.

``--callgrind`` counts instructions instead: each job runs under ``valgrind
--tool=callgrind`` at two sizes, and the difference divided by the difference in bars
is the cost per bar (fixed costs, imports and set-up, cancel out); an order costs E2's
figure minus E0's.  Set ``PYTHONHASHSEED=0 OPENBLAS_NUM_THREADS=1`` (the script does, in
its children) or the counts move by a few thousand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

SCENARIOS = ("E0", "E1", "E2")
FRAMEWORKS = ("paperbroker", "backtesting", "backtrader", "loop")
CASH = 100_000.0
FAST, SLOW, SIZE = 10, 30, 100


def make_bars(n: int, seed: int = 13) -> pd.DataFrame:
    """``n`` one-minute OHLCV bars, each opening at the previous close."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, 0.0004, (2, n)))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + wick[0]),
            "low": np.minimum(open_, close) * (1 - wick[1]),
            "close": close,
            "volume": 1e9,
        },
        index=pd.date_range("2024-01-02 14:30", periods=n, freq="1min", name="time"),
    )


# ---------------------------------------------------------------------- the strategies
# Each runner returns (fills, final equity); the job around it measures the CPU time.


def paperbroker_backtest(scenario: str, bars: pd.DataFrame, history_limit: int | None = 100_000) -> Any:
    """A broker on a replay of ``bars`` with the scenario's ``quotes`` subscriber, not yet run."""
    import paperbroker as pb

    n = len(bars)
    market = pb.BarReplay(bars, symbol="X", volume_share=None)
    broker = pb.BrokerService(execution_delay=None, market=market, history_limit=history_limit)
    buy, sell = broker.buy, broker.sell
    state = {"i": -1, "fast": 0.0, "slow": 0.0, "held": 0}
    closes: list[float] = []

    def e0(_quote: pb.Quote) -> None:
        pass

    def e1(quote: pb.Quote) -> None:
        # running sums of the last 10 and 30 closes: O(1) a bar
        close = quote.last
        closes.append(close)
        i = state["i"] = state["i"] + 1
        state["fast"] += close - (closes[i - FAST] if i >= FAST else 0.0)
        state["slow"] += close - (closes[i - SLOW] if i >= SLOW else 0.0)
        if SLOW <= i <= n - 2:
            want = SIZE if state["fast"] / FAST > state["slow"] / SLOW else -SIZE
            held = state["held"]
            if want != held:
                (buy if want > held else sell)("X", abs(want - held))
                state["held"] = want

    def e2(_quote: pb.Quote) -> None:
        i = state["i"] = state["i"] + 1
        if 1 <= i <= n - 2:
            (buy if i % 2 else sell)("X", 1)

    strategy = {"E0": e0, "E1": e1, "E2": e2}[scenario]
    broker.subscribe(pb.topic("quotes", symbol="X"), strategy)
    return broker


def run_paperbroker(scenario: str, bars: pd.DataFrame) -> tuple[int, float]:
    """A ``quotes`` subscriber on a replay, run to the end."""
    broker = paperbroker_backtest(scenario, bars)
    broker.run()
    return broker.execution_count, broker.equity().equity


def run_backtesting(scenario: str, bars: pd.DataFrame) -> tuple[int, float]:
    """backtesting.py, filling at the close of the bar an order is placed on."""
    import warnings

    from backtesting import Backtest, Strategy

    n = len(bars)
    data = bars.rename(columns=str.capitalize)

    def sma(values: Any, period: int) -> Any:
        return pd.Series(values).rolling(period).mean().to_numpy()

    class Counted(Strategy):  # type: ignore[misc]
        fills = 0
        last = 0

        def count(self) -> None:
            size = self.position.size
            if size != self.last:  # one order a bar at most: a change is one fill
                self.fills += 1
                self.last = size

    class E0(Counted):
        def init(self) -> None:
            pass

        def next(self) -> None:
            pass

    class E1(Counted):
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            self.count()
            i = len(self.data) - 1
            if i > n - 2:
                return
            want = SIZE if self.fast[-1] > self.slow[-1] else -SIZE
            if want != self.last:
                if want > self.last:
                    self.buy(size=want - self.last)
                else:
                    self.sell(size=self.last - want)

    class E2(Counted):
        def init(self) -> None:
            pass

        def next(self) -> None:
            self.count()
            i = len(self.data) - 1
            if i <= n - 2:
                if i % 2:
                    self.buy(size=1)
                else:
                    self.sell(size=1)

    cls = {"E0": E0, "E1": E1, "E2": E2}[scenario]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some trades remain open": they are marked
        stats = Backtest(data, cls, cash=CASH, trade_on_close=True).run()
    return stats._strategy.fills, float(stats["Equity Final [$]"])


def run_backtrader(scenario: str, bars: pd.DataFrame) -> tuple[int, float]:
    """backtrader with cheat-on-close: an order fills at its bar's close."""
    import backtrader as bt

    n = len(bars)

    class Counted(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.fills = 0
            self.held = 0

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                self.fills += 1

    class E0(Counted):
        def next(self) -> None:
            pass

    class E1(Counted):
        def __init__(self) -> None:
            super().__init__()
            self.fast = bt.indicators.SimpleMovingAverage(self.data.close, period=FAST)
            self.slow = bt.indicators.SimpleMovingAverage(self.data.close, period=SLOW)

        def next(self) -> None:
            i = len(self) - 1
            if not SLOW <= i <= n - 2:
                return
            want = SIZE if self.fast[0] > self.slow[0] else -SIZE
            if want != self.held:
                if want > self.held:
                    self.buy(size=want - self.held)
                else:
                    self.sell(size=self.held - want)
                self.held = want

    class E2(Counted):
        def next(self) -> None:
            i = len(self) - 1
            if 1 <= i <= n - 2:
                if i % 2:
                    self.buy(size=1)
                else:
                    self.sell(size=1)

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=bars))
    cerebro.addstrategy({"E0": E0, "E1": E1, "E2": E2}[scenario])
    cerebro.broker.setcash(CASH)
    cerebro.broker.set_coc(True)
    strategy = cerebro.run()[0]
    return strategy.fills, float(cerebro.broker.getvalue())


def run_loop(scenario: str, bars: pd.DataFrame) -> tuple[int, float]:
    """The least a backtest loop does: a record per bar to a callback, the order filled at
    the next bar's open, an average-cost position, cash and equity."""
    n = len(bars)
    cols = [bars[c].tolist() for c in ("open", "high", "low", "close", "volume")]
    book = {"qty": 0.0, "avg": 0.0, "cash": CASH, "fills": 0, "equity": CASH}
    pending: list[float] = []  # signed quantities to fill at the next open
    state = {"i": -1, "fast": 0.0, "slow": 0.0, "held": 0}
    closes: list[float] = []

    def fill(qty: float, price: float) -> None:
        old = book["qty"]
        new = old + qty
        if old == 0.0 or (old > 0) == (qty > 0):
            book["avg"] = (book["avg"] * abs(old) + price * abs(qty)) / abs(new)
        elif new and (new > 0) != (old > 0):
            book["avg"] = price
        book["qty"] = new
        book["cash"] -= qty * price
        book["fills"] += 1

    def e0(_bar: tuple[float, ...]) -> None:
        pass

    def e1(bar: tuple[float, ...]) -> None:
        close = bar[3]
        closes.append(close)
        i = state["i"] = state["i"] + 1
        state["fast"] += close - (closes[i - FAST] if i >= FAST else 0.0)
        state["slow"] += close - (closes[i - SLOW] if i >= SLOW else 0.0)
        if SLOW <= i <= n - 2:
            want = SIZE if state["fast"] / FAST > state["slow"] / SLOW else -SIZE
            if want != state["held"]:
                pending.append(float(want - state["held"]))
                state["held"] = want

    def e2(_bar: tuple[float, ...]) -> None:
        i = state["i"] = state["i"] + 1
        if 1 <= i <= n - 2:
            pending.append(1.0 if i % 2 else -1.0)

    callback: Callable[[tuple[float, ...]], None] = {"E0": e0, "E1": e1, "E2": e2}[scenario]
    for bar in zip(*cols, strict=True):
        while pending:
            fill(pending.pop(), bar[0])
        book["equity"] = book["cash"] + book["qty"] * bar[3]
        callback(bar)
    return int(book["fills"]), float(book["equity"])


RUNNERS = {
    "paperbroker": run_paperbroker,
    "backtesting": run_backtesting,
    "backtrader": run_backtrader,
    "loop": run_loop,
}


# ---------------------------------------------------------------------- jobs


def job(framework: str, scenario: str, n: int) -> dict[str, Any]:
    """One backtest in this process: its CPU seconds, fills and final equity."""
    bars = make_bars(n)
    runner = RUNNERS[framework]
    module = {"paperbroker": "paperbroker", "backtesting": "backtesting", "backtrader": "backtrader"}
    if framework in module:  # imported before the clock starts
        __import__(module[framework])
    start = time.process_time()
    fills, equity = runner(scenario, bars)
    cpu = time.process_time() - start
    return {"framework": framework, "scenario": scenario, "bars": n, "cpu": cpu, "fills": fills} | {
        "equity": equity
    }


def child_env() -> dict[str, str]:
    """The environment of a child: repeatable hashing, one BLAS thread."""
    return {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}


def run_job(script: str, *args: object) -> dict[str, Any]:
    """``script --job ARGS...`` in a process of its own; the JSON line it prints last."""
    out = subprocess.run(
        [sys.executable, script, "--job", *map(str, args)],
        capture_output=True, text=True, env=child_env(), check=False,
    )  # fmt: skip
    if out.returncode != 0:
        msg = f"{' '.join(map(str, args))} failed:\n{out.stderr}"
        raise RuntimeError(msg)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def spawn(framework: str, scenario: str, n: int) -> dict[str, Any]:
    """Run :func:`job` in a process of its own."""
    return run_job(__file__, framework, scenario, n)


def available(framework: str) -> bool:
    """Whether the peer is installed."""
    module = {"backtesting": "backtesting", "backtrader": "backtrader"}.get(framework)
    if module is None:
        return True
    import importlib.util

    return importlib.util.find_spec(module) is not None


def plan(args: argparse.Namespace, frameworks: list[str]) -> list[tuple[str, str, int]]:
    """The jobs of one round: (framework, scenario, bars)."""
    jobs = []
    for scenario in SCENARIOS:
        for framework in frameworks:
            slow = framework == "backtrader" or (framework == "backtesting" and scenario == "E2")
            sizes = [args.slow_bars] if slow else [args.bars]
            if framework in ("paperbroker", "loop") and args.slow_bars != args.bars:
                sizes = [args.bars, args.slow_bars]
            jobs.extend((framework, scenario, size) for size in sizes)
    return jobs


def timings(args: argparse.Namespace) -> None:
    """Interleaved rounds of every job; per-bar CPU, ratios, and the agreement check."""
    frameworks = [f for f in FRAMEWORKS if available(f)]
    missing = [f for f in FRAMEWORKS if f not in frameworks]
    if missing:
        print(f"not installed: {', '.join(missing)} (pip install -e '.[bench]')")
    jobs = plan(args, frameworks)
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {key: [] for key in jobs}
    for r in range(args.rounds):
        load = os.getloadavg()[0]
        for key in jobs:
            runs[key].append(spawn(*key))
        print(f"round {r + 1} of {args.rounds} done (load average {load:.1f} at its start)", flush=True)
    print(f"\nCPU time per bar, best of {args.rounds} rounds (median in brackets), us")
    for scenario in SCENARIOS:
        for (framework, scen, n), results in runs.items():
            if scen != scenario:
                continue
            per_bar = [x["cpu"] / n * 1e6 for x in results]
            first = results[0]
            print(
                f"  {scenario} {framework:12s} {n:>8,} bars  {min(per_bar):8.2f}  "
                f"({statistics.median(per_bar):8.2f})  fills {first['fills']:>7,}  "
                f"equity {first['equity']:,.2f}"
            )
    print("\nratios: peer CPU / paperbroker CPU at the same size, median of the rounds")
    for (framework, scenario, n), results in runs.items():
        ours = runs.get(("paperbroker", scenario, n))
        if framework == "paperbroker" or ours is None:
            continue
        ratios = [p["cpu"] / o["cpu"] for p, o in zip(results, ours, strict=True)]
        print(f"  {scenario} {framework:12s} {n:>8,} bars  {statistics.median(ratios):7.2f}x")
    print("\nagreement (fills, final equity to the cent) with paperbroker at the same size")
    ok = True
    for (framework, scenario, n), results in runs.items():
        ours = runs.get(("paperbroker", scenario, n))
        if framework == "paperbroker" or ours is None:
            continue
        mine, theirs = ours[0], results[0]
        same = mine["fills"] == theirs["fills"] and round(mine["equity"], 2) == round(theirs["equity"], 2)
        ok &= same
        print(
            f"  {scenario} {framework:12s} {n:>8,} bars  {'agree' if same else 'DIFFER'}: "
            f"{theirs['fills']} fills, {theirs['equity']:.2f} vs {mine['fills']}, {mine['equity']:.2f}"
        )
    if not ok:
        sys.exit("the frameworks do not agree")


def instructions(framework: str, scenario: str, n: int) -> int:
    """Instructions callgrind counts for one job (the whole process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                sys.executable, __file__, "--job", framework, scenario, str(n),
            ],
            capture_output=True, text=True, env=child_env(), check=False,
        )  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        msg = f"callgrind on {framework} {scenario} {n} failed:\n{out.stderr[-2000:]}"
        raise RuntimeError(msg)
    return int(found.group(1))


def callgrind(args: argparse.Namespace) -> None:
    """Instructions per bar (and per order) by the two-size difference."""
    small, large = args.sizes
    frameworks = args.frameworks or ["paperbroker", "loop"]
    if args.peers:
        frameworks += [f for f in ("backtesting", "backtrader") if available(f)]
    for framework in frameworks:
        per_bar = {}
        for scenario in args.scenarios:
            counts = [instructions(framework, scenario, size) for size in (small, large)]
            per_bar[scenario] = (counts[1] - counts[0]) / (large - small)
            figure = per_bar[scenario]
            print(f"  {framework:12s} {scenario}  {figure:>12,.0f} instructions per bar", flush=True)
        if "E0" in per_bar and "E2" in per_bar:
            order = per_bar["E2"] - per_bar["E0"]
            print(f"  {framework:12s} an order {order:>9,.0f} instructions (E2 - E0)")


def main() -> None:
    """Parse the arguments; run a job, the timings or the instruction counts."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bars", type=int, default=100_000)
    parser.add_argument(
        "--slow-bars", type=int, default=10_000, help="backtrader's bars, backtesting.py's on E2"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true", help="count instructions instead of timing")
    parser.add_argument("--peers", action="store_true", help="with --callgrind: the peers too (slow)")
    parser.add_argument("--frameworks", nargs="+", choices=FRAMEWORKS, help="with --callgrind")
    parser.add_argument(
        "--scenarios", nargs="+", choices=SCENARIOS, default=SCENARIOS, help="with --callgrind"
    )
    parser.add_argument("--sizes", type=int, nargs=2, default=(2_000, 6_000), help="with --callgrind")
    parser.add_argument("--job", nargs=3, metavar=("FRAMEWORK", "SCENARIO", "BARS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        framework, scenario, n = args.job
        print(json.dumps(job(framework, scenario, int(n))))
        return
    print(f"E0-E2 on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    if args.callgrind:
        callgrind(args)
    else:
        timings(args)


if __name__ == "__main__":
    main()
