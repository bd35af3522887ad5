"""Bounded, columnar history of executions and equity changes.

Each log keeps its numeric fields interleaved in one ``array('d')``.  Appending a row is
``data.frombytes(pack(*row))``: packing with :mod:`struct` converts a row more than twice
as fast as ``array.extend``, which parses each number on its own.  Exporting hundreds of
thousands of rows is one ``numpy.frombuffer(...).reshape(-1, width)`` and one memcpy (see
:meth:`_Log.table`).  Millisecond timestamps and small integer codes are exact in float64
(below 2**53).  A log keeps at least its ``limit`` newest rows: once it holds twice that,
the oldest are dropped in one go, which keeps the amortised cost per row O(1).  ``total``
counts every row ever appended.
"""

from __future__ import annotations

import math
import struct
from array import array
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

from ..errors import PersistenceError
from ..statetypes import Count, Floats

__all__ = ["Codes", "EquityLog", "ExecutionLog", "History", "LogState"]

_L = TypeVar("_L", bound="_Log")


@dataclass(frozen=True, slots=True, eq=False)
class LogState:
    """What a log saves: its column names, rows ever appended, the rows it keeps (packed,
    row after row) and its string columns."""

    columns: tuple[str, ...]
    total: Count
    data: Floats
    strings: tuple[tuple[str, ...], ...]


class Codes:
    """Interns strings (symbols, account ids) as small ints for compact columns."""

    __slots__ = ("by_name", "names")

    def __init__(self) -> None:
        self.by_name: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        """The code of ``name``, given a new one if it has none yet."""
        code = self.by_name.get(name)
        if code is None:
            code = self.by_name[name] = len(self.names)
            self.names.append(name)
        return code

    def find(self, name: str) -> int | None:
        """The code of ``name``, or None if it has none."""
        return self.by_name.get(name)

    def state(self) -> tuple[str, ...]:
        """The names, in code order: all a :class:`Codes` saves."""
        return tuple(self.names)

    @classmethod
    def from_state(cls, names: tuple[str, ...]) -> Codes:
        """New codes for ``names`` (the lookup table is rebuilt); a name listed twice raises."""
        codes = cls()
        for n, name in enumerate(names):
            if codes.code(name) != n:
                raise PersistenceError(f"[{n}] {name!r} is listed twice")
        return codes


class _Log:
    """Rows of ``width`` floats in ``data``, plus optional string columns."""

    __slots__ = ("cap", "data", "limit", "pack", "strings", "total", "width")

    columns: tuple[str, ...] = ()

    def __init__(self, limit: int | None, strings: int = 0) -> None:
        self.limit = limit
        self.width = len(self.columns)
        # trim once ``data`` holds this many floats: twice the limit's rows
        self.cap: float = math.inf if limit is None else 2 * limit * self.width
        self.total = 0
        self.data = array("d")
        #: a row's floats as bytes for ``data.frombytes`` (native layout, as array's)
        self.pack = struct.Struct(f"{self.width}d").pack
        self.strings: list[list[str]] = [[] for _ in range(strings)]

    def __len__(self) -> int:
        return len(self.data) // self.width

    def added(self, rows: int = 1) -> None:
        """Count rows the caller extended ``data`` with; trim when over twice the limit.

        The broker does the same inline on every fill.
        """
        self.total += rows
        if len(self.data) >= self.cap:
            self.trim()

    def replace(self, index: int, row: tuple[float, ...]) -> bool:
        """Overwrite row number ``index`` (counted over every row ever appended) with
        ``row``; False when that row is no longer kept."""
        at = index - (self.total - len(self))
        if at < 0:
            return False
        width = self.width
        self.data[at * width : (at + 1) * width] = array("d", row)
        return True

    def trim(self) -> None:
        """Drop all but the newest ``limit`` rows."""
        if self.limit is None:
            return
        drop = len(self) - self.limit
        if drop > 0:
            del self.data[: drop * self.width]
            for column in self.strings:
                del column[:drop]

    def table(self) -> Any:
        """The numeric rows as a ``(rows, width)`` numpy array of their own.

        A copy (one memcpy), not a view: while any numpy view of ``data`` is alive the
        array cannot grow, and every later append (every fill) would raise BufferError.
        A view outlives its caller more easily than it seems: a traceback that IPython keeps
        in ``sys.last_traceback`` holds the locals of every frame it passed through.
        """
        import numpy as np

        return np.frombuffer(self.data, dtype=np.float64).reshape(-1, self.width).copy()

    def state(self) -> LogState:
        """The log as plain data (see :class:`LogState`)."""
        return LogState(self.columns, self.total, self.table(), tuple(map(tuple, self.strings)))

    @classmethod
    def from_state(cls: type[_L], state: LogState, limit: int | None) -> _L:
        """A new log holding ``state``'s rows; raises PersistenceError naming the field when
        the columns are not this log's or the rows do not line up."""
        log = cls(limit)
        if state.columns != log.columns:
            raise PersistenceError(f"columns must be {list(log.columns)}, got {list(state.columns)}")
        if len(state.data) % log.width:
            raise PersistenceError(f"data must hold whole rows of {log.width} numbers")
        rows = len(state.data) // log.width
        if len(state.strings) != len(log.strings):
            raise PersistenceError(f"strings must be {len(log.strings)} columns, got {len(state.strings)}")
        for n, saved in enumerate(state.strings):
            if len(saved) != rows:
                raise PersistenceError(f"strings[{n}] must have one value per row ({rows}), got {len(saved)}")
        if limit is not None and rows > 2 * limit:  # a log trims itself to its limit at twice it
            raise PersistenceError(f"data holds {rows} rows, more than a history_limit of {limit} keeps")
        if state.total < rows:
            raise PersistenceError(f"total must count at least the {rows} rows kept, got {state.total}")
        log.data.frombytes(state.data.astype("=f8").tobytes())
        for column, names in zip(log.strings, state.strings, strict=True):
            column.extend(names)
        log.total = state.total
        return log

    def clear(self) -> None:
        del self.data[:]
        for column in self.strings:
            del column[:]


class ExecutionLog(_Log):
    """One row per execution, with the execution and order ids as string columns.

    The ids are kept rather than formatted again on export: the broker has made the
    strings anyway, appending them costs a pointer each, and formatting 300,000 ids
    would take longer than building the whole DataFrame.
    """

    __slots__ = ()
    columns: tuple[str, ...] = ("time", "account", "symbol", "side", "qty", "price", "commission")

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit, strings=2)

    @property
    def exec_ids(self) -> list[str]:
        """The execution ids, one per kept row."""
        return self.strings[0]

    @property
    def order_ids(self) -> list[str]:
        """The order ids, one per kept row."""
        return self.strings[1]


class EquityLog(_Log):
    """One row per change of an account's equity."""

    __slots__ = ()
    columns: tuple[str, ...] = (
        "time",
        "account",
        "balance",
        "equity",
        "realized",
        "unrealized",
        "commission",
    )


class History(NamedTuple):
    """A broker's columnar history, as the exports read it (read it; never change it)."""

    executions: ExecutionLog
    equity: EquityLog
    symbols: Codes
    accounts: Codes
