"""An account's equity once per bar or step, its exposure, and buy-and-hold beside it.

The samples are the times of the market's ticks (market mode) or of the account's equity
changes (classic mode), preceded by the account's opening when it was opened before the
first tick (so that what a first-tick fill cost is in the curve).  At each sample the
equity is the account's last equity row at or before it, so a bar in which nothing
changed carries the previous value forward; an account opened later starts at its
opening balance.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigurationError
from ..frames import equity_frame, executions_frame
from ..models import DEFAULT_ACCOUNT, Side
from ._common import account_of, load_pandas, times

if TYPE_CHECKING:
    import pandas

    from ..broker import BrokerService

__all__ = ["History", "equity_curve"]


def _ms(column: Any) -> Any:
    import numpy as np

    return column.to_numpy(dtype="datetime64[ms]").astype(np.int64)


def _distinct(sorted_ms: Any) -> Any:
    """The distinct values of a sorted array (np.unique would sort and hash it again)."""
    import numpy as np

    if not len(sorted_ms):
        return sorted_ms
    return sorted_ms[np.r_[True, sorted_ms[1:] != sorted_ms[:-1]]]


class History:
    """One read of what the results need from a broker for one account: its fills, the
    market's prices and (when asked) its equity rows, each copied out once per call."""

    def __init__(self, broker: BrokerService, account_id: str, what: str) -> None:
        self.broker = broker
        self.account_id = account_of(broker, account_id, what)
        self.prices = broker.price_history()

    @cached_property
    def fills(self) -> pandas.DataFrame:
        """The account's kept executions (:func:`~paperbroker.executions_frame`)."""
        return executions_frame(self.broker, self.account_id)

    def traded_symbol(self) -> str | None:
        """The symbol the account traded first, else the market's first, else None."""
        if len(self.fills):
            return str(self.fills["symbol"].iloc[0])
        names = self.prices["symbol"]
        return str(names[0]) if len(names) else None

    def last_prices(self, symbol: str) -> tuple[Any, Any]:
        """``symbol``'s tick times (int64 ms) and last prices."""
        mine = self.prices["symbol"] == symbol
        return self.prices["time"][mine], self.prices["last"][mine]

    def curve(self, freq: str | None = None) -> pandas.Series:
        """See :func:`equity_curve`."""
        import numpy as np

        pd = load_pandas()
        rows = equity_frame(self.broker, self.account_id)
        row_ms = _ms(rows["time"])
        at = _distinct(self.prices["time"] if len(self.prices["time"]) else row_ms)
        opening = len(rows) and len(at) and row_ms[0] < at[0]
        # a market that changed the account in the opening's millisecond (a replay filling
        # on its first bar): the opening row is kept apart, and is the curve's first sample
        at_first_tick = len(self.prices["time"]) and len(row_ms) > 1 and row_ms[0] == row_ms[1] == at[0]
        if opening or at_first_tick:
            at = np.r_[row_ms[0], at]  # the account's opening, before the first tick
        if len(rows):
            # rows of one time are in order: the last of them is the account after that time
            index = np.maximum(np.searchsorted(row_ms, at, side="right") - 1, 0)
            if at_first_tick:
                index[0] = 0
            values = rows["equity"].to_numpy()[index]
        else:
            values = np.full(len(at), np.nan)
        curve = pd.Series(values, index=times(self.broker, at), name="equity", dtype="float64")
        curve.index.name = "time"
        if freq is not None and len(curve):
            try:
                curve = curve.resample(freq).last().ffill()
            except ValueError as exc:
                msg = f"freq must be a pandas frequency such as '1D' or '1h', got {freq!r} ({exc})."
                raise ConfigurationError(msg) from exc
        return cast("pandas.Series", curve)

    def exposure(self, at: Any) -> Any:
        """A bool per sample time (int64 ms): did the account hold any position after it?"""
        import numpy as np

        fills = self.fills
        held = np.zeros(len(at), dtype=bool)
        if not len(fills):
            return held
        signed = np.where(fills["side"].to_numpy() == Side.BUY.label, 1.0, -1.0) * fills["qty"].to_numpy()
        fill_ms = _ms(fills["time"])
        symbols = fills["symbol"].to_numpy()
        for symbol in fills["symbol"].unique():
            mine = symbols == symbol
            position = np.cumsum(signed[mine])
            index = np.searchsorted(fill_ms[mine], at, side="right") - 1
            inside = index >= 0
            held[inside] |= np.abs(position[index[inside]]) > 1e-9
        return held

    def buy_and_hold(self, symbol: str, at: Any, start_equity: float) -> Any:
        """``start_equity`` put in ``symbol`` at its first price, valued at each sample time
        (the symbol's last price, a bar's close, at or before it)."""
        import numpy as np

        tick_ms, last = self.last_prices(symbol)
        if not len(tick_ms):
            return np.full(len(at), np.nan)
        index = np.maximum(np.searchsorted(tick_ms, at, side="right") - 1, 0)
        return start_equity * (last[index] / last[0])


def equity_curve(
    broker: BrokerService, account_id: str = DEFAULT_ACCOUNT, freq: str | None = None
) -> pandas.Series:
    """The account's equity at the end of every bar or step, carried forward.

    A float64 Series named ``equity`` on a DatetimeIndex named ``time`` in the clock's
    time zone.  ``freq`` (a pandas frequency such as ``"1D"`` or ``"1h"``) samples it once
    per period instead, labelled by the period's start, with the last value in the period
    (carried forward over empty periods).  Empty (same dtypes) before any sample exists.
    """
    return History(broker, account_id, "equity_curve").curve(freq)
