"""Brackets: take-profit and stop-loss orders that protect a position (TradingView rules).

An order placed with ``takeProfit`` and/or ``stopLoss`` (or ``trailingStopPips``) gets
child orders on the other side: a Limit at the take-profit and a Stop at the stop-loss
(a trailing stop when ``trailingStopPips`` is given), with status Inactive,
``parentId`` = the order and ``parentType`` = Order.  When the parent fills (its first
fill arms them) they become Working, linked to the position (``parentId`` = the position
id, ``parentType`` = Position) and replace the position's earlier brackets.  From then on:

* their qty follows the position's (a bracket always closes exactly what is held);
* when the position closes, by a bracket (one-cancels-other) or by any other order, the
  remaining brackets are cancelled; when it reverses they are cancelled too;
* cancelling a parent cancels its inactive brackets.

:func:`check_sides` refuses brackets on the wrong side of the reference price: for a buy
(a long position) the take-profit must be above it and the stop-loss below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from ..errors import InvalidOrder, PersistenceError
from ..market.slippage import round_to_tick
from ..models import OrderStatus, OrderType, ParentType, PlacedOrder, Position, Side

__all__ = ["BracketHost", "Brackets", "BracketsState", "check_sides", "trail_from"]

_EPS = 1e-9
_POSITION = ParentType.POSITION
_TP, _SL = "takeProfit", "stopLoss"


def check_sides(side: Side, ref: float | None, tp: float | None, sl: float | None, what: str) -> None:
    """Raise InvalidOrder when a bracket is on the wrong side of ``ref`` (the entry price)."""
    if ref is None:
        return
    long = side is Side.BUY
    word = "buy" if long else "sell"
    if tp is not None and (tp <= ref if long else tp >= ref):
        where = "above" if long else "below"
        msg = (
            f"The take profit {tp:g} (take_profit=, or takeProfit) of {what} must be {where} "
            f"{ref:g} for a {word}: it takes the profit of a move {where} that price."
        )
        raise InvalidOrder(msg)
    if sl is not None and (sl >= ref if long else sl <= ref):
        where = "below" if long else "above"
        msg = (
            f"The stop loss {sl:g} (stop_loss=, or stopLoss) of {what} must be {where} {ref:g} for a {word}: "
            f"it limits the loss of a move {where} that price."
        )
        raise InvalidOrder(msg)


def trail_from(price: float, side: Side, pips: float, grid: tuple[float, float]) -> float:
    """A stop ``pips`` pips (``grid`` = (pip size, tick size)) on the losing side of ``price``
    for a position on ``side``, on the tick grid."""
    pip, tick = grid
    return round_to_tick(price - pips * pip if side is Side.BUY else price + pips * pip, tick)


class BracketHost(Protocol):
    """What the brackets need from the broker: making and changing their child orders."""

    def new_child(
        self,
        account_id: str,
        symbol: str,
        kind: OrderType,
        side: Side,
        qty: float,
        price: float,
        parent_id: str,
        parent_type: ParentType,
        trailing_pips: float | None,
    ) -> PlacedOrder:
        """Create an Inactive child order (broadcast when its parent is an order)."""

    def activate(self, order: PlacedOrder, account_id: str) -> None:
        """Make an Inactive child Working; it fills at once if the quote already touches it."""

    def cancel_with(self, order: PlacedOrder, reason: str) -> PlacedOrder:
        """Cancel a child, with ``reason`` as its message."""

    def resized(self, order: PlacedOrder, account_id: str) -> None:
        """A child's qty was changed: broadcast it."""

    def reprice(self, order: PlacedOrder, account_id: str, price: float, trailing_pips: float | None) -> None:
        """Move a child to ``price`` (and trailing distance)."""


class _Unbound:
    """The host of brackets not wired to a broker yet: any use is a wiring mistake."""

    def __getattr__(self, name: str) -> object:
        msg = "These brackets are not bound to a broker; call Brackets.bind(host) first."
        raise RuntimeError(msg)


Role = Literal["takeProfit", "stopLoss"]


@dataclass(frozen=True, slots=True)
class BracketsState:
    """What :meth:`Brackets.state` saves: for each parent order (its children still
    Inactive) and each ``(account, symbol)`` position (its children Working), the children
    by role, as ``(role, order id)``.  Which parent a child has is rebuilt from these."""

    parents: tuple[tuple[str, tuple[tuple[Role, str], ...]], ...]
    positions: tuple[tuple[str, str, tuple[tuple[Role, str], ...]], ...]


