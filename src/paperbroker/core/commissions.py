"""Commission models: what one fill costs.

A model is called once per execution with the fill's quantity and price and whether it is
the order's first fill, and returns the commission (>= 0) in account currency.  A model of
your own is any callable ``model(qty, price, first_fill)``; :func:`as_commission_model`
checks that it takes those arguments and wraps it so that a result that is not a finite
number >= 0 raises a :class:`~paperbroker.errors.ConfigurationError` before the fill
changes anything.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real
from typing import Protocol

from ..errors import ConfigurationError

__all__ = [
    "CheckedModel",
    "CommissionModel",
    "FixedPerOrder",
    "NoCommission",
    "PerUnit",
    "PercentOfNotional",
    "as_commission_model",
    "custom_model",
]

_EXAMPLES = "PerUnit(0.005), FixedPerOrder(1.0) or PercentOfNotional(0.1)"


class CommissionModel(Protocol):
    """What the broker calls per fill: the commission of ``qty`` at ``price``."""

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        """The commission of a fill; ``first_fill``: the order's first."""


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
        """Always 0."""
        return 0.0


@dataclass(frozen=True, slots=True)
class FixedPerOrder:
    """A flat fee per order, charged with its first fill: ``FixedPerOrder(1.0)``."""

    amount: float

    def __post_init__(self) -> None:
        _check_rate(self.amount, "FixedPerOrder amount", "FixedPerOrder(1.0)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        """``amount`` on an order's first fill, 0 on its later parts."""
        return self.amount if first_fill else 0.0


@dataclass(frozen=True, slots=True)
class PerUnit:
    """A fee per unit traded: ``PerUnit(0.005)`` is half a cent a share."""

    rate: float

    def __post_init__(self) -> None:
        _check_rate(self.rate, "PerUnit rate", "PerUnit(0.005)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        """``rate`` per unit filled."""
        return self.rate * qty


@dataclass(frozen=True, slots=True)
class PercentOfNotional:
    """A fee in percent of the traded value: ``PercentOfNotional(0.1)`` is 0.1 %."""

    percent: float

    def __post_init__(self) -> None:
        _check_rate(self.percent, "PercentOfNotional percent", "PercentOfNotional(0.1)")

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        """``percent`` of the fill's notional value."""
        return qty * price * self.percent / 100.0


@dataclass(frozen=True, slots=True)
class CheckedModel:
    """A model of the user's, with its results checked."""

    model: Callable[[float, float, bool], float]

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        """The wrapped model's commission, checked to be a finite number >= 0."""
        value = self.model(qty, price, first_fill)
        if isinstance(value, Real) and not isinstance(value, bool):
            value = float(value)
            if 0.0 <= value < math.inf:
                return value
        msg = (
            f"The commission model returned {value!r} for {qty} @ {price}; it must return "
            f"a finite number >= 0 (the model is {self.model!r})."
        )
        raise ConfigurationError(msg)


_BUILT_IN = (NoCommission, FixedPerOrder, PerUnit, PercentOfNotional)


def as_commission_model(value: object) -> CommissionModel:
    """Accept ``None`` (free), a built-in model, or a callable ``model(qty, price,
    first_fill)`` (checked as :class:`CheckedModel`); refuse anything else clearly."""
    if value is None:
        return NoCommission()
    if isinstance(value, (*_BUILT_IN, CheckedModel)):
        return value
    if callable(value):
        try:
            inspect.signature(value).bind(1.0, 1.0, True)
        except (TypeError, ValueError):  # ValueError: a builtin without a signature, like int
            msg = (
                f"commission {value!r} cannot be called as model(qty, price, first_fill); "
                f"give it those three arguments, or use {_EXAMPLES}."
            )
            raise ConfigurationError(msg) from None
        return CheckedModel(value)
    msg = f"commission must be None or a commission model such as {_EXAMPLES}, got {value!r}."
    raise ConfigurationError(msg)


def custom_model(model: CommissionModel) -> Callable[[float, float, bool], float] | None:
    """The user's own function inside ``model``, or None for a built-in model."""
    return model.model if isinstance(model, CheckedModel) else None
