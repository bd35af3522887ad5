"""The TradingView Broker API's enums, with their protocol values.

Each is an ``IntEnum``: it compares and serialises as the protocol's integer, and has a
readable ``label`` ("Working", "Stop Limit").  ``str()``, ``print()`` and f-strings show
the member's name (``WORKING``), as its repr in a record does; ``int()`` gives the value,
and a numeric format (``f"{side:d}"``) formats it as a number.  ``coerce`` accepts the
member, its value, or its name in any case.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

__all__ = [
    "DONE_STATUSES",
    "ConnectionStatus",
    "OrderStatus",
    "OrderType",
    "ParentType",
    "Side",
    "StopType",
]


_NUMERIC = frozenset("bcdoxXneEfFgG%")


class _LabelledEnum(IntEnum):
    """An int enum whose members also have a readable label ("Stop Limit").

    It prints as its name: ``str(OrderStatus.WORKING)`` is ``"WORKING"``.
    """

    def __str__(self) -> str:
        return self.name

    def __format__(self, spec: str) -> str:
        # a numeric presentation type ("d", "x", ".2f" ...) formats the value, anything
        # else (the empty spec of an f-string, a width) the name
        if spec and spec[-1] in _NUMERIC:
            return format(self.value, spec)
        return format(self.name, spec)

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").title()

    @classmethod
    def coerce(cls, value: object, what: str) -> Any:
        """Return the member for an enum, its int value or its name (any case).

        Raises ``ValueError`` with a sentence naming the accepted values otherwise.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            key = value.strip().upper().replace(" ", "_").replace("-", "_")
            if key in cls.__members__:
                return cls.__members__[key]
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        accepted = ", ".join(f"{m.name} ({m.value})" for m in cls)
        msg = f"{value!r} is not a valid {what}; use one of {accepted}."
        raise ValueError(msg)


class OrderStatus(_LabelledEnum):
    """An order's state (TradingView values: Canceled=1 ... Working=6)."""

    CANCELED = 1
    FILLED = 2
    INACTIVE = 3
    PLACING = 4
    REJECTED = 5
    WORKING = 6

    @property
    def is_done(self) -> bool:
        """True for the final states: Canceled, Filled and Rejected."""
        return self in DONE_STATUSES


# Hot paths compare against these module constants: on Python 3.11 every
# ``OrderStatus.X`` attribute lookup costs as much as building a small object.
DONE_STATUSES = (OrderStatus.CANCELED, OrderStatus.FILLED, OrderStatus.REJECTED)


class OrderType(_LabelledEnum):
    """Limit=1, Market=2, Stop=3, StopLimit=4 (TradingView values)."""

    LIMIT = 1
    MARKET = 2
    STOP = 3
    STOP_LIMIT = 4


class Side(_LabelledEnum):
    """Buy=1, Sell=-1: the sign of a quantity on that side."""

    BUY = 1
    SELL = -1

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


class ParentType(_LabelledEnum):
    """What a bracket order protects: an Order (1) or a Position (2)."""

    ORDER = 1
    POSITION = 2


class StopType(_LabelledEnum):
    """A stop-loss (0), a trailing stop (1) or a guaranteed stop (2)."""

    STOP_LOSS = 0
    TRAILING_STOP = 1
    GUARANTEED_STOP = 2


class ConnectionStatus(_LabelledEnum):
    """Connected=1, Connecting=2, Disconnected=3, Error=4 (TradingView values)."""

    CONNECTED = 1
    CONNECTING = 2
    DISCONNECTED = 3
    ERROR = 4
