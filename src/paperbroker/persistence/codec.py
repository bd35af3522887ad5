"""Small encodings shared by the sections of a saved broker (see :mod:`paperbroker.persistence`).

Readers raise ``ValueError`` for a value that does not fit (the loader turns it into a
:class:`~paperbroker.errors.PersistenceError` naming the file), except :func:`not_custom`,
which raises that error itself: its message tells the user what to pass to ``load()``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import PersistenceError

__all__ = ["count", "custom", "not_custom", "number", "pack", "unpack"]


def count(value: object) -> int:
    """A whole number >= 0 (ids, counters, times in milliseconds)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        msg = f"expected a whole number >= 0, got {value!r}"
        raise ValueError(msg)
    return value


def number(value: object) -> float:
    """A finite number, as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        msg = f"expected a finite number, got {value!r}"
        raise ValueError(msg)
    return float(value)


def pack(values: Sequence[float] | np.ndarray[Any, Any], dtype: str = "<f8") -> str:
    """Numbers as base64 of a little-endian array: exact, and infinities and NaNs survive."""
    return base64.b64encode(np.asarray(values, dtype=dtype).tobytes()).decode("ascii")


def unpack(text: object, size: int | None = None, dtype: str = "<f8") -> np.ndarray[Any, Any]:
    """The array :func:`pack` wrote (``size`` values, when given), in native byte order."""
    if not isinstance(text, str):
        msg = f"expected packed numbers (base64 text), got {text!r}"
        raise ValueError(msg)
    raw = base64.b64decode(text, validate=True)
    width = np.dtype(dtype).itemsize
    if len(raw) % width or (size is not None and len(raw) != size * width):
        msg = f"packed numbers have {len(raw)} bytes, not {size if size is not None else 'whole'} values"
        raise ValueError(msg)
    return np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))


def custom(thing: object) -> dict[str, Any]:
    """What a file notes of a model, clock or source of the user's own, which it cannot hold."""
    return {"type": "custom", "repr": repr(thing)}


def not_custom(saved: dict[str, Any], what: str, argument: str) -> str:
    """The saved type; a thing of the user's own must be passed to load() again."""
    kind: str = saved["type"]
    if kind == "custom":
        msg = (
            f"The broker was saved with a {what} of your own ({saved['repr']}), which a file "
            f"cannot hold; pass it again: load(path, {argument})."
        )
        raise PersistenceError(msg)
    return kind