class Brackets:
    """The registry of bracket orders and their rules (see the module docstring)."""

    def __init__(self) -> None:
        self._host: BracketHost = _Unbound()  # type: ignore[assignment]
        self._inactive: dict[str, dict[str, PlacedOrder]] = {}  # parent id -> role -> child
        self._position: dict[tuple[str, str], dict[str, PlacedOrder]] = {}  # (account, symbol) -> ...
        self._owner: dict[str, tuple[str, str | tuple[str, str]]] = {}  # child id -> (role, owner)
        self.count = 0

    def __len__(self) -> int:
        return len(self._owner)

    def bind(self, host: BracketHost) -> None:
        """Give the brackets the host that makes and changes their orders."""
        self._host = host

    def state(self) -> BracketsState:
        """The registry as plain data (see :class:`BracketsState`)."""
        return BracketsState(
            tuple((p, tuple((r, c.id) for r, c in ch.items())) for p, ch in self._inactive.items()),  # type: ignore[misc]
            tuple((a, s, tuple((r, c.id) for r, c in ch.items())) for (a, s), ch in self._position.items()),  # type: ignore[misc]
        )

    @classmethod
    def from_state(
        cls, state: BracketsState, host: BracketHost, orders: Mapping[str, PlacedOrder]
    ) -> Brackets:
        """A new registry in ``state``, over the book's ``orders``; raises PersistenceError
        naming the field when a parent or child is not saved, a child is not Inactive (of an
        order) or Working (of a position) or has another parent, or one is listed twice."""
        brackets = cls()
        brackets.bind(host)
        owners: list[tuple[str, str | tuple[str, str], tuple[tuple[Role, str], ...], int]]
        owners = [(f"parents[{n}]", p, ch, 1) for n, (p, ch) in enumerate(state.parents)]
        owners += [(f"positions[{n}]", (a, s), ch, 2) for n, (a, s, ch) in enumerate(state.positions)]
        for where, owner, children, column in owners:
            status = OrderStatus.INACTIVE if column == 1 else OrderStatus.WORKING
            if (isinstance(owner, str) and owner not in orders) or owner in brackets._table(owner):
                raise PersistenceError(f"{where} {owner!r} is not a saved order, or is listed twice")
            for k, (role, child_id) in enumerate(children):
                child = orders.get(child_id)
                taken = child_id in brackets._owner or role in brackets._table(owner).get(owner, {})
                if child is None or child.status is not status or taken:
                    raise PersistenceError(
                        f"{where}[{column}][{k}] {child_id!r} must be a saved {status.label.lower()} "
                        "order, listed once"
                    )
                if isinstance(owner, str) and child.parentId != owner:
                    raise PersistenceError(f"{where}[{column}][{k}] {child_id!r} has another parent")
                brackets._register(child, role, owner)
        return brackets

    def _table(self, owner: str | tuple[str, str]) -> dict[str | tuple[str, str], dict[str, PlacedOrder]]:
        return self._inactive if isinstance(owner, str) else self._position  # type: ignore[return-value]

    def _register(self, child: PlacedOrder, role: str, owner: str | tuple[str, str]) -> None:
        self._table(owner).setdefault(owner, {})[role] = child
        self._owner[child.id] = (role, owner)
        self.count = len(self._owner)

    def _unregister(self, child_id: str) -> None:
        entry = self._owner.pop(child_id, None)
        self.count = len(self._owner)
        if entry is None:
            return
        role, owner = entry
        table = self._table(owner)
        children = table.get(owner)
        if children is not None:
            children.pop(role, None)
            if not children:
                del table[owner]

    def position_brackets(self, account_id: str, symbol: str) -> list[PlacedOrder]:
        """The Working brackets of an account's position in ``symbol``."""
        return list(self._position.get((account_id, symbol), {}).values())

    def children_of(self, parent_id: str) -> list[PlacedOrder]:
        """The Inactive brackets of order ``parent_id``."""
        return list(self._inactive.get(parent_id, {}).values())

    # ------------------------------------------------------------------ placing

    @staticmethod
    def _stop_of(parent: PlacedOrder, ref: float | None, grid: tuple[float, float]) -> float | None:
        """The stop-loss price: given, or ``trailingStopPips`` away from ``ref``."""
        pips = parent.trailingStopPips
        if parent.stopLoss is not None or pips is None or ref is None:
            return parent.stopLoss
        return trail_from(ref, parent.side, pips, grid)

    def attach(
        self,
        parent: PlacedOrder,
        account_id: str,
        ref: float | None,
        grid: tuple[float, float],
        only: tuple[str, ...] = (_TP, _SL),
    ) -> None:
        """Create the Inactive children of a just-placed ``parent`` (the roles in ``only``)."""
        prices = {_TP: parent.takeProfit, _SL: self._stop_of(parent, ref, grid)}
        for role, kind in ((_TP, OrderType.LIMIT), (_SL, OrderType.STOP)):
            price = prices[role]
            if price is None or role not in only:
                continue
            pips = parent.trailingStopPips if role == _SL else None
            child = self._host.new_child(
                account_id,
                parent.symbol,
                kind,
                parent.side.opposite,
                parent.qty,
                price,
                parent.id,
                ParentType.ORDER,
                pips,
            )
            self._register(child, role, parent.id)

    def parent_changed(
        self, parent: PlacedOrder, account_id: str, ref: float | None, grid: tuple[float, float]
    ) -> None:
        """The parent's brackets were modified: create, move or cancel its inactive children."""
        children = self._inactive.get(parent.id, {})
        wanted = {_TP: parent.takeProfit, _SL: self._stop_of(parent, ref, grid)}
        for role, child in list(children.items()):
            price = wanted[role]
            if price is None:
                self._unregister(child.id)
                self._host.cancel_with(child, f"Its parent {parent.id} no longer has a {role}.")
            else:
                child.qty = parent.qty
                self._host.reprice(child, account_id, price, parent.trailingStopPips if role == _SL else None)
        missing = tuple(r for r in (_TP, _SL) if wanted[r] is not None and r not in children)
        if missing:
            self.attach(parent, account_id, ref, grid, missing)

    # ------------------------------------------------------------------ events

    def after_fill(self, order: PlacedOrder, account_id: str, position: Position) -> None:
        """Arm a filled parent's brackets and keep the position's brackets in step."""
        by_bracket = order.id in self._owner
        if by_bracket and order.status is OrderStatus.FILLED:
            self._unregister(order.id)
        children = self._inactive.pop(order.id, None)
        if children is not None:
            for child in children.values():
                self._owner.pop(child.id, None)
            self.count = len(self._owner)
            if self._arm(order, account_id, position, children):
                # armed at the position's qty; a child that filled on arming kept them in
                # step itself, so ``position`` (from before those fills) must not resize them
                return
        self.sync(account_id, position, order if by_bracket else None)

    def _arm(
        self, parent: PlacedOrder, account_id: str, position: Position, children: dict[str, PlacedOrder]
    ) -> bool:
        """Arm ``children`` for the position; False (and cancel them) when the parent's
        fill did not leave a position on its side."""
        if position.qty <= _EPS or position.side is not parent.side:
            for child in children.values():
                self._host.cancel_with(child, f"Its parent {parent.id} did not open a position on its side.")
            return False
        key = (account_id, position.symbol)
        for old in list(self._position.get(key, {}).values()):
            self._unregister(old.id)
            self._host.cancel_with(old, f"Replaced by the brackets of {parent.id}.")
        for role, child in children.items():
            child.parentId = position.id
            child.parentType = _POSITION
            child.qty = position.qty
            self._register(child, role, key)
        # armed like any new order, so one the quote already touches fills at once; when it
        # closes the position, its sibling is cancelled (one-cancels-other) and not armed
        for child in children.values():
            if child.status is OrderStatus.INACTIVE:
                self._host.activate(child, account_id)
        return True

    def sync(self, account_id: str, position: Position, cause: PlacedOrder | None = None) -> None:
        """Match the position's brackets to its qty, or cancel them when it closed or reversed
        (``cause``: the bracket whose fill closed it)."""
        key = (account_id, position.symbol)
        brackets = self._position.get(key)
        if not brackets:
            return
        closed = position.qty <= _EPS
        for child in list(brackets.values()):
            if not closed and child.side is not position.side:
                wanted = child.filledQty + position.qty
                if abs(child.qty - wanted) > _EPS:
                    child.qty = wanted
                    self._host.resized(child, account_id)
                continue
            self._unregister(child.id)
            if closed and cause is not None:
                reason = f"One-cancels-other: {cause.id} closed the position."
            elif closed:
                reason = "The position was closed."
            else:
                reason = "The position reversed; its brackets no longer apply."
            self._host.cancel_with(child, reason)

    def done(self, order: PlacedOrder) -> None:
        """``order`` stopped working without filling (cancelled, expired, rejected)."""
        self._unregister(order.id)
        for child in self._inactive.pop(order.id, {}).values():
            self._owner.pop(child.id, None)
            self._host.cancel_with(child, f"Its parent {order.id} was {order.status.label.lower()}.")
        self.count = len(self._owner)

    def edit_position(
        self,
        account_id: str,
        position: Position,
        tp: float | None,
        sl: float | None,
        pips: float | None,
        grid: tuple[float, float],
    ) -> list[PlacedOrder]:
        """Set the position's brackets: create, move or cancel each; return them."""
        key = (account_id, position.symbol)
        current = dict(self._position.get(key, {}))
        mark = position.last if position.last is not None else position.avgPrice
        if sl is None and pips is not None:
            sl = trail_from(mark, position.side, pips, grid)
        side = position.side.opposite
        for role, price, kind in ((_TP, tp, OrderType.LIMIT), (_SL, sl, OrderType.STOP)):
            child = current.get(role)
            trail = pips if role == _SL else None
            if price is None:
                if child is not None:
                    self._unregister(child.id)
                    self._host.cancel_with(child, f"The position's {role} was removed.")
            elif child is None:
                child = self._host.new_child(
                    account_id,
                    position.symbol,
                    kind,
                    side,
                    position.qty,
                    price,
                    position.id,
                    _POSITION,
                    trail,
                )
                self._register(child, role, key)
                self._host.activate(child, account_id)
            else:
                self._host.reprice(child, account_id, price, trail)
        return self.position_brackets(account_id, position.symbol)
