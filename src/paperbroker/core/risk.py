"""Risk and teaching rules: buying power, position limits, a daily loss limit, symbol rules.

A broker has :data:`~paperbroker.DEFAULT_RISK` unless given ``risk=RiskRules(...)``, or
``risk=None``: no rules, unlimited buying power.  Each rule is a switch:

* ``account="cash"`` (default): no short selling, buying power = equity not yet invested;
  ``account="margin"`` with ``leverage`` (e.g. 2.0): buying power = equity * leverage
  minus the value of open positions.  Working orders reserve buying power until they fill
  or are cancelled.  ``buying_power=False`` switches the check off.
* ``max_position``: the largest position per symbol, in units, counting working orders.
* ``daily_loss_limit``: once equity is this far below the session's starting equity, only
  orders that reduce positions are accepted until the session ends.
* :class:`SymbolRules` per symbol (or as ``default``): ``qty_step``, ``min_qty``,
  ``tick_size`` (prices must be on the grid), ``max_position`` and ``pip_size`` (for
  trailing stops; defaults to the tick size).

A refused order is kept with status Rejected and the reason in its ``message``, broadcast,
and :class:`~paperbroker.errors.OrderRejected` is raised.  :class:`RiskBook` is the state
behind the rules (reservations, session start equity), updated in O(1) per order event;
an account's position value is the ledger's running ``Account.gross``, so a mark costs
the rules nothing and a verdict or a margin figure reads one number however many are held.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError, PersistenceError
from ..models import Side
from ..native import mypyc_attr
from ..statetypes import Finite, NonNegative, Sign
from .ledger import Account

__all__ = ["RiskBook", "RiskRules", "RiskState", "SymbolRules"]

_EPS = 1e-9
_BUY = Side.BUY
_PRICES = ("The limit price", "The stop price", "The take profit", "The stop loss")  # in messages


def _opt_positive(value: object, what: str, example: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        msg = f"{what} must be a finite number > 0 or None, got {value!r}; for example {example}."
        raise ConfigurationError(msg)


def _on_grid(value: float, step: float) -> bool:
    ratio = value / step
    return abs(ratio - round(ratio)) <= 1e-7 * max(1.0, abs(ratio))


def _money(value: float) -> str:
    return f"{value:,.2f}"


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """Rules for one symbol; ``None`` switches a rule off."""

    qty_step: float | None = None
    min_qty: float | None = None
    tick_size: float | None = None
    max_position: float | None = None
    pip_size: float | None = None

    def __post_init__(self) -> None:
        _opt_positive(self.qty_step, "qty_step", "SymbolRules(qty_step=1)")
        _opt_positive(self.min_qty, "min_qty", "SymbolRules(min_qty=1)")
        _opt_positive(self.tick_size, "tick_size", "SymbolRules(tick_size=0.01)")
        _opt_positive(self.max_position, "max_position", "SymbolRules(max_position=1000)")
        _opt_positive(self.pip_size, "pip_size", "SymbolRules(pip_size=0.0001)")


@dataclass(frozen=True, slots=True)
class RiskRules:
    """The broker's risk and teaching rules (see the module docstring)."""

    account: str = "cash"
    leverage: float = 1.0
    buying_power: bool = True
    max_position: float | None = None
    daily_loss_limit: float | None = None
    symbols: Mapping[str, SymbolRules] = field(default_factory=dict)
    default: SymbolRules = field(default_factory=SymbolRules)

    def __post_init__(self) -> None:
        if self.account not in ("cash", "margin"):
            msg = f"account must be 'cash' or 'margin', got {self.account!r}."
            raise ConfigurationError(msg)
        lev = self.leverage
        if isinstance(lev, bool) or not isinstance(lev, (int, float)) or not (1 <= lev < math.inf):
            msg = f"leverage must be a number >= 1 (1 = no borrowing), got {lev!r}; e.g. leverage=2."
            raise ConfigurationError(msg)
        if self.account == "cash" and lev != 1:
            msg = f"A cash account has no leverage; use account='margin' for leverage={lev!r}."
            raise ConfigurationError(msg)
        _opt_positive(self.max_position, "max_position", "RiskRules(max_position=1000)")
        _opt_positive(self.daily_loss_limit, "daily_loss_limit", "RiskRules(daily_loss_limit=1000)")
        if not isinstance(self.symbols, Mapping) or not all(
            isinstance(r, SymbolRules) for r in self.symbols.values()
        ):
            msg = "symbols must be a dict of symbol -> SymbolRules(...)."
            raise ConfigurationError(msg)
        if not isinstance(self.default, SymbolRules):
            msg = f"default must be SymbolRules(...), got {self.default!r}."
            raise ConfigurationError(msg)

    def for_symbol(self, symbol: str) -> SymbolRules:
        """The rules of ``symbol``: its own, or the default ones."""
        return self.symbols.get(symbol, self.default)


