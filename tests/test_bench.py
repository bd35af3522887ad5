"""The benchmark workloads still run and still measure what bench/README.md says.

Only their bookkeeping is checked here, on a few hundred bars; their speed is measured by
the scripts themselves (``python bench/w1_orders.py`` ...), never by a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import history_export
        import w1_orders

        yield w1_orders, history_export
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("workload", ["run_paperbroker", "run_floor"])
def test_w1_workloads_fill_every_order(bench_modules, workload):
    """Both workloads that go through paperbroker's records assert, inside the script,
    that every order filled and every event arrived; a miscount raises here.  (The
    script's ``run_minimal`` is plain Python that never touches paperbroker: nothing of
    the package to check there.)"""
    w1_orders, _ = bench_modules
    times, closes = w1_orders.make_bars(300)
    getattr(w1_orders, workload)(times, closes)


def test_w1_workload_books_what_alternating_round_trips_make(bench_modules):
    """The W1 workload (one unit bought at even bars' closes and sold at odd ones) as the
    benchmark drives it: the books must show the sum of (odd close - even close), flat."""
    import paperbroker as pb

    w1_orders, _ = bench_modules
    times, closes = w1_orders.make_bars(300)
    clock = pb.SimClock(times[0])
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    for i, (t, close) in enumerate(zip(times, closes, strict=True)):
        clock.set(t)
        side = pb.Side.BUY if i % 2 == 0 else pb.Side.SELL
        broker.fill(broker.submit(pb.PreOrder("SPY", pb.OrderType.MARKET, side, 1.0, seenPrice=close)).id)
    want = sum(closes[k + 1] - closes[k] for k in range(0, 300, 2))
    equity = broker.equity()
    assert equity.realizedPL == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert equity.equity == pytest.approx(100_000.0 + want, rel=1e-12)
    assert broker.positions() == [] and broker.execution_count == 300


def test_w1_bars_are_the_same_for_every_run(bench_modules):
    w1_orders, _ = bench_modules
    assert w1_orders.make_bars(50) == w1_orders.make_bars(50)


def test_history_export_workload(bench_modules, capsys):
    _, history_export = bench_modules
    history_export.bench_export(rows=500, repeat=1)
    out = capsys.readouterr().out
    assert "executions_frame  500 rows" in out
    assert "equity_frame      501 rows" in out
