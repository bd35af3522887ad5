"""Pure accounting: fills in, positions, P&L, balance and equity out.

No asyncio, no broadcasting: the broker asks the ledger what a fill or a new mark price
does and publishes the result.

Rules (per account, one netted position per symbol):

* a fill on the position's side, or on a flat symbol, adds at the weighted average price;
* an opposite fill first closes up to the position's size and realizes
  ``(fill price - avg) * closed * sign``; whatever is left of the fill opens a position on
  the other side at the fill price (a flip);
* ``unrealizedPL = (mark - avg) * signed qty``; the mark is the symbol's last price (the last
  fill in classic mode, the market's price in market mode);
* ``balance = initial balance + realized P&L - commissions``;
  ``equity = balance + unrealized P&L``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated, Any

from ..errors import ConfigurationError, InvalidOrder, InvalidState, PersistenceError, UnknownAccount
from ..models import EquityData, Position, Side
from ..records import read_only_class
from ..statetypes import OMIT_DEFAULT, Finite, NonNegative, Positive

__all__ = [
    "QTY_EPSILON",
    "QTY_RELATIVE",
    "Account",
    "AccountState",
    "Ledger",
    "LedgerState",
    "Marked",
    "PositionRow",
    "PositionState",
    "flat_tolerance",
]

# Enum members as module constants: attribute lookups on enum classes are slow on 3.11.
_BUY = Side.BUY
_SELL = Side.SELL
_POSITION = read_only_class(Position)

# Quantities closer to zero than this are zero: 0.1 + 0.2 - 0.3 must close a position.
QTY_EPSILON = 1e-9
# ... and so is a residue this small against the sizes involved: above about 8.4 million
# units one float step is already larger than QTY_EPSILON, so buying 10,000,000.1 and 0.2
# then selling 10,000,000.3 leaves 1.86e-9 that must read as flat.  1e-14 is about 45 steps.
QTY_RELATIVE = 1e-14


def flat_tolerance(size: float) -> float:
    """How close to zero a quantity left over from ``size`` units counts as zero."""
    tol = size * QTY_RELATIVE
    return tol if tol > QTY_EPSILON else QTY_EPSILON


#: The positions a new mark moved, with their accounts.
Marked = list[tuple["Account", "PositionState"]]
_NOTHING: Marked = []  # shared empty result: never appended to


def _near(a: float, b: float) -> bool:
    """Equal but for rounding: running sums and recomputed ones differ in the last bits."""
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6)


class PositionState:
    """The ledger's own, mutable view of one position (``qty`` is signed)."""

    __slots__ = ("avg", "mark", "qty", "realized", "side", "symbol", "unrealized")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.qty = 0.0
        self.side = _BUY  # of the last non-zero qty: a closed position keeps its side
        self.avg = 0.0
        self.realized = 0.0
        self.unrealized = 0.0
        self.mark: float | None = None

    def snapshot(self) -> Position:
        """The position as a :class:`~paperbroker.models.Position` record of its own."""
        qty = self.qty
        record = Position(
            self.symbol,
            self.symbol,
            qty if qty >= 0 else -qty,
            self.side,
            self.avg,
            self.unrealized,
            self.realized,
            self.mark,
        )
        record.__class__ = _POSITION  # read_only(), inline: it runs per fill
        return record


@dataclass(frozen=True, slots=True)
class PositionRow:
    """A saved position: :class:`PositionState`'s fields (``qty`` signed, never 0)."""

    symbol: str
    qty: Finite
    side: Side
    avg: Positive
    realized: Finite
    unrealized: Finite
    mark: Positive


