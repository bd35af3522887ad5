"""The machinery of the records in :mod:`paperbroker.models`.

A record is a slotted dataclass with TradingView field names.  :func:`finish_record` gives
each class its field names, a fast ``copy`` and a read-only twin: a subclass with the same
name and slots whose ``__setattr__`` refuses.  Every record the broker hands out (to a
subscriber, or from ``buy``, ``order``, ``positions`` ...) is turned into its twin by
switching its class, which costs far less than a frozen dataclass's field-by-field
construction, so the broker can hand one object to every subscriber.  A changed copy comes
from :func:`dataclasses.replace` (read-only again) or :meth:`Record.copy` (mutable).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import FrozenInstanceError, fields
from enum import IntEnum
from typing import Any, ClassVar, TypeVar

__all__ = ["Record", "finish_record", "is_read_only", "read_only", "read_only_class"]


R = TypeVar("R", bound="Record")


def _json_value(value: object) -> object:
    if isinstance(value, IntEnum):
        return int(value)
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _refuse(record: object, name: str, *_value: object) -> None:
    cls = type(record).__name__
    raise FrozenInstanceError(
        f"This {cls} came from the broker and is read-only, so {name!r} cannot be changed. "
        f"Make a changed copy with dataclasses.replace(record, {name}=...), or a mutable one "
        f"with record.copy()."
    )


def _read_only_new(cls: type[Any], *args: Any, **kwargs: Any) -> Any:
    record = cls.__mro__[1](*args, **kwargs)  # the mutable record class builds it
    record.__class__ = cls
    return record


def _read_only_init(self: object, *_args: Any, **_kwargs: Any) -> None:
    """Nothing to do: ``__new__`` built the record."""


def _rebuild(cls: type[Any], values: tuple[Any, ...]) -> Any:
    """Unpickle a read-only record (``cls`` is the mutable class, found by name)."""
    return _READ_ONLY[cls](*values)


#: mutable record class -> its read-only twin
_READ_ONLY: dict[type, type] = {}
_TWINS: set[type] = set()


def finish_record(cls: type[R]) -> type[R]:
    """Finish a record class: its field names, a fast ``copy``, a read-only twin.

    ``copy`` is generated as a bare new object whose slots are set one by one, in the
    copy's own frame: no ``__init__`` call, the cheapest way to copy a slotted dataclass
    (a positional constructor call costs a Python frame more).  The twin is a
    subclass with the same name and slots whose ``__setattr__`` refuses: the broker turns
    a record it hands out into one by switching its class (:func:`read_only`), which costs
    far less than a frozen dataclass's field-by-field construction, and hands the same object
    to every subscriber.  ``snapshot`` is a read-only copy.  Records compare equal across the
    two classes.
    """
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    if cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        # a small record that is never changed (an order's message or duration): the
        # class itself is read-only, so a snapshot is the record itself
        cls._names = names
        cls.copy = cls.snapshot = lambda self: self  # type: ignore[method-assign]
        return cls
    cls._names = names
    twin = type(
        cls.__name__,
        (cls,),
        {
            "__slots__": (),
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "__setattr__": _refuse,
            "__delattr__": _refuse,
            "__new__": _read_only_new,
            "__init__": _read_only_init,
            "__reduce__": lambda self: (_rebuild, (cls, tuple(getattr(self, n) for n in names))),
        },
    )
    _READ_ONLY[cls] = twin
    _TWINS.add(twin)
    fill = "".join(f"    record.{name} = self.{name}\n" for name in names)
    mine = " and ".join(f"self.{name} == other.{name}" for name in names)
    namespace: dict[str, Any] = {}
    exec(
        f"def copy(self):\n    record = new(cls)\n{fill}    return record\n"
        f"def snapshot(self):\n    record = new(cls)\n{fill}    record.__class__ = twin\n    return record\n"
        "def __eq__(self, other):\n"
        "    if other.__class__ is not cls and other.__class__ is not twin:\n"
        "        return NotImplemented\n"
        f"    return {mine}\n",
        {"cls": cls, "twin": twin, "new": object.__new__},
        namespace,
    )
    namespace["copy"].__doc__ = "A new, mutable record with the same field values."
    namespace["snapshot"].__doc__ = "A new, read-only record with the same field values."
    cls.copy = namespace["copy"]  # type: ignore[method-assign]
    cls.snapshot = namespace["snapshot"]  # type: ignore[method-assign]
    cls.__eq__ = namespace["__eq__"]  # type: ignore[method-assign]
    return cls


def read_only(record: R) -> R:
    """Make ``record`` read-only in place and return it (the broker does this to the records
    it hands out; changing one raises :class:`dataclasses.FrozenInstanceError`)."""
    twin = _READ_ONLY.get(record.__class__)
    if twin is not None:
        record.__class__ = twin
    return record


def read_only_class(cls: type[R]) -> type[R]:
    """The read-only twin of a finished record class: a hot path that builds a record and
    hands it out assigns ``record.__class__ = twin`` itself, without the :func:`read_only`
    call."""
    return _READ_ONLY[cls]


def is_read_only(record: object) -> bool:
    """True when ``record`` is a read-only record the broker handed out."""
    return type(record) in _TWINS


#: Fields a repr shows rounded (the values themselves keep full precision): amounts of
#: money to the cent, prices to 6 decimals (finer than any tick, coarser than float noise).
_MONEY_FIELDS = frozenset(
    ("equity", "balance", "unrealizedPL", "realizedPL", "commission", "marginUsed", "buyingPower")
)
_PRICE_FIELDS = frozenset(
    (
        "limitPrice", "stopPrice", "takeProfit", "stopLoss", "guaranteedStop", "seenPrice",
        "avgPrice", "price", "last", "bid", "ask", "open", "high", "low",
    )
)  # fmt: skip
#: Unix-millisecond fields, shown with the UTC time they stand for beside them.
_TIME_FIELDS = frozenset(("time", "updateTime", "timestamp"))


def _shown(name: str, value: object) -> str:
    """How a record's repr shows field ``name``: enums by name, money to the cent, prices
    without float noise, times in milliseconds with the UTC time beside them."""
    if isinstance(value, IntEnum):
        return value.name
    if type(value) is float and math.isfinite(value):
        if name in _MONEY_FIELDS:
            return repr(round(value, 2) + 0.0)  # + 0.0: -0.004 shows as 0.0, not -0.0
        if name in _PRICE_FIELDS:
            return repr(round(value, 6) + 0.0)
    if name in _TIME_FIELDS and type(value) is int and 0 < value < _MAX_MS:
        when = _dt.datetime.fromtimestamp(value / 1000, _dt.timezone.utc)
        text = when.strftime("%Y-%m-%d %H:%M:%S")
        if value % 1000:
            text += f".{value % 1000:03d}"
        return f"{value} ({text} UTC)"
    return repr(value)


_MAX_MS = 253_402_300_800_000  # 10000-01-01: later times have no calendar date to show

_HTML_SAFE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


class Record:
    """Shared behaviour: JSON conversion, a short repr and a fast copy."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as TradingView JSON: camelCase keys, int enums, None left out."""
        out: dict[str, Any] = {}
        for name in self._names:
            value = getattr(self, name)
            if value is not None:
                out[name] = _json_value(value)
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as a compact JSON string.

        ``<``, ``>`` and ``&`` are written as ``\\u003c``, ``\\u003e`` and ``\\u0026`` (still the
        same JSON), so the text is safe inside an HTML ``<script>`` element whatever a
        symbol or message contains.
        """
        return json.dumps(self.to_dict(), separators=(",", ":")).translate(_HTML_SAFE)

    def copy(self: R) -> R:
        """A new, mutable record with the same field values."""
        raise TypeError(f"{type(self).__name__} is not a finished record class")

    def snapshot(self: R) -> R:
        """A new, read-only record with the same field values."""
        raise TypeError(f"{type(self).__name__} is not a finished record class")

    def __repr__(self) -> str:
        parts = [
            f"{name}={_shown(name, value)}"
            for name in self._names
            if (value := getattr(self, name)) is not None
        ]
        return f"{type(self).__name__}({', '.join(parts)})"
