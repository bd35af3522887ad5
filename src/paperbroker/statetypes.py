"""The vocabulary of saved state: the constrained types that component states are made of.

Each stateful part of the broker (ledger, order book, history, risk, brackets, matcher,
price sources, clocks) describes what it saves as a small frozen dataclass next to its
code, built from plain data: ``str``, ``bool``, ``int``, ``float``, ``None``, tuples,
``dict[str, ...]``, enums, other state dataclasses, and the annotated types below, which
say what a value must be beyond its type (``Positive``: a finite number > 0).  The
persistence layer reads those annotations to check a saved file field by field before
anything is built (:mod:`paperbroker.persistence.decode`); nothing here does any I/O.

* :class:`Check` - a condition on a value, with the words an error message uses;
* :class:`Packed` - numbers stored as base64 of a little-endian array (exact, and NaN and
  infinity survive), read back as a numpy array;
* :class:`Tagged` - a choice of state types told apart by a ``"type"`` key;
* :data:`OMIT_NONE` - a field left out of the file when it is ``None`` (as the records'
  ``to_dict`` does), and :data:`OMIT_DEFAULT` when it has its default value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

__all__ = [
    "OMIT_DEFAULT",
    "OMIT_NONE",
    "Check",
    "Count",
    "Finite",
    "Floats",
    "Ints",
    "NonNegative",
    "Omit",
    "Packed",
    "Positive",
    "Sign",
    "Tagged",
]


@dataclass(frozen=True, slots=True)
class Check:
    """A condition a decoded value must meet; ``wanted`` completes "must be ...".

    ``wanted`` names the whole requirement, type included ("a number > 0"), since it
    replaces the type's own words in the message.
    """

    test: Callable[[Any], bool]
    wanted: str


@dataclass(frozen=True, slots=True)
class Packed:
    """Numbers stored as base64 of a little-endian array of ``dtype`` ("<f8", "<i8")."""

    dtype: str


@dataclass(frozen=True, slots=True)
class Tagged:
    """One of several state types, chosen by the value of the ``key`` field ("type")."""

    key: str
    choices: Mapping[str, type[Any]]

    def tag_of(self, value: object) -> str:
        """The tag that ``value``'s type is saved under."""
        for tag, cls in self.choices.items():
            if type(value) is cls:
                return tag
        msg = f"{type(value).__name__} is not one of {sorted(self.choices)}"
        raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class Omit:
    """A field written only when it is neither ``None`` nor its default (read back as its
    default): files stay as they were for brokers that do not use what the field adds."""


#: The marker for ``Annotated[X | None, OMIT_NONE]``.
OMIT_NONE = Omit()
#: The marker for ``Annotated[X, OMIT_DEFAULT]`` (a field with a default); the same rule.
OMIT_DEFAULT = OMIT_NONE


#: Any finite number (a float, NaN and infinities refused).
Finite = float
#: A finite number > 0: quantities, prices.
Positive = Annotated[float, Check(lambda v: v > 0, "a number > 0")]
#: A finite number >= 0: commissions, sizes, balances.
NonNegative = Annotated[float, Check(lambda v: v >= 0, "a number >= 0")]
#: A whole number >= 0: counters, indexes, times in milliseconds.
Count = Annotated[int, Check(lambda v: v >= 0, "a whole number >= 0")]
#: A side as the records store it: 1 (buy) or -1 (sell).
Sign = Annotated[int, Check(lambda v: v in (1, -1), "1 (buy) or -1 (sell)")]
#: Packed float64 numbers (any, also NaN and infinity).
Floats = Annotated[np.ndarray, Packed("<f8")]
#: Packed int64 numbers.
Ints = Annotated[np.ndarray, Packed("<i8")]
