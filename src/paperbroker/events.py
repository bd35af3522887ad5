"""The subscriber registry, batched delivery and subscriber error isolation.

Topics are checked and made canonical by :mod:`paperbroker.topics`.

A subscriber that raises is logged (with a traceback the first time), counted on its
:class:`Subscription` and skipped; the others and the broker carry on.  A
``KeyboardInterrupt`` (a kernel interrupt landing in a subscriber) is counted and logged
the same way, the event still reaches the other subscribers, and then the interrupt goes
on to the caller (after the steps that belong together, see :meth:`TopicHub.interrupts_held`).

Every subscriber sees the changes in the order they happened, one whole cascade after
another.  A subscriber that calls back into the broker (an execution callback that places
the next order, say) gets its answer at once, and the events of that call go out after the
current cascade's have reached every subscriber.

A subscriber may be a coroutine function.  Its coroutines run on the running loop one
after another, in event order, in one task per subscription; at most
:attr:`TopicHub.max_backlog` of them wait, and events beyond that are dropped and counted
as errors (:class:`~paperbroker.errors.SubscriberOverflow`) rather than growing memory
without bound.  Closing the subscription cancels what is still waiting.  Without a running
loop an async subscriber cannot run: each event is counted as an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any

from .errors import SubscriberOverflow
from .guard import BooksGuard
from .topics import TOPIC_TYPES, parse_topic, topic

__all__ = ["TOPIC_TYPES", "Subscription", "TopicHub", "parse_topic", "topic"]

logger = logging.getLogger("paperbroker")


class Subscription:
    """A subscriber's handle: :meth:`close` it (or use ``with``) to unsubscribe."""

    __slots__ = (
        "_backlog",
        "_hub",
        "_pending",
        "_task",
        "callback",
        "deliver",
        "errors",
        "key",
        "kind",
        "last_error",
        "live",
        "params",
        "topic",
    )

    def __init__(
        self,
        hub: TopicHub,
        kind: str,
        params: dict[str, str],
        canonical: str,
        key: Any,
        callback: Callable[[Any], Any],
    ) -> None:
        self._hub: TopicHub | None = hub
        #: True until :meth:`close`; the hub skips a subscription that is not live.
        self.live = True
        self.kind = kind
        self.params = params
        self.topic = canonical
        self.key = key
        self.callback = callback
        #: What the hub calls with each event: the callback, and a no-op once closed (so a
        #: send skips a closed subscription without a check per delivery).
        self.deliver: Callable[[Any], Any] = callback
        self.errors = 0
        self.last_error: BaseException | None = None
        # an async subscriber's coroutines waiting to run, and the task running them
        self._backlog: deque[Awaitable[Any]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._pending = 0  # queued plus the one running

    @property
    def active(self) -> bool:
        """False once the subscription is closed."""
        return self.live

    @property
    def pending(self) -> int:
        """How many events an async subscriber has still to process (0 for a sync one)."""
        return self._pending

    def close(self) -> None:
        """Stop receiving events and cancel async deliveries still waiting; closing twice
        does nothing."""
        hub, self._hub = self._hub, None
        self.live = False
        self.deliver = _ignore
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        while self._backlog:
            _discard(self._backlog.popleft())
        self._pending = 0
        if hub is not None:
            hub.remove(self)

    def schedule(self, awaitable: Awaitable[Any], max_backlog: int) -> BaseException | None:
        """Queue an async subscriber's coroutine behind its earlier ones (the hub calls
        this with what the callback returned); returns the error when it cannot run."""
        if self._hub is None:  # closed by an earlier subscriber of this same event
            _discard(awaitable)
            return None
        if len(self._backlog) >= max_backlog:
            _discard(awaitable)
            msg = (
                f"Async subscriber {self.callback!r} of {self.topic} has {len(self._backlog)} "
                "events waiting, so this one was dropped; make it faster or coalesce events."
            )
            return SubscriberOverflow(msg)
        if self._task is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                _discard(awaitable)
                msg = (
                    f"Async subscriber {self.callback!r} of {self.topic} got an event outside a "
                    "running event loop, where it cannot run; subscribe a plain function instead."
                )
                return RuntimeError(msg)
            self._task = loop.create_task(self._drain(), name=f"paperbroker-subscriber {self.topic}")
        self._backlog.append(awaitable)
        self._pending += 1
        return None

    async def _drain(self) -> None:
        backlog = self._backlog
        while backlog:
            try:
                await backlog.popleft()
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                hub = self._hub
                if hub is not None:
                    hub.failed(self, exc)
            finally:
                if self._pending:  # close() has already zeroed it
                    self._pending -= 1
        self._task = None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return f"<Subscription {self.topic} {state}, {self.errors} errors>"


class TopicHub:
    """Subscribers by topic, with fast publishing and error isolation.

    ``on_change(count)`` is called after every subscribe and unsubscribe with the number of
    subscriptions left, so the owner can start and stop background work.
    """

    #: The most events an async subscriber may have waiting before new ones are dropped.
    max_backlog = 10_000

    def __init__(
        self, on_change: Callable[[int], None] | None = None, guard: BooksGuard | None = None
    ) -> None:
        #: The broker's lock (see :mod:`paperbroker.guard`); closing a subscription takes it.
        self.guard = BooksGuard() if guard is None else guard
        # type -> key -> list of subscriptions; key is the accountId, (accountId, symbol)
        # for executions filtered by symbol, or the symbol for quotes.  A closed
        # subscription stays in its list, skipped, until closed ones are half of it; a key
        # goes when its last live subscription does.  Subscribing and closing are O(1).
        self._index: dict[str, dict[Any, list[Subscription]]] = {k: {} for k in TOPIC_TYPES}
        self._live: dict[tuple[str, Any], int] = {}  # (type, key) -> live subscriptions
        self._count = 0
        self._on_change = on_change
        self.errors = 0
        self.last_error: BaseException | None = None
        # events raised by subscribers while a send is under way wait here (see send)
        self._busy = False
        self._queue: deque[tuple[Sequence[Subscription], Any]] = deque()
        # interrupts_held(): how deep, and the first interrupt kept for its end
        self._holding = 0
        self._held: KeyboardInterrupt | None = None

    def __len__(self) -> int:
        return self._count

    def watch(self, on_change: Callable[[int], None]) -> None:
        """Call ``on_change(count)`` after every subscribe and unsubscribe."""
        self._on_change = on_change

    @staticmethod
    def _key(kind: str, params: dict[str, str]) -> Any:
        if kind == "quotes":
            return params["symbol"]
        if "symbol" in params:
            return (params["accountId"], params["symbol"])
        return params["accountId"]

    def subscribe(self, text: str, callback: Callable[[Any], Any]) -> Subscription:
        """Register ``callback`` for the topic ``text``; returns its handle."""
        if not callable(callback):
            msg = f"The callback for topic {text!r} must be callable, got {callback!r}."
            raise TypeError(msg)
        kind, params, canonical = parse_topic(text)
        key = self._key(kind, params)
        sub = Subscription(self, kind, params, canonical, key, callback)
        table = self._index[kind]
        subs = table.get(key)
        if subs is None:
            table[key] = [sub]
        elif self._busy:  # a send may be walking this list: the new one gets a list of its own
            table[key] = [*subs, sub]
        else:
            subs.append(sub)
        self._live[kind, key] = self._live.get((kind, key), 0) + 1
        self._count += 1
        if self._on_change is not None:
            self._on_change(self._count)
        return sub

    def remove(self, sub: Subscription) -> None:
        """Take ``sub`` out of the registry (:meth:`Subscription.close` calls this)."""
        with self.guard:  # from any thread
            table, slot = self._index[sub.kind], (sub.kind, sub.key)
            live = self._live[slot] - 1
            if live:
                self._live[slot] = live
                subs = table[sub.key]
                if len(subs) > 2 * live:  # a new list: a send walking the old one is unaffected
                    table[sub.key] = [s for s in subs if s.live]
            else:
                del self._live[slot], table[sub.key]
            self._count -= 1
            if self._on_change is not None:
                self._on_change(self._count)

    def remove_topic(self, text: str, callback: Callable[[Any], Any] | None = None) -> int:
        """Close the topic's subscriptions (only ``callback``'s if given); return how many."""
        kind, params, canonical = parse_topic(text)
        subs = [
            s
            for s in self._index[kind].get(self._key(kind, params), ())
            if s.live and s.topic == canonical and (callback is None or s.callback == callback)
        ]
        for sub in subs:
            sub.close()
        return len(subs)

    def subscriptions(self) -> list[Subscription]:
        """Every open subscription."""
        return [s for table in self._index.values() for subs in table.values() for s in subs if s.live]

    def table(self, kind: str) -> dict[Any, list[Subscription]]:
        """The live registry of one topic type: key -> its subscriptions.

        The key is the accountId, ``(accountId, symbol)`` for executions filtered by
        symbol, or the symbol for quotes.  Publishers keep the dict and look their key up
        on every event, which is cheaper than a call; they must not change it.
        """
        return self._index[kind]

    def has(self, kind: str, key: Any) -> bool:
        """Whether anyone subscribes to ``kind`` with ``key``."""
        return key in self._index[kind]

    def publish(self, kind: str, key: Any, payload: Any) -> None:
        """Hand ``payload`` to the subscribers of ``kind`` with ``key``, if any."""
        subs = self._index[kind].get(key)
        if subs:
            self.send(((subs, payload),))

    def deliver(self, subs: Sequence[Subscription], payload: Any) -> None:
        """Hand ``payload`` to ``subs`` (see :meth:`send`)."""
        self.send(((subs, payload),))

    def send(self, events: Iterable[tuple[Sequence[Subscription], Any]]) -> None:
        """Hand out one cascade: each ``(subscriptions, payload)`` of ``events``, in order.

        A subscriber that calls back into the broker (places an order from an execution
        callback, say) causes a new cascade while this one is still going out; it waits in
        a queue and goes out after this one, so every subscriber sees every change in the
        order it happened, one whole cascade after another.
        """
        if self._busy:
            self._queue.extend(events)
            return
        self._busy = True
        queue = self._queue
        interrupt: KeyboardInterrupt | None = None
        try:
            while True:
                for subs, payload in events:
                    for sub in subs:
                        try:
                            result = sub.deliver(payload)  # a no-op once closed (see close)
                        except Exception as exc:  # noqa: BLE001 - isolation is the point
                            self.failed(sub, exc)
                            continue
                        except KeyboardInterrupt as exc:
                            # a kernel interrupt landed in this subscriber: note it, let the
                            # others have their events, then let it reach the caller
                            self.failed(sub, exc)
                            interrupt = exc
                            continue
                        if result is not None and inspect.isawaitable(result):
                            error = sub.schedule(result, self.max_backlog)
                            if error is not None:
                                self.failed(sub, error)
                if not queue:
                    break
                events = tuple(queue)
                queue.clear()
        finally:
            self._busy = False
        if interrupt is not None:
            if not self._holding:
                raise interrupt
            if self._held is None:
                self._held = interrupt

    @contextlib.contextmanager
    def interrupts_held(self) -> Iterator[None]:
        """Keep a subscriber's KeyboardInterrupt until the block ends.

        The broker wraps the steps that must finish together in it, such as cancelling all
        of a position's brackets or expiring the day's orders: an interrupt landing in a
        subscriber of the first cancel then reaches the caller after the last.
        """
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
            held = None
            if not self._holding:
                held, self._held = self._held, None
        if held is not None:
            raise held

    def failed(self, sub: Subscription, exc: BaseException) -> None:
        """Count and log a subscriber's error (with a traceback the first time)."""
        sub.errors += 1
        sub.last_error = exc
        self.errors += 1
        self.last_error = exc
        if sub.errors == 1:
            logger.error(
                "Subscriber %r of %s raised; it is skipped for this event and later errors "
                "are only counted (see Subscription.errors).",
                sub.callback,
                sub.topic,
                exc_info=exc,
            )


def _ignore(_payload: Any) -> None:
    """What a closed subscription does with an event that was already on its way: nothing."""


def _discard(awaitable: Awaitable[Any]) -> None:
    """Drop an awaitable that will never be awaited (a coroutine is closed, not leaked)."""
    if inspect.iscoroutine(awaitable):
        awaitable.close()
