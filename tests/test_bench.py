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


@pytest.mark.parametrize("workload", ["run_paperbroker", "run_floor", "run_minimal"])
def test_w1_workloads_fill_every_order(bench_modules, workload):
    w1_orders, _ = bench_modules
    times, closes = w1_orders.make_bars(300)
    per_order = getattr(w1_orders, workload)(times, closes)  # asserts its own counts
    assert per_order > 0.0


def test_w1_bars_are_the_same_for_every_run(bench_modules):
    w1_orders, _ = bench_modules
    assert w1_orders.make_bars(50) == w1_orders.make_bars(50)


def test_history_export_workload(bench_modules, capsys):
    _, history_export = bench_modules
    history_export.bench_export(rows=500, repeat=1)
    out = capsys.readouterr().out
    assert "executions_frame  500 rows" in out
    assert "equity_frame      501 rows" in out