_new = object.__new__


# a Python class when compiled: accept() builds it with object.__new__ (paperbroker.native)
@mypyc_attr(native_class=False)
class _Reservation:
    __slots__ = ("account", "left", "per_unit", "side", "symbol")

    def __init__(self, account: str, symbol: str, side: int, qty: float, per_unit: float) -> None:
        self.account = account
        self.symbol = symbol
        self.side = side
        self.left = qty
        self.per_unit = per_unit


@dataclass(frozen=True, slots=True)
class RiskState:
    """What :meth:`RiskBook.state` saves: the rules and the running totals behind them.

    ``reservations`` are ``(order id, account, symbol, side, qty left, buying power per
    unit)``; ``pending`` the working quantity per account, symbol and side; ``reserved``
    the buying power held per account; ``values`` the position values (``|qty| x mark``,
    for readers of the file) and ``gross`` each account's running sum of them (the
    ledger's); a load checks both against the positions; ``day_start`` each account's
    equity when the session began.  The running totals are kept as they were summed, not
    summed again, so a loaded book decides exactly as the saved one.
    """

    rules: RiskRules
    reservations: tuple[tuple[str, str, str, Sign, NonNegative, NonNegative], ...]
    pending: tuple[tuple[str, str, Sign, NonNegative], ...]
    reserved: tuple[tuple[str, NonNegative], ...]
    values: tuple[tuple[str, str, NonNegative], ...]
    gross: tuple[tuple[str, NonNegative], ...]
    day_start: tuple[tuple[str, Finite], ...]

    def accounts(self) -> Iterator[tuple[str, str]]:
        """``(field, account id)`` of every account the state names."""
        for name in ("reservations", "pending", "reserved", "values", "gross", "day_start"):
            rows = getattr(self, name)
            column = 1 if name == "reservations" else 0
            for n, row in enumerate(rows):
                yield f"{name}[{n}][{column}]", row[column]


