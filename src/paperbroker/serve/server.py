"""``pb.serve(broker)``: one market served from the kernel to a classroom of notebooks.

The server is a :mod:`websockets` asyncio server on the loop that is running when
:func:`serve` is called (the kernel's): no thread, no second loop.  The listening socket is
bound at once, so :attr:`ClassroomServer.url` is known when :func:`serve` returns, and
connections are accepted as soon as the cell finishes.  See ``docs/protocol.md`` for what
goes over the wire and ``docs/classroom.md`` for running a class.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl as ssl_module
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..broker import BrokerService
from ..errors import ConfigurationError, InvalidState
from .auth import Grant, TokenBook
from .market import MarketControls
from .protocol import CLOSE_SHUTDOWN, CLOSE_UNAUTHORIZED, MAX_MESSAGE_BYTES, AccessDenied, welcome
from .session import Session

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection

__all__ = ["ClassroomServer", "ClientInfo", "Invitation", "serve"]

logger = logging.getLogger("paperbroker.serve")

#: Bytes of kernel send buffer per connection (on top of the ``buffer`` of messages).
_KERNEL_BUFFER = 64 * 1024


def import_websockets() -> Any:
    """The ``websockets`` package, or an ImportError that says how to install it."""
    try:
        import websockets.asyncio.server
    except ImportError as exc:
        msg = (
            "The classroom server and client need the 'websockets' package: "
            "pip install 'paperbroker[classroom]' (or pip install websockets)."
        )
        raise ImportError(msg) from exc
    return websockets


@dataclass(frozen=True, slots=True)
class Invitation:
    """A join token and the URL that carries it: hand ``url`` to one student (or keep the
    teacher's for yourself).  ``pb.connect(invitation.url)`` joins with it."""

    url: str
    token: str
    account_id: str | None
    role: str

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """One connected client, as :attr:`ClassroomServer.clients` lists it."""

    account_id: str | None
    role: str
    address: str
    connected_at: float
    subscriptions: int
    waiting: int
    sent: int


def _positive(value: object, name: str, meaning: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        msg = f"{name} must be a number > 0 ({meaning}), got {value!r}."
        raise ConfigurationError(msg)
    return float(value)


class ClassroomServer(MarketControls):
    """A running classroom server; made by :func:`serve`, see there for the parameters.

    The teacher's controls (:meth:`pause`, :meth:`resume`, :meth:`reset`) are those of
    :class:`~paperbroker.serve.market.MarketControls`."""

    def __init__(
        self,
        broker: BrokerService,
        sock: socket.socket,
        ssl: ssl_module.SSLContext | None,
        *,
        interval: float | None,
        buffer: int,
        rate: float,
        burst: int,
        max_size: int,
    ) -> None:
        self.broker = broker
        self.buffer = buffer
        self.rate = rate
        self.burst = burst
        self.max_size = max_size
        self.interval = interval
        #: The latest disconnections the server made or saw: ``(account, code, reason)``.
        self.disconnects: deque[tuple[str | None, int, str]] = deque(maxlen=200)
        self._tokens = TokenBook()
        self._sessions: set[Session] = set()
        self._paused = False
        self._reset_hooks: list[Callable[[str], Any]] = []  # see MarketControls.on_reset
        self._closed = False
        self._sock = sock
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        self.url = f"{'wss' if ssl is not None else 'ws'}://{shown}:{port}/"
        self._ws_server: Server | None = None
        loop = asyncio.get_running_loop()
        self._starting = loop.create_task(self._start(ssl), name="paperbroker-classroom-server")
        self._stepper = None if interval is None else loop.create_task(self._step(interval))
        broker.on_shutdown(self.close)

    # ------------------------------------------------------------------ lifecycle

    async def _start(self, ssl: ssl_module.SSLContext | None) -> None:
        websockets = import_websockets()
        self._ws_server = await websockets.asyncio.server.serve(
            self._handler,
            sock=self._sock,
            ssl=ssl,
            max_size=self.max_size,
            compression=None,  # small JSON frames: deflate would cost more than it saves
            close_timeout=2,
            logger=logging.getLogger("paperbroker.serve.websockets"),
        )

    async def started(self) -> ClassroomServer:
        """Wait until connections are accepted (``await server.started()``); returns the server."""
        await asyncio.shield(self._starting)
        return self

    def __await__(self) -> Any:
        return self.started().__await__()

    async def _step(self, interval: float) -> None:
        """Drive the market every ``interval`` seconds unless paused (see :meth:`pause`)."""
        while not self._closed:
            await asyncio.sleep(interval)
            if self._paused or self._closed:
                continue
            try:
                self.broker.step()
            except Exception:  # a failing tick is logged; the class goes on
                logger.exception("The classroom server's market step failed")

    @property
    def closed(self) -> bool:
        """Whether the server has been closed."""
        return self._closed

    def close(self) -> None:
        """Disconnect every client (code 1001) and stop listening; closing twice does nothing.

        ``broker.shutdown()`` calls this too.
        """
        if self._closed:
            return
        self._closed = True
        for session in list(self._sessions):
            session.drop(CLOSE_SHUTDOWN, "The classroom server is shutting down.")
        if self._stepper is not None:
            self._stepper.cancel()
        if self._ws_server is not None:
            self._ws_server.close()
        elif not self._starting.done():
            self._starting.cancel()
            self._sock.close()

    async def wait_closed(self) -> None:
        """Wait until the listening socket and every connection are closed."""
        if not self._closed:
            msg = "The server is still open; call server.close() first."
            raise InvalidState(msg)
        with contextlib.suppress(asyncio.CancelledError):
            await self._starting
        if self._ws_server is not None:
            await self._ws_server.wait_closed()

    # ------------------------------------------------------------------ tokens

    def invite(
        self, account_id: str | None = None, *, teacher: bool = False, initial_balance: float | None = None
    ) -> Invitation:
        """A join token for ``account_id`` (opened now if the broker has no such account,
        with ``initial_balance``), or with ``teacher=True`` one that sees every account and
        may pause and resume the market."""
        if teacher:
            if account_id is not None:
                msg = "invite(teacher=True) takes no account_id: the teacher's token sees every account."
                raise ConfigurationError(msg)
            grant = self._tokens.issue(None, teacher=True)
        else:
            if not isinstance(account_id, str) or not account_id.strip():
                msg = f"invite() needs an account id such as 'ALICE' (or teacher=True), got {account_id!r}."
                raise ConfigurationError(msg)
            if account_id not in self.broker.accounts():
                self.broker.open_account(account_id, initial_balance)
            grant = self._tokens.issue(account_id)
        url = f"{self.url}?{urllib.parse.urlencode({'token': grant.token})}"
        return Invitation(url, grant.token, grant.account_id, grant.role)

    def revoke(self, token: str | Invitation) -> int:
        """Forget a token (or an :class:`Invitation`'s): it can no longer join, and the
        clients connected with it are disconnected.  Returns how many were."""
        text = token.token if isinstance(token, Invitation) else token
        grant = self._tokens.revoke(text)
        sessions = [s for s in self._sessions if s.grant is grant]
        for session in sessions:
            session.drop(CLOSE_UNAUTHORIZED, "The teacher revoked this token.")
        return len(sessions)

    # ------------------------------------------------------------------ connections

    @property
    def clients(self) -> list[ClientInfo]:
        """Who is connected now."""
        return [
            ClientInfo(
                s.grant.account_id,
                s.grant.role,
                s.address,
                s.connected_at,
                len(s.subscriptions),
                s.waiting,
                s.sent,
            )
            for s in self._sessions
        ]

    def forget(self, session: Session, code: int, reason: str) -> None:
        """A session ended (called by the session)."""
        self._sessions.discard(session)
        self.disconnects.append((session.grant.account_id, code, reason))

    def _authorize(self, ws: ServerConnection) -> Grant:
        path = ws.request.path if ws.request is not None else ""
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
        return self._tokens.find((query.get("token") or [""])[0])

    async def _handler(self, ws: ServerConnection) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            grant = self._authorize(ws)
        except AccessDenied as exc:
            from .protocol import error_message

            with contextlib.suppress(ConnectionClosed):
                await ws.send(error_message(None, exc))
                await ws.close(CLOSE_UNAUTHORIZED, str(exc)[:120])
            self.disconnects.append((None, CLOSE_UNAUTHORIZED, str(exc)))
            return
        if self._closed:
            await ws.close(CLOSE_SHUTDOWN, "The classroom server is shutting down.")
            return
        sock = ws.transport.get_extra_info("socket") if ws.transport is not None else None
        if sock is not None:  # bound the kernel's buffer too, so a stalled client is noticed soon
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _KERNEL_BUFFER)
                # an event and its request's answer leave back to back: no Nagle delay
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        session = Session(self, ws, grant)
        self._sessions.add(session)
        accounts = self.broker.accounts() if grant.teacher else [grant.account_id]
        session.push(welcome(grant.role, grant.account_id, accounts, self._paused, self.broker.clock))
        writer = asyncio.get_running_loop().create_task(session.write())
        try:
            async for text in ws:
                session.receive(text)
                if not session.open:
                    break
        except ConnectionClosed:
            pass
        finally:
            if session.open:
                code = ws.close_code if ws.close_code is not None else 1006
                session.drop(code, ws.close_reason or "The client went away.", notify=False)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._sessions)} clients"
        paused = ", paused" if self._paused else ""
        return f"<ClassroomServer {self.url} {state}{paused}>"


