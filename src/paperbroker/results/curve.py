"""An account's equity once per bar or step, its exposure, and buy-and-hold beside it.

The samples are the times of the market's ticks (market mode) or of the account's equity
changes (classic mode).  At each sample the equity is the account's last equity row at or
before it, so a bar in which nothing changed carries the previous value forward; before
the account's first row the curve starts at that row (the opening balance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..frames import equity_frame, executions_frame
from ..models import DEFAULT_ACCOUNT, Side
from ._common import account_of, load_pandas, times

if TYPE_CHECKING:
    import pandas

    from ..broker import BrokerService

__all__ = ["buy_and_hold", "equity_curve", "exposure", "sample_times"]


def _ms(column: Any) -> Any:
    import numpy as np

    return column.to_numpy(dtype="datetime64[ms]").astype(np.int64)


def sample_times(broker: BrokerService, account_id: str) -> Any:
    """The int64 Unix ms at which the curve is sampled: each tick, else each equity change."""
    import numpy as np

    ticks = broker.price_history()["time"]
    if len(ticks):
        return np.unique(ticks)
    return np.unique(_ms(equity_frame(broker, account_id)["time"]))


def _equity_at(broker: BrokerService, account_id: str, at: Any) -> Any:
    import numpy as np

    rows = equity_frame(broker, account_id)
    if not len(rows):
        return np.full(len(at), np.nan)
    # rows of one time are in order: the last of them is the account after that time
    index = np.searchsorted(_ms(rows["time"]), at, side="right") - 1
    return rows["equity"].to_numpy()[np.maximum(index, 0)]


def equity_curve(
    broker: BrokerService, account_id: str = DEFAULT_ACCOUNT, freq: str | None = None
) -> pandas.Series:
    """The account's equity at the end of every bar or step, carried forward.

    A float64 Series named ``equity`` on a DatetimeIndex named ``time`` in the clock's
    time zone.  ``freq`` (a pandas frequency such as ``"1D"`` or ``"1h"``) samples it once
    per period instead, labelled by the period's start, with the last value in the period
    (carried forward over empty periods).  Empty (same dtypes) before any sample exists.
    """
    pd = load_pandas()
    account_of(broker, account_id, "equity_curve")
    at = sample_times(broker, account_id)
    curve = pd.Series(
        _equity_at(broker, account_id, at), index=times(broker, at), name="equity", dtype="float64"
    )
    curve.index.name = "time"
    if freq is not None and len(curve):
        try:
            curve = curve.resample(freq).last().ffill()
        except ValueError as exc:
            from ..errors import ConfigurationError

            msg = f"freq must be a pandas frequency such as '1D' or '1h', got {freq!r} ({exc})."
            raise ConfigurationError(msg) from exc
    return cast("pandas.Series", curve)


def exposure(broker: BrokerService, account_id: str, at: Any) -> Any:
    """A bool per sample time: did the account hold any position after it?"""
    import numpy as np

    fills = executions_frame(broker, account_id)
    held = np.zeros(len(at), dtype=bool)
    if not len(fills):
        return held
    signed = np.where(fills["side"].to_numpy() == Side.BUY.label, 1.0, -1.0) * fills["qty"].to_numpy()
    fill_ms = _ms(fills["time"])
    for symbol in fills["symbol"].unique():
        mine = (fills["symbol"] == symbol).to_numpy()
        position = np.cumsum(signed[mine])
        index = np.searchsorted(fill_ms[mine], at, side="right") - 1
        inside = index >= 0
        held[inside] |= np.abs(position[index[inside]]) > 1e-9
    return held


def buy_and_hold(broker: BrokerService, symbol: str, at: Any, start_equity: float) -> Any:
    """``start_equity`` invested in ``symbol`` at its first price, valued at each sample time.

    The price at a sample is the symbol's last price (a bar's close) at or before it.
    """
    import numpy as np

    cols = broker.price_history(symbol)
    if not len(cols["time"]):
        return np.full(len(at), np.nan)
    last = cols["last"]
    index = np.maximum(np.searchsorted(cols["time"], at, side="right") - 1, 0)
    return start_equity * (last[index] / last[0])


def traded_symbol(broker: BrokerService, account_id: str) -> str | None:
    """The symbol the account traded first, else the market's first, else None."""
    fills = executions_frame(broker, account_id)
    if len(fills):
        return str(fills["symbol"].iloc[0])
    names = broker.price_history()["symbol"]
    return str(names[0]) if len(names) else None
