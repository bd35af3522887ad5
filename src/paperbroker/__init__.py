"""paperbroker: a simulated broker for Jupyter notebooks.

A :class:`BrokerService` takes orders, fills them, keeps positions, P&L and equity, and
broadcasts every change on topics that widgets and your own code subscribe to.
"""

from .broker import RANDOM_DELAY, BrokerService
from .clock import Clock, SimClock, WallClock
from .core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit
from .core.risk import RiskRules, SymbolRules
from .errors import (
    BrokerError,
    ConfigurationError,
    InvalidOrder,
    InvalidState,
    InvalidTopic,
    MarketDataError,
    NotFound,
    OrderRejected,
    PersistenceError,
    SubscriberOverflow,
    UnknownAccount,
    UnknownOrder,
    UnknownPosition,
)
from .events import Subscription, parse_topic, topic
from .frames import equity_frame, executions_frame, orders_frame, positions_frame
from .market.random_walk import RandomWalk
from .market.replay_sources import BarReplay, QuoteReplay
from .market.slippage import FixedSlippage, NoSlippage, PercentSlippage
from .market.source import ManualQuotes, MarketSource
from .models import (
    DEFAULT_ACCOUNT,
    Brackets,
    BrokerConnectionStatus,
    ConnectionStatus,
    CurrentQuotes,
    EquityData,
    Execution,
    OrderDuration,
    OrderMessage,
    OrderStatus,
    OrderType,
    ParentType,
    PlacedOrder,
    PlaceOrderResult,
    Position,
    PreOrder,
    Quote,
    Side,
    StopType,
)
from .persistence import load, save
from .sweeps import Split, WalkForwardResult, sweep, sweep_heatmap, walk_forward, walk_forward_splits

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ACCOUNT",
    "RANDOM_DELAY",
    "BarReplay",
    "Brackets",
    "BrokerConnectionStatus",
    "BrokerError",
    "BrokerService",
    "Clock",
    "ConfigurationError",
    "ConnectionStatus",
    "CurrentQuotes",
    "EquityData",
    "Execution",
    "FixedPerOrder",
    "FixedSlippage",
    "InvalidOrder",
    "InvalidState",
    "InvalidTopic",
    "ManualQuotes",
    "MarketDataError",
    "MarketSource",
    "NoCommission",
    "NoSlippage",
    "NotFound",
    "OrderDuration",
    "OrderMessage",
    "OrderRejected",
    "OrderStatus",
    "OrderType",
    "ParentType",
    "PerUnit",
    "PercentOfNotional",
    "PercentSlippage",
    "PersistenceError",
    "PlaceOrderResult",
    "PlacedOrder",
    "Position",
    "PreOrder",
    "Quote",
    "QuoteReplay",
    "RandomWalk",
    "RiskRules",
    "Side",
    "SimClock",
    "Split",
    "StopType",
    "SubscriberOverflow",
    "Subscription",
    "SymbolRules",
    "UnknownAccount",
    "UnknownOrder",
    "UnknownPosition",
    "WalkForwardResult",
    "WallClock",
    "__version__",
    "equity_frame",
    "executions_frame",
    "load",
    "orders_frame",
    "parse_topic",
    "positions_frame",
    "save",
    "sweep",
    "sweep_heatmap",
    "topic",
    "walk_forward",
    "walk_forward_splits",
]
