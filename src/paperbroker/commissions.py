"""Commission models: what one fill costs.

A model is called once per execution with the fill's quantity and price and whether it is
the order's first fill, and returns the commission (>= 0) in account currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from .errors import ConfigurationError

__all__ = [
    "CommissionModel",
    "FixedPerOrder",
    "NoCommission",
    "PerUnit",
    "PercentOfNotional",
    "as_commission_model",
]


class CommissionModel(Protocol):
    def __call__(self, qty: float, price: float, first_fill: bool) -> float: ...


def _check_rate(value: float, what: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{what} must be a number, got {value!r}; for example {example}."
        raise ConfigurationError(msg)
    if not math.isfinite(value) or value < 0:
        msg = f"{what} must be a finite number >= 0, got {value!r}; for example {example}."
        raise ConfigurationError(msg)
    return float(value)


@dataclass(frozen=True, slots=True)
class NoCommission:
    """Trading is free."""

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        return 0.0


@dataclass(frozen=True, slots=True)
class FixedPerOrder:
    """A flat fee per order, charged with its first fill: ``FixedPerOrder(1.0)``."""

    amount: float

    def __post_init__(self) -> None:
        _check_rate(self.amount, "FixedPerOrder amount", "FixedPerOrder(1.0)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        return self.amount if first_fill else 0.0


@dataclass(frozen=True, slots=True)
class PerUnit:
    """A fee per unit traded: ``PerUnit(0.005)`` is half a cent a share."""

    rate: float

    def __post_init__(self) -> None:
        _check_rate(self.rate, "PerUnit rate", "PerUnit(0.005)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        return self.rate * qty


@dataclass(frozen=True, slots=True)
class PercentOfNotional:
    """A fee in percent of the traded value: ``PercentOfNotional(0.1)`` is 0.1 %."""

    percent: float

    def __post_init__(self) -> None:
        _check_rate(self.percent, "PercentOfNotional percent", "PercentOfNotional(0.1)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        return qty * price * self.percent / 100.0


def as_commission_model(value: object) -> CommissionModel:
    """Accept ``None`` (free) or any callable model; refuse anything else clearly."""
    if value is None:
        return NoCommission()
    if callable(value):
        return value
    msg = (
        f"commission must be None or a commission model such as PerUnit(0.005), "
        f"FixedPerOrder(1.0) or PercentOfNotional(0.1), got {value!r}."
    )
    raise ConfigurationError(msg)
