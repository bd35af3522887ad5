"""EquityChart: the account's equity and balance over time, drawn with plotly.js.

Each equity event appends time, equity and balance to a flat pending list (O(1)).  A flush,
at most every ``interval`` seconds, folds the pending points into a bounded float64 window
of at most ``max_points`` points (with numpy) and sends only what changed, as binary
buffers.  When the window is full its time resolution doubles (at least), so it always
spans the whole session at an even resolution; within one resolution step the newest
value wins.

plotly.js comes from the plotly Python package (``plotly.offline.get_plotlyjs()``), sent
once per page on the first view's request: no CDN, works offline.  The curve starts with
the broker's equity history, so a chart made late still shows the whole session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..frames import equity_frame
from ..host import BrokerHost
from ..models import DEFAULT_ACCOUNT, EquityData
from ._base import BrokerWidget, asset, whole
from ._svg import chart_html
from ._zone import wall_ms

__all__ = ["EquityChart"]

_PLOTLY_JS: list[bytes] = []


def _plotly_js() -> bytes:
    if not _PLOTLY_JS:
        from plotly.offline import get_plotlyjs

        _PLOTLY_JS.append(get_plotlyjs().encode("utf-8"))
    return _PLOTLY_JS[0]


def _thin(points: np.ndarray, resolution: float) -> np.ndarray:
    """Keep the newest point of each ``resolution``-ms step (all points when 0)."""
    if resolution <= 0 or len(points) < 2:
        return points
    step = np.floor(points[:, 0] / resolution)
    keep = np.empty(len(points), dtype=bool)
    np.not_equal(step[1:], step[:-1], out=keep[:-1])
    keep[-1] = True
    return points[keep]


class EquityChart(BrokerWidget):
    """A live equity (and balance) curve of one account.

    Parameters
    ----------
    broker, account_id
        What to show.
    height
        Pixels of the plot.
    max_points
        Points kept and drawn per line (the window spans the whole session); a few per
        pixel of width is all a line can show, and each redraw costs the browser more.
    interval
        Seconds between updates sent to the browser.
    """

    _esm = asset("chart", "js")
    _css = asset("chart", "css")

    title = traitlets.Unicode("Equity").tag(sync=True)
    height = traitlets.Int(300).tag(sync=True)
    max_points = traitlets.Int(1500).tag(sync=True)

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        height: int = 300,
        max_points: int = 1500,
        interval: float = 0.5,
        **kwargs: Any,
    ) -> None:
        whole(height, "height", 120, 3000, "pixels")
        whole(max_points, "max_points", 10, 10**6, "points kept per line")
        self._pending: list[float] = []  # time, equity, balance, time, ...
        self._pending_cap = 6 * max_points
        self._window = np.empty((0, 3))  # rows of (time ms, equity, balance)
        self._resolution = 0.0  # ms per kept point; grows as the window fills
        self._changed_from = 0  # first row the views do not have yet
        self._now = broker.clock.now_ms
        super().__init__(
            broker, account_id, interval=interval, height=height, max_points=max_points, **kwargs
        )
        self._commands["plotly"] = self._cmd_plotly

    def _bind(self) -> None:
        self._subscribe("equity", self._on_equity)
        # the curve so far, from the broker's equity history (once, at creation)
        history = equity_frame(self.broker, self.account_id)
        if len(history):
            times = history["time"].to_numpy(dtype="datetime64[ms]").astype(np.int64)
            self._fold(np.column_stack((times, history["equity"], history["balance"])).astype(np.float64))
        else:
            self._on_equity(self.broker.equity(self.account_id))

    def _on_equity(self, data: EquityData) -> None:
        pending = self._pending
        pending += (self._now(), data.equity, data.balance)
        if len(pending) > self._pending_cap:  # the loop is busy (a long cell): fold now
            self._absorb()
        if self._timer is None:
            self._arm()

    def _absorb(self) -> None:
        if self._pending:
            new = np.array(self._pending, dtype=np.float64).reshape(-1, 3)
            self._pending.clear()
            self._fold(new)

    def _fold(self, new: np.ndarray) -> None:
        """Add rows to the window: one per resolution step, the newest."""
        old = self._window
        window = _thin(np.concatenate((old, new)), self._resolution)
        while len(window) > self.max_points:
            span = window[-1, 0] - window[0, 0]
            self._resolution = max(2 * self._resolution, span / (self.max_points // 2), 1.0)
            window = _thin(window, self._resolution)
        same = min(len(old), len(window))
        differ = np.flatnonzero((old[:same] != window[:same]).any(axis=1))
        self._changed_from = min(self._changed_from, int(differ[0]) if len(differ) else same)
        self._window = window

    def _flush_now(self) -> None:
        self._absorb()
        if self._changed_from < len(self._window):
            self._send_points(self._changed_from)

    def _send_points(self, start: int) -> None:
        self._changed_from = len(self._window)
        part = self._window[start:]
        # plotly draws epoch milliseconds as UTC: send the clock zone's wall time
        times = wall_ms(np.ascontiguousarray(part[:, 0]), self.broker.clock.timezone)
        buffers = [times.tobytes(), *(np.ascontiguousarray(part[:, i]).tobytes() for i in (1, 2))]
        self._post({"type": "points", "from": start}, buffers)

    def _snapshot(self) -> None:
        self._send_points(0)

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        self._absorb()
        tz = self.broker.clock.timezone
        return chart_html(self.title, self.account_id, self._window, tz=tz, outer=outer)

    def points(self) -> dict[str, np.ndarray]:
        """The drawn window: ``time`` (Unix ms), ``equity`` and ``balance`` float64 arrays."""
        self.flush()
        window = self._window
        return {"time": window[:, 0].copy(), "equity": window[:, 1].copy(), "balance": window[:, 2].copy()}

    def _cmd_plotly(self, _content: dict[str, Any]) -> None:
        self._post({"type": "plotly-js"}, [_plotly_js()])
