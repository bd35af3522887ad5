"""What the results modules share: lazy pandas, times in the clock's zone, account checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..broker import BrokerService

__all__ = ["account_of", "index_ms", "load_pandas", "times", "to_zone"]


def load_pandas() -> Any:
    """pandas, imported on first use (``import paperbroker`` stays light)."""
    import pandas as pd

    return pd


def times(broker: BrokerService, ms: Any) -> Any:
    """Unix milliseconds as a DatetimeIndex in the broker's clock's time zone."""
    import numpy as np

    pd = load_pandas()
    values = np.asarray(ms, dtype="int64").astype("datetime64[ms]")
    return pd.DatetimeIndex(values).tz_localize("UTC").tz_convert(broker.clock.timezone)


def index_ms(index: Any) -> Any:
    """A zone-aware DatetimeIndex as int64 Unix milliseconds."""
    import numpy as np

    return index.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64)


def to_zone(broker: BrokerService, column: Any) -> Any:
    """A UTC datetime column (as the frames give) in the broker's clock's time zone."""
    return column.dt.tz_convert(broker.clock.timezone)


def account_of(broker: BrokerService, account_id: object, what: str) -> str:
    """``account_id`` checked: one of the broker's accounts (``what`` names the caller)."""
    if not isinstance(account_id, str):
        msg = (
            f"{what} works on one account at a time: pass account_id='ALICE' (one of "
            f"{', '.join(broker.accounts())}), got {account_id!r}."
        )
        raise ConfigurationError(msg)
    broker.equity(account_id)  # raises UnknownAccount with the broker's own sentence
    return account_id