class RiskBook:
    """The state the rules need, kept incrementally by the broker."""

    def __init__(self, rules: RiskRules) -> None:
        self.rules = rules
        self.leverage = float(rules.leverage)
        self._orders: dict[str, _Reservation] = {}
        self._pending: dict[tuple[str, str, int], float] = {}
        self._reserved: dict[str, float] = {}
        self._day_start: dict[str, float] = {}

    def state(self, accounts: Iterable[Account]) -> RiskState:
        """The book as plain data (see :class:`RiskState`); ``accounts`` are the ledger's."""
        accounts = list(accounts)
        return RiskState(
            self.rules,
            tuple((i, r.account, r.symbol, r.side, r.left, r.per_unit) for i, r in self._orders.items()),
            tuple((a, s, side, qty) for (a, s, side), qty in self._pending.items()),
            tuple(self._reserved.items()),
            tuple(
                (a.account_id, p.symbol, abs(p.qty) * p.mark)
                for a in accounts
                for p in a.positions.values()
                if p.mark is not None
            ),
            tuple((a.account_id, a.gross) for a in accounts if a.positions),
            tuple(self._day_start.items()),
        )

    @classmethod
    def from_state(cls, state: RiskState) -> RiskBook:
        """A new book in ``state``; a reservation, total or value listed twice raises
        PersistenceError naming it."""
        book = cls(state.rules)
        values: dict[tuple[str, str], float] = {}  # (checked against the ledger's positions
        totals: dict[str, float] = {}  # by persistence.check; the loader gives the ledger gross)
        for n, (order_id, account, symbol, side, left, per_unit) in enumerate(state.reservations):
            if order_id in book._orders:
                raise PersistenceError(f"reservations[{n}][0] {order_id!r} is listed twice")
            book._orders[order_id] = _Reservation(account, symbol, side, left, per_unit)
        tables: list[tuple[str, dict[Any, float], int]] = [
            ("pending", book._pending, 3),
            ("reserved", book._reserved, 1),
            ("values", values, 2),
            ("gross", totals, 1),
            ("day_start", book._day_start, 1),
        ]
        for name, table, width in tables:
            for n, row in enumerate(getattr(state, name)):
                key = row[0] if width == 1 else row[:width]
                if key in table:
                    raise PersistenceError(f"{name}[{n}] {list(row[:width])} is listed twice")
                table[key] = row[width]
        book._check_totals()
        return book

    def _check_totals(self) -> None:
        """The working quantities and buying power held must be the reservations' sums
        (what releasing and filling them takes away)."""
        pending: dict[tuple[str, str, int], float] = {}
        owed: dict[str, float] = {}
        for res in self._orders.values():
            key = (res.account, res.symbol, res.side)
            pending[key] = pending.get(key, 0.0) + res.left
            owed[res.account] = owed.get(res.account, 0.0) + res.left * res.per_unit
        for key in pending.keys() | self._pending.keys():
            if not math.isclose(
                pending.get(key, 0.0), self._pending.get(key, -1.0), rel_tol=1e-7, abs_tol=1e-6
            ):
                raise PersistenceError(f"pending {list(key)} is not the sum of the reservations for it")
        for account, value in owed.items():
            if not math.isclose(value, self._reserved.get(account, -1.0), rel_tol=1e-7, abs_tol=1e-6):
                raise PersistenceError(f"reserved of {account!r} is not the sum of its reservations")

    def verdict(
        self,
        account: Account,
        symbol: str,
        side: Side,
        qty: float,
        price: float | None,
        prices: tuple[float | None, float | None, float | None, float | None],
    ) -> tuple[str | None, float]:
        """``(reason, opening qty)`` of ``account``'s order: why it is refused (``None``:
        accepted) and how much of it opens or adds to a position.  ``price`` is what it
        would pay a unit; ``prices`` are its limit, stop, take-profit and stop-loss.

        One call an order: the symbol's rules, the position and the equity are read here,
        the equity only when a rule needs it.
        """
        rules = self.rules
        sym = rules.symbols.get(symbol, rules.default)  # rules.for_symbol(), inline
        if sym.qty_step is not None and not _on_grid(qty, sym.qty_step):
            lower = math.floor(qty / sym.qty_step) * sym.qty_step
            return (
                f"qty {qty:g} is not a multiple of the quantity step {sym.qty_step:g} of {symbol}; "
                f"use {lower:g} or {lower + sym.qty_step:g}.",
                0.0,
            )
        if sym.min_qty is not None and qty < sym.min_qty - _EPS:
            return f"qty {qty:g} is below the minimum quantity {sym.min_qty:g} of {symbol}.", 0.0
        if sym.tick_size is not None:
            for name, value in zip(_PRICES, prices, strict=True):
                if value is not None and not _on_grid(value, sym.tick_size):
                    low = math.floor(value / sym.tick_size) * sym.tick_size
                    return (
                        f"{name} {value:g} is not on the {sym.tick_size:g} tick grid of {symbol}; "
                        f"use {low:.10g} or {low + sym.tick_size:.10g}.",
                        0.0,
                    )
        account_id = account.account_id
        pos = account.positions.get(symbol)
        sign = 1 if side is _BUY else -1
        pending = self._pending.get((account_id, symbol, sign), 0.0)
        base = (pos.qty if pos is not None else 0.0) + sign * pending
        closing = min(qty, abs(base)) if base * sign < 0 else 0.0
        opening = qty - closing
        after = base + sign * qty
        if rules.account == "cash" and after < -_EPS:
            return (
                f"A cash account cannot sell short: this sell would leave {symbol} at {after:g}. "
                "Sell at most what you hold (and have not already offered), or use "
                "RiskRules(account='margin').",
                opening,
            )
        limit = sym.max_position if sym.max_position is not None else rules.max_position
        if limit is not None and opening > _EPS and abs(after) > limit + _EPS:
            return (
                f"The order would take the {symbol} position to {abs(after):g} (counting working "
                f"orders); the maximum is {limit:g}.",
                opening,
            )
        if opening <= _EPS:  # it only reduces a position: no rule below applies
            return None, opening
        # what account.equity().equity is, without building the record
        equity = account.initial_balance + account.realized - account.commission + account.unrealized
        loss_limit = rules.daily_loss_limit
        if loss_limit is not None:
            lost = self._day_start.setdefault(account_id, equity) - equity
            if lost >= loss_limit - _EPS:
                return (
                    f"The daily loss limit of {_money(loss_limit)} is reached ({_money(lost)} lost this "
                    "session); until the session ends only orders that reduce a position are accepted.",
                    opening,
                )
        if rules.buying_power and price is not None:
            need = opening * price
            available = equity * self.leverage - account.gross - self._reserved.get(account_id, 0.0)
            if need > available + 1e-6:
                return (
                    f"The order needs {_money(need)} of buying power ({opening:g} x {price:g}) but only "
                    f"{_money(max(0.0, available))} is available: order less, or BrokerService(risk=None).",
                    opening,
                )
        return None, opening

    # ------------------------------------------------------------------ state

    def margin(self, account: Account, equity: float) -> tuple[float, float]:
        """``(marginUsed, buyingPower)`` for an equity record: the position values over the
        leverage, and equity * leverage - position values - working reservations."""
        held = account.gross
        available = equity * self.leverage - held - self._reserved.get(account.account_id, 0.0)
        return held / self.leverage, max(0.0, available)

    def accept(
        self, order_id: str, account: str, symbol: str, side: int, qty: float, notional: float
    ) -> None:
        """Reserve for a working order (``notional``: the buying power its opening part needs)."""
        res = _new(_Reservation)  # _Reservation(...) written out: its __init__ is a frame an order
        res.account, res.symbol, res.side = account, symbol, side
        res.left, res.per_unit = qty, notional / qty
        self._orders[order_id] = res
        key = (account, symbol, side)
        self._pending[key] = self._pending.get(key, 0.0) + qty
        self._reserved[account] = self._reserved.get(account, 0.0) + notional

    def filled(self, order_id: str, qty: float) -> None:
        """``qty`` of order ``order_id`` filled: release that much of its reservation."""
        res = self._orders.get(order_id)
        if res is not None:
            self._consume(res, min(qty, res.left))
            if res.left <= _EPS:
                del self._orders[order_id]

    @contextlib.contextmanager
    def without(self, order_id: str) -> Iterator[None]:
        """Check as if working order ``order_id`` held nothing, as a modify must: the
        modified order is checked in full.  The book is restored exactly afterwards."""
        res = self._orders.get(order_id)
        if res is None:
            yield
            return
        key = (res.account, res.symbol, res.side)
        pending, reserved = self._pending.get(key), self._reserved.get(res.account)
        self._pending[key] = (pending or 0.0) - res.left
        self._reserved[res.account] = (reserved or 0.0) - res.left * res.per_unit
        try:
            yield
        finally:
            if pending is None:
                self._pending.pop(key, None)
            else:
                self._pending[key] = pending
            if reserved is None:
                self._reserved.pop(res.account, None)
            else:
                self._reserved[res.account] = reserved

    def release(self, order_id: str) -> bool:
        """The order stopped working: give back what it still held (True if that was any)."""
        res = self._orders.pop(order_id, None)
        held = res is not None and res.left * res.per_unit > 0.0
        if res is not None:
            self._consume(res, res.left)
        return held

    def _consume(self, res: _Reservation, qty: float) -> None:
        res.left -= qty
        key = (res.account, res.symbol, res.side)
        left = self._pending[key] - qty
        if left > _EPS:
            self._pending[key] = left
        else:
            del self._pending[key]
        reserved = self._reserved[res.account] - qty * res.per_unit
        self._reserved[res.account] = reserved if reserved > 1e-6 else 0.0

    def new_session(self, equities: Mapping[str, float]) -> None:
        """A session began: the daily loss limit counts from these equities."""
        self._day_start.update(equities)

    def pip_size(self, symbol: str, tick: float) -> float:
        """``symbol``'s pip: its rules' pip or tick size, else the market's tick."""
        sym = self.rules.for_symbol(symbol)
        return sym.pip_size or sym.tick_size or tick
