"""``sweep``: one backtest per cell of a parameter grid, on any executor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .engine import outcomes_frame, run_cells
from .grid import cell_seeds, grid_cells, params_index

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sweep"]


def sweep(
    backtest: Callable[..., Any],
    grid: Any,
    *,
    executor: Any = None,
    seed: int = 0,
    chunksize: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``backtest`` once per cell of ``grid``; one row of results per cell.

    ``backtest(**params, seed=...)`` is your function: it builds a broker, runs it and
    returns a dict (or a pandas Series) of results.  ``grid`` is a dict of lists, whose
    cartesian product is swept (the first key varies slowest), or a list of dicts, one per
    cell.  The frame returned is indexed by the parameters, one row per cell in grid order,
    with the results' keys as columns, then ``seed`` (the seed that cell was given) and
    ``error`` (``None``, or the text of the exception the cell raised: the other cells
    still run).

    ``executor`` is ``None`` (run here, one cell after another) or any
    ``concurrent.futures.Executor``: a ``ProcessPoolExecutor``, loky's
    ``get_reusable_executor()`` (which also takes functions defined in a notebook), or Dask's
    ``distributed.Client(...).get_executor()``.  Cells go out in tasks of ``chunksize``
    cells (by default about eight tasks per core of this machine; on a bigger cluster pass
    about ``cells / (8 * workers)``), so a task's overhead is shared by its cells.  Workers
    run numpy's BLAS on one thread.  Start Dask workers with their statistical profiler off
    (``distributed.worker.profile.enabled``): sampling a pure-Python backtest's stack every
    10 ms is the largest cost Dask adds to it.  Large inputs, such as the bars, go to each
    worker once when the backtest is a ``functools.partial`` holding a Dask future of them
    (``client.scatter(bars, broadcast=True)``).

    Cell ``i`` gets ``seed=`` from ``numpy.random.SeedSequence(seed).spawn(n)[i]``, so the
    frame is the same, bit for bit, whichever executor runs it and in whatever order the
    cells finish.  ``backtest(**params, seed=frame.loc[params, "seed"])`` reruns one cell.

    An interrupt (the kernel's stop button) cancels the tasks that have not started and
    raises ``KeyboardInterrupt``: no half-merged frame is returned.  ``progress`` shows a
    ``tqdm`` bar counting finished cells.

    Raises :class:`~paperbroker.ConfigurationError` for a malformed grid, seed, chunksize or
    executor, before anything runs.
    """
    names, cells = grid_cells(grid)
    seeds = cell_seeds(seed, len(cells))
    calls = [{**cell, "seed": cell_seed} for cell, cell_seed in zip(cells, seeds, strict=True)]
    outcomes = run_cells(
        backtest, calls, executor=executor, chunksize=chunksize, progress=progress, desc="sweep"
    )
    return outcomes_frame(params_index(names, cells), seeds, outcomes)
