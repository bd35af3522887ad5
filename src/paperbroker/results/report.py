"""One plotly figure of a backtest: price, fills and trades; equity and buy-and-hold; drawdown.

Three panels share one time axis (times are wall-clock times in the broker's clock's zone).
Long histories are decimated to about ``max_points`` points per panel before they reach
plotly, so a figure of 100,000 bars is as light as one of 2,000:

* bars are merged ``k`` at a time into one candle (first open, highest high, lowest low,
  last close), which keeps every extreme the eye can see at that width;
* lines (quotes' last price, equity, buy-and-hold, drawdown) keep the lowest and the
  highest point of each run of ``k`` samples (min-max decimation), so no peak or trough
  disappears;
* fills and trades are all drawn: they are what the figure is for.

Zooming in shows the decimated points; for every bar of a short stretch, replay less (or
pass a larger ``max_points``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ..models import DEFAULT_ACCOUNT, Side
from ._common import index_ms, times, to_zone
from .curve import History
from .trades import trades_of

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..broker import BrokerService

__all__ = ["report"]

_UP, _DOWN, _GREY, _BLUE = "#2ca02c", "#d62728", "#9aa5b1", "#1f77b4"


def decimate(values: Any, max_points: int) -> Any:
    """Indexes of ``values`` to draw: all of them, or the min and max of each run (sorted)."""
    import numpy as np

    n = len(values)
    if n <= max_points:
        return np.arange(n)
    k = math.ceil(2 * n / max_points)
    m = n // k * k
    blocks = values[:m].reshape(-1, k)
    base = np.arange(0, m, k)
    keep = np.r_[base + blocks.argmin(axis=1), base + blocks.argmax(axis=1), np.arange(m, n), 0, n - 1]
    return np.unique(keep)


def _candles(cols: dict[str, Any], max_points: int) -> dict[str, Any]:
    """OHLC bars merged ``k`` at a time so that at most ``max_points`` remain."""
    import numpy as np

    n = len(cols["time"])
    k = max(1, math.ceil(n / max_points))
    starts = np.arange(0, n, k)
    stops = np.r_[starts[1:], n] - 1
    return {
        "time": cols["time"][starts],
        "open": cols["open"][starts],
        "high": np.maximum.reduceat(cols["high"], starts),
        "low": np.minimum.reduceat(cols["low"], starts),
        "close": cols["last"][stops],
    }


def report(
    broker: BrokerService,
    symbol: str | None = None,
    account_id: str = DEFAULT_ACCOUNT,
    max_points: int = 2_000,
) -> go.Figure:
    """A plotly ``Figure`` of the account's backtest in ``symbol`` (see the module docstring).

    ``symbol`` defaults to the first one the account traded (else the market's first).
    Display it like any figure (the last line of a cell, or ``fig.show()``): it uses
    plotly's default renderer.  Add traces of your own with ``row=1`` (price), ``row=2``
    (equity) or ``row=3`` (drawdown).
    """
    import numpy as np
    from plotly.subplots import make_subplots

    history = History(broker, account_id, "report")
    if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 10:
        msg = f"max_points must be a whole number >= 10, got {max_points!r}."
        raise ConfigurationError(msg)
    if symbol is None:
        symbol = history.traded_symbol()
    elif not isinstance(symbol, str) or not (
        symbol in set(history.prices["symbol"].tolist()) or (history.fills["symbol"] == symbol).any()
    ):
        broker.price_history(symbol)  # raises NotFound, naming the market's symbols
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, row_heights=[0.5, 0.3, 0.2], vertical_spacing=0.03)
    if symbol is not None:
        _price_panel(fig, history, symbol, max_points)
        _fills_and_trades(fig, history, symbol)
    curve = history.curve()
    if len(curve):
        values = curve.to_numpy()
        at = _local(curve.index)
        keep = decimate(values, max_points)
        fig.add_scatter(
            x=at[keep], y=values[keep], name="equity", line={"color": _BLUE, "width": 1.5}, row=2, col=1
        )
        if symbol is not None and history.last_prices(symbol)[0].size:
            hold = history.buy_and_hold(symbol, index_ms(curve.index), float(values[0]))
            kept = decimate(hold, max_points)
            fig.add_scatter(
                x=at[kept],
                y=hold[kept],
                name=f"buy and hold {symbol}",
                line={"color": _GREY, "width": 1},
                row=2,
                col=1,
            )
        dd = (values / np.maximum.accumulate(values) - 1.0) * 100.0
        kept = decimate(dd, max_points)
        fig.add_scatter(
            x=at[kept],
            y=dd[kept],
            name="drawdown %",
            fill="tozeroy",
            line={"color": _DOWN, "width": 1},
            row=3,
            col=1,
        )
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="equity", row=2, col=1)
    fig.update_yaxes(title_text="drawdown %", row=3, col=1)
    fig.update_xaxes(rangeslider_visible=False)
    title = f"{symbol}: account {account_id}" if symbol is not None else f"account {account_id}"
    fig.update_layout(
        title={"text": title, "y": 0.99, "yanchor": "top", "x": 0.01},
        height=760,
        margin={"t": 120, "b": 30, "l": 60, "r": 20},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0},
        hovermode="closest",
    )
    return fig


def _price_panel(fig: go.Figure, history: History, symbol: str, max_points: int) -> None:
    import numpy as np

    mine = history.prices["symbol"] == symbol
    cols = {k: v[mine] for k, v in history.prices.items() if k != "symbol"}
    if not cols["time"].size:
        return
    broker = history.broker
    if not np.isnan(cols["open"][0]):
        bars = _candles(cols, max_points)
        fig.add_candlestick(
            x=_local(times(broker, bars["time"])),
            open=bars["open"],
            high=bars["high"],
            low=bars["low"],
            close=bars["close"],
            name=symbol,
            increasing_line_color=_GREY,
            decreasing_line_color="#52606d",
            row=1,
            col=1,
        )
        return
    keep = decimate(cols["last"], max_points)
    fig.add_scatter(
        x=_local(times(broker, cols["time"][keep])),
        y=cols["last"][keep],
        name=f"{symbol} last",
        line={"color": _GREY, "width": 1},
        row=1,
        col=1,
    )


def _fills_and_trades(fig: go.Figure, history: History, symbol: str) -> None:
    """Every fill as a marker; every trade as a segment (NaN between them breaks the line)."""
    import numpy as np

    broker = history.broker
    fills = history.fills
    fills = fills[(fills["symbol"] == symbol).to_numpy()]
    at = _local(_index(to_zone(broker, fills["time"])))
    sides = fills["side"].to_numpy()
    for label, marker, color in (
        (Side.BUY.label, "triangle-up", _UP),
        (Side.SELL.label, "triangle-down", _DOWN),
    ):
        mine = sides == label
        if not mine.any():
            continue
        fig.add_scatter(
            x=at[mine],
            y=fills["price"].to_numpy()[mine],
            mode="markers",
            name=label.lower(),
            marker={"symbol": marker, "size": 10, "color": color, "line": {"width": 0.5, "color": "#333"}},
            customdata=fills["qty"].to_numpy()[mine],
            text=fills["order_id"].to_numpy(dtype=str)[mine],
            hovertemplate=f"{label} %{{customdata:,.10g}} @ %{{y:,.10g}}<br>%{{text}}<extra></extra>",
            row=1,
            col=1,
        )
    trades = trades_of(broker, fills)
    if not len(trades):
        return
    now = times(broker, [broker.clock.now_ms()])[0]
    starts = _local(_index(trades["entry_time"]))
    stops = _local(_index(trades["exit_time"].fillna(now)))
    pnl = trades["pnl"].to_numpy()
    for winning, color, name in ((True, _UP, "winning trades"), (False, _DOWN, "losing trades")):
        mine = (pnl > 0) == winning
        n = int(mine.sum())
        if not n:
            continue
        xs = np.column_stack([starts[mine], stops[mine], stops[mine]]).ravel()
        gap = np.full(n, np.nan)
        ys = np.column_stack(
            [trades["entry_price"].to_numpy()[mine], trades["exit_price"].to_numpy()[mine], gap]
        )
        hover = np.char.add("P&L ", np.char.mod("%+.2f", pnl[mine]))
        fig.add_scatter(
            x=xs,
            y=ys.ravel(),
            mode="lines",
            name=name,
            line={"color": color, "width": 2, "dash": "dot"},
            text=np.repeat(hover, 3),
            hoverinfo="text",
            row=1,
            col=1,
        )


def _local(index: Any) -> Any:
    """A zone-aware DatetimeIndex as naive wall-clock times (plotly.js has no time zones)."""
    return index.tz_localize(None).to_numpy()


def _index(column: Any) -> Any:
    import pandas as pd

    return pd.DatetimeIndex(column)
