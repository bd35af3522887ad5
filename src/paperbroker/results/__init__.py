"""Results of a backtest: trades, price history, the equity curve, statistics, a report.

Everything here is computed on demand from the broker's columnar history (executions,
equity rows and the prices its market showed); nothing is kept per fill or per bar.
pandas and plotly are imported when a function is first called.
"""

from __future__ import annotations

from .curve import equity_curve
from .prices import prices_frame
from .report import report
from .stats import stats
from .trades import trades_frame

__all__ = ["equity_curve", "prices_frame", "report", "stats", "trades_frame"]