@dataclass(frozen=True, slots=True)
class AccountState:
    """A saved account: its money and its open positions."""

    id: str
    initial_balance: NonNegative
    realized: Finite
    commission: NonNegative
    unrealized: Finite
    positions: tuple[PositionRow, ...]


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What :meth:`Ledger.state` saves: the accounts, each symbol's mark, and for each
    symbol the order in which accounts came to hold it.

    Which accounts hold a symbol follows from their positions (and is checked against
    them); the order is kept because it is the order of their ``pl`` events on a new mark.
    """

    accounts: tuple[AccountState, ...]
    marks: dict[str, Positive]
    holders: dict[str, tuple[str, ...]]
    #: ``mark="bid_ask"``: each symbol's ask, at which short positions are marked
    #: (``marks`` then holds the bid, at which long ones are)
    short_marks: Annotated[dict[str, Positive], OMIT_DEFAULT] = field(default_factory=dict)


class Account:
    """One account's money and positions."""

    __slots__ = (
        "account_id",
        "commission",
        "gross",
        "initial_balance",
        "positions",
        "realized",
        "unrealized",
    )

    def __init__(self, account_id: str, initial_balance: float) -> None:
        self.account_id = account_id
        self.initial_balance = initial_balance
        self.realized = 0.0
        self.commission = 0.0
        self.unrealized = 0.0
        #: the value of the open positions, ``|qty| x mark`` summed, kept as marks and
        #: fills change it (what margin and buying power read, O(1) however many are held)
        self.gross = 0.0
        self.positions: dict[str, PositionState] = {}

    @property
    def balance(self) -> float:
        """Initial balance + realized P&L - commissions."""
        return self.initial_balance + self.realized - self.commission

    def equity(self) -> EquityData:
        """The account's money as an EquityData record."""
        balance = self.initial_balance + self.realized - self.commission
        return EquityData(balance + self.unrealized, balance, self.unrealized, self.realized, self.commission)

    def set_unrealized(self, pos: PositionState, value: float) -> None:
        """Set ``pos``'s unrealized P&L, keeping the account's total in step."""
        self.unrealized += value - pos.unrealized
        pos.unrealized = value


