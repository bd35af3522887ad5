"""pb.stats, pb.equity_curve and pb.prices_frame, checked by hand and against empyrical."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb

empyrical = pytest.importorskip("empyrical")


def _bars(closes: list[float], start: str = "2024-01-01", freq: str = "B") -> pd.DataFrame:
    close = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e9},
        index=pd.date_range(start, periods=len(close), freq=freq),
    )


def _replay(bars: pd.DataFrame, **kwargs: object) -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, market=pb.BarReplay(bars, symbol="X"), **kwargs)  # type: ignore[arg-type]


def _walk_backtest(n: int = 300, seed: int = 3) -> pb.BrokerService:
    """Daily bars of a random walk; long 100 shares on even weeks, short on odd ones."""
    rng = np.random.default_rng(seed)
    b = _replay(_bars(list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, n))))), commission=pb.PerUnit(0.01))
    held = 0
    for t in range(n):
        b.step()
        want = 100 if (t // 5) % 2 == 0 else -100
        if want != held:
            (b.buy if want > held else b.sell)("X", abs(want - held))
            held = want
    return b


def test_prices_frame_has_the_bars_the_broker_replayed() -> None:
    bars = _bars([10.0, 11.0, 12.0])
    b = _replay(bars)
    assert len(pb.prices_frame(b)) == 0
    b.run()
    p = pb.prices_frame(b)
    assert list(p.columns) == [
        "time", "symbol", "open", "high", "low", "close", "volume", "bid", "ask", "bid_size", "ask_size",
    ]  # fmt: skip
    assert p["close"].tolist() == [10.0, 11.0, 12.0] and p["high"].tolist() == pytest.approx(
        [10.1, 11.11, 12.12]
    )
    assert p["time"].tolist() == [t.tz_localize("UTC") for t in bars.index]
    assert p["symbol"].tolist() == ["X"] * 3
    classic = pb.prices_frame(pb.BrokerService(execution_delay=None))
    assert classic.dtypes.drop("symbol").to_dict() == p.dtypes.drop("symbol").to_dict() and len(classic) == 0


def test_prices_frame_of_quotes_and_its_limit() -> None:
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"A": 10.0}), history_limit=3)
    for price in (11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0):
        b.set_price("A", price)
    p = pb.prices_frame(b, "A")
    assert 3 <= len(p) <= 6 and p["close"].iloc[-3:].tolist() == [15.0, 16.0, 17.0]
    assert p["open"].isna().all() and (p["bid"] < p["ask"]).all()
    with pytest.raises(pb.NotFound, match="no prices of 'B'"):
        pb.prices_frame(b, "B")


def test_equity_curve_is_carried_forward_per_bar() -> None:
    b = _replay(_bars([10.0, 11.0, 12.0, 12.0, 9.0]))
    b.step()
    b.buy("X", 100)  # fills at the next bar's open, 11
    b.run()
    curve = pb.equity_curve(b)
    assert curve.tolist() == [100_000.0, 100_000.0, 100_100.0, 100_100.0, 99_800.0]
    assert curve.index.name == "time" and str(curve.index.tz) == "UTC" and curve.name == "equity"
    weekly = pb.equity_curve(b, freq="W")
    assert weekly.iloc[-1] == 99_800.0
    with pytest.raises(pb.ConfigurationError, match="freq"):
        pb.equity_curve(b, freq="fortnightly-ish")


def test_stats_of_a_hand_worked_backtest() -> None:
    b = _replay(_bars([10.0, 11.0, 12.0, 12.0, 9.0, 10.0]))
    b.step()
    b.buy("X", 1_000)  # at 11 (the next bar's open)
    b.step()
    b.step()
    b.sell("X", 1_000)  # at 12 (bar 4's open)
    b.run()
    s = pb.stats(b)
    equity = np.array([100_000, 100_000, 101_000, 101_000, 101_000, 101_000], dtype=float)
    assert s["equity_final"] == 101_000.0 and s["equity_peak"] == 101_000.0
    assert s["return_pct"] == pytest.approx(1.0)
    assert s["buy_hold_return_pct"] == pytest.approx(0.0)  # 10 -> 10
    assert s["exposure_pct"] == pytest.approx(2 / 6 * 100)  # held after bars 2 and 3
    assert s["trades"] == 1 and s["win_rate_pct"] == 100.0
    assert s["best_trade_pct"] == pytest.approx(1000 / 11_000 * 100)
    assert s["profit_factor"] == math.inf and s["max_drawdown_pct"] == 0.0
    assert s["periods_per_year"] == 252.0 and s["commissions"] == 0.0
    assert s["duration"] == pd.Timedelta(days=7)  # Monday to the next Monday
    r = equity[1:] / equity[:-1] - 1
    assert s["volatility_ann_pct"] == pytest.approx(np.std(r, ddof=1) * math.sqrt(252) * 100)


def test_drawdown_figures_by_hand() -> None:
    b = _replay(_bars([10.0, 10.0, 8.0, 9.0, 10.0, 12.0, 9.0, 9.0]))
    b.step()
    b.buy("X", 1_000)  # at 10, the next bar's open
    b.run()
    s = pb.stats(b)
    # equity 100000 100000 98000 99000 100000 102000 99000 99000: two drawdowns, -2 % and -2.94 %
    assert s["max_drawdown_pct"] == pytest.approx(-3000 / 102_000 * 100)
    assert s["avg_drawdown_pct"] == pytest.approx((-2.0 - 3000 / 102_000 * 100) / 2)
    # the first lasts from Tuesday's peak to Friday (3 days); the second, still open, 2 days
    assert s["max_drawdown_duration"] == pd.Timedelta(days=3)
    assert s["trades"] == 0 and math.isnan(s["win_rate_pct"])


def test_return_figures_agree_with_empyrical() -> None:
    b = _walk_backtest()
    curve = pb.equity_curve(b)
    returns = curve.pct_change().dropna()
    s = pb.stats(b)
    rel = {"rel": 1e-9, "abs": 0.0}
    assert s["return_ann_pct"] == pytest.approx(
        empyrical.annual_return(returns, annualization=252) * 100, **rel
    )
    assert s["volatility_ann_pct"] == pytest.approx(
        empyrical.annual_volatility(returns, annualization=252) * 100, **rel
    )
    assert s["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, annualization=252), **rel)
    assert s["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, annualization=252), **rel)
    assert s["calmar"] == pytest.approx(empyrical.calmar_ratio(returns, annualization=252), **rel)
    assert s["max_drawdown_pct"] == pytest.approx(empyrical.max_drawdown(returns) * 100, **rel)
    # a yearly risk-free rate is rate / P per bar, as empyrical's per-period risk_free
    rf = pb.stats(b, risk_free_rate=0.05, periods_per_year=252)
    assert rf["sharpe"] == pytest.approx(
        empyrical.sharpe_ratio(returns, risk_free=0.05 / 252, annualization=252), **rel
    )
    assert rf["sortino"] == pytest.approx(
        empyrical.sortino_ratio(returns, required_return=0.05 / 252, annualization=252), **rel
    )
    assert s["trades"] > 20 and s["sharpe"] != rf["sharpe"]


def test_trade_figures_from_the_trades() -> None:
    b = _walk_backtest()
    closed = pb.trades_frame(b).query("not open")
    s = pb.stats(b)
    pct, pnl = closed["return_pct"], closed["pnl"]
    assert s["trades"] == len(closed)
    assert s["win_rate_pct"] == pytest.approx((pnl > 0).mean() * 100)
    assert s["expectancy_pct"] == pytest.approx(pct.mean())
    assert s["avg_trade_pct"] == pytest.approx(((1 + pct / 100).prod() ** (1 / len(pct)) - 1) * 100)
    assert s["profit_factor"] == pytest.approx(pnl[pnl > 0].sum() / -pnl[pnl < 0].sum())
    assert s["sqn"] == pytest.approx(math.sqrt(len(pnl)) * pnl.mean() / pnl.std())
    assert s["commissions"] == pytest.approx(b.equity().commission)


def test_periods_per_year_is_inferred_from_the_spacing() -> None:
    minutes = _replay(_bars([10.0 + i % 3 for i in range(780)], start="2024-01-02 14:30", freq="1min"))
    minutes.run()
    assert pb.stats(minutes)["periods_per_year"] == 252.0 * 780 / 2  # 570 on the first day, 210 on the next
    weekly = _replay(_bars([10.0, 11.0, 12.0], freq="W"))
    weekly.run()
    assert pb.stats(weekly)["periods_per_year"] == 52.0
    assert pb.stats(weekly, periods_per_year=12)["periods_per_year"] == 12.0
    with pytest.raises(pb.ConfigurationError, match="periods_per_year"):
        pb.stats(weekly, periods_per_year=0)
    with pytest.raises(pb.ConfigurationError, match="risk_free_rate"):
        pb.stats(weekly, risk_free_rate=float("nan"))


def test_empty_and_multi_account_stats() -> None:
    classic = pb.stats(pb.BrokerService(execution_delay=None))
    assert list(classic.index) == list(pb.stats(_walk_backtest(30)).index)
    assert classic["trades"] == 0 and classic["equity_final"] == 100_000.0
    assert math.isnan(classic["sharpe"]) and classic["max_drawdown_duration"] == pd.Timedelta(0)
    b = _replay(_bars([10.0, 11.0, 12.0]))
    b.open_account("ALICE", 50_000)
    b.step()
    b.buy("X", 100, account_id="ALICE")  # at 11
    b.run()
    alice, demo = pb.stats(b, "ALICE"), pb.stats(b)
    assert alice["equity_final"] == 50_100.0 and alice["exposure_pct"] == pytest.approx(200 / 3)
    assert demo["equity_final"] == 100_000.0 and demo["exposure_pct"] == 0.0
    with pytest.raises(pb.ConfigurationError, match="one account"):
        pb.stats(b, account_id=None)  # type: ignore[arg-type]


def test_price_history_of_several_symbols_is_plain_columns() -> None:
    one = _bars([10.0, 11.0])
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay({"A": one, "B": one * 10}))
    b.run()
    cols = b.price_history()
    assert cols["symbol"].tolist() == ["A", "B", "A", "B"]
    assert cols["last"].tolist() == [10.0, 100.0, 11.0, 110.0] and cols["time"].dtype == np.int64
    assert b.price_history("B")["open"].tolist() == [100.0, 110.0]
    cols["last"][:] = 0.0  # a copy of its own: the broker's history is unchanged
    assert b.price_history("A")["last"].tolist() == [10.0, 11.0]


def test_import_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, paperbroker; print('pandas' in sys.modules, 'plotly' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]  # both come with the first call


def test_the_curve_starts_at_the_opening_balance_before_the_first_tick() -> None:
    b = pb.BrokerService(
        execution_delay=None, market=pb.ManualQuotes({"A": 10.0}, spread=0.02), commission=pb.FixedPerOrder(1)
    )
    b.step()  # the first tick, one second after the opening
    b.buy("A", 100)  # fills at once at the ask, 10.01: 1.00 spread and 1.00 commission
    b.step()
    curve = pb.equity_curve(b)
    assert curve.tolist() == [100_000.0, 99_998.0, 99_998.0]
    assert pb.stats(b)["return_pct"] == pytest.approx(-0.002)
