"""Topic strings.

A topic is ``"<type>:<json params>"`` with the params as a JSON object with sorted keys and
no spaces, e.g. ``orders:{"accountId":"DEMO-ACCOUNT"}``.  :func:`topic` builds one;
:func:`parse_topic` checks one and returns its canonical form.

Types and their params:

==================  ==========================================  =======================
type                payload                                     params
==================  ==========================================  =======================
orders              PlacedOrder, on every state change          accountId
positions           Position (``qty=0`` once when it closes)    accountId
executions          Execution                                   accountId, symbol?
equity              EquityData                                  accountId
broker-connection   BrokerConnectionStatus (on subscribe, and   accountId
                    on failing / working steps)
quotes              Quote (market mode)                         symbol
pl                  Position, on every mark-to-market change    accountId
==================  ==========================================  =======================
"""

from __future__ import annotations

import json

from .errors import InvalidTopic
from .models import DEFAULT_ACCOUNT

__all__ = ["TOPIC_TYPES", "parse_topic", "topic"]

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
    if not isinstance(kind, str) or kind not in _PARAMS:
        known = ", ".join(TOPIC_TYPES)
        msg = f"{kind!r} is not a topic type; the types are {known}."
        raise InvalidTopic(msg)
    if "accountId" in _PARAMS[kind][0]:
        params = {"accountId": DEFAULT_ACCOUNT if account_id is None else account_id, **params}
    elif account_id is not None:
        params = {"accountId": account_id, **params}
    for key, value in params.items():
        if not isinstance(value, str) or not value:
            msg = f"Param {key!r} of a {kind} topic must be a non-empty string, got {value!r}."
            raise InvalidTopic(msg)
    return parse_topic(_canonical(kind, params))[2]


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
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
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
