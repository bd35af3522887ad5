"""Topic strings, the subscriber registry and subscriber error isolation.

A topic is ``"<type>:<json params>"`` with the params as a JSON object with sorted keys
and no spaces, e.g. ``orders:{"accountId":"DEMO-ACCOUNT"}``.  :func:`topic` builds one;
:func:`parse_topic` checks one and returns its canonical form.

Types and their params:

==================  ==========================================  =======================
type                payload                                     params
==================  ==========================================  =======================
orders              PlacedOrder, on every state change          accountId
positions           Position (``qty=0`` once when it closes)    accountId
executions          Execution                                   accountId, symbol?
equity              EquityData                                  accountId
broker-connection   BrokerConnectionStatus (sent on subscribe)  accountId
quotes              Quote (market mode)                         symbol
pl                  Position, on every mark-to-market change    accountId
==================  ==========================================  =======================

A subscriber that raises is logged (with a traceback the first time), counted on its
:class:`Subscription` and skipped; the others and the broker carry on.  A subscriber may
be a coroutine function: its coroutine is scheduled on the running loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Callable
from typing import Any

from .errors import InvalidTopic

__all__ = ["TOPIC_TYPES", "Subscription", "TopicHub", "parse_topic", "topic"]

logger = logging.getLogger("paperbroker")

# type -> (required params, optional params)
_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "orders": (frozenset({"accountId"}), frozenset()),
    "positions": (frozenset({"accountId"}), frozenset()),
    "executions": (frozenset({"accountId"}), frozenset({"symbol"})),
    "equity": (frozenset({"accountId"}), frozenset()),
    "broker-connection": (frozenset({"accountId"}), frozenset()),
    "quotes": (frozenset({"symbol"}), frozenset()),
    "pl": (frozenset({"accountId"}), frozenset()),
}
TOPIC_TYPES = tuple(_PARAMS)

_EXAMPLE = 'orders:{"accountId":"DEMO-ACCOUNT"}'


def _canonical(kind: str, params: dict[str, str]) -> str:
    return kind + ":" + json.dumps(params, sort_keys=True, separators=(",", ":"))


def topic(kind: str, account_id: str | None = None, **params: str) -> str:
    """Build a canonical topic: ``topic("orders")`` -> ``orders:{"accountId":"DEMO-ACCOUNT"}``.

    ``account_id`` defaults to the demo account for the types that take one.
    """
    from .models import DEFAULT_ACCOUNT

    if kind in _PARAMS and "accountId" in _PARAMS[kind][0]:
        params = {"accountId": account_id or DEFAULT_ACCOUNT, **params}
    elif account_id is not None:
        params = {"accountId": account_id, **params}
    text = _canonical(kind, params)
    parse_topic(text)
    return text


def parse_topic(text: object) -> tuple[str, dict[str, str], str]:
    """Check a topic; return ``(type, params, canonical text)`` or raise InvalidTopic."""
    if not isinstance(text, str):
        msg = f"A topic must be a string like {_EXAMPLE}, got {type(text).__name__} {text!r}."
        raise InvalidTopic(msg)
    kind, sep, raw = text.partition(":")
    if not sep:
        msg = f"Topic {text!r} has no ':'; write it as '<type>:<json params>', e.g. {_EXAMPLE}."
        raise InvalidTopic(msg)
    if kind not in _PARAMS:
        known = ", ".join(TOPIC_TYPES)
        msg = f"Topic {text!r} has unknown type {kind!r}; the types are {known}."
        raise InvalidTopic(msg)
    try:
        params = json.loads(raw)
    except ValueError:
        msg = f"The params of topic {text!r} are not valid JSON; write them like {_EXAMPLE}."
        raise InvalidTopic(msg) from None
    if not isinstance(params, dict):
        msg = f"The params of topic {text!r} must be a JSON object like {_EXAMPLE}."
        raise InvalidTopic(msg)
    required, optional = _PARAMS[kind]
    missing = sorted(required - params.keys())
    if missing:
        msg = f"Topic {text!r} lacks the param(s) {', '.join(missing)}; e.g. {_EXAMPLE}."
        raise InvalidTopic(msg)
    unknown = sorted(params.keys() - required - optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        msg = f"Topic {text!r} has unknown param(s) {', '.join(unknown)}; {kind} takes {allowed}."
        raise InvalidTopic(msg)
    for key, value in params.items():
        if not isinstance(value, str) or not value:
            msg = f"Param {key!r} of topic {text!r} must be a non-empty string, got {value!r}."
            raise InvalidTopic(msg)
    return kind, params, _canonical(kind, params)


class Subscription:
    """A subscriber's handle: :meth:`close` it (or use ``with``) to unsubscribe."""

    __slots__ = ("_hub", "callback", "errors", "key", "kind", "last_error", "params", "topic")

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
        self.kind = kind
        self.params = params
        self.topic = canonical
        self.key = key
        self.callback = callback
        self.errors = 0
        self.last_error: BaseException | None = None

    @property
    def active(self) -> bool:
        return self._hub is not None

    def close(self) -> None:
        """Stop receiving events; closing twice does nothing."""
        hub, self._hub = self._hub, None
        if hub is not None:
            hub._detach(self)

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

    def __init__(self, on_change: Callable[[int], None] | None = None) -> None:
        # type -> key -> tuple of subscriptions; key is the accountId, (accountId, symbol)
        # for executions filtered by symbol, or the symbol for quotes
        self._index: dict[str, dict[Any, tuple[Subscription, ...]]] = {k: {} for k in _PARAMS}
        self._count = 0
        self._on_change = on_change
        self._pending: set[asyncio.Future[Any]] = set()
        self.errors = 0
        self.last_error: BaseException | None = None

    def __len__(self) -> int:
        return self._count

    @staticmethod
    def _key(kind: str, params: dict[str, str]) -> Any:
        if kind == "quotes":
            return params["symbol"]
        if "symbol" in params:
            return (params["accountId"], params["symbol"])
        return params["accountId"]

    def subscribe(self, text: str, callback: Callable[[Any], Any]) -> Subscription:
        if not callable(callback):
            msg = f"The callback for topic {text!r} must be callable, got {callback!r}."
            raise TypeError(msg)
        kind, params, canonical = parse_topic(text)
        key = self._key(kind, params)
        sub = Subscription(self, kind, params, canonical, key, callback)
        table = self._index[kind]
        table[key] = (*table.get(key, ()), sub)
        self._count += 1
        if self._on_change is not None:
            self._on_change(self._count)
        return sub

    def _detach(self, sub: Subscription) -> None:
        table = self._index[sub.kind]
        subs = tuple(s for s in table.get(sub.key, ()) if s is not sub)
        if subs:
            table[sub.key] = subs
        else:
            table.pop(sub.key, None)
        self._count -= 1
        if self._on_change is not None:
            self._on_change(self._count)

    def remove_topic(self, text: str, callback: Callable[[Any], Any] | None = None) -> int:
        """Close the topic's subscriptions (only ``callback``'s if given); return how many."""
        kind, params, canonical = parse_topic(text)
        subs = [
            s
            for s in self._index[kind].get(self._key(kind, params), ())
            if s.topic == canonical and (callback is None or s.callback == callback)
        ]
        for sub in subs:
            sub.close()
        return len(subs)

    def subscriptions(self) -> list[Subscription]:
        return [s for table in self._index.values() for subs in table.values() for s in subs]

    def has(self, kind: str, key: Any) -> bool:
        return key in self._index[kind]

    def publish(self, kind: str, key: Any, payload: Any) -> None:
        subs = self._index[kind].get(key)
        if subs:
            self._deliver(subs, payload)

    def _deliver(self, subs: tuple[Subscription, ...], payload: Any) -> None:
        for sub in subs:
            try:
                result = sub.callback(payload)
            except Exception as exc:  # noqa: BLE001 - isolation is the point
                self._failed(sub, exc)
                continue
            if result is not None and inspect.isawaitable(result):
                self._schedule(sub, result)

    def _failed(self, sub: Subscription, exc: BaseException) -> None:
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

    def _schedule(self, sub: Subscription, awaitable: Any) -> None:
        try:
            future = asyncio.ensure_future(awaitable)
        except RuntimeError as exc:  # no running loop to run the coroutine on
            if inspect.iscoroutine(awaitable):
                awaitable.close()
            self._failed(sub, exc)
            return
        self._pending.add(future)

        def done(fut: asyncio.Future[Any]) -> None:
            self._pending.discard(fut)
            if not fut.cancelled() and fut.exception() is not None:
                self._failed(sub, fut.exception())  # type: ignore[arg-type]

        future.add_done_callback(done)
