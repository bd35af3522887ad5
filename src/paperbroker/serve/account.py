"""The student's side of :class:`~paperbroker.serve.client.RemoteBroker`: the account's
reads, answered from the mirror, and its orders, sent to the server and answered later.

The method names and arguments are the local broker's (:class:`~paperbroker.BrokerService`),
so code and widgets written for one work with the other; the differences are that reads
come from the client's copy, and that order calls return an :class:`asyncio.Future`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from ..core.history import History
from ..errors import InvalidOrder, InvalidState, UnknownOrder
from ..events import topic
from ..models import EquityData, Execution, OrderStatus, PlacedOrder, Position, PreOrder, Quote
from .mirror import Mirror
from .protocol import AccessDenied

__all__ = ["RemoteAccount"]

# keyword of buy()/sell() -> PreOrder field
_OPTIONS = {
    "price": "seenPrice",
    "limit": "limitPrice",
    "stop": "stopPrice",
    "take_profit": "takeProfit",
    "stop_loss": "stopLoss",
    "trailing_stop_pips": "trailingStopPips",
    "duration": "duration",
}

# the fields of a whole PreOrder that modify() takes (symbol and side cannot change)
_MODIFIABLE = ("qty", "limitPrice", "stopPrice", "takeProfit", "stopLoss", "trailingStopPips", "duration")


class RemoteAccount:
    """Reads and orders of the client's account (a mixin of RemoteBroker)."""

    if TYPE_CHECKING:  # provided by RemoteBroker
        account_id: str | None
        mirror: Mirror
        _remote: set[str]
        _live: bool

        def request(self, kind: str, **fields: Any) -> asyncio.Future[Any]:
            """Send a request of ``kind``; its future holds the reply."""

    # ------------------------------------------------------------------ reads (the mirror)

    def _own(self, account_id: str | None) -> Mirror:
        if self.account_id is None:
            msg = (
                "This client holds no account yet (still connecting, or a teacher's token); "
                "await pb.connect(url) first, or use remote.request(...) for other accounts."
            )
            raise InvalidState(msg)
        if account_id is not None and account_id != self.account_id:
            msg = f"This client mirrors account {self.account_id!r} only, not {account_id!r}."
            raise AccessDenied(msg)
        return self.mirror

    def accounts(self) -> list[str]:
        """The accounts this client can use: its own."""
        return [] if self.account_id is None else [self.account_id]

    def orders(self, account_id: str | None = None, *, status: Any = None) -> list[PlacedOrder]:
        """The account's orders as last heard, oldest first (``status=`` filters)."""
        wanted = None if status is None else OrderStatus.coerce(status, "order status")
        held = self._own(account_id).orders.values()
        return [o for o in held if wanted is None or o.status is wanted]

    def order(self, order_id: str) -> PlacedOrder:
        """One of the account's orders by id."""
        found = self._own(None).orders.get(order_id)
        if found is None:
            raise UnknownOrder(f"This client has heard of no order {order_id!r}.")
        return found  # read-only: the same record is safe to share

    def positions(self, account_id: str | None = None) -> list[Position]:
        """The account's open positions as last heard."""
        return list(self._own(account_id).positions.values())

    def executions(self, symbol: str | None = None, account_id: str | None = None) -> list[Execution]:
        """The account's executions as last heard, oldest first, optionally of one symbol."""
        held = self._own(account_id).executions
        return [e for e in held if symbol is None or e.symbol == symbol]

    def equity(self, account_id: str | None = None) -> EquityData:
        """The account's balance, equity and P&L as last heard."""
        data = self._own(account_id).equity
        if data is None:
            msg = "No equity has arrived yet; await pb.connect(url) (or remote.ready()) first."
            raise InvalidState(msg)
        return data

    def quote(self, symbol: str) -> Quote:
        """The symbol's latest quote; the first call subscribes to it (and raises until one arrives)."""
        found = self.mirror.quotes.get(symbol)
        if found is None:
            canonical = topic("quotes", None, symbol=symbol)
            if canonical not in self._remote:
                self._remote.add(canonical)
                if self._live:
                    self.request("subscribe", topic=canonical)
            msg = f"No quote of {symbol!r} has arrived yet; it is subscribed now, ask again in a moment."
            raise InvalidState(msg)
        return found

    def quotes(self) -> list[Quote]:
        """The latest quote of every symbol this client has heard of."""
        return list(self.mirror.quotes.values())

    @property
    def history(self) -> History:
        """The account's executions and equity rows heard since connecting, as a local
        broker's columnar history: what ``pb.executions_frame(remote)`` and the equity chart read."""
        self._own(None)  # raises while the client holds no account
        return self.mirror.history(str(self.account_id))

    # ------------------------------------------------------------------ orders (answered later)

    def submit(self, order: Any, account_id: str | None = None) -> asyncio.Future[PlacedOrder]:
        """Send a :class:`PreOrder` (or its dict); the future gets the placed order."""
        body = order.to_dict() if hasattr(order, "to_dict") else dict(order)
        extra = {} if account_id is None else {"accountId": account_id}
        return self.request("place", order=body, **extra)

    def buy(self, symbol: str, qty: float, **options: Any) -> asyncio.Future[PlacedOrder]:
        """Buy ``qty`` of ``symbol`` with the options of :meth:`BrokerService.buy`
        (``limit=``, ``stop=``, ``take_profit=`` ...)."""
        return self._side(1, symbol, qty, options)

    def sell(self, symbol: str, qty: float, **options: Any) -> asyncio.Future[PlacedOrder]:
        """Sell ``qty`` of ``symbol``; the options of :meth:`buy`."""
        return self._side(-1, symbol, qty, options)

    def _side(
        self, side: int, symbol: str, qty: float, options: dict[str, Any]
    ) -> asyncio.Future[PlacedOrder]:
        names = _OPTIONS
        account_id = options.pop("account_id", None)
        unknown = sorted(set(options) - names.keys())
        if unknown:
            msg = f"Unknown order option(s) {', '.join(unknown)}; the options are {', '.join(names)}."
            raise InvalidOrder(msg)
        order = {names[k]: v for k, v in options.items() if v is not None}
        limit, stop = "limitPrice" in order, "stopPrice" in order
        kind = 4 if limit and stop else 1 if limit else 3 if stop else 2
        return self.submit({"symbol": symbol, "type": kind, "side": side, "qty": qty, **order}, account_id)

    def modify(
        self, order_id: str, order: PreOrder | None = None, **changes: Any
    ) -> asyncio.Future[PlacedOrder]:
        """Change a working order (``qty=``, ``limitPrice=`` ... or a whole :class:`PreOrder`,
        whose quantity, prices, brackets and duration replace the order's); the future gets it back."""
        if order is not None:
            whole = {k: getattr(order, k) for k in _MODIFIABLE}
            if whole["duration"] is None:
                del whole["duration"]
            plain = {k: v.to_dict() if hasattr(v, "to_dict") else v for k, v in whole.items()}
            changes = {**plain, **changes}
        return self.request("modify", orderId=order_id, changes=changes)

    def cancel(self, order_id: str) -> asyncio.Future[PlacedOrder]:
        """Cancel a working order; the future gets it, canceled."""
        return self.request("cancel", orderId=order_id)

    def flatten(
        self, position_id: str, amount: float | None = None, *, account_id: str | None = None
    ) -> asyncio.Future[PlacedOrder]:
        """Close the position (or ``amount`` of it) with a market order."""
        extra = {} if account_id is None else {"accountId": account_id}
        return self.request("close", positionId=position_id, amount=amount, **extra)

    def reverse(self, position_id: str, *, account_id: str | None = None) -> asyncio.Future[PlacedOrder]:
        """Turn the position around with a market order of twice its size."""
        extra = {} if account_id is None else {"accountId": account_id}
        return self.request("reverse", positionId=position_id, **extra)
