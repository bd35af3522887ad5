"""Where a bar and an order of E0/E2 (bench/e2e.py) and a W1 order go: Python bytecodes and
calls per bar (or order), grouped by feature.

Each workload runs twice under a tracer (``sys.settrace`` with opcode events, and
``sys.setprofile`` for calls into C), at two sizes; the difference divided by the
difference in bars is the cost of one bar, fixed costs cancelling out.  A bytecode is
counted against the function that runs it (its *own* count), and each function belongs to
a feature by its module (the table ``FEATURES`` below).  Counts are exact and do not depend
on the machine or its load; they are not instructions (a bytecode costs from a few to
hundreds), so bench/README.md puts them beside callgrind's instruction totals.

    python bench/breakdown.py [--sizes 1000 3000] [--top 25] [--workloads E0 E1 E2 HELD W1]
                              [--instructions E0=54338 order=163626 held=15000 ...]

HELD is E0 with a position held on every bar (:func:`run_held`); with E0 it also prints
what a held position adds to a bar (HELD - E0), as E2 with E0 prints an order.

With ``--instructions`` (callgrind's figures per bar, from ``e2e.py --callgrind``) each
feature also gets an estimate of its instructions: the total shared out in proportion to
28 a bytecode, 200 a Python call and 100 a C call (see ``WEIGHTS``).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import e2e
import w1_orders

#: module (path inside the package, or a marker) -> feature; the first match wins
FEATURES = (
    ("market/replay", "replay (bars out of the source)"),
    ("market/source", "replay (bars out of the source)"),
    ("market/prices", "price history (a PriceLog row a bar)"),
    ("market/venue", "venue and matching"),
    ("market/matching", "venue and matching"),
    ("market/resting", "venue and matching"),
    ("guard.py", "guard lock and SIGINT deferral"),
    ("events.py", "hub (deliveries, subscriber isolation)"),
    ("records.py", "read-only records"),
    ("<dataclass>", "record constructors (dataclass __init__)"),
    ("models.py", "record constructors (dataclass __init__)"),
    ("core/checks", "order checks"),
    ("core/equity", "equity rows"),
    ("core/history", "history rows (executions, equity)"),
    ("core/ledger", "ledger (positions, marks, cash)"),
    ("core/orders", "order book"),
    ("core/risk", "risk rules"),
    ("core/settings", "risk rules"),
    ("core/engine", "engine (admission, cascade)"),
    ("simulator.py", "steps (run, step)"),
    ("broker.py", "facade (buy, sell)"),
    ("clock.py", "clock"),
    ("bench/", "the strategy itself"),
)


def feature(filename: str, qualname: str = "") -> str:
    """The feature of a code object, by its file (and, for generated code, its name)."""
    name = filename.replace(os.sep, "/")
    if name.startswith("<paperbroker.guard") or qualname.endswith("_call.<locals>.call"):
        return "guard lock and SIGINT deferral"
    if name.startswith("<"):  # exec'd code: a dataclass __init__, or a record's copy methods
        if qualname in ("snapshot", "copy", "__eq__"):
            return "record copies (snapshot, copy, ==)"
        return "record constructors (dataclass __init__)"
    for marker, label in FEATURES:
        if marker in name:
            return label
    return "other: " + "/".join(name.split("/")[-2:])


class Counter:
    """Own bytecodes and calls per function, and C calls per caller's feature."""

    def __init__(self) -> None:
        self.ops: collections.Counter[tuple[str, str]] = collections.Counter()
        self.calls: collections.Counter[tuple[str, str]] = collections.Counter()
        self.c_calls: collections.Counter[tuple[str, str]] = collections.Counter()

    def _key(self, frame: FrameType) -> tuple[str, str]:
        code = frame.f_code
        return feature(
            code.co_filename, code.co_qualname
        ), f"{code.co_qualname} ({os.path.basename(code.co_filename)})"

    def trace(self, frame: FrameType, event: str, _arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            self.ops[self._key(frame)] += 1
        elif event == "call":
            self.calls[self._key(frame)] += 1
        return self.trace

    def profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            self.c_calls[(self._key(frame)[0], getattr(arg, "__qualname__", repr(arg)))] += 1

    def run(self, work: Callable[[], object]) -> None:
        sys.settrace(self.trace)
        sys.setprofile(self.profile)
        try:
            work()
        finally:
            sys.setprofile(None)
            sys.settrace(None)


def run_held(bars: Any) -> None:
    """E0 with a position: 100 bought on the first bar and held to the end, so every bar
    re-marks it (its P&L, the risk book's exposure, an equity row)."""
    import paperbroker as pb

    broker = pb.BrokerService(execution_delay=None, market=pb.BarReplay(bars, symbol="X", volume_share=None))
    state = {"i": -1}

    def held(_quote: pb.Quote) -> None:
        i = state["i"] = state["i"] + 1
        if i == 0:
            broker.buy("X", 100)

    broker.subscribe(pb.topic("quotes", symbol="X"), held)
    broker.run()


def workload(name: str, n: int) -> Callable[[], object]:
    """E0/E1/E2 of bench/e2e.py, HELD (:func:`run_held`) or W1's paperbroker run, on ``n`` bars."""
    if name == "W1":
        times, closes = w1_orders.make_bars(n)
        return lambda: w1_orders.run_paperbroker(times, closes)
    bars = e2e.make_bars(n)
    if name == "HELD":
        return lambda: run_held(bars)
    return lambda: e2e.run_paperbroker(name, bars)


def per_bar(name: str, sizes: tuple[int, int]) -> dict[str, dict[Any, float]]:
    """Counts per bar: the difference of two sizes over the difference in bars."""
    small, large = (Counter(), Counter())
    for counter, n in ((small, sizes[0]), (large, sizes[1])):
        work = workload(name, n)
        counter.run(work)
    span = sizes[1] - sizes[0]
    out: dict[str, dict[Any, float]] = {}
    for what in ("ops", "calls", "c_calls"):
        a, b = getattr(small, what), getattr(large, what)
        out[what] = {k: (b[k] - a.get(k, 0)) / span for k in b if abs(b[k] - a.get(k, 0)) / span >= 0.005}
    return out


def by_feature(counts: dict[Any, float]) -> dict[str, float]:
    """Sum the per-function counts by feature."""
    total: collections.Counter[str] = collections.Counter()
    for (feat, _fn), value in counts.items():
        total[feat] += value
    return dict(total)


#: the weights of :func:`show`'s instruction estimate: callgrind's split of E0 on CPython 3.11
#: puts ~28 instructions a bytecode in the eval loop and ~200 a Python call in frame set-up
#: and tear-down; a C call is given 100 (C work is otherwise invisible to the tracer)
WEIGHTS = (28.0, 200.0, 100.0)


def show(title: str, result: dict[str, dict[Any, float]], top: int, total: float | None = None) -> None:
    """Print the feature table and the top functions; with ``total`` (callgrind's
    instructions for the same unit) an estimate of each feature's share of it."""
    ops, calls, c_calls = result["ops"], result["calls"], result["c_calls"]
    f_ops, f_calls, f_c = by_feature(ops), by_feature(calls), by_feature(c_calls)
    print(f"\n{title}: {sum(ops.values()):,.1f} bytecodes, {sum(calls.values()):,.1f} Python calls, "
          f"{sum(c_calls.values()):,.1f} C calls")  # fmt: skip
    a, b, c = WEIGHTS
    weight = {f: a * f_ops[f] + b * f_calls.get(f, 0) + c * f_c.get(f, 0) for f in f_ops}
    scale = total / sum(weight.values()) if total else 0.0
    print(f"  {'feature':44s} {'bytecodes':>10s} {'py calls':>9s} {'C calls':>8s} {'~instr':>8s}")
    for feat in sorted(f_ops, key=lambda k: -f_ops[k]):
        estimate = f"{weight[feat] * scale:8,.0f}" if total else ""
        print(
            f"  {feat:44s} {f_ops[feat]:10.1f} {f_calls.get(feat, 0):9.1f} {f_c.get(feat, 0):8.1f} {estimate}"
        )
    print(f"  top {top} functions by own bytecodes:")
    for key in sorted(ops, key=lambda k: -ops[k])[:top]:
        print(f"    {ops[key]:8.1f} {calls.get(key, 0):6.2f}x  {key[1]}  [{key[0]}]")


def main() -> None:
    """Parse the arguments and print each workload's breakdown."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=(1_000, 3_000))
    parser.add_argument("--top", type=int, default=25)
    workloads = ["E0", "E1", "E2", "HELD", "W1"]
    parser.add_argument("--workloads", nargs="+", default=["E0", "E2", "W1"], choices=workloads)
    parser.add_argument(
        "--instructions",
        nargs="+",
        default=[],
        metavar="NAME=COUNT",
        help="callgrind's instructions per bar (E0, E1, E2, HELD, W1, order, held): adds an estimate column",
    )
    args = parser.parse_args()
    totals = {k: float(v) for k, v in (item.split("=") for item in args.instructions)}
    results = {name: per_bar(name, tuple(args.sizes)) for name in args.workloads}
    for name, result in results.items():
        show(f"{name}, per bar" if name != "W1" else "W1, per order", result, args.top, totals.get(name))
    for name, title, key in (
        ("E2", "a market-mode order (E2 - E0)", "order"),
        ("HELD", "a held position's bar (HELD - E0)", "held"),
    ):
        if "E0" in results and name in results:
            extra = {
                what: {
                    k: results[name][what].get(k, 0) - results["E0"][what].get(k, 0)
                    for k in set(results[name][what]) | set(results["E0"][what])
                }
                for what in ("ops", "calls", "c_calls")
            }
            show(title, extra, args.top, totals.get(key))


if __name__ == "__main__":
    main()