class Ledger:
    """All accounts, and the mark price of every symbol they trade."""

    __slots__ = ("accounts", "holders", "marks", "short_marks")

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        # each symbol's mark: the last price, or with ``mark="bid_ask"`` the bid, at which
        # long positions are marked, and the ask for short ones (``short_marks``, else empty)
        self.marks: dict[str, float] = {}
        self.short_marks: dict[str, float] = {}
        # symbol -> accounts holding an open position in it, for re-marking on a new price
        self.holders: dict[str, dict[str, Account]] = {}

    def state(self) -> LedgerState:
        """The ledger as plain data (see :class:`LedgerState`)."""
        return LedgerState(
            tuple(
                AccountState(
                    a.account_id,
                    a.initial_balance,
                    a.realized,
                    a.commission,
                    a.unrealized,
                    tuple(
                        PositionRow(p.symbol, p.qty, p.side, p.avg, p.realized, p.unrealized, p.mark)  # type: ignore[arg-type]
                        for p in a.positions.values()
                    ),
                )
                for a in self.accounts.values()
            ),
            dict(self.marks),
            {symbol: tuple(holders) for symbol, holders in self.holders.items()},
            dict(self.short_marks),
        )

    @classmethod
    def from_state(cls, state: LedgerState) -> Ledger:
        """A new ledger in ``state``; raises PersistenceError (naming the field) when the
        state is not one a ledger can be in.  The holders index is rebuilt from the positions."""
        ledger = cls()
        for n, saved in enumerate(state.accounts):
            where = f"accounts[{n}]"
            if saved.id in ledger.accounts:
                raise PersistenceError(f"{where}.id {saved.id!r} is an account listed twice")
            account = Account(saved.id, saved.initial_balance)
            account.realized, account.commission = saved.realized, saved.commission
            account.unrealized = saved.unrealized
            for k, row in enumerate(saved.positions):
                here = f"{where}.positions[{k}]"
                if row.symbol in account.positions:
                    raise PersistenceError(f"{here}.symbol {row.symbol!r} is a position listed twice")
                if row.qty == 0.0 or (row.qty > 0.0) is not (row.side is _BUY):
                    raise PersistenceError(f"{here}.qty {row.qty!r} does not fit its side {int(row.side)}")
                marks = state.short_marks if row.qty < 0.0 else {}  # mark="bid_ask": shorts at the ask
                if row.mark != marks.get(row.symbol, state.marks.get(row.symbol, row.mark)):
                    raise PersistenceError(f"{here}.mark {row.mark!r} is not the mark of {row.symbol!r}")
                if not _near(row.unrealized, (row.mark - row.avg) * row.qty):
                    raise PersistenceError(f"{here}.unrealized {row.unrealized!r} is not (mark - avg) * qty")
                pos = PositionState(row.symbol)
                pos.qty, pos.side, pos.avg = row.qty, row.side, row.avg
                pos.realized, pos.unrealized, pos.mark = row.realized, row.unrealized, row.mark
                account.positions[row.symbol] = pos
                account.gross += abs(row.qty) * row.mark
                ledger.holders.setdefault(row.symbol, {})
            if not _near(saved.unrealized, sum(p.unrealized for p in account.positions.values())):
                raise PersistenceError(f"{where}.unrealized {saved.unrealized!r} is not its positions' sum")
            ledger.accounts[saved.id] = account
        ledger.marks.update(state.marks)
        ledger.short_marks.update(state.short_marks)
        for symbol, ids in state.holders.items():
            held = [a for a in ledger.accounts.values() if symbol in a.positions]
            if not ids or sorted(ids) != sorted(a.account_id for a in held) or len(set(ids)) != len(ids):
                owners = sorted(a.account_id for a in held)
                raise PersistenceError(
                    f"holders[{symbol!r}] {list(ids)} are not the accounts {owners} holding it"
                )
            ledger.holders[symbol] = {i: ledger.accounts[i] for i in ids}
        unlisted = sorted(s for s, h in ledger.holders.items() if not h and s not in state.holders)
        if unlisted:
            raise PersistenceError(f"holders lacks {unlisted[0]!r}, which accounts hold")
        return ledger

    def open_account(self, account_id: object, initial_balance: float) -> Account:
        """Open an account; refuses an id that is not a name, or one already open."""
        if not isinstance(account_id, str) or not account_id.strip():
            msg = f"account_id must be a non-empty string such as 'ALICE', got {account_id!r}."
            raise ConfigurationError(msg)
        if account_id in self.accounts:
            msg = f"Account {account_id!r} is already open; pick another id."
            raise InvalidState(msg)
        account = Account(account_id, initial_balance)
        self.accounts[account_id] = account
        return account

    def account(self, account_id: object) -> Account:
        """The account ``account_id``, or UnknownAccount saying which accounts there are."""
        account = self.accounts.get(account_id) if isinstance(account_id, str) else None
        if account is None:
            known = ", ".join(self.accounts)
            msg = (
                f"There is no account {account_id!r}; open it with "
                f"broker.open_account({account_id!r}) (open accounts: {known})."
            )
            raise UnknownAccount(msg)
        return account

    def market_price(self, symbol: str, side: int, quotes: Any) -> float:
        """Fill price of a classic market order without seenPrice: ask/bid, else last."""
        if quotes is not None:
            return float(quotes.ask if side > 0 else quotes.bid)
        last = self.marks.get(symbol)
        if last is not None:
            return last
        msg = (
            f"No price is known for {symbol!r} yet, so a market order cannot be priced: "
            "give the price it fills at (buy(..., price=...), or seenPrice in a PreOrder) or "
            "place a limit order (limit=...)."
        )
        raise InvalidOrder(msg)

    def apply_fill(
        self, account: Account, symbol: str, side: int, qty: float, price: float, commission: float
    ) -> PositionState:
        """Book a fill and return the position after it (``qty == 0`` when it closed).

        The caller sets the symbol's mark first (:meth:`set_mark`); unrealized P&L is
        computed at that mark, or at the fill price when the symbol has none yet.
        """
        pos = account.positions.get(symbol)
        if pos is None:
            pos = PositionState(symbol)
            account.positions[symbol] = pos
            self.holders.setdefault(symbol, {})[account.account_id] = account
        old = pos.qty
        # its value before the fill, |qty| x mark, for the account's gross (held: it has a mark)
        was = (old if old >= 0.0 else -old) * pos.mark if old else 0.0  # type: ignore[operator]
        delta = qty if side > 0 else -qty
        new = old + delta
        tol = ((old if old >= 0.0 else -old) + qty) * QTY_RELATIVE  # flat_tolerance(), inline
        if tol < QTY_EPSILON:
            tol = QTY_EPSILON
        if -tol < new < tol:
            new = 0.0
        # Signed arithmetic below gives the same floats as working on sizes: negating is
        # exact, and IEEE rounding is symmetric.
        if old == 0.0:  # opens (a fill below QTY_EPSILON leaves it flat, new == 0.0)
            pos.avg = price
            pos.side = _BUY if side > 0 else _SELL
        elif (old > 0.0) is (side > 0):  # adds: weighted average
            pos.avg = (pos.avg * old + price * delta) / new
        else:  # reduces, closes or flips: realize P&L on the closed part only
            if old > 0.0:
                pnl = (price - pos.avg) * (qty if qty < old else old)
            else:
                pnl = (pos.avg - price) * (qty if qty < -old else -old)
            pos.realized += pnl
            account.realized += pnl
            if new != 0.0 and (new > 0.0) is not (old > 0.0):
                pos.avg = price  # flipped: the remainder opens at the fill price
        pos.qty = new
        if new > 0.0:
            pos.side = _BUY
        elif new < 0.0:
            pos.side = _SELL
        account.commission += commission
        mark = self.marks.get(symbol, price)
        if new < 0.0 and self.short_marks:  # mark="bid_ask": a short is marked at the ask
            mark = self.short_marks.get(symbol, mark)
        pos.mark = mark
        unrealized = (mark - pos.avg) * new + 0.0  # + 0.0 turns -0.0 into 0.0
        account.unrealized += unrealized - pos.unrealized
        pos.unrealized = unrealized
        account.gross += (new if new >= 0.0 else -new) * mark - was
        if new == 0.0:
            self._forget(account, pos)
        return pos

    def set_mark(self, symbol: str, price: float, short_price: float | None = None) -> Marked:
        """Mark ``symbol``'s long positions at ``price`` and its short ones at
        ``short_price`` (``mark="bid_ask"``: the bid and the ask; else both at ``price``);
        return the positions whose P&L changed."""
        self.marks[symbol] = price
        if short_price is None:
            short_price = price
        else:
            self.short_marks[symbol] = short_price
        holders = self.holders.get(symbol)
        if not holders:
            return _NOTHING
        changed = []
        for account in holders.values():
            pos = account.positions[symbol]
            qty = pos.qty
            mark = price if qty > 0.0 else short_price
            if pos.mark == mark:
                continue
            # a new mark is a change even when rounding leaves the P&L equal: ``last`` moved
            pos.mark = mark
            value = (mark - pos.avg) * qty + 0.0  # account.set_unrealized, inline: every bar held
            moved = value - pos.unrealized  # (mark - old mark) x qty
            account.unrealized += moved
            pos.unrealized = value
            account.gross += moved if qty > 0.0 else -moved  # |qty| x (mark - old mark)
            changed.append((account, pos))
        return changed

    def _forget(self, account: Account, pos: PositionState) -> None:
        account.set_unrealized(pos, 0.0)
        del account.positions[pos.symbol]
        holders = self.holders[pos.symbol]
        del holders[account.account_id]
        if not holders:
            del self.holders[pos.symbol]
        if not account.positions:  # drop rounding residue once the account is flat
            account.unrealized = account.gross = 0.0
