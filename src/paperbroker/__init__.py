"""paperbroker: a simulated broker for Jupyter notebooks.

A :class:`BrokerService` takes orders, fills them, keeps positions, P&L and equity, and
broadcasts every change on topics that widgets and your own code subscribe to.

The package in layers, each importing only from itself and the layers below
(docs/contributing.md; checked by tests/test_layout.py)::

    widgets/          live anywidget views
    frames, saving    pandas exports; save() and load()
    broker            BrokerService, the facade
    persistence/      the save file
    parts             wires the parts below into a broker
    simulator         steps and the one background task
    core/             order engine, ledger, order book, history, risk, brackets
    market/           price sources, matching, slippage, the venue
    events, topics    subscribers and delivery; topic strings
    models, records, guard, enums, errors, clock, statetypes
"""

from .broker import RANDOM_DELAY, BrokerService
from .clock import Clock, SimClock, WallClock
from .core.commissions import FixedPerOrder, NoCommission, PercentOfNotional, PerUnit
from .core.risk import RiskRules, SymbolRules
from .core.settings import DEFAULT_RISK
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
from .events import Subscription
from .frames import equity_frame, executions_frame, orders_frame, positions_frame
from .host import BrokerHost, HostClock
from .market.manual import ManualQuotes
from .market.random_walk import RandomWalk
from .market.replay_sources import BarReplay, QuoteReplay
from .market.slippage import FixedSlippage, NoSlippage, PercentSlippage
from .market.source import MarketSource
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
from .results import equity_curve, prices_frame, report, stats, trades_frame
from .saving import load, save
from .serve import (
    AccessDenied,
    ClassroomServer,
    ClientInfo,
    ConnectionLost,
    Invitation,
    ProtocolError,
    RateLimited,
    RemoteBroker,
    connect,
    serve,
)
from .sweeps import Split, WalkForwardResult, sweep, sweep_heatmap, walk_forward, walk_forward_splits
from .topics import parse_topic, topic

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_RISK",
    "RANDOM_DELAY",
    "AccessDenied",
    "BarReplay",
    "Brackets",
    "BrokerConnectionStatus",
    "BrokerError",
    "BrokerHost",
    "BrokerService",
    "ClassroomServer",
    "ClientInfo",
    "Clock",
    "ConfigurationError",
    "ConnectionLost",
    "ConnectionStatus",
    "CurrentQuotes",
    "EquityData",
    "Execution",
    "FixedPerOrder",
    "FixedSlippage",
    "HostClock",
    "InvalidOrder",
    "InvalidState",
    "InvalidTopic",
    "Invitation",
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
    "ProtocolError",
    "Quote",
    "QuoteReplay",
    "RandomWalk",
    "RateLimited",
    "RemoteBroker",
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
    "connect",
    "equity_curve",
    "equity_frame",
    "executions_frame",
    "load",
    "orders_frame",
    "parse_topic",
    "positions_frame",
    "prices_frame",
    "report",
    "save",
    "serve",
    "stats",
    "sweep",
    "sweep_heatmap",
    "topic",
    "trades_frame",
    "walk_forward",
    "walk_forward_splits",
]
