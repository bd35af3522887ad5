"""The errors paperbroker raises.

Every error is a :class:`BrokerError`; its message is a whole sentence that says what was
wrong and how to fix it.  An operation that raises has changed nothing.

::

    BrokerError
    ├── InvalidOrder         the order's fields are wrong (also a ValueError)
    ├── OrderRejected        a valid order was refused by a rule of the broker
    ├── InvalidState         the order or broker is in a state that forbids the operation
    ├── InvalidTopic         a topic string is malformed (also a ValueError)
    ├── ConfigurationError   a constructor argument is wrong (also a ValueError)
    ├── PersistenceError     a saved broker cannot be written or read back
    ├── MarketDataError      the price source failed or gave a tick that cannot be used
    ├── SubscriberOverflow   an async subscriber fell too far behind (recorded, not raised)
    └── NotFound             (also a KeyError)
        ├── UnknownOrder
        ├── UnknownPosition
        └── UnknownAccount
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "ConfigurationError",
    "InvalidOrder",
    "InvalidState",
    "InvalidTopic",
    "MarketDataError",
    "NotFound",
    "OrderRejected",
    "PersistenceError",
    "SubscriberOverflow",
    "UnknownAccount",
    "UnknownOrder",
    "UnknownPosition",
]


class BrokerError(Exception):
    """Base class of every error raised by paperbroker."""

    def __str__(self) -> str:
        # KeyError quotes its argument; our messages are sentences, shown as they are.
        return str(self.args[0]) if self.args else ""


class InvalidOrder(BrokerError, ValueError):
    """An order (or a change to one) has a missing, malformed or impossible field."""


class OrderRejected(BrokerError):
    """A well-formed order was refused by a broker rule (buying power, limits ...).

    The rejected order is kept with status Rejected and broadcast; its id is
    :attr:`order_id`.  A refused modify leaves the order as it was, still working.
    """

    def __init__(self, message: str, *, order_id: str | None = None) -> None:
        super().__init__(message)
        self.order_id = order_id


class InvalidState(BrokerError):
    """The operation is not allowed now, e.g. cancelling an order that has filled."""


class InvalidTopic(BrokerError, ValueError):
    """A topic string is not ``"<type>:<json params>"`` with a known type and params."""


class ConfigurationError(BrokerError, ValueError):
    """A broker, market or widget was built with an argument it cannot use."""


class PersistenceError(BrokerError):
    """A broker cannot be saved, or a saved broker file is missing, truncated, tampered
    with or of another version."""


class MarketDataError(BrokerError):
    """The price source raised, or gave a tick that cannot be used (a price that is not a
    positive number, a crossed quote, a time before the clock ...).

    Nothing of that tick was applied: the books are as they were before the step, and the
    next step asks the source again.  In the background task it is counted and logged
    (``broker.simulator.errors``, ``last_error``); ``step()`` and ``run()`` raise it.
    """


class SubscriberOverflow(BrokerError):
    """An async subscriber had too many events waiting, so newer ones were dropped.

    It is never raised to the caller: it is the ``last_error`` of the subscription (and
    of the broker's subscriber errors) so that the loss is visible.
    """


class NotFound(BrokerError, KeyError):
    """Something was looked up by id and does not exist."""


class UnknownOrder(NotFound):
    """No order has this id."""


class UnknownPosition(NotFound):
    """The account has no open position with this id."""


class UnknownAccount(NotFound):
    """No account has this id."""
