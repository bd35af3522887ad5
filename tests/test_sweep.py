"""pb.sweep and pb.walk_forward: grid order, seeds, errors, interrupts, and real executors.

The parallel tests run the same sweep on a loky executor, a spawn ProcessPoolExecutor and a
real Dask LocalCluster (two worker processes, on 127.0.0.1) and compare the frames with the
serial one exactly.  The backtests are module-level functions so worker processes import
them; the closure test shows loky pickling a function no module defines, as a notebook's.
"""

from __future__ import annotations

import functools
import importlib.util
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal, assert_series_equal

import paperbroker as pb


def make_bars(n: int = 300, seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0005, 0.012, n)))
    open_ = np.r_[100.0, close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * 1.004,
            "low": np.minimum(open_, close) * 0.996,
            "close": close,
            "volume": np.full(n, 1_000_000),
        },
        index=pd.bdate_range("2022-01-03", periods=n, name="time"),
    ).round(2)


BARS = make_bars()


def crossover(fast: int, slow: int, seed: int, window: slice | None = None) -> dict[str, Any]:
    """A moving-average crossover on BARS (or BARS.loc[window]); the quantity comes from the seed."""
    bars = BARS if window is None else BARS.loc[window]
    qty = 10 + int(np.random.default_rng(seed).integers(0, 90))
    broker = pb.BrokerService(execution_delay=None, market=pb.BarReplay(bars, symbol="X"), seed=seed)
    closes: list[float] = []
    held = [0.0]
    curve: list[float] = []

    def on_bar(quote: pb.Quote) -> None:
        closes.append(quote.last)
        curve.append(broker.equity().equity)
        if len(closes) < slow:
            return
        want = qty if np.mean(closes[-fast:]) > np.mean(closes[-slow:]) else -qty
        if want != held[0]:
            (broker.buy if want > held[0] else broker.sell)("X", abs(want - held[0]))
            held[0] = want

    broker.subscribe(pb.topic("quotes", symbol="X"), on_bar)
    broker.run()
    result = {"final_equity": broker.equity().equity, "fills": len(broker.executions()), "qty": qty}
    result["equity"] = pd.Series(curve, index=bars.index[: len(curve)])
    broker.shutdown()
    return result


def scalar_crossover(fast: int, slow: int, seed: int) -> dict[str, Any]:
    result = crossover(fast, slow, seed)
    del result["equity"]
    return result


def flaky(a: int, seed: int, **_: Any) -> dict[str, Any]:
    if a == 2:
        raise ValueError(f"no good: a={a}")
    if a == 3:
        return [a]  # type: ignore[return-value]
    return {"a2": a * a, "seed_seen": seed}


GRID = {"fast": [5, 10], "slow": [20, 40, 60]}


def expected_seeds(seed: int, n: int) -> list[int]:
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


@pytest.fixture(scope="module")
def serial() -> pd.DataFrame:
    return pb.sweep(scalar_crossover, GRID, seed=3, progress=False)


# --- the frame ---------------------------------------------------------------------------


def test_rows_in_grid_order_with_the_spawned_seeds_and_the_cells_results(serial: pd.DataFrame) -> None:
    cells = [(f, s) for f in (5, 10) for s in (20, 40, 60)]
    assert list(serial.index) == cells and serial.index.names == ["fast", "slow"]
    assert list(serial.columns) == ["final_equity", "fills", "qty", "seed", "error"]
    seeds = expected_seeds(3, 6)
    assert list(serial["seed"]) == seeds
    assert serial["error"].isna().all()
    for (fast, slow), cell_seed in zip(cells, seeds, strict=True):
        direct = scalar_crossover(fast, slow, cell_seed)
        row = serial.loc[(fast, slow)]
        assert row["final_equity"] == direct["final_equity"] and row["fills"] == direct["fills"]
        assert row["qty"] == 10 + np.random.default_rng(cell_seed).integers(0, 90)
    assert serial["fills"].gt(0).all()


