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
from ..records import read_only
from .history import Codes, EquityLog
from .ledger import Account, PositionState
from .risk import RiskBook

__all__ = ["EquityBook"]


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
        self._codes = self.account_codes.by_name
        self._rows = log.data.frombytes

    def restore(self, log: EquityLog, account_codes: Codes, risk: RiskBook | None) -> None:
        """Book into a loaded broker's equity log, account codes and risk book."""
        self.log, self.account_codes, self.risk = log, account_codes, risk
        self._codes = account_codes.by_name
        self._rows = log.data.frombytes

    def publish(self, account: Account, now: int | None = None) -> None:
        """Book the account's equity row and broadcast it."""
        equity = self.book(account, now)
        if equity is not None:
            self.hub.send(((self._subs[account.account_id], equity),))

    def book(self, account: Account, now: int | None = None) -> EquityData | None:
        """Log the account's equity row; return its EquityData when someone listens."""
        realized = account.realized
        commission = account.commission
        unrealized = account.unrealized
        balance = account.initial_balance + realized - commission
        account_id = account.account_id
        row = (
            self.clock.now_ms() if now is None else now,
            self._codes[account_id],
            balance,
            balance + unrealized,
            realized,
            unrealized,
            commission,
        )
        if not self.one_row_per_tick or not self._overwrite(account_id, row):
            log = self.log
            self._rows(log.pack(*row))
            log.total += 1  # log.added(), inline: it runs per fill
            if len(log.data) >= log.cap:
                log.trim()
        if account_id not in self._subs:
            return None
        data = EquityData(balance + unrealized, balance, unrealized, realized, commission)
        if self.risk is not None:
            data.marginUsed, data.buyingPower = self.risk.margin(account_id, data.equity)
        return read_only(data)

    def _overwrite(self, account_id: str, row: tuple[float, ...]) -> bool:
        """Market mode keeps one equity row per account per tick: the last one wins."""
        log = self.log
        last = self.last_rows.get(account_id)
        if last is not None and last[0] == row[0] and log.replace(last[1], row):
            return True
        self.last_rows[account_id] = (int(row[0]), log.total)
        return False

    def publish_marks(
        self, changed: list[tuple[Account, PositionState]], skip: Account | None = None
    ) -> None:
        """New marks moved these positions: ``pl`` for each, then one ``equity`` per account."""
        accounts: dict[str, Account] = {}
        publish = self.hub.publish
        risk = self.risk
        for account, pos in changed:
            if pos.qty and account is not skip:
                if risk is not None:
                    risk.position(account.account_id, pos.symbol, pos.qty, pos.mark)
                publish("pl", account.account_id, pos.snapshot())
                accounts[account.account_id] = account
        for account in accounts.values():
            self.publish(account)
