"""What every live widget shares: binding to a broker, coalescing, the thread hop, replies.

How an update travels::

    broker event (on the broker's loop, per fill)
        -> the widget's callback: one dict assignment into a dirty map, and the flush
           timer armed if it is not armed yet                         O(1), no I/O
    flush (a timer on the same loop, at most once per ``interval`` seconds)
        -> the dirty records become one patch, sent as one comm message
    browser
        -> patches are queued and applied in one requestAnimationFrame

A view asks for a full snapshot when it renders, so displaying a widget again, or
reopening the notebook while the kernel runs, rebuilds it.

Messages from the browser (cancel, place an order ...) may arrive on another thread
(ipykernel 7 runs comm handlers on subshell threads): they hop to the loop the widget was
created on with ``loop.call_soon_threadsafe``.  Every command is answered with
``{"type": "reply", "id": ..., "ok": bool, "error": str | None}``; a command that fails
changes nothing and its error is shown in the widget; a command cut short by a kernel
interrupt is answered before the interrupt goes on.  A widget never raises into the
broker: its callbacks only store records, and errors while flushing are logged and shown.

A widget works on any :class:`~paperbroker.host.BrokerHost`: the local broker, or the
classroom client (``pb.connect``), whose order calls return a future that the server
answers later.  A command that gets one replies once it is done (:func:`then` chains the
rest of a command onto it), so the kernel's loop never waits for the network.

The kernel owns every synced trait but those a view writes (``front_end_traits``):
ipywidgets' ``set_state`` ignores ``read_only``, so :meth:`BrokerWidget.set_state`
refuses a browser update of any other trait (an ``account_id``, a table's rows ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anywidget
import traitlets

from ..errors import BrokerError, ConfigurationError
from ..events import Subscription, topic
from ..host import BrokerHost
from ..models import DEFAULT_ACCOUNT
from ._checks import CommandError, check_scale, host_account, shown, text_arg, then, whole

__all__ = [
    "BrokerWidget",
    "CommandError",
    "add_snapshot",
    "asset",
    "check_scale",
    "host_account",
    "shown",
    "text_arg",
    "then",
    "whole",
]

logger = logging.getLogger("paperbroker.widgets")

STATIC = Path(__file__).parent / "static"

#: The shortest flush interval: at most 20 patches per second per widget.
MIN_INTERVAL = 0.05

Command = Callable[[dict[str, Any]], "str | asyncio.Future[str | None] | None"]


def asset(name: str, suffix: str) -> str:
    """The widget's ``static/<name>.<suffix>`` with the shared helpers in front.

    anywidget loads an ES module from a blob URL, where relative imports cannot resolve,
    so the helpers every component uses (``_shared.js``, ``_shared.css``) are prepended.
    """
    shared = (STATIC / f"_shared.{suffix}").read_text(encoding="utf-8")
    own = (STATIC / f"{name}.{suffix}").read_text(encoding="utf-8")
    return shared + "\n" + own


class BrokerWidget(anywidget.AnyWidget):
    """Base of the live widgets: see the module docstring for the update path.

    Subclasses implement :meth:`_bind` (subscribe and load the first state) and
    :meth:`_flush_now` (turn what is dirty into one message), and may add commands to
    ``self._commands``.
    """

    account_id = traitlets.Unicode(read_only=True).tag(sync=True)
    #: The last widget-side failure (a flush that raised), shown in the widget.
    error = traitlets.Unicode("").tag(sync=True)
    #: The size of the type (1 normal; 1.4 for a projector), read when a view renders.
    scale = traitlets.Float(1.0, read_only=True).tag(sync=True)

    #: The traits the browser may write (ipywidgets' ``set_state`` ignores ``read_only``):
    #: every other one is the kernel's, and a front-end update of it is refused.
    front_end_traits: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        interval: float = 0.1,
        scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        account_id = host_account(broker, account_id, type(self).__name__)
        if (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or not math.isfinite(interval)
            or not MIN_INTERVAL <= interval <= 60
        ):
            msg = (
                f"interval must be seconds between {MIN_INTERVAL} and 60 (how often the widget "
                f"sends its updates), got {interval!r}."
            )
            raise ConfigurationError(msg)
        check_scale(scale)
        super().__init__(**kwargs)
        self.set_trait("account_id", account_id)
        self.set_trait("scale", float(scale))
        self._broker = broker
        self._interval = float(interval)
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a script: no loop, so updates are sent at once
            self._loop = None
        self._loop_thread = threading.get_ident()
        self._timer: asyncio.TimerHandle | bool | None = None
        self._subs: list[Subscription] = []
        self._partners: list[BrokerWidget] = []
        self._commands: dict[str, Command] = {"snapshot": self._cmd_snapshot}
        self.on_msg(self._on_msg)
        try:
            self._bind()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ for subclasses

    @property
    def broker(self) -> BrokerHost:
        """The broker this widget shows."""
        return self._broker

    @property
    def interval(self) -> float:
        """Seconds between updates sent to the browser (at most one message each)."""
        return self._interval

    def _bind(self) -> None:
        raise NotImplementedError

    def _flush_now(self) -> None:
        """Send what changed since the last flush (one message at most)."""
        raise NotImplementedError

    def _snapshot(self) -> None:
        """Send the full state, for a view that has just rendered."""

    def _subscribe(self, kind: str, callback: Callable[[Any], None]) -> None:
        self._subs.append(self._broker.subscribe(topic(kind, self.account_id), callback))

    def _post(self, content: dict[str, Any], buffers: list[Any] | None = None) -> None:
        """Send one custom message to the views (nothing once closed)."""
        if self.comm is not None:
            self.send(content, buffers)

    # ------------------------------------------------------------------ coalescing

    def _arm(self) -> None:
        """Make sure a flush is coming: called by event callbacks after they mark state.

        Cheap when already armed (the callers test ``self._timer is None`` first).
        """
        loop = self._loop
        if loop is None or loop.is_closed():
            self._flush()
        elif threading.get_ident() == self._loop_thread:
            self._timer = loop.call_later(self._interval, self._flush)
        else:  # an event published from another thread: arm the timer on the loop
            self._timer = True
            loop.call_soon_threadsafe(self._arm_on_loop)

    def _arm_on_loop(self) -> None:
        if self._timer is True and self._loop is not None:
            self._timer = self._loop.call_later(self._interval, self._flush)

    def _flush(self) -> None:
        self._timer = None
        if self.comm is None:
            return
        # a local broker's lock: the callbacks that fill the buffers may run on another
        # thread (a widget message on ipykernel's subshell, a user's thread)
        lock = getattr(self._broker, "lock", None) or contextlib.nullcontext()
        try:
            with lock:
                self._flush_now()
        except Exception as exc:  # a widget must never break the broker
            logger.exception("%s failed to send an update", type(self).__name__)
            self.error = f"Update failed: {type(exc).__name__}: {exc}"
        for partner in self._partners:
            if partner.pending:
                partner.flush()

    @property
    def pending(self) -> bool:
        """True while an update waits for the flush timer."""
        return self._timer is not None

    def flush_with(self, *others: BrokerWidget) -> None:
        """Send this widget's and ``others``' pending updates together, whichever's timer
        comes first (the link goes both ways).

        For widgets that show the same figure (the dashboard's summary and equity chart
        both show the equity): on screen they then change together and agree.
        """
        for other in others:
            if other is not self and other not in self._partners:
                self._partners.append(other)
                other.flush_with(self)

    def flush(self) -> None:
        """Send pending updates now instead of at the next timer tick."""
        handle = self._timer
        if isinstance(handle, asyncio.TimerHandle):
            handle.cancel()
        self._flush()

    # ------------------------------------------------------------------ browser messages

    def _on_msg(self, _widget: object, content: object, _buffers: object) -> None:
        """Comm handler: may run on a subshell thread, so hop to the widget's loop."""
        loop = self._loop
        if loop is None or loop.is_closed() or threading.get_ident() == self._loop_thread:
            self._dispatch(content)
        else:
            loop.call_soon_threadsafe(self._dispatch, content)

    def _dispatch(self, content: object) -> None:
        request_id = content.get("id") if isinstance(content, dict) else None
        if not isinstance(request_id, (int, str)) or isinstance(request_id, bool):
            request_id = None
        try:
            if not isinstance(content, dict):
                msg = f"A widget message must be a JSON object, got {shown(content)}."
                raise CommandError(msg)
            kind = content.get("type")
            command = self._commands.get(kind) if isinstance(kind, str) else None
            if command is None:
                known = ", ".join(sorted(self._commands))
                msg = f"Unknown widget command {shown(kind)}; this widget understands {known}."
                raise CommandError(msg)
            note = command(content)
            if isinstance(note, asyncio.Future):  # a remote broker answers later
                note.add_done_callback(lambda done: self._settle(request_id, done))
                return
        except Exception as exc:  # noqa: BLE001 - every failure is answered (and logged if internal)
            self._failed(request_id, exc)
        except BaseException as exc:  # an interrupt (the stop button): answer, then stop
            what = "Interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
            self._reply(
                request_id,
                error=f"{what} while the kernel ran this command; look at the orders to see what it did.",
            )
            raise
        else:
            self._reply(request_id, note=note)

    def _settle(self, request_id: object, done: asyncio.Future[str | None]) -> None:
        if done.cancelled():
            self._reply(request_id, error="The command was cancelled before the broker answered.")
        elif done.exception() is not None:
            self._failed(request_id, done.exception())  # type: ignore[arg-type]
        else:
            self._reply(request_id, note=done.result())

    def _failed(self, request_id: object, exc: BaseException) -> None:
        if isinstance(exc, (BrokerError, ValueError, TypeError, KeyError)):
            self._reply(request_id, error=str(exc) or type(exc).__name__)
        else:  # answer the browser, keep the kernel alive
            logger.error("%s command failed", type(self).__name__, exc_info=exc)
            self._reply(request_id, error=f"Internal error: {type(exc).__name__}: {exc}")

    def _reply(self, request_id: object, *, error: str | None = None, note: str | None = None) -> None:
        self._post({"type": "reply", "id": request_id, "ok": error is None, "error": error, "note": note})

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply a state update from the browser to the traits it owns (see
        ``front_end_traits``); an update of any other trait is refused, logged, and the
        views are sent the kernel's value back."""
        if not isinstance(sync_data, dict):
            logger.warning("%s ignored a state update that is not an object", type(self).__name__)
            return
        owned = self.front_end_traits
        refused = [name for name in sync_data if name not in owned]
        if refused:
            logger.warning(
                "%s refused a browser update of %s: the kernel owns it",
                type(self).__name__,
                shown(refused),
            )
            known = [name for name in refused if name in self.keys]
            if known and self.comm is not None:
                self.send_state(known)  # undo it in the views that sent it
        allowed = {name: value for name, value in sync_data.items() if name in owned}
        if allowed:
            super().set_state(allowed)

    def _cmd_snapshot(self, _content: dict[str, Any]) -> None:
        self.flush()
        self._snapshot()

    # ------------------------------------------------------------------ static snapshot

    def html_part(self, outer: bool) -> str:
        """The current state as static HTML (see ``_html.py``); ``outer`` for a snapshot
        shown on its own, not as a part of a dashboard's."""
        raise NotImplementedError

    def snapshot_html(self) -> str:
        """The widget's current state as static HTML, after pending updates.

        Displaying a widget puts this next to the live view, as ``text/html``: JupyterLab
        shows the live widget, while GitHub, nbviewer and the docs, which cannot run one,
        show the snapshot.  Every text in it is escaped.
        """
        self.flush()
        return self.html_part(outer=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        add_snapshot(self, data)
        return data, metadata

    def __repr__(self) -> str:
        # deterministic (no memory address), so notebooks compare equal under nbval
        state = " (closed)" if self.closed else ""
        return f"<{type(self).__name__} of {self.account_id}{state}>"

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran: the widget no longer listens to the broker."""
        return self.comm is None and not self._subs

    def close(self) -> None:
        """Unsubscribe from the broker (the last subscription stops its simulator) and
        remove the widget's views."""
        subs, self._subs = getattr(self, "_subs", []), []
        for sub in subs:
            sub.close()
        handle = getattr(self, "_timer", None)
        if isinstance(handle, asyncio.TimerHandle):
            handle.cancel()
        self._timer = None
        super().close()


def add_snapshot(widget: Any, data: dict[str, Any]) -> None:
    """Put ``widget.snapshot_html()`` into a display's mime bundle as ``text/html``.

    A snapshot that fails is logged and left out: the live view must still show.
    """
    try:
        data["text/html"] = widget.snapshot_html()
    except Exception:
        logger.exception("%s could not build its HTML snapshot", type(widget).__name__)
