"""Slippage models and the tick grid: what a market fill costs beyond the quote.

A slippage model is called with the quote price, the quantity still to fill and the
symbol's tick, and returns how much worse than the quote the fill is (a price >= 0).
:class:`NoSlippage` (the default), :class:`FixedSlippage` (whole ticks) and
:class:`PercentSlippage` (a share of the price) are built in; any callable with those
arguments is a model of your own, and :func:`as_slippage` accepts it.
:func:`round_to_tick` puts a price on a symbol's tick grid (trailing stops, brackets).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Protocol

from ..errors import ConfigurationError

__all__ = [
    "FixedSlippage",
    "NoSlippage",
    "PercentSlippage",
    "Slippage",
    "as_slippage",
    "round_to_tick",
]


class Slippage(Protocol):
    """How much worse than the quote a market (or triggered stop) fill is, as a price >= 0."""

    def __call__(self, price: float, qty: float, tick: float) -> float:
        """How much worse than ``price`` a market order of ``qty`` fills."""


@dataclass(frozen=True, slots=True)
class NoSlippage:
    """Market orders fill exactly at the quote (the spread is the only cost)."""

    def __call__(self, price: float, qty: float, tick: float) -> float:
        """Always 0."""
        return 0.0


@dataclass(frozen=True, slots=True)
class FixedSlippage:
    """Market orders fill ``ticks`` ticks worse than the quote: ``FixedSlippage(1)``."""

    ticks: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.ticks, bool) or not isinstance(self.ticks, (int, float)) or not self.ticks >= 0:
            msg = f"FixedSlippage ticks must be a number >= 0, got {self.ticks!r}; e.g. FixedSlippage(1)."
            raise ConfigurationError(msg)

    def __call__(self, price: float, qty: float, tick: float) -> float:
        """``ticks`` ticks."""
        return self.ticks * tick


@dataclass(frozen=True, slots=True)
class PercentSlippage:
    """Market orders fill ``percent`` % of the price worse: ``PercentSlippage(0.05)``."""

    percent: float

    def __post_init__(self) -> None:
        value = self.percent
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 100:
            msg = f"PercentSlippage percent must be in [0, 100), got {value!r}; e.g. PercentSlippage(0.05)."
            raise ConfigurationError(msg)

    def __call__(self, price: float, qty: float, tick: float) -> float:
        """``percent`` of the price."""
        return price * self.percent / 100.0


def as_slippage(value: object) -> Slippage:
    """``None`` (no slippage) or a slippage model; anything else is refused clearly."""
    if value is None:
        return NoSlippage()
    if callable(value):
        return value
    msg = f"slippage must be None, FixedSlippage(ticks) or PercentSlippage(percent), got {value!r}."
    raise ConfigurationError(msg)


@lru_cache(maxsize=64)
def _decimals(tick: float) -> int:
    """How many decimals the tick has as a person writes it: 0.01 -> 2, 2.5 -> 1, 5.0 -> 0."""
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def round_to_tick(price: float, tick: float) -> float:
    """``price`` on the tick grid, as the nearest float to the decimal a person would write:
    a whole number of ticks, rounded to the tick's own decimals (``round_to_tick(7.4, 2.5)``
    is 7.5)."""
    return float(round(round(price / tick) * tick, _decimals(tick)))
