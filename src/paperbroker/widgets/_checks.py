"""The widgets' small checks and helpers: options, browser messages, remote answers."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import BrokerError, ConfigurationError
from ..host import BrokerHost, account_for

__all__ = ["CommandError", "check_scale", "host_account", "shown", "text_arg", "then", "whole"]

_R = TypeVar("_R")


def then(result: Any, done: Callable[[Any], _R], failed: Callable[[BaseException], Any] | None = None) -> Any:
    """``done(result)`` now, or, when ``result`` is a future (a remote broker's answer to
    come), a future of ``done(its result)`` once it is set.  ``failed(error)`` runs first
    when the call fails; the error is still raised (or set on the returned future)."""
    if not isinstance(result, asyncio.Future):
        return done(result)
    chained: asyncio.Future[_R] = result.get_loop().create_future()

    def settle(answer: asyncio.Future[Any]) -> None:
        if answer.cancelled():
            chained.cancel()
            return
        try:
            error = answer.exception()
            if error is not None:
                if failed is not None:
                    failed(error)
                raise error
            chained.set_result(done(answer.result()))
        except Exception as exc:  # noqa: BLE001 - handed to whoever awaits the chained future
            chained.set_exception(exc)

    result.add_done_callback(settle)
    return chained


def whole(value: object, name: str, low: int, high: int, meaning: str) -> int:
    """Check an integer option; raise ConfigurationError with ``meaning`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"{name} must be a whole number from {low} to {high} ({meaning}), got {value!r}."
        raise ConfigurationError(msg)
    return value


def host_account(broker: object, account_id: str, who: str) -> str:
    """The account a widget ``who`` shows on ``broker``: ``account_id``, or on a classroom
    client given the default id, the client's own; raises ConfigurationError for a
    ``broker`` that is not a :class:`~paperbroker.BrokerHost`, and the broker's own error
    (UnknownAccount, which says how to open it) for an account it does not have."""
    if not isinstance(broker, BrokerHost):
        msg = f"{who} needs a paperbroker BrokerService or a classroom client (pb.connect), got {broker!r}."
        raise ConfigurationError(msg)
    return account_for(broker, account_id)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for error messages that echo what the
    browser sent (which may be anything, of any size)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class CommandError(BrokerError, ValueError):
    """A message from the browser is malformed; the reply carries this sentence."""


def check_scale(scale: object) -> float:
    """Check a presentation scale (the size of the type); raise ConfigurationError."""
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or not 0.5 <= scale <= 3
    ):
        msg = f"scale must be a number from 0.5 to 3 (1 is normal, 1.4 suits a projector), got {scale!r}."
        raise ConfigurationError(msg)
    return float(scale)


def text_arg(content: dict[str, Any], key: str, what: str) -> str:
    """A non-empty string field of a browser message, or a CommandError naming it."""
    value = content.get(key)
    if not isinstance(value, str) or not value.strip():
        msg = f"{what} must be a non-empty string, got {shown(value)}."
        raise CommandError(msg)
    return value.strip()
