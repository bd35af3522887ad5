"""Times in the broker clock's time zone, the same in every view.

The broker's clock has a time zone (``SimClock(timezone="America/New_York")``, UTC by
default): day orders expire at its session end, and a replay of New York bars happens in
New York time.  The widgets show times in that zone, whatever zone the browser is in, so
a live table, its HTML snapshot and a colleague's screen agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

__all__ = ["wall_ms", "zone_name", "zone_spec"]

_UTC = dt.timezone.utc


def zone_name(tz: dt.tzinfo) -> str:
    """A short name for column headings: the IANA key, or what the tzinfo calls itself."""
    return getattr(tz, "key", None) or tz.tzname(None) or "UTC"


def _offset_ms(tz: dt.tzinfo, when: dt.datetime | None = None) -> float:
    offset = tz.utcoffset(when or dt.datetime.now(tz))
    return 0.0 if offset is None else offset.total_seconds() * 1000.0


def zone_spec(tz: dt.tzinfo) -> dict[str, Any]:
    """What a browser needs to show times in ``tz``.

    ``iana`` is the zone's IANA name when it has one (the browser's ``Intl`` applies its
    daylight saving rules); ``offset`` is the zone's offset from UTC in minutes now, used
    for a zone without an IANA name (``datetime.timezone(timedelta(hours=5))``) or one the
    browser does not know.
    """
    iana = "UTC" if tz is _UTC else getattr(tz, "key", None)
    return {"name": zone_name(tz), "iana": iana, "offset": round(_offset_ms(tz) / 60_000.0)}


def wall_ms(times: np.ndarray, tz: dt.tzinfo) -> np.ndarray:
    """Unix milliseconds shifted to ``tz``'s wall-clock time, for plotly, which draws
    epoch milliseconds as UTC: a point at 14:30 UTC is drawn at 09:30 for New York."""
    if tz is _UTC or len(times) == 0:
        return times
    if isinstance(tz, dt.timezone):  # a fixed offset
        return times + _offset_ms(tz)
    offsets = [_offset_ms(tz, dt.datetime.fromtimestamp(ms / 1000.0, tz)) for ms in times.tolist()]
    return times + np.asarray(offsets, dtype=np.float64)
