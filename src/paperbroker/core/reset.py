"""Resetting one account to its start, as a teacher does for a student who wants to begin again.

A reset, in this order:

1. cancels every order of the account that can still fill (working, waiting brackets,
   placing), each broadcast on ``orders`` as Canceled with the reason;
2. closes the account's books without trading: each open position is dropped at no price
   (no execution, no realized P&L) and broadcast once on ``positions`` with ``qty=0``;
3. puts the money back to the account's initial balance: realized P&L, commissions and
   unrealized P&L are zero, and the new equity is booked and broadcast on ``equity``;
4. restarts the account's daily loss count under risk rules;
5. drops the account's executions from the history, as ``history_limit`` drops the
   oldest: the account starts over, with no trades, in ``executions()``, the frames and
   the leaderboard.  (A saved broker is then checked as one whose history was trimmed:
   its books are no longer what every execution adds up to.)

Its orders stay, canceled or filled, and so do its equity rows (the curve shows the
reset).  Other accounts are not touched.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..models import EquityData, OrderStatus

if TYPE_CHECKING:
    from .engine import OrderEngine

__all__ = ["RESET_REASON", "reset_account"]

#: The message of an order cancelled by a reset.
RESET_REASON = "The account was reset to its initial balance."

_OPEN = (OrderStatus.WORKING, OrderStatus.INACTIVE, OrderStatus.PLACING)


def reset_account(engine: OrderEngine, account_id: str) -> EquityData:
    """Reset ``account_id`` as the module docstring says; return its new equity.

    Raises UnknownAccount (changing nothing) for an account the broker does not have."""
    account = engine.ledger.account(account_id)
    hub = engine.hub
    with hub.interrupts_held():  # the whole reset happens, then a subscriber's interrupt
        for order in list(engine.book.of_account(account_id)):
            if order.status in _OPEN:  # a parent's cancel may have cancelled its brackets
                engine.cancel_with(order, RESET_REASON)
        ledger, closed = engine.ledger, []
        for symbol, pos in list(account.positions.items()):
            closed.append(replace(pos.snapshot(), qty=0.0, unrealizedPL=0.0))
            del account.positions[symbol]
            holders = ledger.holders.get(symbol, {})
            holders.pop(account_id, None)
            if not holders:
                ledger.holders.pop(symbol, None)
        account.realized = account.commission = account.unrealized = account.gross = 0.0
        subs = hub.table("positions").get(account_id, [])
        if subs:
            hub.send([(subs, record) for record in closed])
        engine.equity.publish(account)
        if engine.risk is not None:
            engine.risk.new_session({account_id: account.initial_balance})
        _drop_executions(engine, account_id)
    return account.equity()


def _drop_executions(engine: OrderEngine, account_id: str) -> None:
    """Remove the account's rows from the execution log, in place (the engine keeps the
    log's appenders); the log's ``total`` still counts every execution ever made."""
    code = engine.account_codes.find(account_id)
    log = engine.executions
    if code is None or not len(log):
        return
    rows = log.table()
    keep = rows[:, 1] != code
    if keep.all():
        return
    kept_ids = [i for i, k in zip(log.exec_ids, keep, strict=True) if k]
    kept_orders = [i for i, k in zip(log.order_ids, keep, strict=True) if k]
    del log.data[:]
    log.data.frombytes(rows[keep].tobytes())
    log.exec_ids[:] = kept_ids
    log.order_ids[:] = kept_orders
