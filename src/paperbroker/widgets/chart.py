"""EquityChart: the account's equity and balance over time, drawn with plotly.js.

Each equity event appends ``(time, equity, balance)`` to a pending list (O(1)).  A flush,
at most every ``interval`` seconds, folds the pending points into a bounded window of at
most ``max_points`` float64 points and sends only what changed, as binary buffers.  When
the window is full it keeps every other point and halves its time resolution from then
on, so it always spans the whole session at an even resolution; within one resolution
step the newest value wins.

plotly.js comes from the plotly Python package (``plotly.offline.get_plotlyjs()``), sent
once per page on the first view's request: no CDN, works offline.  The curve starts with
the broker's equity history, so a chart made late still shows the whole session.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import traitlets

from ..broker import BrokerService
from ..frames import equity_frame
from ..models import DEFAULT_ACCOUNT, EquityData
from ._base import BrokerWidget, asset, whole

__all__ = ["EquityChart"]

_PLOTLY_JS: list[bytes] = []


def _plotly_js() -> bytes:
    if not _PLOTLY_JS:
        from plotly.offline import get_plotlyjs

        _PLOTLY_JS.append(get_plotlyjs().encode("utf-8"))
    return _PLOTLY_JS[0]


class EquityChart(BrokerWidget):
    """A live equity (and balance) curve of one account.

    Parameters
    ----------
    broker, account_id
        What to show.
    height
        Pixels of the plot.
    max_points
        Points kept and drawn per line (the window spans the whole session).
    interval
        Seconds between updates sent to the browser.
    """

    _esm = asset("chart", "js")
    _css = asset("chart", "css")

    title = traitlets.Unicode("Equity").tag(sync=True)
    height = traitlets.Int(300).tag(sync=True)
    max_points = traitlets.Int(5000).tag(sync=True)

    def __init__(
        self,
        broker: BrokerService,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        height: int = 300,
        max_points: int = 5000,
        interval: float = 0.25,
        **kwargs: Any,
    ) -> None:
        whole(height, "height", 120, 3000, "pixels")
        whole(max_points, "max_points", 10, 10**6, "points kept per line")
        self._pending: list[tuple[int, float, float]] = []
        self._pending_cap = 2 * max_points
        self._t: list[float] = []
        self._equity: list[float] = []
        self._balance: list[float] = []
        self._resolution = 0.0  # ms between kept points; grows as the window fills
        self._changed_from = 0  # first point the views do not have yet
        self._now = broker.clock.now_ms
        super().__init__(
            broker, account_id, interval=interval, height=height, max_points=max_points, **kwargs
        )
        self._commands["plotly"] = self._cmd_plotly

    def _bind(self) -> None:
        self._subscribe("equity", self._on_equity)
        # the curve so far, from the broker's equity history (once, at creation)
        history = equity_frame(self.broker, self.account_id)
        times = history["time"].to_numpy(dtype="datetime64[ms]").astype(np.int64).tolist()
        equity = history["equity"].tolist()
        balance = history["balance"].tolist()
        self._pending.extend(zip(times, equity, balance, strict=True))
        if not self._pending:
            self._on_equity(self.broker.equity(self.account_id))
        self._absorb()

    def _on_equity(self, data: EquityData) -> None:
        pending = self._pending
        pending.append((self._now(), data.equity, data.balance))
        if len(pending) > self._pending_cap:  # the loop is busy (a long cell): fold now
            self._absorb()
        if self._timer is None:
            self._arm()

    def _absorb(self) -> None:
        """Move pending points into the window, one per resolution step."""
        points, self._pending = self._pending, []
        t, equity, balance = self._t, self._equity, self._balance
        for when, eq, bal in points:
            if t and when - t[-1] < self._resolution:
                t[-1], equity[-1], balance[-1] = when, eq, bal
                self._changed_from = min(self._changed_from, len(t) - 1)
            else:
                t.append(when)
                equity.append(eq)
                balance.append(bal)
            if len(t) > self.max_points:
                self._halve()
                t, equity, balance = self._t, self._equity, self._balance

    def _halve(self) -> None:
        # keep the newest point and every other one before it
        self._t = self._t[::-1][::2][::-1]
        self._equity = self._equity[::-1][::2][::-1]
        self._balance = self._balance[::-1][::2][::-1]
        t = self._t
        self._resolution = max(self._resolution * 2, (t[-1] - t[0]) / max(len(t) - 1, 1))
        self._changed_from = 0

    def _flush_now(self) -> None:
        if self._pending:
            self._absorb()
        start = self._changed_from
        if start < len(self._t):
            self._send_points(start)

    def _send_points(self, start: int) -> None:
        self._changed_from = len(self._t)
        buffers = [
            np.asarray(values[start:], dtype=np.float64).tobytes()
            for values in (self._t, self._equity, self._balance)
        ]
        self._post({"type": "points", "from": start}, buffers)

    def _snapshot(self) -> None:
        self._send_points(0)

    def points(self) -> dict[str, np.ndarray]:
        """The drawn window: ``time`` (Unix ms), ``equity`` and ``balance`` float64 arrays."""
        self.flush()
        return {
            "time": np.asarray(self._t, dtype=np.float64),
            "equity": np.asarray(self._equity, dtype=np.float64),
            "balance": np.asarray(self._balance, dtype=np.float64),
        }

    def _cmd_plotly(self, _content: dict[str, Any]) -> None:
        self._post({"type": "plotly-js"}, [_plotly_js()])
