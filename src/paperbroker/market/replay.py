"""Load and check the pandas data a replay plays back (pandas is imported on first use).

:func:`load_frames` accepts one DataFrame of one symbol, a long DataFrame with a
``symbol`` column, or a dict of DataFrames per symbol; finds the times (a DatetimeIndex, a
``time``/``timestamp``/``datetime``/``date`` column, or Unix milliseconds); and refuses,
with a :class:`ConfigurationError` naming the row and column and saying how to fix it,
missing columns, NaNs, non-positive prices, unsorted or repeated times, and gaps.  It
returns numpy columns stably sorted by time and the boundaries of each time's group.
A replay plays them back a :class:`Chunk` of Python lists at a time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from .source import BarRow

__all__ = ["CHUNK_TIMES", "NO_CHUNK", "Chunk", "Loaded", "load_frames"]

_TIME_COLUMNS = ("time", "timestamp", "datetime", "date")
_SIZES = ("volume", "bid_size", "ask_size")


@dataclass(slots=True)
class Loaded:
    """Replay data checked and laid out by time: symbols, times and columns."""

    symbols: list[str]
    times: np.ndarray[Any, Any]  # int64 ms, sorted
    codes: np.ndarray[Any, Any]  # symbol index per row
    columns: dict[str, np.ndarray[Any, Any]]
    starts: np.ndarray[Any, Any]  # first row of each time, then len(rows)


def _snake(name: object) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(name)).strip()
    return text.lower().replace(" ", "_")


def _stamp(ms: int) -> str:
    import pandas as pd

    return str(pd.Timestamp(int(ms), unit="ms", tz="UTC"))


class _Frame:
    """One frame's rows, as numpy columns, with row labels for messages."""

    def __init__(self, frame: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            msg = f"{where} must be a pandas DataFrame, got {type(frame).__name__}."
            raise ConfigurationError(msg)
        if frame.empty:
            msg = f"{where} has no rows; a replay needs at least one."
            raise ConfigurationError(msg)
        self.where = where
        names = {_snake(c): c for c in frame.columns}
        missing = [c for c in required if c not in names]
        if missing:
            msg = (
                f"{where} lacks the column(s) {', '.join(map(repr, missing))}; it needs "
                f"{', '.join(required)} (any case), optionally {', '.join(optional)}. "
                f"Its columns are {', '.join(map(repr, map(str, frame.columns)))}."
            )
            raise ConfigurationError(msg)
        time_col = next((names[c] for c in _TIME_COLUMNS if c in names), None)
        raw_times = frame[time_col] if time_col is not None else frame.index
        self.times = self._times(raw_times, where)
        self.labels = frame.index
        self.columns: dict[str, np.ndarray[Any, Any]] = {}
        for column in (*required, *(c for c in optional if c in names)):
            # a copy: the replay must not change with the caller's frame, nor change it
            values = pd.to_numeric(frame[names[column]], errors="coerce").to_numpy(dtype=float, copy=True)
            self.columns[column] = values
            self._check_values(column, values, frame[names[column]])
        self.symbols = frame[names["symbol"]].astype(str).to_numpy() if "symbol" in names else None

    @staticmethod
    def _times(raw: Any, where: str) -> np.ndarray[Any, Any]:
        import pandas as pd

        if pd.api.types.is_datetime64_any_dtype(raw):
            index = pd.DatetimeIndex(raw)
            if index.hasnans:
                pos = int(np.flatnonzero(index.isna())[0])
                msg = f"Row {pos} of {where} has no time (NaT); drop it or give it a time."
                raise ConfigurationError(msg)
            return np.array(index.as_unit("ms").asi8, dtype=np.int64)  # copies, as below
        if pd.api.types.is_integer_dtype(raw):
            return np.array(raw, dtype=np.int64)
        msg = (
            f"The times of {where} must be a DatetimeIndex, a datetime 'time' column or Unix "
            f"milliseconds (integers), got dtype {getattr(raw, 'dtype', type(raw).__name__)}; "
            "convert them with pandas.to_datetime(...)."
        )
        raise ConfigurationError(msg)

    def row(self, pos: int) -> str:
        return f"row {pos} ({self.labels[pos]}) of {self.where}"

    def _check_values(self, column: str, values: np.ndarray[Any, Any], original: Any) -> None:
        nan = np.isnan(values)
        if nan.any():
            pos = int(np.flatnonzero(nan)[0])
            shown = original.iloc[pos]
            msg = (
                f"Column {column!r} has no number at {self.row(pos)} (it holds {shown!r}); drop "
                "such rows (frame.dropna()) or fill them (frame.ffill()) before replaying."
            )
            raise ConfigurationError(msg)
        bad = (values < 0 if column in _SIZES else values <= 0) | np.isinf(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            need = "finite and >= 0" if column in _SIZES else "finite and > 0"
            msg = f"Column {column!r} is {float(values[pos])!r} at {self.row(pos)}; it must be {need}."
            raise ConfigurationError(msg)


def _frames(
    data: Any, symbol: str | None, required: tuple[str, ...], optional: tuple[str, ...]
) -> list[tuple[_Frame, list[str], np.ndarray[Any, Any] | None]]:
    """``(frame, its symbols, each row's index into them)`` triples; the index is None when
    the frame holds one symbol."""
    if isinstance(data, Mapping):
        if not data:
            msg = "The dict of frames is empty; give at least one symbol -> DataFrame."
            raise ConfigurationError(msg)
        return [
            (_Frame(frame, f"the frame for {name!r}", required, optional), [str(name)], None)
            for name, frame in data.items()
        ]
    frame = _Frame(data, "the data", required, optional)
    if symbol is not None:
        if not isinstance(symbol, str) or not symbol.strip():
            msg = f"symbol must be a non-empty string such as 'SPY', got {symbol!r}."
            raise ConfigurationError(msg)
        if frame.symbols is not None:
            msg = "The data has a 'symbol' column and symbol= was given too; drop one of them."
            raise ConfigurationError(msg)
        return [(frame, [symbol], None)]
    if frame.symbols is None:
        msg = (
            "The data has no 'symbol' column; pass symbol='SPY' for a one-symbol frame, add a "
            "'symbol' column, or give a dict {symbol: frame}."
        )
        raise ConfigurationError(msg)
    import pandas as pd

    # hashed in C, in the order the symbols first appear (a Python loop a row cost more
    # than the rest of loading)
    index, names = pd.factorize(frame.symbols)
    return [(frame, [str(name) for name in names], index.astype(np.int64, copy=False))]


def _check_order(frame: _Frame, rows: np.ndarray[Any, Any] | None, name: str, freq_ms: int | None) -> None:
    """``name``'s times (its ``rows`` of the frame, None: all of them) rise, at ``freq_ms``."""
    times = frame.times if rows is None else frame.times[rows]
    steps = np.diff(times)
    if (steps <= 0).any():
        k = int(np.flatnonzero(steps <= 0)[0])
        pos, prev = (k + 1, k) if rows is None else (int(rows[k + 1]), int(rows[k]))
        what = "repeats the time of" if steps[k] == 0 else "is earlier than"
        msg = (
            f"The times of {name!r} are not sorted: {frame.row(pos)} {what} {frame.row(prev)}. "
            "Sort the data by time (frame.sort_index() or frame.sort_values('time')) and drop "
            "repeated rows (frame[~frame.index.duplicated()])."
        )
        raise ConfigurationError(msg)
    if freq_ms is not None and (steps != freq_ms).any():
        k = int(np.flatnonzero(steps != freq_ms)[0])
        pos = k + 1 if rows is None else int(rows[k + 1])
        msg = (
            f"There is a gap in {name!r}: {frame.row(pos)} comes {int(steps[k]) // 1000} s after the "
            f"bar before it, but the frequency is {freq_ms // 1000} s. Fill the gap (e.g. "
            "frame.asfreq(...).ffill()) or pass allow_gaps=True."
        )
        raise ConfigurationError(msg)


def load_frames(
    data: Any,
    *,
    symbol: str | None,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    allow_gaps: bool,
    frequency: Any,
    check: Callable[[dict[str, Any]], tuple[Any, str] | None],
) -> Loaded:
    """Check ``data`` and return its rows sorted by time (see the module docstring)."""
    import pandas as pd

    freq_ms = None
    if frequency is not None and not allow_gaps:
        try:
            freq_ms = int(pd.Timedelta(pd.tseries.frequencies.to_offset(frequency)).total_seconds() * 1000)
        except (TypeError, ValueError) as exc:
            msg = f"frequency must be a pandas offset such as '1min' or '1D', got {frequency!r}."
            raise ConfigurationError(msg) from exc
    parts = _frames(data, symbol, required, optional)
    symbols: list[str] = []
    for frame, names, index in parts:
        flagged = check(frame.columns)
        if flagged is not None and flagged[0].any():
            pos = int(np.flatnonzero(flagged[0])[0])
            values = ", ".join(f"{k}={float(v[pos])!r}" for k, v in frame.columns.items())
            msg = f"At {frame.row(pos)} {flagged[1]}, but it has {values}. Fix or drop that row."
            raise ConfigurationError(msg)
        for i, name in enumerate(names):
            if name not in symbols:
                symbols.append(name)
            _check_order(frame, None if index is None else np.flatnonzero(index == i), name, freq_ms)
    code_of = {name: i for i, name in enumerate(symbols)}
    codes_of = [np.array([code_of[name] for name in names], dtype=np.int64) for _, names, _ in parts]
    codes_in = [
        np.full(len(f.times), of[0], np.int64) if index is None else of[index]
        for (f, _, index), of in zip(parts, codes_of, strict=True)
    ]
    shared = [key for key in parts[0][0].columns if all(key in f.columns for f, _, _ in parts)]
    if len(parts) == 1:  # nothing to join: the frame's own arrays (copies of the data's)
        frame = parts[0][0]
        times, codes = frame.times, codes_in[0]
        columns = {key: frame.columns[key] for key in shared}
    else:
        times, codes = np.concatenate([f.times for f, _, _ in parts]), np.concatenate(codes_in)
        columns = {key: np.concatenate([f.columns[key] for f, _, _ in parts]) for key in shared}
    if len(times) > 1 and (times[1:] < times[:-1]).any():  # else sorting would change nothing
        order = np.argsort(times, kind="stable")
        times, codes = times[order], codes[order]
        columns = {k: v[order] for k, v in columns.items()}
    starts = np.concatenate([[0], np.flatnonzero(np.diff(times)) + 1, [len(times)]]).astype(np.int64)
    if not allow_gaps and len(symbols) > 1:
        counts = np.diff(starts)
        short = np.flatnonzero(counts < len(symbols))
        if len(short):
            g = int(short[0])
            present = set(codes[starts[g] : starts[g + 1]].tolist())
            absent = [s for i, s in enumerate(symbols) if i not in present]
            msg = (
                f"There is a gap at {_stamp(times[starts[g]])}: {', '.join(map(repr, absent))} "
                f"{'has' if len(absent) == 1 else 'have'} no row there while other symbols do. Fill "
                "the missing rows (e.g. forward-fill each symbol) or pass allow_gaps=True."
            )
            raise ConfigurationError(msg)
    return Loaded(symbols, times, codes, columns, starts)


#: times converted from numpy to Python lists at once: a numpy slice and ``tolist`` cost
#: as much as a whole bar does, so a replay does them once per this many bars
CHUNK_TIMES = 512


class Chunk:
    """A run of a replay's times as Python lists: ``times`` and ``starts`` per time
    (``starts`` relative to the run, one more than the times), the rest per row."""

    __slots__ = ("codes", "columns", "end", "first", "rows", "starts", "times")

    def __init__(
        self,
        times: np.ndarray[Any, Any],
        codes: np.ndarray[Any, Any],
        columns: dict[str, np.ndarray[Any, Any]],
        starts: np.ndarray[Any, Any],
        first: int,
        end: int,
    ) -> None:
        self.first = first  # the run's first time (the replay's step number) ...
        self.end = end  # ... and the one after its last
        bounds = starts[first : end + 1]
        r0, r1 = int(bounds[0]), int(bounds[-1])
        self.times: list[int] = times[bounds[:-1]].tolist()
        self.starts: list[int] = (bounds - r0).tolist()
        self.codes: list[int] = codes[r0:r1].tolist()
        self.columns: dict[str, list[float]] = {
            name: column[r0:r1].tolist() for name, column in columns.items()
        }
        #: a bar replay's rows as :data:`BarRow` tuples (:meth:`BarReplay.next_bar`)
        self.rows: list[BarRow] = []


NO_CHUNK = Chunk(np.zeros(0, np.int64), np.zeros(0, np.int64), {}, np.zeros(1, np.int64), 0, 0)
