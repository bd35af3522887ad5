"""The statistics of a backtest, as one pandas Series (docs/results.md defines each).

Return-based figures come from the per-bar returns ``r`` of :func:`equity_curve`
(``r[t] = equity[t] / equity[t-1] - 1``), annualised with ``periods_per_year`` (``P``);
they follow the standard definitions that empyrical uses.  Trade figures come from the
closed rows of :func:`trades_frame`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigurationError
from ..models import DEFAULT_ACCOUNT
from ._common import index_ms, load_pandas
from .curve import History
from .trades import trade_figures, trade_rows

if TYPE_CHECKING:
    import pandas

    from ..broker import BrokerService

__all__ = ["STATS_KEYS", "drawdown", "periods_per_year", "stats"]

#: the keys of :func:`stats`, in order
STATS_KEYS = (
    "start",
    "end",
    "duration",
    "exposure_pct",
    "equity_final",
    "equity_peak",
    "return_pct",
    "buy_hold_return_pct",
    "return_ann_pct",
    "volatility_ann_pct",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown_pct",
    "avg_drawdown_pct",
    "max_drawdown_duration",
    "trades",
    "win_rate_pct",
    "best_trade_pct",
    "worst_trade_pct",
    "avg_trade_pct",
    "profit_factor",
    "expectancy_pct",
    "sqn",
    "commissions",
    "periods_per_year",
)
_NAN = math.nan
_DAY_MS = 86_400_000


def periods_per_year(index: Any) -> float:
    """Bars per year, from the median spacing of a DatetimeIndex.

    Monthly (>= 28 days) 12, weekly (>= 5 days) 52, daily (>= 20 hours) 252; shorter bars
    252 trading days times the median number of bars per calendar day.  NaN below 2 bars.
    """
    import numpy as np

    if len(index) < 2:
        return _NAN
    ms = index_ms(index)
    spacing = float(np.median(np.diff(ms)))
    if spacing >= 28 * _DAY_MS:
        return 12.0
    if spacing >= 5 * _DAY_MS:
        return 52.0
    if spacing >= _DAY_MS * 20 / 24:
        return 252.0
    days = index.tz_localize(None).to_numpy(dtype="datetime64[D]")  # calendar days, in the zone
    edges = np.flatnonzero(np.r_[True, days[1:] != days[:-1], True])
    return 252.0 * float(np.median(np.diff(edges)))


def drawdown(curve: pandas.Series) -> pandas.Series:
    """The fraction an equity curve is below its running peak: 0 at a new high, -0.1 ten % below."""
    return curve / curve.cummax() - 1.0


def _drawdown_periods(dd: Any, ms: Any) -> tuple[float, int]:
    """The mean depth of the drawdown periods and the longest one's length in ms.

    A period runs from a peak (dd == 0) to the next time equity is back at a peak; one
    still running at the end is cut there.
    """
    import numpy as np

    under = dd < 0
    if not under.any():
        return 0.0, 0
    edges = np.diff(np.r_[0, under.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)  # [start, stop)
    depths = np.minimum.reduceat(dd, starts)
    peaks = ms[starts - 1]  # each period starts below the peak right before it
    ends = ms[np.minimum(stops, len(ms) - 1)]
    return float(depths.mean()), int((ends - peaks).max())


def _return_figures(values: Any, rf: float, ppy: float) -> dict[str, float]:
    import numpy as np

    r = values[1:] / values[:-1] - 1.0
    n = len(r)
    if n == 0 or ppy != ppy:
        return dict.fromkeys(("return_ann_pct", "volatility_ann_pct", "sharpe", "sortino", "calmar"), _NAN)
    growth = values[-1] / values[0]
    annual = growth ** (ppy / n) - 1.0
    excess = r - rf / ppy
    std = float(np.std(excess, ddof=1)) if n > 1 else _NAN
    vol = float(np.std(r, ddof=1)) * math.sqrt(ppy) if n > 1 else _NAN
    mean = float(excess.mean())
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(ppy)
    peak = np.maximum.accumulate(values)
    max_dd = float(np.min(values / peak - 1.0))
    return {
        "return_ann_pct": annual * 100.0,
        "volatility_ann_pct": vol * 100.0,
        "sharpe": mean / std * math.sqrt(ppy) if std else _NAN,
        "sortino": mean * ppy / downside if downside else (math.inf if mean > 0 else _NAN),
        "calmar": annual / -max_dd if max_dd < 0 else _NAN,
    }


def _trade_figures(pnl: Any, pct: Any) -> dict[str, float]:
    """The trade figures of the closed trades' P&L and returns (numpy arrays)."""
    import numpy as np

    n = len(pnl)
    if not n:
        keys = ("win_rate_pct", "best_trade_pct", "worst_trade_pct", "avg_trade_pct")
        return {"trades": 0, **dict.fromkeys((*keys, "profit_factor", "expectancy_pct", "sqn"), _NAN)}
    gains, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    growth = np.prod(1.0 + pct / 100.0)
    pnl_std = float(np.std(pnl, ddof=1)) if n > 1 else 0.0
    return {
        "trades": n,
        "win_rate_pct": float((pnl > 0).mean() * 100.0),
        "best_trade_pct": float(pct.max()),
        "worst_trade_pct": float(pct.min()),
        "avg_trade_pct": float((growth ** (1.0 / n) - 1.0) * 100.0) if growth > 0 else _NAN,
        "profit_factor": float(gains / losses) if losses else (math.inf if gains else _NAN),
        "expectancy_pct": float(pct.mean()),
        "sqn": math.sqrt(n) * float(pnl.mean()) / pnl_std if pnl_std else _NAN,
    }


