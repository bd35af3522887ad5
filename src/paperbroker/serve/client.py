"""``pb.connect(url)``: a student's broker-like handle on the teacher's market.

The client lives on the running loop (a notebook kernel's, or your ``asyncio.run``), like
the server; it never blocks a cell.  Two rules follow from that:

* **Reads are local.**  ``orders()``, ``positions()``, ``executions()``, ``equity()`` and
  ``quote()`` answer at once from a mirror of the account that the server's snapshot and
  events keep current (see :mod:`paperbroker.serve.mirror`).
* **Orders are sent, and answered later.**  ``buy``, ``sell``, ``submit``, ``modify``,
  ``cancel``, ``flatten``, ``reverse`` send the request and return an
  :class:`asyncio.Future`: ``order = await remote.buy("AAPL", 10)`` waits for the server's
  answer (the order, or the broker's own error raised here).  Not awaited, the request
  still goes out; a failure is logged and kept in :attr:`RemoteBroker.last_error`.

A cell cannot wait for the network while the kernel's loop is busy running that same
cell, which is why there is no blocking form.  ``remote = await pb.connect(url)`` waits
until the mirror is loaded.  Lost connections are retried with exponential back-off, and
each change is announced on ``broker-connection`` (Connecting, Connected, Error).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import urllib.parse
from collections import deque
from typing import Any

from ..errors import BrokerError, ConfigurationError, InvalidState
from ..events import Subscription, TopicHub, parse_topic, topic
from ..models import (
    BrokerConnectionStatus,
    ConnectionStatus,
)
from .account import RemoteAccount
from .mirror import MIRRORED, Mirror, RemoteClock
from .protocol import CLOSE_UNAUTHORIZED, AccessDenied, ConnectionLost, error_class, record_from, zone_from
from .server import import_websockets

__all__ = ["RemoteBroker", "connect"]

logger = logging.getLogger("paperbroker.serve")

_ORDER_RESULTS = frozenset({"place", "modify", "cancel", "close", "reverse"})


class RemoteBroker(RemoteAccount):
    """A broker in another kernel, reached over the classroom protocol; see the module
    docstring.  Made by :func:`connect`."""

    def __init__(self, url: str, *, backoff: tuple[float, float], max_size: int) -> None:
        self.url = url
        self.account_id: str | None = None
        self.role: str | None = None
        self.paused = False
        self.status = ConnectionStatus.CONNECTING
        self.last_error: BaseException | None = None
        #: Events whose ``seq`` did not follow the one before (0 unless the server lost some).
        self.gaps = 0
        self.reconnects = 0
        #: The server's time zone and time, from its welcome (what the widgets show times in).
        self.clock = RemoteClock()
        self.mirror = Mirror(now=self.clock.now_ms)
        self._backoff = backoff
        self._max_size = max_size
        self._hub = TopicHub()
        self._keys: dict[str, Any] = {}  # canonical topic -> local hub key, for publishing
        self._remote: set[str] = set()  # topics subscribed on the server (on every connection)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._ids = itertools.count(1)
        self._out: deque[str] = deque()
        self._wake = asyncio.Event()
        self._seq = 0
        self._live = False  # a welcome arrived on the current connection
        self._closed = False
        self._ready: asyncio.Future[RemoteBroker] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="paperbroker-client")

    # ------------------------------------------------------------------ connection

    def __await__(self) -> Any:
        return self.ready().__await__()

    async def ready(self) -> RemoteBroker:
        """Wait until connected and the account's mirror is loaded; returns the client.

        Raises AccessDenied when the server refused the token."""
        return await asyncio.shield(self._ready)

    async def _run(self) -> None:
        websockets = import_websockets()
        from websockets.asyncio.client import connect as ws_connect

        delay = self._backoff[0]
        while not self._closed:
            try:
                async with ws_connect(self.url, max_size=self._max_size, compression=None) as ws:
                    self._seq = 0
                    writer = asyncio.get_running_loop().create_task(self._write(ws))
                    try:
                        async for text in ws:
                            self._on_frame(text)
                            delay = self._backoff[0]
                    finally:
                        writer.cancel()
                code, reason = ws.close_code, ws.close_reason or ""
            except websockets.exceptions.ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                reason = exc.rcvd.reason if exc.rcvd is not None else "The connection dropped."
            except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as exc:
                code, reason = 1006, f"Cannot reach {self.url}: {exc}"
            self._lost()
            if self._closed:
                break
            if code == CLOSE_UNAUTHORIZED:
                self._fail(AccessDenied(reason or "The server refused this token."))
                return
            message = f"{reason} Reconnecting in {delay:.1f} s."
            self._set_status(ConnectionStatus.CONNECTING, message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._backoff[1])
            self.reconnects += 1

    async def _write(self, ws: Any) -> None:
        out = self._out
        while True:
            await self._wake.wait()
            self._wake.clear()
            while out:
                await ws.send(out[0])
                out.popleft()

    def _lost(self) -> None:
        """The connection ended: what was sent and not answered may or may not have run."""
        self._live = False
        pending, self._pending = self._pending, {}
        for kind, future in pending.values():
            if not future.done():
                msg = (
                    f"The connection was lost before the server answered this {kind}; "
                    "check orders() once reconnected."
                )
                future.set_exception(ConnectionLost(msg))
        self._out.clear()

    def _fail(self, exc: BrokerError) -> None:
        self.last_error = exc
        self._closed = True
        self._set_status(ConnectionStatus.ERROR, str(exc))
        if not self._ready.done():
            self._ready.set_exception(exc)

    def _set_status(self, status: ConnectionStatus, message: str) -> None:
        self.status = status
        key = self._keys.get(topic("broker-connection", self.account_id or "-"))
        if key is not None:
            self._hub.publish("broker-connection", key, self._status_record(message))

    def _status_record(self, message: str | None = None) -> BrokerConnectionStatus:
        import time

        return BrokerConnectionStatus(self.status, message, None, int(time.time() * 1000))

    def close(self) -> None:
        """Disconnect for good (no reconnecting); local subscriptions are closed."""
        if self._closed and self._task.done():
            return
        self._closed = True
        self._task.cancel()
        self._lost()
        self._set_status(ConnectionStatus.DISCONNECTED, "Disconnected by the client.")
        for sub in self._hub.subscriptions():
            sub.close()
        if not self._ready.done():
            self._ready.set_exception(ConnectionLost("The client was closed before it connected."))

    async def wait_closed(self) -> None:
        """After :meth:`close`: wait until the connection has ended."""
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    @property
    def connected(self) -> bool:
        """Whether the connection is up now."""
        return self.status is ConnectionStatus.CONNECTED

    # ------------------------------------------------------------------ frames

    def _send(self, message: dict[str, Any]) -> None:
        self._out.append(json.dumps(message, separators=(",", ":")))
        self._wake.set()

    def request(self, kind: str, **fields: Any) -> asyncio.Future[Any]:
        """Send any protocol request (``docs/protocol.md``); the future gets its decoded result."""
        if self._closed:
            msg = "This client is closed; connect again with pb.connect(url)."
            raise InvalidState(msg)
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.add_done_callback(self._settled)
        self._pending[request_id] = (kind, future)
        self._send({"type": kind, "id": request_id, **fields})
        return future

    def _settled(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()  # marks it retrieved: a request nobody awaits is fine
        if exc is not None:
            self.last_error = exc
            logger.info("A classroom request failed: %s", exc)

    def _on_frame(self, text: object) -> None:
        """Handle one frame; one that cannot be used is logged and skipped, never fatal."""
        try:
            self._frame(text)
        except Exception as exc:  # a bad frame must not end the connection
            self.last_error = exc
            logger.exception("The classroom client could not use a frame from the server")
            request_id = message.get("id") if isinstance(message := _loads(text), dict) else None
            entry = self._pending.pop(request_id, None) if isinstance(request_id, int) else None
            if entry is not None and not entry[1].done():
                failure = BrokerError(f"The client could not read the server's answer: {exc!r}.")
                entry[1].set_exception(failure)

    def _frame(self, text: object) -> None:
        message = json.loads(text) if isinstance(text, str) else {}
        kind = message.get("type")
        if kind == "event":
            if message["seq"] != self._seq + 1:
                self.gaps += 1
            self._seq = message["seq"]
            self._event(message["topic"], message["data"])
        elif kind in ("result", "subscribed", "error"):
            self._answer(kind, message)
        elif kind == "welcome":
            self._welcome(message)
        elif kind == "market":
            self.paused = bool(message.get("paused"))
        elif kind == "reset" and message.get("accountId") == self.account_id:
            self.mirror.forget_executions()  # the teacher reset this account: it starts over

    def _welcome(self, message: dict[str, Any]) -> None:
        self.role = message.get("role")
        self.account_id = message.get("accountId")
        self.paused = bool(message.get("paused"))
        self.clock.update(zone_from(message.get("timezone")), message.get("time"))
        topics = [] if self.account_id is None else [topic(k, self.account_id) for k in MIRRORED]
        self._remote.update(topics)
        self._live = True
        queued = list(self._out)  # requests made while disconnected go after the subscriptions
        self._out.clear()
        subscribing = [self.request("subscribe", topic=t) for t in sorted(self._remote)]
        self._out.extend(queued)
        self._wake.set()

        def loaded(done: asyncio.Future[list[Any]]) -> None:
            if not self._live or any(isinstance(r, BaseException) for r in done.result()):
                return  # lost again before the mirror loaded: the next welcome retries
            self._set_status(ConnectionStatus.CONNECTED, f"Connected to {self.url.split('?')[0]}")
            if not self._ready.done():
                self._ready.set_result(self)

        asyncio.gather(*subscribing, return_exceptions=True).add_done_callback(loaded)

    def _answer(self, kind: str, message: dict[str, Any]) -> None:
        entry = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if kind == "subscribed":
            self._snapshot(message["topic"], message["snapshot"])
        if entry is None or entry[1].done():
            if kind == "error":
                self.last_error = error_class(message["error"]["type"])(message["error"]["message"])
            return
        request, future = entry
        if kind == "error":
            error = message["error"]
            future.set_exception(error_class(error.get("type"))(error.get("message", "")))
        elif kind == "subscribed":
            future.set_result(message["topic"])
        elif request in _ORDER_RESULTS:
            future.set_result(record_from("orders", message["result"]))
        else:
            future.set_result(message["result"])

    def _snapshot(self, canonical: str, rows: list[dict[str, Any]]) -> None:
        kind = canonical.partition(":")[0]
        if not self._mirrored(canonical):
            return
        changed = self.mirror.load(kind, [record_from(kind, r) for r in rows])
        key = self._keys.get(canonical)
        if key is not None:
            for record in changed:
                self._hub.publish(kind, key, record)

    def _mirrored(self, canonical: str) -> bool:
        kind = canonical.partition(":")[0]
        return kind == "quotes" or (self.account_id is not None and canonical == topic(kind, self.account_id))

    def _event(self, canonical: str, data: dict[str, Any]) -> None:
        kind = canonical.partition(":")[0]
        record = record_from(kind, data)
        if self._mirrored(canonical):
            self.mirror.apply(kind, record)
        key = self._keys.get(canonical)
        if key is not None:
            if self._hub.has(kind, key):
                self._hub.publish(kind, key, record)
            elif kind != "quotes" and canonical not in self._mirror_topics():  # nobody listens any more
                del self._keys[canonical]
                self._remote.discard(canonical)
                self.request("unsubscribe", topic=canonical)

    def _mirror_topics(self) -> set[str]:
        return set() if self.account_id is None else {topic(k, self.account_id) for k in MIRRORED}

    # ------------------------------------------------------------------ topics

    def subscribe(self, topic_text: str, callback: Any) -> Subscription:
        """Call ``callback(record)`` for each event on ``topic_text``, as on a local broker.

        The account's own topics come from the mirror; others (quotes, or any account for
        the teacher's token) are subscribed on the server.  ``broker-connection`` reports
        this client's connection (Connecting, Connected, Error) and starts with its state."""
        _, params, canonical = parse_topic(topic_text)
        if self.role == "student" and params.get("accountId", self.account_id) != self.account_id:
            msg = (
                f"This client's token belongs to account {self.account_id!r} and cannot subscribe "
                f"to {canonical}; ask the teacher for that account's own invitation."
            )
            raise AccessDenied(msg)
        sub = self._hub.subscribe(canonical, callback)
        self._keys[canonical] = sub.key
        if sub.kind == "broker-connection":
            sub.callback(self._status_record())
        elif canonical not in self._remote:
            self._remote.add(canonical)  # the next welcome subscribes it if not live now
            if self._live:
                self.request("subscribe", topic=canonical)
        return sub

    async def create_topic(self, topic_text: str, callback: Any) -> Subscription:
        """TradingView-style :meth:`subscribe`."""
        return self.subscribe(topic_text, callback)

    def remove_topic(self, topic_text: str, callback: Any = None) -> int:
        """Close the local subscriptions of ``topic_text`` (only ``callback``'s if given)."""
        return self._hub.remove_topic(topic_text, callback)

    def __repr__(self) -> str:
        who = self.account_id or self.role or "?"
        return f"<RemoteBroker {who} {self.status.label.lower()}, {len(self.mirror.orders)} orders>"


def _loads(text: object) -> Any:
    try:
        return json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return None


def connect(
    url: str, token: str | None = None, *, backoff: tuple[float, float] = (0.2, 10.0)
) -> RemoteBroker:
    """Join a classroom server: ``remote = await pb.connect(url)`` with the invitation URL
    (or the server's URL and ``token``).  Call it on a running loop (a notebook cell, or
    async code).  ``backoff``: first and longest wait between reconnection attempts."""
    import_websockets()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        msg = (
            "connect() runs on the running asyncio loop: call it in a notebook cell or from async "
            "code (asyncio.run(main())), not from a plain script."
        )
        raise InvalidState(msg) from None
    if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
        msg = f"url must be the ws:// or wss:// address the teacher gave you, got {url!r}."
        raise ConfigurationError(msg)
    if token is not None:
        parts = urllib.parse.urlsplit(url)
        url = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode({"token": token})))
    return RemoteBroker(url, backoff=backoff, max_size=64 * 2**20)
