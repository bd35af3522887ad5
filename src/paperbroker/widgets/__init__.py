"""Live notebook widgets bound to a :class:`~paperbroker.BrokerService`.

Each widget subscribes to the broker's topics when created and unsubscribes on
``close()``; updates are coalesced in the kernel (one message per widget per flush, at
most 20 flushes a second) and applied in the browser in one animation frame::

    from paperbroker.widgets import dashboard
    board = dashboard(broker, symbols=["AAPL", "MSFT"])
    board            # display it
    board.close()    # unsubscribe: with no subscribers left the simulator stops

Importing this module imports ipywidgets and anywidget; ``import paperbroker`` does not.
"""

from ._base import BrokerWidget, CommandError
from .chart import EquityChart
from .dashboard import Dashboard, dashboard
from .leaderboard import Leaderboard
from .price import PriceChart
from .summary import AccountSummary
from .table import LiveTable
from .tables import ExecutionsTable, OrdersTable, PositionsTable
from .ticket import OrderTicket

__all__ = [
    "AccountSummary",
    "BrokerWidget",
    "CommandError",
    "Dashboard",
    "EquityChart",
    "ExecutionsTable",
    "Leaderboard",
    "LiveTable",
    "OrderTicket",
    "OrdersTable",
    "PositionsTable",
    "PriceChart",
    "dashboard",
]
