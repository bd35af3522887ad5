"""The benchmark workloads still run and still measure what bench/README.md says.

Only their bookkeeping is checked here, on a few hundred bars; their speed is measured by
the scripts themselves (``python bench/w1_orders.py`` ...), never by a test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench_modules():
    """The benchmark scripts, imported as their own folder would import them."""
    sys.path.insert(0, str(BENCH))
    try:
        import e2e
        import e2e_scaling
        import history_export
        import w1_orders

        yield SimpleNamespace(e2e=e2e, e2e_scaling=e2e_scaling, history_export=history_export, w1=w1_orders)
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("workload", ["run_paperbroker", "run_floor"])
def test_w1_workloads_fill_every_order(bench_modules, workload):
    """Both workloads that go through paperbroker's records assert, inside the script,
    that every order filled and every event arrived; a miscount raises here.  (The
    script's ``run_minimal`` is plain Python that never touches paperbroker: nothing of
    the package to check there.)"""
    w1_orders = bench_modules.w1
    times, closes = w1_orders.make_bars(300)
    getattr(w1_orders, workload)(times, closes)


def test_w1_workload_books_what_alternating_round_trips_make(bench_modules):
    """The W1 workload (one unit bought at even bars' closes and sold at odd ones) as the
    benchmark drives it: the books must show the sum of (odd close - even close), flat."""
    import paperbroker as pb

    w1_orders = bench_modules.w1
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
    w1_orders = bench_modules.w1
    assert w1_orders.make_bars(50) == w1_orders.make_bars(50)


def test_history_export_workload(bench_modules, capsys):
    history_export = bench_modules.history_export
    history_export.bench_export(rows=500, repeat=1)
    out = capsys.readouterr().out
    assert "executions_frame  500 rows" in out
    assert "equity_frame      501 rows" in out


@pytest.mark.parametrize("scenario", ["E0", "E1", "E2"])
def test_the_market_mode_backtest_makes_the_plain_loops_fills_and_equity(bench_modules, scenario):
    """bench/e2e.py compares frameworks only when they agree; paperbroker and the plain loop
    it is measured against (fill at the next open, average cost) must, on any length."""
    e2e = bench_modules.e2e
    bars = e2e.make_bars(400)
    fills, equity = e2e.run_paperbroker(scenario, bars)
    want_fills, want_equity = e2e.run_loop(scenario, bars)
    assert fills == want_fills
    assert equity == pytest.approx(want_equity, abs=0.005)
    if scenario == "E1":  # the crossover trades a few times in 400 bars
        assert fills > 2
    else:  # E0 never trades; E2 trades on every bar but the first and the last
        assert fills == {"E0": 0, "E2": 398}[scenario]


def test_a_long_backtest_keeps_what_history_limit_allows_and_the_same_totals(bench_modules):
    """What the scaling benchmark reads: a run past history_limit keeps at most twice the
    limit of executions and equity rows and the newest limit of finished orders, while
    the fill count and the final equity are those of a run that keeps everything."""
    e2e_scaling = bench_modules.e2e_scaling
    bounded = e2e_scaling.job("E2", 3_000, 400)
    everything = e2e_scaling.job("E2", 3_000, 10_000)
    assert bounded["fills"] == everything["fills"] == 2_998
    assert bounded["equity"] == everything["equity"]
    assert 400 <= bounded["kept_executions"] <= 800 and 400 <= bounded["kept_equity"] <= 800
    assert bounded["kept_orders"] == 400
    assert everything["kept_executions"] == 2_998 and everything["kept_orders"] == 2_998