def test_a_list_grid_keeps_its_order_and_one_parameter_gives_a_plain_index() -> None:
    frame = pb.sweep(flaky, [{"a": 5}, {"a": 1}, {"a": 4}], seed=9, progress=False)
    assert isinstance(frame.index, pd.Index) and not isinstance(frame.index, pd.MultiIndex)
    assert frame.index.name == "a" and list(frame.index) == [5, 1, 4]
    assert list(frame["a2"]) == [25, 1, 16]
    assert list(frame["seed_seen"]) == list(frame["seed"]) == expected_seeds(9, 3)


def test_a_cell_that_raises_gets_its_error_and_the_others_complete() -> None:
    frame = pb.sweep(flaky, {"a": [1, 2, 3, 4]}, progress=False)
    assert frame.loc[1, "a2"] == 1 and frame.loc[4, "a2"] == 16
    assert frame.loc[2, "error"].startswith("ValueError: no good: a=2 (test_sweep.py:")
    assert frame.loc[3, "error"].startswith("TypeError: the backtest returned list;")
    assert np.isnan(frame.loc[2, "a2"]) and np.isnan(frame.loc[3, "a2"])
    assert frame.loc[[1, 4], "error"].isna().all()


def test_a_series_result_is_a_row_like_a_dict() -> None:
    def stats(x: float, seed: int) -> pd.Series:
        return pd.Series({"sharpe": x / 2, "trades": 3})

    frame = pb.sweep(stats, {"x": [1.0, 3.0]}, progress=False)
    assert list(frame["sharpe"]) == [0.5, 1.5] and list(frame["trades"]) == [3, 3]


def test_the_progress_bar_counts_finished_cells(capsys: pytest.CaptureFixture[str]) -> None:
    pb.sweep(flaky, {"a": [1, 4, 5]}, progress=True)
    assert "3/3" in capsys.readouterr().err
    pb.sweep(flaky, {"a": [1, 4, 5]}, progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("grid", "kwargs", "words"),
    [
        ({"a": 5}, {}, "not a list of values"),
        ({"a": []}, {}, "is empty"),
        ({"a": {1, 2}}, {}, "a set, which has no order"),
        ({}, {}, "no parameters"),
        ({"seed": [1]}, {}, "clashes with the sweep's own 'seed'"),
        ([{"a": 1}, {"b": 2}], {}, "needs the same parameters"),
        ([], {}, "nothing to run"),
        ("a=1", {}, "not str"),
        ({"a": [1]}, {"seed": -1}, "seed must be a non-negative whole number"),
        ({"a": [1]}, {"chunksize": 0}, "chunksize is the number of cells per task"),
        ({"a": [1]}, {"executor": "processes"}, "executor must be None"),
        ({"a": [1]}, {"progress": "yes"}, "progress must be True or False"),
    ],
)
def test_bad_input_is_refused_before_any_cell_runs(grid: Any, kwargs: dict[str, Any], words: str) -> None:
    calls: list[Any] = []
    with pytest.raises(pb.ConfigurationError, match=words):
        pb.sweep(lambda **kw: calls.append(kw) or {}, grid, **{"progress": False, **kwargs})
    assert calls == []
    with pytest.raises(pb.ConfigurationError, match="backtest must be a function"):
        pb.sweep("crossover", {"a": [1]}, progress=False)  # type: ignore[arg-type]


# --- interrupts ------------------------------------------------------------------------


def test_an_interrupt_stops_a_serial_sweep_and_returns_nothing() -> None:
    ran: list[int] = []

    def cell(i: int, seed: int) -> dict[str, int]:
        ran.append(i)
        if i == 2:
            raise KeyboardInterrupt
        return {"i": i}

    with pytest.raises(KeyboardInterrupt):
        pb.sweep(cell, {"i": range(6)}, progress=False)
    assert ran == [0, 1, 2]


def test_an_interrupt_cancels_the_tasks_that_have_not_started() -> None:
    ran: list[int] = []
    release = threading.Event()

    def cell(i: int, seed: int) -> dict[str, int]:
        ran.append(i)
        if i == 2:
            raise KeyboardInterrupt  # as if it reached the kernel while waiting for cell 2
        if i == 3:
            release.wait(10)  # busy while the sweep cancels the rest
        return {"i": i}

    with ThreadPoolExecutor(max_workers=1) as executor:
        with pytest.raises(KeyboardInterrupt):
            pb.sweep(cell, {"i": range(8)}, executor=executor, chunksize=1, progress=False)
        release.set()
    assert ran == [0, 1, 2, 3]  # 4..7 were cancelled before they started


