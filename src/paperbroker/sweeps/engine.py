"""Running a list of backtest cells, here or on any ``concurrent.futures`` executor.

The cells go out in contiguous chunks (one task each), every cell's outcome comes back as
``(result, error)``, and the outcomes are put back in cell order, so the merged result
does not depend on the executor or on the order the tasks finish in.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Cell", "Outcome", "check_executor", "outcomes_frame", "run_cells"]

# (keyword arguments of one call of the backtest); (its result as a dict, or its error text)
Cell = dict[str, Any]
Outcome = tuple[dict[Any, Any] | None, str | None]

# Environment variables the common BLAS and OpenMP runtimes read for their thread count.
_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_pinned: list[bool] = []  # non-empty once this worker process has pinned its threads


def _pin_threads() -> None:
    """One BLAS thread per worker: two workers on two cores must not run four threads each."""
    if _pinned:
        return
    _pinned.append(True)
    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"  # for libraries loaded from now on, and for child processes
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional dependency (the sweep extra); numpy's BLAS stays as it is
        return
    threadpool_limits(limits=1)  # for the libraries numpy has already loaded


def _error_text(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)
    place = f" ({os.path.basename(where[-1].filename)}:{where[-1].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


def _run_cell(backtest: Callable[..., Any], cell: Cell) -> Outcome:
    try:
        result = backtest(**cell)
    except Exception as exc:  # noqa: BLE001 - the cell's error goes into its row, the sweep goes on
        return None, _error_text(exc)
    pandas = sys.modules.get("pandas")  # a Series can only come from a process that imported pandas
    if pandas is not None and isinstance(result, pandas.Series):
        result = dict(result.items())
    elif isinstance(result, Mapping):
        result = dict(result)
    else:
        return None, (
            f"TypeError: the backtest returned {type(result).__name__}; "
            "return a dict or a pandas Series of results."
        )
    clash = [key for key in result if key in ("seed", "error")]
    if clash:
        return None, (
            f"ValueError: the backtest returned a key {clash[0]!r}, which the sweep uses for its own "
            "column; rename it."
        )
    return result, None


def run_chunk(
    func: Callable[..., Any], args: list[Any], keywords: dict[str, Any], cells: list[Cell], parent_pid: int
) -> list[Outcome]:
    """Run ``cells`` one after another (a task on a worker): one outcome per cell.

    The backtest comes as ``func`` with the ``args`` and ``keywords`` of a
    ``functools.partial`` (empty for a plain function): as plain arguments of the task,
    Dask replaces the futures among them (a ``client.scatter``-ed frame) with their data,
    already on the worker.
    """
    if os.getpid() != parent_pid:
        _pin_threads()
    backtest = functools.partial(func, *args, **keywords) if args or keywords else func
    return [_run_cell(backtest, cell) for cell in cells]


def _parts(backtest: Callable[..., Any]) -> tuple[Callable[..., Any], list[Any], dict[str, Any]]:
    if isinstance(backtest, functools.partial):
        return backtest.func, list(backtest.args), dict(backtest.keywords)
    return backtest, [], {}


def _chunksize(chunksize: Any, n: int) -> int:
    if chunksize is None:
        # About eight tasks per core of this machine: few enough that a task's overhead is
        # small against its cells, enough to keep every worker busy to the end.
        return max(1, math.ceil(n / (8 * (os.cpu_count() or 1))))
    if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
        msg = f"chunksize is the number of cells per task, a whole number >= 1 or None, got {chunksize!r}."
        raise ConfigurationError(msg)
    return chunksize


def _progress_bar(total: int, progress: Any, desc: str) -> Any:
    if not isinstance(progress, bool):
        msg = f"progress must be True or False, got {progress!r}."
        raise ConfigurationError(msg)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="cell", disable=not progress, leave=True)


def check_executor(executor: Any) -> None:
    """Refuse an ``executor`` that cannot take tasks, before anything runs."""
    if executor is not None and not callable(getattr(executor, "submit", None)):
        msg = (
            f"executor must be None (run here) or a concurrent.futures.Executor with submit(), "
            f"got {type(executor).__name__}."
        )
        raise ConfigurationError(msg)


def run_cells(
    backtest: Callable[..., Any],
    cells: list[Cell],
    *,
    executor: Any,
    chunksize: Any,
    progress: Any,
    desc: str,
) -> list[Outcome]:
    """Every cell's outcome, in cell order.

    An interrupt (or any error that is not a cell's own) cancels the tasks that have not
    started and propagates: nothing is returned half-merged.
    """
    if not callable(backtest):
        msg = f"backtest must be a function called as backtest(**params, seed=...), got {backtest!r}."
        raise ConfigurationError(msg)
    check_executor(executor)
    size = _chunksize(chunksize, len(cells))
    bar = _progress_bar(len(cells), progress, desc)
    try:
        if executor is None:
            outcomes = []
            for cell in cells:
                outcomes.append(_run_cell(backtest, cell))
                bar.update(1)
            return outcomes
        return _on_executor(executor, backtest, cells, size, bar)
    finally:
        bar.close()


def _on_executor(executor: Any, backtest: Any, cells: list[Cell], size: int, bar: Any) -> list[Outcome]:
    func, args, keywords = _parts(backtest)
    futures: dict[Any, int] = {}
    outcomes: list[Outcome | None] = [None] * len(cells)
    try:
        for start in range(0, len(cells), size):
            future = executor.submit(
                run_chunk, func, args, keywords, cells[start : start + size], os.getpid()
            )
            futures[future] = start
        pending = set(futures)
        while pending:
            done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
            for future in done:
                start = futures[future]
                chunk = cells[start : start + size]
                try:
                    results = future.result()
                except Exception as exc:  # noqa: BLE001 - the task failed as a whole (pickling, a dead worker)
                    results = [(None, f"the task running this cell failed: {_error_text(exc)}")] * len(chunk)
                outcomes[start : start + len(chunk)] = results
                bar.update(len(chunk))
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    missing = [i for i, outcome in enumerate(outcomes) if outcome is None]
    if missing:  # an executor that lost a task without saying so
        msg = f"The executor returned no outcome for {len(missing)} cells (the first is cell {missing[0]})."
        raise RuntimeError(msg)
    return cast("list[Outcome]", outcomes)


def outcomes_frame(index: pd.Index, seeds: list[int], outcomes: list[Outcome]) -> pd.DataFrame:
    """The result frame: the results' keys (first seen first), then ``seed`` and ``error``."""
    import pandas as pd

    columns: dict[Any, None] = {}
    for result, _ in outcomes:
        if result is not None:
            columns.update(dict.fromkeys(result))
    data: dict[Any, pd.Series] = {}
    for column in columns:
        values = [None if result is None else result.get(column) for result, _ in outcomes]
        data[column] = pd.Series(values, index=index)
    data["seed"] = pd.Series(seeds, index=index, dtype="int64")
    data["error"] = pd.Series([error for _, error in outcomes], index=index, dtype=object)
    frame: pd.DataFrame = pd.DataFrame(data, index=index)
    return frame
