"""The models and the clock in a saved broker's ``settings`` section.

A built-in commission model or clock is written with its parameters; one of your own
class is noted as custom, and ``load`` asks for it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Any

from ..clock import Clock, SimClock, WallClock
from ..core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit, custom_model
from ..errors import PersistenceError
from .codec import count, custom, not_custom

__all__ = ["dump_clock", "dump_commission", "load_clock", "load_commission"]

_COMMISSIONS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (NoCommission, FixedPerOrder, PerUnit, PercentOfNotional)
}


def dump_commission(model: Any) -> dict[str, Any]:
    own = custom_model(model)
    if own is not None or type(model).__name__ not in _COMMISSIONS:
        return custom(own or model)
    return {"type": type(model).__name__, **asdict(model)}


def dump_clock(clock: Clock) -> dict[str, Any]:
    if type(clock) is SimClock:
        out: dict[str, Any] = {"type": "sim", "now_ms": clock.now_ms()}
    elif type(clock) is WallClock:
        out = {"type": "wall"}
    else:
        return custom(clock)
    session_end = getattr(clock, "session_end", None)  # clocks with trading sessions
    if session_end is not None:
        out["session_end"] = session_end.isoformat()
        out["timezone"] = _timezone_name(getattr(clock, "timezone", dt.timezone.utc))
    return out


def _timezone_name(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)  # a zoneinfo.ZoneInfo
    if isinstance(key, str):
        return key
    if tz is dt.timezone.utc:
        return "UTC"
    msg = f"The broker's clock has the time zone {tz!r}, which cannot be saved; use 'UTC' or an IANA name."
    raise PersistenceError(msg)


def load_commission(saved: dict[str, Any]) -> Any:
    kind = not_custom(saved, "commission model", "commission=model")
    params = {k: v for k, v in saved.items() if k != "type"}
    return _COMMISSIONS[kind](**params)


def load_clock(saved: dict[str, Any]) -> Clock:
    kind = not_custom(saved, "clock", "clock=clock")
    session = {k: saved[k] for k in ("session_end", "timezone") if k in saved}
    if kind == "sim":
        return SimClock(count(saved["now_ms"]), **session)
    if kind == "wall":
        return WallClock(**session)
    msg = f"The saved clock type {kind!r} is not known to this paperbroker."
    raise PersistenceError(msg)


# ---------------------------------------------------------------------- random generator
