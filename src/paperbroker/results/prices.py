"""The market's price history as a DataFrame: OHLCV bars or quotes, in the clock's zone."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from ._common import load_pandas, times

if TYPE_CHECKING:
    import pandas

    from ..broker import BrokerService

__all__ = ["PRICE_FRAME_COLUMNS", "prices_frame"]

#: the columns of :func:`prices_frame`, in order
PRICE_FRAME_COLUMNS = (
    "time",
    "symbol",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "bid",
    "ask",
    "bid_size",
    "ask_size",
)


def prices_frame(broker: BrokerService, symbol: str | None = None) -> pandas.DataFrame:
    """One row per symbol per tick the broker's market applied, oldest first.

    Bars fill ``open``, ``high``, ``low``, ``close`` and ``volume``; quotes fill ``bid``,
    ``ask``, their sizes (``inf``: unlimited) and ``close`` with the last price.  What a
    source does not give is NaN.  ``time`` is in the
    broker's clock's time zone (UTC unless the clock was given another).  The newest
    ``history_limit`` rows at least are kept; classic mode has none (the columns and dtypes
    are the same).  ``symbol`` picks one symbol's rows.
    """
    pd = load_pandas()
    cols = broker.price_history(symbol)
    names = list(dict.fromkeys(cols["symbol"].tolist()))
    frame = pd.DataFrame(
        {
            "time": times(broker, cols["time"]),
            "symbol": pd.Categorical(cols["symbol"], categories=names),
            "open": cols["open"],
            "high": cols["high"],
            "low": cols["low"],
            "close": cols["last"],
            "volume": cols["volume"],
            "bid": cols["bid"],
            "ask": cols["ask"],
            "bid_size": cols["bid_size"],
            "ask_size": cols["ask_size"],
        },
        copy=False,
    )
    return cast("pandas.DataFrame", frame)