def serve(
    broker: BrokerService,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl: ssl_module.SSLContext | None = None,
    *,
    interval: float | None = None,
    buffer: int = 10_000,
    rate: float = 200.0,
    burst: int = 400,
    max_size: int = MAX_MESSAGE_BYTES,
) -> ClassroomServer:
    """Serve ``broker`` to a classroom over WebSocket, from the running loop; returns at once.

    ``host``/``port``: where to listen (``port=0`` picks a free port; see
    :attr:`ClassroomServer.url`).  The default listens on this machine only; a class on a
    network needs ``host="0.0.0.0"`` and an open port (``docs/classroom.md``).  ``ssl``: an
    :class:`ssl.SSLContext` for ``wss://``.  ``interval``: seconds between market steps the
    server drives itself (for a broker built with ``execution_delay=None``; this is what
    lets the teacher :meth:`~ClassroomServer.pause` it).  ``buffer``: messages a client may
    leave unread before it is disconnected.  ``rate``/``burst``: messages a second one
    connection may send (more are refused).  ``max_size``: the largest frame accepted.

    Stop it with ``server.close()`` or ``broker.shutdown()``.
    """
    if not isinstance(broker, BrokerService):
        msg = f"serve() needs a paperbroker BrokerService, got {broker!r}."
        raise ConfigurationError(msg)
    import_websockets()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        msg = (
            "serve() runs on the running asyncio loop: call it in a notebook cell or from async "
            "code (asyncio.run(main())), not from a plain script."
        )
        raise InvalidState(msg) from None
    if interval is not None:
        interval = _positive(interval, "interval", "seconds between market steps")
    buffer = int(_positive(buffer, "buffer", "messages a slow client may leave unread"))
    rate = _positive(rate, "rate", "messages a second one connection may send")
    burst = int(_positive(burst, "burst", "messages one connection may send at once"))
    max_size = int(_positive(max_size, "max_size", "the largest frame accepted, in bytes"))
    if ssl is not None and not isinstance(ssl, ssl_module.SSLContext):
        msg = f"ssl must be an ssl.SSLContext or None, got {ssl!r}."
        raise ConfigurationError(msg)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        msg = f"port must be a whole number from 0 to 65535 (0: any free port), got {port!r}."
        raise ConfigurationError(msg)
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        msg = f"Cannot listen on {host}:{port}: {exc.strerror or exc}. Pick another port (0: any free one)."
        raise ConfigurationError(msg) from exc
    sock.setblocking(False)
    return ClassroomServer(
        broker, sock, ssl, interval=interval, buffer=buffer, rate=rate, burst=burst, max_size=max_size
    )
