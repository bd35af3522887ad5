"""pb.report: one plotly figure of price, fills, trades, equity and drawdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

import paperbroker as pb


def _backtest(n: int, flips: int = 5) -> pb.BrokerService:
    """Minute bars of a random walk, long then short 10 shares every n // flips bars."""
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    bars = pd.DataFrame(
        {"open": close, "high": close * 1.001, "low": close * 0.999, "close": close, "volume": 1e6},
        index=pd.date_range("2024-01-02 14:30", periods=n, freq="1min"),
    )
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay(bars, symbol="X"))
    every = n // flips
    for t in range(n):
        b.step()
        if t % every == 0 and t < n - 1:
            (b.buy if (t // every) % 2 == 0 else b.sell)("X", 10 if t == 0 else 20)
    return b


def _trace(fig: go.Figure, name: str) -> go.BaseTraceType:
    return next(t for t in fig.data if t.name == name)


def test_the_panels_of_a_small_backtest() -> None:
    b = _backtest(50)
    fig = pb.report(b)
    assert isinstance(fig, go.Figure)
    candles = _trace(fig, "X")
    assert candles.type == "candlestick" and len(candles.x) == 50
    assert list(candles.close) == pytest.approx(pb.prices_frame(b)["close"].tolist())
    fills = pb.executions_frame(b)
    buys, sells = _trace(fig, "buy"), _trace(fig, "sell")
    assert buys.marker.symbol == "triangle-up" and sells.marker.symbol == "triangle-down"
    assert len(buys.x) + len(sells.x) == len(fills)
    assert list(buys.text) == fills.loc[fills["side"] == "Buy", "order_id"].tolist()
    trades = pb.trades_frame(b)
    segments = [t for t in fig.data if t.name in ("winning trades", "losing trades")]
    assert sum(len(t.x) for t in segments) == 3 * len(trades)
    equity = _trace(fig, "equity")
    assert list(equity.y) == pb.equity_curve(b).tolist()
    hold = _trace(fig, "buy and hold X")
    assert hold.y[0] == 100_000.0 and hold.y[-1] == pytest.approx(
        100_000 * candles.close[-1] / candles.close[0]
    )
    assert min(_trace(fig, "drawdown %").y) == pytest.approx(pb.stats(b)["max_drawdown_pct"])
    assert fig.layout.xaxis.matches == fig.layout.xaxis2.matches == "x3"  # one time axis


def test_a_long_history_is_decimated_without_losing_extremes() -> None:
    b = _backtest(20_000)
    fig = pb.report(b, max_points=500)
    candles = _trace(fig, "X")
    prices = pb.prices_frame(b)
    assert len(candles.x) <= 500
    assert max(candles.high) == prices["high"].max() and min(candles.low) == prices["low"].min()
    equity = _trace(fig, "equity")
    curve = pb.equity_curve(b)
    assert len(equity.y) <= 510 and max(equity.y) == curve.max() and min(equity.y) == curve.min()
    assert len(_trace(fig, "buy").x) + len(_trace(fig, "sell").x) == len(pb.executions_frame(b))


def test_quotes_draw_a_line_and_bad_input_is_refused() -> None:
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"A": 10.0}))
    b.buy("A", 5)
    for price in (10.5, 11.0, 10.8):
        b.set_price("A", price)
    fig = pb.report(b)
    line = _trace(fig, "A last")
    assert line.type == "scatter" and list(line.y) == [10.5, 11.0, 10.8]
    with pytest.raises(pb.ConfigurationError, match="max_points"):
        pb.report(b, max_points=3)
    with pytest.raises(pb.UnknownAccount):
        pb.report(b, account_id="NOBODY")


def test_classic_mode_has_fills_and_trades_but_no_prices() -> None:
    b = pb.BrokerService(execution_delay=None, clock=pb.SimClock())
    for side, price in (("buy", 10.0), ("sell", 12.0)):
        b.clock.advance(60_000)  # type: ignore[attr-defined]
        b.fill(getattr(b, side)("X", 5, limit=price).id)
    fig = pb.report(b, "X")
    assert [t.name for t in fig.data] == ["buy", "sell", "winning trades", "equity", "drawdown %"]
    assert list(_trace(fig, "equity").y) == [100_000.0, 100_000.0, 100_010.0]
    with pytest.raises(pb.NotFound, match="no prices of 'Y'"):
        pb.report(b, "Y")


def test_an_empty_broker_gives_an_empty_figure() -> None:
    fig = pb.report(pb.BrokerService(execution_delay=None))
    assert [t.name for t in fig.data] == ["equity", "drawdown %"]
    fig.to_json()  # it serialises: the default renderer can show it
