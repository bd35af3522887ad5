"""The broker's clocks: where it reads the time and when trading sessions end.

A :class:`Clock` tells the time in Unix milliseconds and where each trading session ends
(``session_end``, a time of day in ``timezone``; every calendar day is a session).  Day
orders expire and the daily loss limit starts over when the clock passes a session end.
:class:`WallClock` reads the computer's clock; :class:`SimClock` moves only when told.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass

from .errors import ConfigurationError, PersistenceError
from .statetypes import Count

__all__ = ["Clock", "SimClock", "SimClockState", "WallClock", "WallClockState"]

_DAY_MS = 86_400_000


def _session_time(value: object) -> dt.time:
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None)
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
    msg = f"session_end must be a time of day such as '16:00' or datetime.time(16, 0), got {value!r}."
    raise ConfigurationError(msg)


def _timezone(value: object) -> dt.tzinfo:
    if isinstance(value, dt.tzinfo):
        return value
    if isinstance(value, str):
        if value.upper() == "UTC":
            return dt.timezone.utc
        try:
            from zoneinfo import ZoneInfo

            return ZoneInfo(value)
        except (ImportError, ValueError, OSError):
            pass
    msg = (
        f"timezone must be 'UTC', an IANA name such as 'America/New_York' (with tz data "
        f"installed) or a datetime.tzinfo, got {value!r}."
    )
    raise ConfigurationError(msg)


def _timezone_name(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)  # a zoneinfo.ZoneInfo
    if isinstance(key, str):
        return key
    if tz is dt.timezone.utc:
        return "UTC"
    msg = f"The broker's clock has the time zone {tz!r}, which cannot be saved; use 'UTC' or an IANA name."
    raise PersistenceError(msg)


@dataclass(frozen=True, slots=True)
class WallClockState:
    """What a :class:`WallClock` saves: where its sessions end (``"21:00:00"``, ``"UTC"``)."""

    session_end: str
    timezone: str


@dataclass(frozen=True, slots=True)
class SimClockState:
    """What a :class:`SimClock` saves: its time, and where its sessions end."""

    now_ms: Count
    session_end: str
    timezone: str


def _session(state: WallClockState | SimClockState) -> dict[str, object]:
    return {"session_end": state.session_end, "timezone": state.timezone}


class Clock(ABC):
    """Where the broker reads the time, in Unix milliseconds, and where sessions end.

    ``session_end`` is the time of day (in ``timezone``) at which day orders expire; the
    default 21:00 UTC is 16:00 in New York in winter.
    """

    def __init__(self, *, session_end: object = "21:00", timezone: object = "UTC") -> None:
        self.session_end = _session_time(session_end)
        self.timezone = _timezone(timezone)

    @abstractmethod
    def now_ms(self) -> int:
        """The time now, in Unix milliseconds."""

    def next_session_end(self, after_ms: int) -> int:
        """The first session end strictly after ``after_ms`` (Unix ms)."""
        tz = self.timezone
        day = dt.datetime.fromtimestamp(after_ms / 1000.0, tz).date()
        for offset in range(3):
            local = dt.datetime.combine(day + dt.timedelta(days=offset), self.session_end, tz)
            end = int(local.timestamp() * 1000)
            if end > after_ms:
                return end
        return after_ms + _DAY_MS  # pragma: no cover - unreachable for real time zones


class WallClock(Clock):
    """The computer's clock."""

    def now_ms(self) -> int:
        """The wall clock now, in Unix milliseconds."""
        return int(time.time() * 1000)

    def state(self) -> WallClockState:
        """The clock as plain data (its time is the computer's, not saved)."""
        return WallClockState(self.session_end.isoformat(), _timezone_name(self.timezone))

    @classmethod
    def from_state(cls, state: WallClockState) -> WallClock:
        """A wall clock with ``state``'s sessions; a session end or time zone this
        paperbroker cannot read raises PersistenceError."""
        try:
            return cls(**_session(state))
        except ConfigurationError as exc:
            raise PersistenceError(f"is not valid: {str(exc).rstrip('.')}") from None

    def __repr__(self) -> str:
        return "WallClock()"


def _millis(value: object, what: str) -> int:
    """A time in milliseconds: a finite number (the fraction is dropped)."""
    if type(value) is int:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        msg = f"{what} takes milliseconds as a finite number, got {value!r}."
        raise ConfigurationError(msg)
    return int(value)


class SimClock(Clock):
    """A clock that moves only when told: deterministic timestamps for tests and replays.

    ``SimClock(start_ms)`` starts at ``start_ms`` (default 2024-01-02 14:30 UTC, the New
    York open); :meth:`advance` moves it forward and :meth:`set` jumps to a later time.
    ``session_end`` and ``timezone`` are as for :class:`Clock`.
    """

    def __init__(
        self, start_ms: int = 1_704_205_800_000, *, session_end: object = "21:00", timezone: object = "UTC"
    ) -> None:
        super().__init__(session_end=session_end, timezone=timezone)
        self._now = _millis(start_ms, "start_ms")

    def now_ms(self) -> int:
        """The simulated time, in Unix milliseconds."""
        return self._now

    def state(self) -> SimClockState:
        """The clock as plain data: its time and sessions."""
        return SimClockState(self._now, self.session_end.isoformat(), _timezone_name(self.timezone))

    @classmethod
    def from_state(cls, state: SimClockState) -> SimClock:
        """A simulated clock at ``state``'s time, with its sessions; a session end or time
        zone this paperbroker cannot read raises PersistenceError."""
        try:
            return cls(state.now_ms, **_session(state))
        except ConfigurationError as exc:
            raise PersistenceError(f"is not valid: {str(exc).rstrip('.')}") from None

    def advance(self, ms: float) -> int:
        """Move on by ``ms`` milliseconds; return the new time."""
        step = _millis(ms, "advance()")
        if step < 0:
            msg = f"A clock cannot go backwards; advance() got {ms!r} ms."
            raise ConfigurationError(msg)
        self._now += step
        return self._now

    def set(self, now_ms: int) -> int:
        """Move to ``now_ms`` (never back); return it."""
        if type(now_ms) is int and now_ms >= self._now:  # a market's tick: nothing to convert
            self._now = now_ms
            return now_ms
        when = _millis(now_ms, "set()")
        if when < self._now:
            msg = f"A clock cannot go backwards: it is at {self._now} ms, set() got {now_ms}."
            raise ConfigurationError(msg)
        self._now = when
        return self._now

    def __repr__(self) -> str:
        return f"SimClock({self._now})"