# --- real executors ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def loky_executor() -> Iterator[Any]:
    loky = pytest.importorskip("loky")
    executor = loky.get_reusable_executor(max_workers=2)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("chunksize", [None, 1, 4])
def test_loky_gives_the_serial_frame_exactly(
    serial: pd.DataFrame, loky_executor: Any, chunksize: Any
) -> None:
    frame = pb.sweep(
        scalar_crossover, GRID, seed=3, executor=loky_executor, chunksize=chunksize, progress=False
    )
    assert_frame_equal(frame, serial, check_exact=True)


def test_dask_gives_the_serial_frame_exactly(serial: pd.DataFrame, dask_client: Any) -> None:
    executor = dask_client.get_executor()
    for chunksize in (None, 1):
        frame = pb.sweep(
            scalar_crossover, GRID, seed=3, executor=executor, chunksize=chunksize, progress=False
        )
        assert_frame_equal(frame, serial, check_exact=True)


def test_a_spawned_process_pool_gives_the_serial_frame_exactly(serial: pd.DataFrame) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as executor:
        frame = pb.sweep(scalar_crossover, GRID, seed=3, executor=executor, progress=False)
    assert_frame_equal(frame, serial, check_exact=True)


def test_loky_runs_a_function_no_module_defines_and_keeps_errors_per_cell(loky_executor: Any) -> None:
    offset = 1000

    def local(a: int, seed: int) -> dict[str, int]:  # pickled by value, as a notebook's function is
        if a == 2:
            raise ValueError("two")
        return {"b": a + offset}

    frame = pb.sweep(local, {"a": [1, 2, 3]}, executor=loky_executor, chunksize=3, progress=False)
    assert list(frame["b"].fillna(-1)) == [1001, -1, 1003]
    assert frame.loc[2, "error"].startswith("ValueError: two")


def blas_threads(a: int, seed: int) -> dict[str, int]:
    import os

    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    return {"blas": max(counts, default=1), "omp_env": int(os.environ["OMP_NUM_THREADS"])}


def test_workers_run_blas_on_one_thread(loky_executor: Any) -> None:
    pytest.importorskip("threadpoolctl")
    frame = pb.sweep(blas_threads, {"a": [1, 2]}, executor=loky_executor, chunksize=1, progress=False)
    assert frame["error"].isna().all(), frame["error"].tolist()
    assert list(frame["blas"]) == [1, 1] and list(frame["omp_env"]) == [1, 1]


def shared_bars_length(a: int, seed: int, bars: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(bars) + a}


def test_a_scattered_frame_in_a_partial_reaches_every_cell(dask_client: Any) -> None:
    shared = dask_client.scatter(BARS, broadcast=True)
    backtest = functools.partial(shared_bars_length, bars=shared)
    frame = pb.sweep(backtest, {"a": [0, 1, 2]}, executor=dask_client.get_executor(), progress=False)
    assert frame["error"].isna().all(), frame["error"].tolist()
    assert list(frame["rows"]) == [300, 301, 302]


# --- walk-forward ------------------------------------------------------------------------


def test_rolling_and_anchored_splits_cut_the_index_by_hand() -> None:
    index = pd.RangeIndex(10)
    rolling = pb.walk_forward_splits(index, train=4, test=2)
    assert [(s.train, s.test) for s in rolling] == [
        (slice(0, 3), slice(4, 5)),
        (slice(2, 5), slice(6, 7)),
        (slice(4, 7), slice(8, 9)),
    ]
    anchored = pb.walk_forward_splits(index, train=4, test=3, anchored=True)
    assert [(s.train, s.test) for s in anchored] == [(slice(0, 3), slice(4, 6)), (slice(0, 6), slice(7, 9))]
    stepped = pb.walk_forward_splits(index, train=5, test=2, step=3)
    assert [(s.train, s.test) for s in stepped] == [(slice(0, 4), slice(5, 6)), (slice(3, 7), slice(8, 9))]
    assert repr(rolling[0]) == "Split(train=0..3, test=4..5)"
    with pytest.raises(pb.ConfigurationError, match="cannot hold"):
        pb.walk_forward_splits(index, train=8, test=3)
    with pytest.raises(pb.ConfigurationError, match="increasing"):
        pb.walk_forward_splits([3, 2, 1, 0], train=1, test=1)
    with pytest.raises(pb.ConfigurationError, match="test is a number of bars"):
        pb.walk_forward_splits(index, train=4, test=0)


