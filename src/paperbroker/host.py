"""BrokerHost: the part of a broker that the widgets and the DataFrame exports use.

Two objects provide it: the local :class:`~paperbroker.BrokerService`, and the classroom
client :class:`~paperbroker.RemoteBroker` (``pb.connect(url)``), whose reads answer from its
copy of the account and whose order calls return an :class:`asyncio.Future` answered by the
server.  A widget or a frame written against this interface works on both:
``dashboard(remote)``, ``pb.orders_frame(remote)``.

The interface is structural (a :class:`typing.Protocol`): nothing needs to inherit from it,
and ``isinstance(obj, BrokerHost)`` checks that ``obj`` has every member.  An order call
returns the placed order, or an awaitable of it (see :data:`OrderReply`).

A host's *first account* is the one a widget or frame shows when it is given the default
account id (``pb.DEFAULT_ACCOUNT``) and the host has no account of that name: the token's
own account on a client, whose only account it is (:func:`account_for`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .models import DEFAULT_ACCOUNT, EquityData, Execution, PlacedOrder, Position, PreOrder, Quote

if TYPE_CHECKING:
    from .broker import BrokerService
    from .core.history import History
    from .events import Subscription
    from .serve.client import RemoteBroker

__all__ = ["BrokerHost", "HostClock", "OrderReply", "account_for"]

#: What an order call of a host returns: the order (a local broker answers at once), or an
#: awaitable of it (a client's :class:`asyncio.Future`, set when the server answers).
OrderReply = PlacedOrder | Awaitable[PlacedOrder]


@runtime_checkable
class HostClock(Protocol):
    """The clock of a host: the time now and the zone the widgets show times in."""

    @property
    def timezone(self) -> dt.tzinfo:
        """The broker's time zone (a client reports its server's)."""

    def now_ms(self) -> int:
        """The broker's time now, in Unix milliseconds."""


@runtime_checkable
class BrokerHost(Protocol):
    """What the widgets and the frames call on a broker; see the module docstring."""

    @property
    def clock(self) -> HostClock:
        """Where the broker's times come from, and their zone."""

    @property
    def history(self) -> History:
        """The columnar execution and equity history that the frames read."""

    def accounts(self) -> list[str]:
        """The account ids this host can show, its first account first."""

    def equity(self, account_id: str = DEFAULT_ACCOUNT) -> EquityData:
        """An account's balance, equity and P&L."""

    def orders(self, account_id: str = DEFAULT_ACCOUNT, *, status: Any = None) -> list[PlacedOrder]:
        """An account's orders, oldest first."""

    def order(self, order_id: str) -> PlacedOrder:
        """One order by id."""

    def positions(self, account_id: str = DEFAULT_ACCOUNT) -> list[Position]:
        """An account's open positions."""

    def executions(self, symbol: str | None = None, account_id: str = DEFAULT_ACCOUNT) -> list[Execution]:
        """An account's executions, oldest first, optionally of one symbol."""

    def quote(self, symbol: str) -> Quote:
        """A symbol's latest quote."""

    def quotes(self) -> list[Quote]:
        """The latest quote of every symbol the host knows."""

    def subscribe(self, topic: str, callback: Callable[[Any], Any]) -> Subscription:
        """Call ``callback(record)`` for every event on ``topic``."""

    def submit(self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT) -> OrderReply:
        """Place an order."""

    def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> OrderReply:
        """Change a working order."""

    def cancel(self, order_id: str) -> OrderReply:
        """Cancel a working order."""

    def flatten(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> OrderReply:
        """Close a position (or ``amount`` of it) with a market order."""

    def reverse(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> OrderReply:
        """Turn a position around with a market order of twice its size."""


def account_for(host: BrokerHost, account_id: str) -> str:
    """The account to show for ``account_id``: itself if the host has it; for the default
    id on a host without it (a client), the host's first account.  An account the host
    does not have raises the host's own error (``UnknownAccount``, or the client's)."""
    accounts = host.accounts()
    if account_id in accounts:
        return account_id
    if account_id == DEFAULT_ACCOUNT and accounts:
        return accounts[0]
    host.equity(account_id)  # raises, saying which accounts there are
    return account_id


if TYPE_CHECKING:  # mypy checks that both brokers provide the interface

    def _both_are_hosts(local: BrokerService, remote: RemoteBroker) -> tuple[BrokerHost, BrokerHost]:
        return local, remote