def stats(
    broker: BrokerService,
    account_id: str = DEFAULT_ACCOUNT,
    risk_free_rate: float = 0.0,
    periods_per_year: float | None = None,
) -> pandas.Series:
    """The account's backtest statistics, as a Series with the keys :data:`STATS_KEYS`.

    ``risk_free_rate`` is a yearly rate (0.02 for 2 %), taken as ``risk_free_rate / P`` per
    bar; ``periods_per_year`` (``P``) is inferred from the bar spacing when not given
    (daily bars: 252; see :func:`periods_per_year`).  Figures that need more history than
    there is are NaN (NaT for times); ``trades`` is then 0.
    """
    import numpy as np

    pd = load_pandas()
    history = History(broker, account_id, "stats")
    rf = _number(risk_free_rate, "risk_free_rate", allow_zero=True)
    curve = history.curve()
    ppy = _infer(curve.index) if periods_per_year is None else _number(periods_per_year, "periods_per_year")
    values = curve.to_numpy()
    ms = index_ms(curve.index) if len(curve) else np.asarray([], dtype=np.int64)
    out: dict[str, Any] = dict.fromkeys(STATS_KEYS, _NAN)
    out.update(start=pd.NaT, end=pd.NaT, duration=pd.NaT, max_drawdown_duration=pd.NaT)
    if len(values):
        dd = values / np.maximum.accumulate(values) - 1.0
        avg_dd, longest = _drawdown_periods(dd, ms)
        symbol = history.traded_symbol()
        hold = history.buy_and_hold(symbol, ms[-1:], 1.0) if symbol is not None else [_NAN]
        out.update(
            start=curve.index[0],
            end=curve.index[-1],
            duration=curve.index[-1] - curve.index[0],
            exposure_pct=float(history.exposure(ms).mean() * 100.0),
            equity_final=float(values[-1]),
            equity_peak=float(values.max()),
            return_pct=float((values[-1] / values[0] - 1.0) * 100.0),
            buy_hold_return_pct=float((hold[0] - 1.0) * 100.0),
            max_drawdown_pct=float(dd.min() * 100.0),
            avg_drawdown_pct=avg_dd * 100.0,
            max_drawdown_duration=pd.Timedelta(longest, unit="ms"),
        )
        out.update(_return_figures(values, rf, ppy))
    rows, closed = trade_rows(broker, history.fills)
    out.update(_trade_figures(*trade_figures(rows[:closed])))
    out["commissions"] = broker.equity(account_id).commission
    out["periods_per_year"] = ppy
    return cast("pandas.Series", pd.Series(out, dtype=object, name=account_id))


def _infer(index: Any) -> float:
    return periods_per_year(index)


def _number(value: object, name: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > 0 or (allow_zero and value > -1)):  # type: ignore[operator]
        return float(value)  # type: ignore[arg-type]
    need = "a finite number (0.02 for 2 % a year)" if allow_zero else "a number > 0 (252 for daily bars)"
    msg = f"{name} must be {need}, got {value!r}."
    raise ConfigurationError(msg)
