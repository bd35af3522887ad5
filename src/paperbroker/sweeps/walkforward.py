"""Walk-forward tests: choose the parameters on one window of bars, trade them on the next."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError
from .engine import Outcome, outcomes_frame, run_cells
from .grid import cell_seeds, grid_cells, params_index

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Split", "WalkForwardResult", "walk_forward", "walk_forward_splits"]


@dataclass(frozen=True, slots=True)
class Split:
    """One walk-forward step: choose on the bars of ``train``, then trade on ``test``.

    Both are label slices of the bars' index, ends included, so ``bars.loc[split.test]``
    is the test window's bars.
    """

    train: slice
    test: slice

    def __repr__(self) -> str:
        return f"Split(train={_show(self.train)}, test={_show(self.test)})"


def _label(value: Any) -> str:
    normalize = getattr(value, "normalize", None)  # a Timestamp at midnight reads as its date
    if callable(normalize) and value == normalize():
        return str(value.strftime("%Y-%m-%d"))
    return str(value)


def _show(window: slice) -> str:
    return f"{_label(window.start)}..{_label(window.stop)}"


def _bars(value: Any, name: str, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        msg = f"{name} is a number of bars, a whole number >= 1 (e.g. {example}), got {value!r}."
        raise ConfigurationError(msg)
    return int(value)


def walk_forward_splits(
    index: Any, *, train: int, test: int, anchored: bool = False, step: int | None = None
) -> list[Split]:
    """Rolling or anchored (train, test) windows over a bar index, for :func:`walk_forward`.

    Each training window is ``train`` bars (anchored: from the first bar, growing by
    ``step`` each split), followed at once by a test window of ``test`` bars; the windows
    move on by ``step`` bars (default ``test``, so the test windows tile the bars after the
    first training window).  Only whole test windows are made: bars left over at the end,
    fewer than ``test``, are not tested.
    """
    import pandas as pd

    bars = pd.Index(index)
    if not bars.is_unique or not bars.is_monotonic_increasing:
        msg = "The bar index must be increasing with no repeated label, as a replayed series of bars is."
        raise ConfigurationError(msg)
    if not isinstance(anchored, bool):
        msg = f"anchored must be True or False, got {anchored!r}."
        raise ConfigurationError(msg)
    n_train, n_test = _bars(train, "train", "train=252"), _bars(test, "test", "test=63")
    n_step = n_test if step is None else _bars(step, "step", "step=63")
    if n_train + n_test > len(bars):
        msg = (
            f"{len(bars)} bars cannot hold a training window of {n_train} bars and a test window of "
            f"{n_test}; use smaller windows or more bars."
        )
        raise ConfigurationError(msg)
    splits = []
    for start in range(0, len(bars) - n_train - n_test + 1, n_step):
        first = 0 if anchored else start
        end = start + n_train
        splits.append(
            Split(
                train=slice(bars[first], bars[end - 1]),
                test=slice(bars[end], bars[end + n_test - 1]),
            )
        )
    return splits


@dataclass(frozen=True, slots=True)
class WalkForwardResult:
    """What :func:`walk_forward` found.

    ``rows``: one row per split (index ``split``): the windows' first and last bars, the
    parameters chosen on the training window, their training ``metric``, then the results
    of the test run, its ``seed`` and ``error``.  ``equity``: the test windows' equity
    curves stitched end to end (``None`` when ``walk_forward`` was given ``equity=None``).
    ``train``: every training run, as :func:`sweep` frames one after another, indexed by
    split and parameters.
    """

    rows: pd.DataFrame
    equity: pd.Series | None
    train: pd.DataFrame


def _splits(splits: Any) -> list[Split]:
    if not isinstance(splits, Sequence) or isinstance(splits, (str, bytes)) or not splits:
        msg = (
            "splits is a non-empty list of (train, test) windows, "
            "e.g. pb.walk_forward_splits(bars.index, train=252, test=63)."
        )
        raise ConfigurationError(msg)
    out = []
    for i, split in enumerate(splits):
        if not isinstance(split, Split):
            pair = tuple(split) if isinstance(split, Sequence) else ()
            if len(pair) != 2:
                msg = f"splits[{i}] is {split!r}; each split is a pb.Split or a (train, test) pair of slices."
                raise ConfigurationError(msg)
            split = Split(train=pair[0], test=pair[1])
        for name in ("train", "test"):
            window = getattr(split, name)
            if not isinstance(window, slice) or window.start is None or window.stop is None:
                msg = (
                    f"splits[{i}].{name} is {window!r}; a window is a slice of bar labels with both ends, "
                    "e.g. slice('2021-01-04', '2021-12-31')."
                )
                raise ConfigurationError(msg)
        out.append(split)
    return out


def _choose(frame: pd.DataFrame, metric: Hashable, maximize: bool) -> tuple[int | None, float, str | None]:
    """The position of the best cell by ``metric``, its value, or why there is none."""
    import pandas as pd

    if metric in frame.columns:
        values = pd.to_numeric(frame[metric], errors="coerce").where(frame["error"].isna())
        if values.notna().any():
            position = int(
                np.argmax(values.fillna(-np.inf)) if maximize else np.argmin(values.fillna(np.inf))
            )
            return position, float(values.iloc[position]), None
    errors = frame["error"].dropna()
    first = f"; the first error was {errors.iloc[0]}" if len(errors) else ""
    return None, float("nan"), f"no cell gave a number for {metric!r} on the training window{first}"


def _stitch(curves: list[pd.Series], compound: bool) -> pd.Series:
    """Each curve moved (or scaled) to start where the previous one ended."""
    import pandas as pd

    pieces: list[pd.Series] = []
    for curve in curves:
        segment = curve.astype(float)
        if pieces:
            if not segment.index[0] > pieces[-1].index[-1]:
                msg = (
                    "The test windows' equity curves overlap or are out of order; "
                    "each test window must start after the one before it ends."
                )
                raise ConfigurationError(msg)
            if compound:
                segment = segment / segment.iloc[0] * pieces[-1].iloc[-1]
            else:
                segment = segment - segment.iloc[0] + pieces[-1].iloc[-1]
        pieces.append(segment)
    if not pieces:
        return pd.Series(dtype=float, name="equity")
    stitched: pd.Series = pd.concat(pieces).rename("equity")
    return stitched


def walk_forward(
    backtest: Callable[..., Any],
    grid: Any,
    splits: Any,
    *,
    metric: Hashable = "sharpe",
    maximize: bool = True,
    equity: Hashable | None = "equity",
    compound: bool = False,
    executor: Any = None,
    seed: int = 0,
    chunksize: int | None = None,
    progress: bool = True,
) -> WalkForwardResult:
    """Choose the best cell of ``grid`` on each training window, then run it on the test window.

    ``backtest(**params, seed=..., window=...)`` is called as for :func:`sweep`, with
    ``window`` a slice of bar labels (``bars.loc[window]`` are the bars to trade).  For each
    split of ``splits`` (see :func:`walk_forward_splits`), every cell runs on the training
    window; the one with the highest ``metric`` (a key of what the backtest returns, e.g.
    ``"sharpe"``; the lowest with ``maximize=False``; ties go to the first in grid order)
    then runs on the test window, which it has not seen.  Cells that raised, or gave no
    number for the metric, are not chosen.

    Cell ``i`` gets the same seed on every window, the seed :func:`sweep` gives it, so each
    training pass equals ``sweep(functools.partial(backtest, window=split.train), grid)``.
    All training runs go out as one sweep, on ``executor``, then all test runs.

    The backtest's ``equity`` entry (a Series of equity by bar, whose first value is the
    window's starting equity) is stitched over the test windows: each window's curve is
    moved to start where the previous one ended, adding up the windows' gains, as trading
    the same sizes window after window would.  With ``compound=True`` each curve is scaled
    instead, compounding the windows' returns, as a strategy that sizes its orders by its
    equity would.  Pass ``equity=None`` when the backtest returns no curve.
    """
    import pandas as pd

    names, cells = grid_cells(grid)
    windows = _splits(splits)
    for flag, value in (("maximize", maximize), ("compound", compound)):
        if not isinstance(value, bool):
            msg = f"{flag} must be True or False, got {value!r}."
            raise ConfigurationError(msg)
    seeds = cell_seeds(seed, len(cells))
    n = len(cells)
    calls = [
        {**cell, "seed": cell_seed, "window": split.train}
        for split in windows
        for cell, cell_seed in zip(cells, seeds, strict=True)
    ]
    opts = {"executor": executor, "chunksize": chunksize, "progress": progress}
    trained = run_cells(backtest, calls, desc="walk-forward: train", **opts)
    index = params_index(names, cells)
    frames = [outcomes_frame(index, seeds, trained[k * n : (k + 1) * n]) for k in range(len(windows))]
    if not any(metric in frame.columns for frame in frames) and any(
        frame["error"].isna().any() for frame in frames
    ):
        columns = [c for c in frames[0].columns if c not in ("seed", "error")]
        msg = f"metric {metric!r} is not among the backtest's results {columns}; pass metric= one of them."
        raise ConfigurationError(msg)
    chosen = [_choose(frame, metric, maximize) for frame in frames]
    picks = [(k, position) for k, (position, _, _) in enumerate(chosen) if position is not None]
    tests = [{**cells[p], "seed": seeds[p], "window": windows[k].test} for k, p in picks]
    test_outcomes = run_cells(backtest, tests, desc="walk-forward: test", **opts)
    tested = dict(zip([k for k, _ in picks], test_outcomes, strict=True))

    curves: list[pd.Series] = []
    records = []
    for k, split in enumerate(windows):
        position, score, why = chosen[k]
        result, error = tested.get(k, (None, why))
        if result is not None and equity is not None:
            curve = result.pop(equity, None)
            if not isinstance(curve, pd.Series):
                msg = (
                    f"The backtest returned {type(curve).__name__} for {equity!r} on split {k}; return the "
                    f"equity curve there as a pandas Series of equity by bar, or pass equity=None."
                )
                raise ConfigurationError(msg)
            curves.append(curve)
        record: dict[Any, Any] = {
            "train_start": split.train.start,
            "train_end": split.train.stop,
            "test_start": split.test.start,
            "test_end": split.test.stop,
        }
        record.update({name: None if position is None else cells[position][name] for name in names})
        record[f"train_{metric}"] = score
        records.append((record, result, None if position is None else seeds[position], error))
    rows = _rows(records)
    train = pd.concat(frames, keys=range(len(windows)), names=["split"])
    return WalkForwardResult(
        rows=rows, equity=None if equity is None else _stitch(curves, compound), train=train
    )


def _rows(
    records: list[tuple[dict[Any, Any], dict[Any, Any] | None, int | None, str | None]],
) -> pd.DataFrame:
    import pandas as pd

    outcomes: list[Outcome] = [({**head, **(result or {})}, error) for head, result, _, error in records]
    index = pd.RangeIndex(len(records), name="split")
    frame = outcomes_frame(index, [0] * len(records), outcomes)
    frame["seed"] = pd.array([seed for _, _, seed, _ in records], dtype="Int64")
    return frame
