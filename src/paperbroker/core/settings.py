"""The checks of a broker's settings, each refusing a bad value with what to pass instead."""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np

from ..clock import Clock
from ..errors import ConfigurationError
from .risk import RiskRules

__all__ = [
    "DEFAULT_RISK",
    "MARKS",
    "Mark",
    "check_balance",
    "check_mark",
    "check_settings",
    "seeded_generator",
]

#: The risk rules of a broker built without ``risk=``: an account that cannot borrow.  An
#: order may open positions worth at most the equity not yet used (longs and shorts
#: alike; working orders reserve their share), and one that needs more is refused with
#: the amounts in its message.  Pass ``risk=None`` for unlimited buying power, or your own
#: :class:`~paperbroker.RiskRules` (a cash account without short selling, leverage ...).
DEFAULT_RISK = RiskRules(account="margin", leverage=1.0)

#: How open positions can be valued: at the last price (the default), or a long at the bid
#: and a short at the ask, what closing it at once would fetch.
Mark = Literal["last", "bid_ask"]
MARKS: tuple[str, ...] = get_args(Mark)


def check_balance(value: object) -> float:
    """An initial balance: a finite amount >= 0."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        msg = f"initial_balance must be a finite amount >= 0, got {value!r}."
        raise ConfigurationError(msg)
    return float(value)


def check_settings(
    history_limit: object, clock: object, risk: object, market: object, slippage: object
) -> None:
    """Refuse a history limit, clock, risk rules or slippage the broker cannot use."""
    if history_limit is not None and (
        isinstance(history_limit, bool) or not isinstance(history_limit, int) or history_limit < 1
    ):
        msg = f"history_limit must be a whole number >= 1 or None, got {history_limit!r}."
        raise ConfigurationError(msg)
    if clock is not None and not isinstance(clock, Clock):
        msg = f"clock must be a paperbroker Clock (WallClock or SimClock), got {clock!r}."
        raise ConfigurationError(msg)
    if risk is not None and not isinstance(risk, RiskRules):
        msg = f"risk must be RiskRules(...) or None, got {risk!r}."
        raise ConfigurationError(msg)
    if market is None and slippage is not None:
        msg = "slippage applies to market mode only; pass market=... as well, or leave slippage out."
        raise ConfigurationError(msg)


def check_mark(mark: object, market: object) -> None:
    """Refuse a ``mark=`` other than ``"last"`` or ``"bid_ask"``, and ``"bid_ask"``
    without a market to take the bid and ask from."""
    if type(mark) is not str or mark not in MARKS:
        msg = (
            "mark must be 'last' (the last price) or 'bid_ask' (a long at the bid, a short at "
            f"the ask), got {mark!r}."
        )
        raise ConfigurationError(msg)
    if mark == "bid_ask" and market is None:
        msg = (
            "mark='bid_ask' values positions at the market's bid and ask, and classic mode has "
            "no quotes: build the broker with market=... (pb.ManualQuotes for prices you set by "
            "hand), or leave mark out."
        )
        raise ConfigurationError(msg)


def seeded_generator(seed: object) -> np.random.Generator:
    """The broker's one random generator, from ``seed`` (None: fresh entropy)."""
    try:
        return np.random.default_rng(seed)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        msg = f"seed must be a non-negative whole number or None, got {seed!r}."
        raise ConfigurationError(msg) from exc
