"""PriceChart: one symbol's price with the account's orders, fills and position on it.

The price comes from the public ``quotes`` topic: candles when the market replays bars
(quotes carrying ``open``/``high``/``low``), a line of the last price with the bid and ask
otherwise.  The chart keeps its own bounded window of the newest ``max_points`` points,
starting from the market's price log (``broker.price_history``), so a chart made late
shows the prices so far (a quote in the same millisecond as the one before, as when
prices are set by hand, is drawn one millisecond after it).  Per tick the kernel does O(1)
work: it appends to (or merges into) the window and arms the flush timer; a flush sends
only the points the views lack, as one binary buffer, with the order lines, new fill
markers and the position, in **one** message.

Drawn with TradingView's lightweight-charts (vendored in ``static/vendor/`` with its
licence; ``docs/widgets.md`` says why), sent once per page on the first view's request.
Dragging an order's line modifies the order through the broker; the small x cancels it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections import deque
from typing import Any

import numpy as np
import traitlets

from ..errors import BrokerError, ConfigurationError, InvalidState
from ..events import Subscription, topic
from ..host import BrokerHost, OrderReply
from ..models import DEFAULT_ACCOUNT, Execution, ParentType, PlacedOrder, Position, Quote
from ._base import BrokerWidget, CommandError, asset, shown, text_arg, then, whole
from ._lines import LIVE, fill_marker, order_lines, position_line, role
from ._price_svg import price_html
from ._zone import wall_ms, zone_spec

__all__ = ["PriceChart"]

_LIB: list[bytes] = []
_FIELDS = ("limitPrice", "stopPrice")
#: Columns of a window row: time (Unix ms), open, high, low, close, bid, ask.
_COLUMNS = 7


def _library() -> bytes:
    if not _LIB:
        from ._base import STATIC

        _LIB.append((STATIC / "vendor" / "lightweight-charts.mjs").read_bytes())
    return _LIB[0]


class PriceChart(BrokerWidget):
    """A live price chart of ``symbol`` with ``account_id``'s orders, fills and position.

    Parameters
    ----------
    broker, symbol, account_id
        What to show.  ``symbol`` may be changed later (``chart.symbol = "MSFT"``): the
        window starts again from the new symbol's quotes.
    height
        Pixels of the plot.
    max_points
        Points (candles or quotes) kept and drawn, the newest (default 2,000).
    max_markers
        Fill markers kept, the newest (default 500).
    interval
        Seconds between updates sent to the browser (at most one message each).
    """

    _esm = asset("price", "js")
    _css = asset("price", "css")

    symbol = traitlets.Unicode().tag(sync=True)
    height = traitlets.Int(360).tag(sync=True)
    max_points = traitlets.Int(2000, read_only=True).tag(sync=True)
    #: The broker clock's zone, for the axis and hover times.
    zone = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        broker: BrokerHost,
        symbol: str,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        height: int = 360,
        max_points: int = 2000,
        max_markers: int = 500,
        interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        _check_symbol(symbol)
        whole(height, "height", 120, 3000, "pixels")
        whole(max_points, "max_points", 10, 10**6, "price points kept")
        whole(max_markers, "max_markers", 1, 10**5, "fill markers kept")
        self._window: deque[list[float]] = deque(maxlen=max_points)
        self._count = 0  # points ever added (the index of the next one)
        self._dirty_from = 0  # first point index the views do not have
        self._candles = False
        self._quote_time = 0  # the newest quote's own time (a drawn point may be later)
        self._max_markers = max_markers
        self._markers: deque[list[Any]] = deque(maxlen=max_markers)
        self._marker_count = 0
        self._markers_from = 0
        self._orders: dict[str, PlacedOrder] = {}
        self._position: Position | None = None
        self._overlay_dirty = True
        self._symbol_subs: list[Subscription] = []
        super().__init__(broker, account_id, interval=interval, symbol=symbol, height=height, **kwargs)
        self.set_trait("max_points", max_points)
        self.zone = zone_spec(broker.clock.timezone)
        self._commands.update(
            {"library": self._cmd_library, "move": self._cmd_move, "cancel": self._cmd_cancel}
        )
        self.observe(self._new_symbol, names="symbol")

    # ------------------------------------------------------------------ subscriptions

    def _bind(self) -> None:
        self._subscribe("orders", self._on_order)
        self._subscribe("positions", self._on_position)
        self._subscribe("pl", self._on_position)
        self._bind_symbol()

    def _bind_symbol(self) -> None:
        """Subscribe to the symbol's quotes and fills; load what the broker has now."""
        broker, symbol = self.broker, self.symbol
        for sub in self._symbol_subs:
            sub.close()
            if sub in self._subs:
                self._subs.remove(sub)
        self._symbol_subs = [
            broker.subscribe(topic("quotes", symbol=symbol), self._on_quote),
            broker.subscribe(topic("executions", self.account_id, symbol=symbol), self._on_execution),
        ]
        self._subs.extend(self._symbol_subs)
        self._window.clear()
        self._dirty_from = self._count
        self._markers.clear()
        self._markers_from = self._marker_count
        self._load_prices()
        for execution in broker.executions(symbol, self.account_id)[-self._max_markers :]:
            self._on_execution(execution)
        self._orders = {
            o.id: o for o in broker.orders(self.account_id) if o.symbol == symbol and o.status in LIVE
        }
        self._position = next((p for p in broker.positions(self.account_id) if p.symbol == symbol), None)
        self._overlay_dirty = True
        if self._timer is None:
            self._arm()

    def _new_symbol(self, change: dict[str, Any]) -> None:
        try:
            _check_symbol(change["new"])
        except ConfigurationError:
            self.set_trait("symbol", change["old"])
            raise
        self._bind_symbol()

    def _load_prices(self) -> None:
        """Start the window from the prices the market showed so far (its price log, the
        newest ``max_points``), else from the current quote."""
        broker, symbol = self.broker, self.symbol
        try:  # a classroom client keeps no price log
            log = broker.price_history(symbol) if hasattr(broker, "price_history") else {}
        except BrokerError:  # classic mode, or no price of this symbol yet
            log = {}
        count = len(log.get("time", ()))
        if count == 0:
            with contextlib.suppress(InvalidState):  # classic mode, or no quote of it yet
                self._on_quote(broker.quote(symbol))
            return
        cut = slice(max(0, count - (self._window.maxlen or count)), count)
        last = np.asarray(log["last"][cut], dtype=np.float64)

        def column(name: str) -> np.ndarray:
            values = np.asarray(log[name][cut], dtype=np.float64)
            return np.where(np.isnan(values), last, values)  # a quote has no open ...

        candles = ~np.isnan(np.asarray(log["open"][cut], dtype=np.float64))
        rows = zip(
            np.asarray(log["time"][cut]).tolist(),
            *(column(name).tolist() for name in ("open", "high", "low")),
            last.tolist(),
            *(column(name).tolist() for name in ("bid", "ask")),
            candles.tolist(),
            strict=True,
        )
        for when, open_, high, low, close, bid, ask, candle in rows:
            self._add_point(when, open_, high, low, close, bid, ask, candle=candle)

    def _on_quote(self, quote: Quote) -> None:
        last = quote.last
        self._add_point(
            quote.time,
            last if quote.open is None else quote.open,
            last if quote.high is None else quote.high,
            last if quote.low is None else quote.low,
            last,
            quote.bid,
            quote.ask,
            candle=quote.open is not None,
        )

    def _add_point(self, time: int, *prices: float, candle: bool) -> None:
        """Append one point: time (Unix ms), open, high, low, close, bid, ask."""
        window, t = self._window, float(time)
        if window:
            if t < self._quote_time:  # time went back (a replay restarted): start again
                window.clear()
                self._dirty_from = self._count
            elif t <= window[-1][0]:  # the same millisecond (prices set by hand): just after
                t = window[-1][0] + 1
        self._quote_time = time
        window.append([t, *prices])
        self._count += 1
        self._candles = candle
        if self._timer is None:
            self._arm()

    def _on_execution(self, execution: Execution) -> None:
        marker = fill_marker(execution)
        window = self._window
        if window and execution.time >= self._quote_time:  # a fill at the newest quote:
            marker[0] = max(marker[0], window[-1][0])  # on its point (drawn maybe 1 ms on)
        self._markers.append(marker)
        self._marker_count += 1
        if self._timer is None:
            self._arm()

    def _on_order(self, order: PlacedOrder) -> None:
        if order.symbol != self.symbol:
            return
        if order.status in LIVE:
            self._orders[order.id] = order
        elif self._orders.pop(order.id, None) is None:
            return
        self._overlay_dirty = True
        if self._timer is None:
            self._arm()

    def _on_position(self, position: Position) -> None:
        if position.symbol != self.symbol:
            return
        self._position = position if position.qty > 0 else None
        self._overlay_dirty = True
        if self._timer is None:
            self._arm()

    # ------------------------------------------------------------------ flushing

    def _overlay(self) -> dict[str, Any]:
        lines = [line for order in self._orders.values() for line in order_lines(order)]
        return {"lines": lines, "position": position_line(self._position)}

    def _flush_now(self) -> None:
        first = self._count - len(self._window)
        start = max(self._dirty_from, first)
        new_markers = self._marker_count - self._markers_from
        if start >= self._count and not new_markers and not self._overlay_dirty:
            return
        self._send_update(start, self._markers_from, overlay=self._overlay_dirty)

    def _send_update(self, start: int, markers_from: int, *, overlay: bool) -> None:
        first = self._count - len(self._window)
        start = max(start, first)
        rows = list(itertools.islice(self._window, start - first, None)) if start < self._count else []
        block = np.array(rows, dtype=np.float64).reshape(-1, _COLUMNS)
        block[:, 0] = wall_ms(np.ascontiguousarray(block[:, 0]), self.broker.clock.timezone)
        kept_from = self._marker_count - len(self._markers)
        markers_from = max(markers_from, kept_from)
        markers = [list(m) for m in itertools.islice(self._markers, markers_from - kept_from, None)]
        if markers:  # fill times as the clock zone's wall time, like the points
            times = wall_ms(np.array([m[0] for m in markers], dtype=np.float64), self.broker.clock.timezone)
            for m, t in zip(markers, times.tolist(), strict=True):
                m[0] = t
        content: dict[str, Any] = {
            "type": "update",
            "from": start,
            "base": first,
            "candles": self._candles,
            "markers": markers,
            "markersFrom": markers_from,
            "markersBase": kept_from,
        }
        if overlay:
            content.update(self._overlay())
        self._dirty_from = self._count
        self._markers_from = self._marker_count
        self._overlay_dirty = False
        self._post(content, [block.tobytes()])

    def _snapshot(self) -> None:
        self._send_update(0, 0, overlay=True)

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        window = np.array(self._window, dtype=np.float64).reshape(-1, _COLUMNS)
        overlay = self._overlay()
        return price_html(
            self.symbol,
            self.account_id,
            window,
            candles=self._candles,
            lines=overlay["lines"],
            position=overlay["position"],
            markers=list(self._markers),
            tz=self.broker.clock.timezone,
            outer=outer,
        )

    # ------------------------------------------------------------------ for Python

    def points(self) -> dict[str, np.ndarray]:
        """The drawn window as float64 arrays: ``time`` (Unix ms), ``open``, ``high``,
        ``low``, ``close`` (the last price), ``bid`` and ``ask``."""
        window = np.array(self._window, dtype=np.float64).reshape(-1, _COLUMNS)
        names = ("time", "open", "high", "low", "close", "bid", "ask")
        return {name: window[:, i].copy() for i, name in enumerate(names)}

    def lines(self) -> list[dict[str, Any]]:
        """The order lines as drawn: ``id``, ``field``, ``price``, ``label``, ``style`` ..."""
        return list(self._overlay()["lines"])

    def markers(self) -> list[dict[str, Any]]:
        """The fill markers kept: ``time``, ``price``, ``qty``, ``side``, ``orderId``, ``text``."""
        keys = ("time", "price", "qty", "side", "orderId", "text")
        return [dict(zip(keys, m, strict=True)) for m in self._markers]

    @property
    def mode(self) -> str:
        """``"candles"`` while the market replays bars, ``"line"`` for quotes."""
        return "candles" if self._candles else "line"

    def move(self, order_id: str, field: str, price: float) -> OrderReply:
        """Move one of the chart's order lines to ``price``: what dragging it does (on a
        classroom client, a future of the moved order)."""
        order = self._drawn(order_id)
        if field not in _FIELDS:
            msg = f"field must be 'limitPrice' or 'stopPrice' (the line dragged), got {shown(field)}."
            raise CommandError(msg)
        if (
            isinstance(price, bool)
            or not isinstance(price, (int, float))
            or not math.isfinite(price)
            or price <= 0
        ):
            msg = f"The new price must be a positive number, got {shown(price)}."
            raise CommandError(msg)
        if getattr(order, field) is None:
            msg = f"Order {order_id} has no {field} to move."
            raise CommandError(msg)
        if order.parentType is ParentType.ORDER and order.parentId is not None:
            # a bracket still waiting for its parent: the parent's bracket field moves it
            bracket = "takeProfit" if role(order) == "take-profit" else "stopLoss"
            changes: dict[str, Any] = {bracket: float(price)}
            moved = self.broker.modify(order.parentId, None, **changes)
            return then(moved, lambda _parent: self.broker.order(order_id))  # type: ignore[no-any-return]
        changes = {field: float(price)}
        return self.broker.modify(order_id, None, **changes)

    def cancel(self, order_id: str) -> OrderReply:
        """Cancel one of the chart's orders: what the x on its line does."""
        self._drawn(order_id)
        return self.broker.cancel(order_id)

    def _drawn(self, order_id: object) -> PlacedOrder:
        order = self._orders.get(order_id) if isinstance(order_id, str) else None
        if order is None:
            msg = (
                f"Order {shown(order_id)} is not a working {self.symbol} order of {self.account_id}; "
                "only the orders drawn on this chart can be moved or cancelled."
            )
            raise CommandError(msg)
        return order

    # ------------------------------------------------------------------ browser commands

    def _cmd_library(self, _content: dict[str, Any]) -> None:
        self._post({"type": "library"}, [_library()])

    def _cmd_move(self, content: dict[str, Any]) -> Any:
        order_id = text_arg(content, "order", "The order id")
        moved = self.move(order_id, text_arg(content, "field", "The field"), content.get("price"))  # type: ignore[arg-type]
        return then(moved, lambda order: f"{order_id} moved: {_labels(order)}")

    def _cmd_cancel(self, content: dict[str, Any]) -> Any:
        order_id = text_arg(content, "order", "The order id")
        return then(self.cancel(order_id), lambda _order: f"{order_id} cancelled.")


def _labels(order: PlacedOrder) -> str:
    return ", ".join(line["label"] for line in order_lines(order)) or "done"


def _check_symbol(symbol: object) -> None:
    if not isinstance(symbol, str) or not symbol.strip() or not symbol.isprintable():
        msg = f"symbol must be a non-empty symbol string such as 'AAPL', got {shown(symbol)}."
        raise ConfigurationError(msg)
