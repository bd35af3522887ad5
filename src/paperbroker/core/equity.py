"""Equity: each account's equity rows in the history, and the ``equity`` and ``pl``
broadcasts.

A row is booked whenever an account's money changes (a fill, a new mark, a new account);
in market mode an account keeps one row per tick, the last one of the tick.  An
:class:`~paperbroker.models.EquityData` is built only when someone subscribes.
"""

from __future__ import annotations

from ..clock import Clock
from ..events import TopicHub
from ..models import EquityData
from ..records import read_only_class
from .history import Codes, EquityLog
from .ledger import Account, Marked, PositionState
from .risk import RiskBook

__all__ = ["EquityBook"]

_EQUITY = read_only_class(EquityData)
_new = object.__new__


class EquityBook:
    """Books equity rows and broadcasts ``equity`` and ``pl`` (see the module docstring)."""

    def __init__(self, clock: Clock, hub: TopicHub, log: EquityLog, risk: RiskBook | None) -> None:
        self.clock = clock
        self.hub = hub
        self.log = log
        self.risk = risk
        self.account_codes = Codes()
        #: market mode: one row per account per tick, the last one wins
        self.one_row_per_tick = False
        self.last_rows: dict[str, tuple[int, int]] = {}  # account -> (time, index) of its last row
        self._subs = hub.table("equity")
        self._pl_subs = hub.table("pl")
        self._codes = self.account_codes.by_name
        self._rows = log.data.frombytes
        self._pack = log.pack

    def restore(self, log: EquityLog, account_codes: Codes, risk: RiskBook | None) -> None:
        """Book into a loaded broker's equity log, account codes and risk book."""
        self.log, self.account_codes, self.risk = log, account_codes, risk
        self._codes = account_codes.by_name
        self._rows = log.data.frombytes
        self._pack = log.pack

    def publish(self, account: Account, now: int | None = None) -> None:
        """Book the account's equity row and broadcast it."""
        equity = self.book(account, now)
        if equity is not None:
            self.hub.send(((self._subs[account.account_id], equity),))

    def announce(self, account: Account) -> None:
        """Broadcast the account's equity without booking a row: its buying power moved
        (a working order took or gave back a reservation) while its money did not."""
        subs = self._subs.get(account.account_id)
        if subs:
            money = (account.balance, account.unrealized, account.realized, account.commission)
            self.hub.send(((subs, self._data(account, *money)),))

    def open(self, account: Account) -> None:
        """Book and broadcast a new account's first row, which later rows of the same tick
        never replace: the opening balance stays in the history (and in the equity curve
        of a replay that fills on its first bar, at the same millisecond)."""
        self.publish(account)
        self.last_rows.pop(account.account_id, None)

    def book(self, account: Account, now: int | None = None) -> EquityData | None:
        """Log the account's equity row; return its EquityData when someone listens."""
        realized = account.realized
        commission = account.commission
        unrealized = account.unrealized
        balance = account.initial_balance + realized - commission
        account_id = account.account_id
        if now is None:
            now = self.clock.now_ms()
        code = self._codes[account_id]
        log = self.log
        total = log.total
        if self.one_row_per_tick:  # market mode: one row per account per tick, the last wins
            last = self.last_rows.get(account_id)
            if last is not None and last[0] == now:
                row = (now, code, balance, balance + unrealized, realized, unrealized, commission)
                if log.replace(last[1], row):
                    return self._data(account, balance, unrealized, realized, commission)
            self.last_rows[account_id] = (now, total)
        # the row packed from its numbers (no tuple to unpack): it runs per fill and per bar held
        self._rows(self._pack(now, code, balance, balance + unrealized, realized, unrealized, commission))
        log.total = total + 1  # log.added(), inline
        if len(log.data) >= log.cap:
            log.trim()
        if account_id not in self._subs:  # nobody listens: no record (what _data finds first)
            return None
        return self._data(account, balance, unrealized, realized, commission)

    def _data(
        self, account: Account, balance: float, unrealized: float, realized: float, commission: float
    ) -> EquityData | None:
        """The EquityData of a row just booked, or None when nobody listens."""
        if account.account_id not in self._subs:
            return None
        # EquityData(...) written out: its __init__ is a Python call a fill; every field is
        # set here (tests/test_read_only_records.py compares it with the constructor's)
        data = _new(EquityData)
        data.equity = equity = balance + unrealized
        data.balance = balance
        data.unrealizedPL = unrealized
        data.realizedPL = realized
        data.commission = commission
        if self.risk is None:
            data.marginUsed = data.buyingPower = None
        else:
            data.marginUsed, data.buyingPower = self.risk.margin(account, equity)
        data.__class__ = _EQUITY  # read_only(), inline: it runs per fill
        return data

    def publish_marks(self, changed: Marked, skip: Account | None = None, now: int | None = None) -> None:
        """New marks moved these positions: ``pl`` for each, then one ``equity`` per account
        (its row booked at ``now``, default the clock's time).

        A position's ``pl`` record is built only when the account has ``pl`` subscribers.
        """
        if len(changed) == 1:  # one position (one symbol held): no accounts to collect
            account, pos = changed[0]
            if pos.qty and account is not skip:  # _moved and publish, inline: every bar held
                pl = self._pl_subs.get(account.account_id)
                if pl:
                    self.hub.send(((pl, pos.snapshot()),))
                equity = self.book(account, now)
                if equity is not None:
                    self.hub.send(((self._subs[account.account_id], equity),))
            return
        accounts: dict[str, Account] = {}
        for account, pos in changed:
            if pos.qty and account is not skip:
                self._moved(account, pos)
                accounts[account.account_id] = account
        for account in accounts.values():
            self.publish(account, now)

    def _moved(self, account: Account, pos: PositionState) -> None:
        """A mark moved ``pos``: ``pl`` when someone listens."""
        subs = self._pl_subs.get(account.account_id)
        if subs:
            self.hub.send(((subs, pos.snapshot()),))
