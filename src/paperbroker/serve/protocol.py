"""The classroom wire protocol, version 1: JSON text frames over one WebSocket.

The full description, with examples, is ``docs/protocol.md``.  In short, the client sends
objects with a ``type`` and, for anything that expects an answer, an ``id`` (a number or a
string it chooses); the server answers each with ``result`` (or ``subscribed``) or
``error`` carrying the same ``id``, and pushes ``event`` messages for the topics the
client subscribed to, each with the record exactly as its ``to_json()`` gives it and a
per-connection ``seq`` that counts up from 1 with no gaps.

This module holds what both ends share: the version, the message names, the error classes
of the network layer, and the mapping between error names and classes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from .. import errors
from ..errors import BrokerError
from ..models import BrokerConnectionStatus, EquityData, Execution, PlacedOrder, Position, Quote
from ..records import read_only

__all__ = [
    "MAX_MESSAGE_BYTES",
    "PROTOCOL_VERSION",
    "AccessDenied",
    "ConnectionLost",
    "ProtocolError",
    "RateLimited",
    "error_class",
    "error_message",
    "event_frame",
    "record_from",
    "welcome",
    "zone_from",
    "zone_name",
]

#: Bumped when a message changes meaning; the server says it in ``welcome``.
PROTOCOL_VERSION = 1

#: The largest frame the server accepts from a client (a frame above it closes the
#: connection with code 1009, "message too big").
MAX_MESSAGE_BYTES = 64 * 1024

#: Close codes the server uses besides the standard ones.
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_SHUTDOWN = 1001

#: Requests that change an account (refused while the market is paused).
TRADING = frozenset({"place", "modify", "cancel", "close", "reverse", "brackets"})
#: Requests that read a snapshot.
QUERIES = frozenset({"orders", "positions", "executions", "equity", "quote", "quotes", "accounts"})
#: Requests only a teacher's token may make.
TEACHER_ONLY = frozenset({"pause", "resume", "reset"})
#: Every message type a client may send.
REQUESTS = frozenset({"subscribe", "unsubscribe"}) | TRADING | QUERIES | TEACHER_ONLY


class ProtocolError(BrokerError, ValueError):
    """A message is not valid JSON, not an object, of an unknown type, or lacks a field."""


class AccessDenied(BrokerError):
    """A token is unknown or revoked, or asks for an account it does not own."""


class RateLimited(BrokerError):
    """A connection sent more messages per second than the server allows; the message
    was dropped and changed nothing."""


class ConnectionLost(BrokerError):
    """The client lost its connection before the server answered; the request may or may
    not have reached the server (check ``orders()`` once reconnected)."""


_NETWORK_ERRORS: dict[str, type[BrokerError]] = {
    cls.__name__: cls for cls in (ProtocolError, AccessDenied, RateLimited, ConnectionLost)
}


def error_class(name: object) -> type[BrokerError]:
    """The error class named ``name`` (the broker's own, or the network layer's);
    ``BrokerError`` for a name this version does not know."""
    if isinstance(name, str):
        found = _NETWORK_ERRORS.get(name) or getattr(errors, name, None)
        if isinstance(found, type) and issubclass(found, BrokerError):
            return found
    return BrokerError


def welcome(role: str, account_id: str | None, accounts: list[Any], paused: bool, clock: Any) -> str:
    """The server's first frame on a connection: the protocol version, who the token is,
    the market's state, and the broker clock's zone and time (for the client's clock)."""
    message = {
        "type": "welcome",
        "protocol": PROTOCOL_VERSION,
        "role": role,
        "accountId": account_id,
        "accounts": accounts,
        "paused": paused,
        "timezone": zone_name(clock.timezone),
        "time": clock.now_ms(),
    }
    return json.dumps(message, separators=(",", ":"))


def zone_name(tz: dt.tzinfo) -> str:
    """The name ``welcome`` gives the broker's time zone: its IANA name, or ``"UTC"``; a
    zone with neither (a fixed offset) as ``"UTC+HH:MM"``."""
    key = getattr(tz, "key", None)  # a zoneinfo.ZoneInfo
    if isinstance(key, str):
        return key
    offset = tz.utcoffset(None) or dt.timedelta(0)
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_from(name: object) -> dt.tzinfo:
    """The time zone a ``welcome`` names (see :func:`zone_name`); UTC for one that this
    computer does not know (or an older server that sends none)."""
    if isinstance(name, str) and name.startswith("UTC") and len(name) == 9:
        try:
            hours, minutes = int(name[4:6]), int(name[7:9])
        except ValueError:
            return dt.timezone.utc
        sign = -1 if name[3] == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    if isinstance(name, str) and name != "UTC":
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(name)
        except (ImportError, ValueError, OSError):
            pass
    return dt.timezone.utc


def error_message(request_id: object, exc: BaseException) -> str:
    """An ``error`` frame answering ``request_id`` with ``exc``'s class name and sentence."""
    name = type(exc).__name__ if isinstance(exc, BrokerError) else "ProtocolError"
    body: dict[str, Any] = {"type": name, "message": str(exc) or name}
    order_id = getattr(exc, "order_id", None)
    if order_id is not None:
        body["orderId"] = order_id
    return json.dumps({"type": "error", "id": request_id, "error": body}, separators=(",", ":"))


def event_frame(topic_text: str, seq: int, record: Any) -> str:
    """An ``event`` frame: the record's own ``to_json()`` text, spliced in unchanged."""
    return f'{{"type":"event","topic":{json.dumps(topic_text)},"seq":{seq},"data":{record.to_json()}}}'


# topic type -> record class its events carry
_RECORDS: dict[str, type[Any]] = {
    "orders": PlacedOrder,
    "positions": Position,
    "pl": Position,
    "executions": Execution,
    "equity": EquityData,
    "quotes": Quote,
    "broker-connection": BrokerConnectionStatus,
}


def record_from(kind: str, data: dict[str, Any]) -> Any:
    """Rebuild the record a ``kind`` event carried from its JSON object (the reverse of
    ``to_dict``): enums from their integers, nested records from their objects.  Read-only,
    as a local broker's records are."""
    return read_only(_record_from(kind, data))


def _record_from(kind: str, data: dict[str, Any]) -> Any:
    cls = _RECORDS[kind]
    # to_dict() leaves out None: put it back for fields without a default (Quote.bidSize)
    data = {**{f.name: None for f in dataclasses.fields(cls) if f.name not in data}, **data}
    if cls is PlacedOrder:
        return _placed(data)
    if cls is Position:
        return Position(**{**data, "side": _side(data["side"])})
    if cls is Execution:
        return Execution(**{**data, "side": _side(data["side"])})
    if cls is BrokerConnectionStatus:
        from ..models import ConnectionStatus

        return BrokerConnectionStatus(**{**data, "status": ConnectionStatus(data["status"])})
    return cls(**data)


def _side(value: int) -> Any:
    from ..models import Side

    return Side(value)


def _placed(data: dict[str, Any]) -> PlacedOrder:
    from ..models import OrderDuration, OrderMessage, OrderStatus, OrderType, ParentType, StopType

    fields = dict(data)
    fields["type"] = OrderType(fields["type"])
    fields["side"] = _side(fields["side"])
    fields["status"] = OrderStatus(fields["status"])
    if fields.get("stopType") is not None:
        fields["stopType"] = StopType(fields["stopType"])
    if fields.get("parentType") is not None:
        fields["parentType"] = ParentType(fields["parentType"])
    if fields.get("message") is not None:
        fields["message"] = OrderMessage(**fields["message"])
    if fields.get("duration") is not None:
        fields["duration"] = OrderDuration(**fields["duration"])
    return PlacedOrder(**fields)


def parse_message(text: object) -> dict[str, Any]:
    """A client's frame as a dict with a known ``type``, or ProtocolError saying why not."""
    if not isinstance(text, str):
        msg = "Send JSON text frames; binary frames are not part of the protocol."
        raise ProtocolError(msg)
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        msg = 'The message is not valid JSON; send an object like {"type":"orders","id":1}.'
        raise ProtocolError(msg) from None
    if not isinstance(message, dict):
        msg = 'A message must be a JSON object like {"type":"orders","id":1}.'
        raise ProtocolError(msg)
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in REQUESTS:
        known = ", ".join(sorted(REQUESTS))
        shown = json.dumps(kind)[:40]
        msg = f"Unknown message type {shown}; protocol {PROTOCOL_VERSION} has {known}."
        raise ProtocolError(msg)
    request_id = message.get("id")
    if request_id is not None and (isinstance(request_id, bool) or not isinstance(request_id, (int, str))):
        msg = "A message's id must be a number or a string (or left out)."
        raise ProtocolError(msg)
    return message


def field(
    message: dict[str, Any], name: str, kind: type | tuple[type, ...], *, optional: bool = False
) -> Any:
    """``message[name]`` checked against ``kind``; ProtocolError naming the field otherwise."""
    value = message.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        value = object()  # a bool is never a number here
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        msg = (
            f"A {message['type']} message needs {name!r} ({names}), got {json.dumps(message.get(name))[:60]}."
        )
        raise ProtocolError(msg)
    return value
