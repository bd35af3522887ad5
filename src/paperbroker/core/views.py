"""The convenience surface of :class:`~paperbroker.broker.BrokerService`.

:class:`BrokerViews` is a mixin: snapshots of orders, positions, executions, equity and
quotes (every record returned is a fresh copy); order shortcuts (``buy``, ``sell``,
``flatten``, ``reverse``) that build a :class:`PreOrder` and call ``submit``; and the
``async`` methods with the TradingView Broker API names, each a thin wrapper over the
synchronous operation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import InvalidOrder, InvalidState, UnknownPosition
from ..models import (
    DEFAULT_ACCOUNT,
    Brackets,
    EquityData,
    Execution,
    OrderStatus,
    OrderType,
    PlacedOrder,
    PlaceOrderResult,
    Position,
    PreOrder,
    Quote,
    Side,
)
from .brackets import check_sides
from .orders import check_price, check_qty

if TYPE_CHECKING:
    from ..events import TopicHub
    from ..market.venue import Venue
    from .brackets import Brackets as BracketsBook
    from .history import Codes, ExecutionLog
    from .ledger import Account, Ledger, PositionState
    from .orders import OrderBook
    from .risk import RiskBook

__all__ = ["BrokerViews"]

_EPS = 1e-9  # as ledger.QTY_EPSILON


class BrokerViews:
    """Snapshots and the async API; the broker provides the state below."""

    _book: OrderBook
    _ledger: Ledger
    _executions: ExecutionLog
    _account_codes: Codes
    _symbols: Codes
    _risk: RiskBook | None
    _venue: Venue | None
    _brackets: BracketsBook
    _hooks: bool
    _hub: TopicHub

    if TYPE_CHECKING:  # provided by BrokerService

        def _account(self, account_id: object) -> Account: ...

        def _ensure_simulator(self) -> None: ...

        def submit(self, order: PreOrder | dict[str, Any], account_id: str = ...) -> PlacedOrder: ...

        def modify(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder: ...

        def cancel(self, order_id: str) -> PlacedOrder: ...

        def fill(self, order_id: str, qty: float | None = None, price: float | None = None) -> Execution: ...

        def fill_all(self) -> list[Execution]: ...

    # ------------------------------------------------------------------ snapshots

    def orders(self, account_id: str = DEFAULT_ACCOUNT, *, status: Any = None) -> list[PlacedOrder]:
        """The account's orders (working and the newest finished), oldest first."""
        self._account(account_id)
        try:
            wanted = None if status is None else OrderStatus.coerce(status, "order status")
        except ValueError as exc:
            raise InvalidOrder(str(exc)) from None
        return [o.copy() for o in self._book.of_account(account_id) if wanted is None or o.status is wanted]

    def order(self, order_id: str) -> PlacedOrder:
        """One order by id."""
        return self._book.get(order_id).copy()

    def positions(self, account_id: str = DEFAULT_ACCOUNT) -> list[Position]:
        """The account's open positions."""
        return [p.snapshot() for p in self._account(account_id).positions.values()]

    def position(self, position_id: str, account_id: str = DEFAULT_ACCOUNT) -> Position:
        """One open position by id (the symbol)."""
        return self._position_state(position_id, account_id).snapshot()

    def _position_state(self, position_id: object, account_id: str) -> PositionState:
        account = self._account(account_id)
        pos = account.positions.get(position_id) if isinstance(position_id, str) else None
        if pos is None:
            open_ids = ", ".join(account.positions) or "none"
            msg = f"Account {account_id} has no open position {position_id!r} (open: {open_ids})."
            raise UnknownPosition(msg)
        return pos

    def executions(self, symbol: str | None = None, account_id: str = DEFAULT_ACCOUNT) -> list[Execution]:
        """The account's kept executions, oldest first, optionally of one symbol."""
        self._account(account_id)
        if symbol is not None and not isinstance(symbol, str):
            msg = f"symbol must be a string such as 'AAPL' or None for all, got {symbol!r}."
            raise InvalidOrder(msg)
        log = self._executions
        account_code = self._account_codes.find(account_id)
        symbol_code = None if symbol is None else self._symbols.find(symbol)
        if account_code is None or (symbol is not None and symbol_code is None):
            return []
        names = self._symbols.names
        rows = log.table().tolist()
        return [
            Execution(
                names[int(row[2])],
                row[5],
                row[4],
                Side(int(row[3])),
                int(row[0]),
                row[6],
                log.exec_ids[i],
                log.order_ids[i],
            )
            for i, row in enumerate(rows)
            if row[1] == account_code and (symbol_code is None or row[2] == symbol_code)
        ]

    def equity(self, account_id: str = DEFAULT_ACCOUNT) -> EquityData:
        """The account's balance, equity and P&L now (with margin figures under risk rules)."""
        account = self._account(account_id)
        data = account.equity()
        if self._risk is not None:
            data.marginUsed, data.buyingPower = self._risk.margin(account_id, data.equity)
        return data

    @property
    def execution_count(self) -> int:
        """Executions ever made, including those dropped from the kept history."""
        return self._executions.total

    def quote(self, symbol: str) -> Quote:
        """The market's current quote of ``symbol`` (market mode)."""
        venue = self._venue
        if venue is None:
            msg = "There are no quotes in classic mode; build the broker with BrokerService(market=...)."
            raise InvalidState(msg)
        quote = venue.source.quote(symbol)
        if quote is None:
            known = ", ".join(venue.source.symbols) or "none yet"
            msg = f"The market has no quote for {symbol!r} yet (symbols: {known}); step it or set one."
            raise InvalidState(msg)
        return quote

    def quotes(self) -> list[Quote]:
        """The current quote of every symbol the market has quoted (market mode)."""
        venue = self._venue
        if venue is None:
            return []
        found = (venue.source.quote(s) for s in venue.source.symbols)
        return [q for q in found if q is not None]

    # ------------------------------------------------------------------ order shortcuts

    def buy(
        self,
        symbol: str,
        qty: float,
        *,
        price: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        duration: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Buy ``qty`` of ``symbol``: market by default, limit with ``limit=``, stop with
        ``stop=``, stop-limit with both.  ``price`` is the price a market order fills at in
        classic mode (default: the symbol's last price; in market mode: the ask).
        ``take_profit``/``stop_loss``/``trailing_stop_pips`` attach brackets; ``duration``
        is the time in force ("DAY", "GTC", "IOC", "FOK")."""
        prices = (price, limit, stop, take_profit, stop_loss, trailing_stop_pips)
        return self._side_order(Side.BUY, symbol, qty, prices, duration, account_id)

    def sell(
        self,
        symbol: str,
        qty: float,
        *,
        price: float | None = None,
        limit: float | None = None,
        stop: float | None = None,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        duration: str | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> PlacedOrder:
        """Sell ``qty`` of ``symbol``; the same options as :meth:`buy`."""
        prices = (price, limit, stop, take_profit, stop_loss, trailing_stop_pips)
        return self._side_order(Side.SELL, symbol, qty, prices, duration, account_id)

    def _side_order(
        self,
        side: Side,
        symbol: str,
        qty: float,
        prices: tuple[float | None, ...],
        duration: str | None,
        account_id: str,
    ) -> PlacedOrder:
        price, limit, stop, take_profit, stop_loss, trailing = prices
        if limit is not None and stop is not None:
            kind = OrderType.STOP_LIMIT
        elif limit is not None:
            kind = OrderType.LIMIT
        elif stop is not None:
            kind = OrderType.STOP
        else:
            kind = OrderType.MARKET
        if price is not None and kind is not OrderType.MARKET:
            msg = "price= is the fill price of a market order; for a limit order use limit=."
            raise InvalidOrder(msg)
        pre = PreOrder(
            symbol,
            kind,
            side,
            qty,
            limit,
            stop,
            take_profit,
            stop_loss,
            trailingStopPips=trailing,
            seenPrice=price,
            duration=duration,
        )
        return self.submit(pre, account_id)

    def flatten(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        """Place a market order that closes the position (or ``amount`` of it)."""
        pos = self._position_state(position_id, account_id)
        qty = abs(pos.qty)
        if amount is not None:
            amount = check_qty(amount, "amount")
            if amount > qty + _EPS:
                msg = f"Cannot close {amount} of position {position_id}: it holds only {qty}."
                raise InvalidOrder(msg)
            qty = min(amount, qty)
        pre = PreOrder(pos.symbol, OrderType.MARKET, pos.side.opposite, qty, isClose=True)
        return self.submit(pre, account_id)

    def reverse(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        """Place a market order of twice the position's size on the other side."""
        pos = self._position_state(position_id, account_id)
        pre = PreOrder(pos.symbol, OrderType.MARKET, pos.side.opposite, 2 * abs(pos.qty))
        return self.submit(pre, account_id)

    # ------------------------------------------------------------------ brackets

    def edit_brackets(
        self,
        position_id: str,
        brackets: Brackets | None = None,
        *,
        take_profit: float | None = None,
        stop_loss: float | None = None,
        trailing_stop_pips: float | None = None,
        account_id: str = DEFAULT_ACCOUNT,
    ) -> list[PlacedOrder]:
        """Set a position's take-profit, stop-loss or trailing stop; ``None`` removes one.

        Pass a :class:`Brackets` or the keywords.  Returns the position's working brackets.
        """
        if brackets is not None:
            take_profit, stop_loss = brackets.takeProfit, brackets.stopLoss
            trailing_stop_pips = brackets.trailingStopPips
        tp = None if take_profit is None else check_price(take_profit, "takeProfit")
        sl = None if stop_loss is None else check_price(stop_loss, "stopLoss")
        pips = None if trailing_stop_pips is None else check_qty(trailing_stop_pips, "trailingStopPips")
        position = self._position_state(position_id, account_id).snapshot()
        mark = position.last if position.last is not None else position.avgPrice
        check_sides(position.side, mark, tp, sl, f"position {position_id}")
        self._hooks = True
        grid = self._grid(position.symbol)
        with self._hub.interrupts_held():
            found = self._brackets.edit_position(account_id, position, tp, sl, pips, grid)
        return [o.copy() for o in found]

    def _grid(self, symbol: str) -> tuple[float, float]:
        """(pip size, tick size) of ``symbol``: from the risk rules, else the market's tick."""
        tick = self._venue.tick_size(symbol) if self._venue is not None else 0.01
        pip = self._risk.pip_size(symbol, tick) if self._risk is not None else tick
        return pip, tick

    def _trail_distance(self, order: PlacedOrder) -> float | None:
        pips = order.trailingStopPips
        return None if pips is None else pips * self._grid(order.symbol)[0]

    # ------------------------------------------------------------------ async API (TradingView names)

    async def place_order(
        self, order: PreOrder | dict[str, Any], account_id: str = DEFAULT_ACCOUNT
    ) -> PlaceOrderResult:
        self._ensure_simulator()
        return PlaceOrderResult(self.submit(order, account_id).id)

    async def modify_order(self, order_id: str, order: PreOrder | None = None, **changes: Any) -> PlacedOrder:
        self._ensure_simulator()
        return self.modify(order_id, order, **changes)

    async def cancel_order(self, order_id: str) -> PlacedOrder:
        self._ensure_simulator()
        return self.cancel(order_id)

    async def close_position(
        self, position_id: str, amount: float | None = None, *, account_id: str = DEFAULT_ACCOUNT
    ) -> PlacedOrder:
        self._ensure_simulator()
        return self.flatten(position_id, amount, account_id=account_id)

    async def reverse_position(self, position_id: str, *, account_id: str = DEFAULT_ACCOUNT) -> PlacedOrder:
        self._ensure_simulator()
        return self.reverse(position_id, account_id=account_id)

    async def edit_position_brackets(
        self, position_id: str, brackets: Brackets, account_id: str = DEFAULT_ACCOUNT
    ) -> list[PlacedOrder]:
        """Set the position's take-profit / stop-loss / trailing stop (``None`` removes one)."""
        self._ensure_simulator()
        return self.edit_brackets(position_id, brackets, account_id=account_id)

    async def simulate_execution(self, order_id: str) -> Execution:
        """Fill one working order now, completely, at its own price."""
        return self.fill(order_id)

    async def execute_all_working_orders(self) -> int:
        """Fill every working order now; returns how many filled."""
        return len(self.fill_all())