def toy(a: int, seed: int, window: slice) -> dict[str, Any]:
    """Score a - |a - centre of the window|: the best a on a window is the one nearest its centre."""
    labels = range(window.start, window.stop + 1)
    centre = (window.start + window.stop) / 2
    curve = pd.Series([100.0 + a * (i - window.start + 1) for i in labels], index=list(labels))
    return {"score": -abs(a - centre), "last": float(curve.iloc[-1]), "equity": curve}


def test_walk_forward_chooses_on_train_and_reports_the_test_run_by_hand() -> None:
    splits = pb.walk_forward_splits(
        pd.RangeIndex(12), train=4, test=4
    )  # trains 0..3, 4..7; tests 4..7, 8..11
    result = pb.walk_forward(toy, {"a": [1, 2, 5, 6]}, splits, metric="score", progress=False)
    rows = result.rows
    # Train 0..3 has centre 1.5: a=1 and a=2 tie at -0.5, the first in grid order wins.
    # Train 4..7 has centre 5.5: a=5 and a=6 tie, a=5 wins.
    assert list(rows["a"]) == [1, 5] and list(rows["train_score"]) == [-0.5, -0.5]
    assert list(rows["test_start"]) == [4, 8] and list(rows["train_end"]) == [3, 7]
    assert list(rows["score"]) == [-4.5, -4.5]  # centres 5.5 and 9.5 of the test windows
    assert list(rows["seed"]) == [expected_seeds(0, 4)[0], expected_seeds(0, 4)[2]]
    assert "equity" not in rows.columns and rows["error"].isna().all()
    # Test 4..7 with a=1: 101, 102, 103, 104.  Test 8..11 with a=5: 105, 110, 115, 120,
    # moved to start at 104 (its gains added), or scaled to (compound=True).
    added = [104.0, 109.0, 114.0, 119.0]
    assert_series_equal(
        result.equity, pd.Series([101.0, 102.0, 103.0, 104.0, *added], index=range(4, 12), name="equity")
    )
    compounded = pb.walk_forward(
        toy, {"a": [1, 2, 5, 6]}, splits, metric="score", compound=True, progress=False
    )
    scaled = [104 * v / 105 for v in (105.0, 110.0, 115.0, 120.0)]
    assert_series_equal(
        compounded.equity, pd.Series([101.0, 102.0, 103.0, 104.0, *scaled], index=range(4, 12), name="equity")
    )
    assert list(result.train.index.names) == ["split", "a"] and len(result.train) == 8
    low = pb.walk_forward(toy, {"a": [1, 2, 5, 6]}, splits, metric="score", maximize=False, progress=False)
    assert list(low.rows["a"]) == [6, 1]


def test_walk_forward_training_passes_are_sweeps_and_parallel_runs_match(
    loky_executor: Any, dask_client: Any
) -> None:
    splits = pb.walk_forward_splits(BARS.index, train=150, test=75)
    grid = {"fast": [5, 10], "slow": [20, 40]}
    result = pb.walk_forward(crossover, grid, splits, metric="final_equity", seed=5, progress=False)
    assert len(result.rows) == 2 and result.rows["error"].isna().all()
    for k, split in enumerate(splits):
        alone = pb.sweep(functools.partial(crossover, window=split.train), grid, seed=5, progress=False)
        assert_frame_equal(
            result.train.xs(k, level="split").drop(columns="equity"),
            alone.drop(columns="equity"),
            check_exact=True,
        )
        best = alone["final_equity"].idxmax()
        assert tuple(result.rows.loc[k, ["fast", "slow"]]) == best
        test_run = crossover(*best, seed=alone.loc[best, "seed"], window=split.test)
        assert result.rows.loc[k, "final_equity"] == test_run["final_equity"]
    assert result.equity.index.equals(BARS.index[150:300])
    for executor in (loky_executor, dask_client.get_executor()):
        other = pb.walk_forward(
            crossover, grid, splits, metric="final_equity", seed=5, executor=executor, progress=False
        )
        assert_frame_equal(other.rows, result.rows, check_exact=True)
        assert_series_equal(other.equity, result.equity, check_exact=True)


