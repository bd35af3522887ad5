"""One client's connection on the server: its outgoing buffer, rate limit and requests.

Everything the broker tells a connection goes through :meth:`Session.push`, which only
appends a ready-made frame to a bounded deque: a broker callback never waits for the
network.  One writer task per connection sends the frames in order.  A client that stops
reading lets its deque fill; at ``buffer`` frames it is disconnected with a reason, and
the market does not notice.

Requests are handled synchronously as they arrive (the broker is synchronous), so a
subscription's snapshot and its first event can never be interleaved with another change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..broker import BrokerService
from ..errors import BrokerError, InvalidState
from ..events import Subscription, parse_topic
from ..models import EquityData
from .auth import Grant
from .protocol import (
    CLOSE_TOO_SLOW,
    QUERIES,
    TEACHER_ONLY,
    TRADING,
    AccessDenied,
    ProtocolError,
    RateLimited,
    error_message,
    event_frame,
    field,
    parse_message,
)

if TYPE_CHECKING:
    from websockets.asyncio.server import ServerConnection


__all__ = ["Session"]

logger = logging.getLogger("paperbroker.serve")

_NUMBER = (int, float)


def _retrieved(task: asyncio.Task[None]) -> None:
    """A closing handshake that failed: the connection is gone either way."""
    if not task.cancelled():
        task.exception()


def _records(records: Any) -> str:
    """A JSON array of records, each as its own ``to_json()``."""
    return "[" + ",".join(r.to_json() for r in records) + "]"


class SessionHost(Protocol):
    """What a session needs from the server that accepted it."""

    broker: BrokerService
    buffer: int
    rate: float
    burst: int

    @property
    def paused(self) -> bool:
        """Whether the market is paused."""

    def pause(self) -> None:
        """Pause the market."""

    def resume(self) -> None:
        """Resume the market."""

    def reset(self, account_id: str) -> EquityData:
        """Reset one account."""

    def forget(self, session: Session, code: int, reason: str) -> None:
        """The session ended with ``code`` and ``reason``."""


class Session:
    """A connected client: see the module docstring."""

    def __init__(self, server: SessionHost, ws: ServerConnection, grant: Grant) -> None:
        self.server = server
        self.broker = server.broker
        self.ws = ws
        self.grant = grant
        self.connected_at = time.time()
        self.address = str(ws.remote_address[0]) if ws.remote_address else "?"
        self.subscriptions: dict[str, Subscription] = {}
        self.seq = 0
        self.sent = 0
        self.open = True
        self._out: deque[str] = deque()
        self._wake = asyncio.Event()
        self._limit = server.buffer
        # token bucket: ``rate`` messages a second, bursts of ``burst``
        self._tokens = float(server.burst)
        self._stamp = time.monotonic()

    # ------------------------------------------------------------------ outgoing

    def push(self, frame: str) -> None:
        """Queue ``frame`` for the writer; disconnect the client once its buffer is full."""
        if not self.open:
            return
        if len(self._out) >= self._limit:
            reason = f"Too slow: {len(self._out)} messages were waiting unread."
            self.drop(CLOSE_TOO_SLOW, reason)
            return
        self._out.append(frame)
        self._wake.set()

    @property
    def waiting(self) -> int:
        """Frames queued for this client and not yet sent."""
        return len(self._out)

    def event_sender(self, canonical: str) -> Callable[[Any], None]:
        """The broker callback of one subscription: the record as an event frame."""
        push = self.push

        def send(record: Any) -> None:
            if self.open:
                self.seq += 1
                push(event_frame(canonical, self.seq, record))

        return send

    async def write(self) -> None:
        """The writer task: send queued frames in order until the connection ends."""
        out, wake, ws = self._out, self._wake, self.ws
        try:
            while self.open:
                await wake.wait()
                wake.clear()
                while out:
                    await ws.send(out.popleft())
                    self.sent += 1
        except Exception:  # noqa: BLE001 - a broken connection ends its writer, nothing else
            self.drop(1011, "The server could not write to this connection.")

    def drop(self, code: int, reason: str, *, notify: bool = True) -> None:
        """Stop sending to this client and close its connection with ``code`` and ``reason``
        (``notify=False``: the connection has ended already, just note why)."""
        if not self.open:
            return
        self.open = False
        self._out.clear()
        self._wake.set()
        self.unsubscribe_all()
        self.server.forget(self, code, reason)
        if notify and self.ws.close_code is None:  # still open: say why it ends
            with contextlib.suppress(RuntimeError):  # the loop is closing
                closing = asyncio.get_running_loop().create_task(self.ws.close(code, reason[:120]))
                closing.add_done_callback(_retrieved)

    def unsubscribe_all(self) -> None:
        """Close every subscription of this connection."""
        subs, self.subscriptions = self.subscriptions, {}
        for sub in subs.values():
            sub.close()

    # ------------------------------------------------------------------ incoming

    def receive(self, text: object) -> None:
        """Handle one frame from the client; every failure becomes an ``error`` reply."""
        request_id: object = None
        try:
            message = parse_message(text)
            request_id = message.get("id")
            self._take_token()
            reply = self._handle(message)
        except BrokerError as exc:
            self.push(error_message(request_id, exc))
        except (TypeError, ValueError) as exc:  # a field the broker could not use
            self.push(
                error_message(
                    request_id,
                    ProtocolError(f"The request is malformed: {exc}; see the protocol's field list."),
                )
            )
        except Exception as exc:  # answer, log, keep serving
            logger.exception("A classroom request failed")
            internal = BrokerError(f"Internal error: {type(exc).__name__}: {exc}")
            self.push(error_message(request_id, internal))
        else:
            if reply is not None:
                self.push(reply)

    def _take_token(self) -> None:
        now = time.monotonic()
        server = self.server
        self._tokens = min(float(server.burst), self._tokens + (now - self._stamp) * server.rate)
        self._stamp = now
        if self._tokens < 1.0:
            msg = (
                f"Too many messages: this connection may send {server.rate:g} a second "
                f"(bursts of {server.burst}); this one was dropped and changed nothing."
            )
            raise RateLimited(msg)
        self._tokens -= 1.0

    def _account(self, message: dict[str, Any]) -> str:
        """The account a request is about: its ``accountId``, else the token's own."""
        account_id = message.get("accountId", self.grant.account_id)
        if account_id is None:
            msg = f"A teacher's {message['type']} request needs an 'accountId'."
            raise ProtocolError(msg)
        if not isinstance(account_id, str):
            msg = f"'accountId' must be a string, got {json.dumps(account_id)[:40]}."
            raise ProtocolError(msg)
        self.grant.check_account(account_id)
        return account_id

    def _own_order(self, message: dict[str, Any]) -> str:
        order_id: str = field(message, "orderId", str)
        self.broker.order(order_id)  # UnknownOrder, the broker's own sentence
        if not self.grant.teacher:
            account_id = self.grant.account_id or ""
            if not any(o.id == order_id for o in self.broker.orders(account_id)):
                msg = f"Order {order_id} belongs to another account; a token acts on its own account only."
                raise AccessDenied(msg)
        return order_id

    def _reply(self, request_id: object, result: str) -> str:
        return f'{{"type":"result","id":{json.dumps(request_id)},"result":{result}}}'

    def _handle(self, message: dict[str, Any]) -> str | None:
        kind = message["type"]
        request_id = message.get("id")
        if kind in TEACHER_ONLY and not self.grant.teacher:
            msg = f"Only the teacher's token may {kind} the market."
            raise AccessDenied(msg)
        if kind in TRADING and self.server.paused:
            msg = "The market is paused by the teacher; send the order again once it resumes."
            raise InvalidState(msg)
        if kind == "subscribe":
            return self._subscribe(request_id, field(message, "topic", str))
        if kind == "unsubscribe":
            _, _, canonical = parse_topic(field(message, "topic", str))
            sub = self.subscriptions.pop(canonical, None)
            if sub is not None:
                sub.close()
            return self._reply(request_id, "1" if sub is not None else "0")
        if kind in QUERIES:
            return self._reply(request_id, self._query(kind, message))
        if kind == "reset":  # the teacher's, as checked above
            return self._reply(request_id, self.server.reset(field(message, "accountId", str)).to_json())
        if kind in TEACHER_ONLY:
            if kind == "pause":
                self.server.pause()
            else:
                self.server.resume()
            return self._reply(request_id, "true" if self.server.paused else "false")
        return self._reply(request_id, self._trade(kind, message))

    def _trade(self, kind: str, message: dict[str, Any]) -> str:
        broker = self.broker
        if kind == "place":
            return broker.submit(field(message, "order", dict), self._account(message)).to_json()
        if kind == "modify":
            order_id = self._own_order(message)
            changes = field(message, "changes", dict)
            reserved = sorted({"order", "order_id"} & changes.keys())
            if reserved:
                msg = f"'changes' holds fields of the order (qty, limitPrice ...), not {reserved[0]!r}."
                raise ProtocolError(msg)
            return broker.modify(order_id, **changes).to_json()
        if kind == "cancel":
            return broker.cancel(self._own_order(message)).to_json()
        account_id = self._account(message)
        position_id = field(message, "positionId", str)
        if kind == "close":
            amount = field(message, "amount", _NUMBER, optional=True)
            return broker.flatten(position_id, amount, account_id=account_id).to_json()
        if kind == "reverse":
            return broker.reverse(position_id, account_id=account_id).to_json()
        found = broker.edit_brackets(
            position_id,
            take_profit=field(message, "takeProfit", _NUMBER, optional=True),
            stop_loss=field(message, "stopLoss", _NUMBER, optional=True),
            trailing_stop_pips=field(message, "trailingStopPips", _NUMBER, optional=True),
            account_id=account_id,
        )
        return _records(found)

    def _query(self, kind: str, message: dict[str, Any]) -> str:
        broker = self.broker
        if kind == "quote":
            return broker.quote(field(message, "symbol", str)).to_json()
        if kind == "quotes":
            return _records(broker.quotes())
        if kind == "accounts":
            accounts = broker.accounts() if self.grant.teacher else [self.grant.account_id]
            return json.dumps(accounts)
        account_id = self._account(message)
        if kind == "orders":
            return _records(broker.orders(account_id, status=message.get("status")))
        if kind == "positions":
            return _records(broker.positions(account_id))
        if kind == "executions":
            symbol = field(message, "symbol", str, optional=True)
            return _records(broker.executions(symbol, account_id))
        return broker.equity(account_id).to_json()

    def _subscribe(self, request_id: object, text: str) -> str | None:
        """Check, snapshot, then subscribe: the snapshot reply goes out before any event."""
        kind, params, canonical = parse_topic(text)
        if "accountId" in params:
            self.grant.check_account(params["accountId"])
        snapshot = self._snapshot(kind, params)
        reply = (
            f'{{"type":"subscribed","id":{json.dumps(request_id)},'
            f'"topic":{json.dumps(canonical)},"snapshot":{snapshot}}}'
        )
        if canonical in self.subscriptions:  # a fresh snapshot, still one subscription
            return reply
        self.push(reply)  # before subscribing: broker-connection answers at once
        self.subscriptions[canonical] = self.broker.subscribe(canonical, self.event_sender(canonical))
        return None

    def _snapshot(self, kind: str, params: dict[str, str]) -> str:
        broker = self.broker
        if kind == "quotes":
            try:
                return _records([broker.quote(params["symbol"])])
            except InvalidState:  # no quote yet (or classic mode): events will follow
                return "[]"
        account_id = params["accountId"]
        if kind == "orders":
            return _records(broker.orders(account_id))
        if kind in ("positions", "pl"):
            return _records(broker.positions(account_id))
        if kind == "executions":
            return _records(broker.executions(params.get("symbol"), account_id))
        if kind == "equity":
            return _records([broker.equity(account_id)])
        broker.equity(account_id)  # broker-connection: the account must exist
        return "[]"