def test_walk_forward_refuses_a_missing_metric_or_equity_and_bad_splits() -> None:
    splits = pb.walk_forward_splits(pd.RangeIndex(8), train=4, test=4)
    with pytest.raises(pb.ConfigurationError, match="metric 'sharpe' is not among the backtest's results"):
        pb.walk_forward(toy, {"a": [1]}, splits, progress=False)
    no_curve = functools.partial(lambda a, seed, window: {"score": a})
    with pytest.raises(pb.ConfigurationError, match="or pass equity=None"):
        pb.walk_forward(no_curve, {"a": [1]}, splits, metric="score", progress=False)
    result = pb.walk_forward(no_curve, {"a": [1]}, splits, metric="score", equity=None, progress=False)
    assert result.equity is None and list(result.rows["score"]) == [1]
    with pytest.raises(pb.ConfigurationError, match="a window is a slice"):
        pb.walk_forward(toy, {"a": [1]}, [(0, 4)], metric="score", progress=False)
    with pytest.raises(pb.ConfigurationError, match="non-empty list"):
        pb.walk_forward(toy, {"a": [1]}, [], metric="score", progress=False)


def test_a_split_whose_training_cells_all_fail_reports_why_and_the_others_go_on() -> None:
    def picky(a: int, seed: int, window: slice) -> dict[str, Any]:
        if window.start == 0:
            raise RuntimeError("no data")
        return toy(a, seed, window)

    splits = pb.walk_forward_splits(pd.RangeIndex(12), train=4, test=4)
    result = pb.walk_forward(picky, {"a": [1, 5]}, splits, metric="score", progress=False)
    assert result.rows.loc[0, "error"].startswith("no cell gave a number for 'score' on the training window")
    assert "RuntimeError: no data" in result.rows.loc[0, "error"]
    assert pd.isna(result.rows.loc[0, "a"]) and pd.isna(result.rows.loc[0, "seed"])
    assert result.rows.loc[1, "a"] == 5 and result.equity.index.equals(pd.RangeIndex(8, 12))


# --- heatmap -----------------------------------------------------------------------------


def test_the_heatmap_puts_each_cell_at_its_parameters(serial: pd.DataFrame) -> None:
    figure = pb.sweep_heatmap(serial, x="slow", y="fast", value="final_equity")
    heat = figure.data[0]
    assert list(heat.x) == ["20", "40", "60"] and list(heat.y) == ["5", "10"]
    assert heat.z[1][2] == serial.loc[(10, 60), "final_equity"]
    assert heat.z[0][0] == serial.loc[(5, 20), "final_equity"]
    assert figure.layout.xaxis.title.text == "slow"
    three = pb.sweep(flaky, {"a": [1, 4], "b": [0, 1], "c": [7, 8]}, progress=False)
    with pytest.raises(pb.ConfigurationError, match=r"other parameters: \['c'\]"):
        pb.sweep_heatmap(three, x="a", y="b", value="a2")
    with pytest.raises(pb.ConfigurationError, match="neither a parameter nor a column"):
        pb.sweep_heatmap(serial, x="slow", y="fast", value="sharpe")


# --- the benchmark -----------------------------------------------------------------------


def test_the_benchmark_runs_notebook_05s_crossover() -> None:
    path = Path(__file__).resolve().parent.parent / "bench" / "sweep.py"
    spec = importlib.util.spec_from_file_location("bench_sweep", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    # Notebook 05's committed output for its 10/50 crossover on the same bars and costs.
    assert bench.crossover(10, 50, seed=7, bars=bench.BARS) == {"final_equity": 142_087.5, "commission": 62.5}
    long_backtest, short_backtest = bench.backtests(bench.BARS, bench.SHORT)
    assert long_backtest(10, 50, seed=7) == {"final_equity": 142_087.5, "commission": 62.5}
    frame = pb.sweep(short_backtest, {"fast": [3, 5], "slow": [10, 20]}, progress=False)
    assert frame["error"].isna().all() and len(bench.SHORT) == 50
