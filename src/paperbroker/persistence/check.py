"""The checks of a saved broker that span sections, run on the typed document before
anything is built.

What one component's state must be on its own is checked by its ``from_state`` (an order
listed twice as working, a position whose quantity does not fit its side ...); what ties
sections together is checked here: every account, order, symbol code and id counter that
one section names must be one that another section holds.  Each check raises
:class:`~paperbroker.persistence.decode.FieldError` naming the field by its path in the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..core.history import EquityLog, ExecutionLog, LogState
from ..core.ledger import Ledger
from ..core.orders import ORDER_ID
from ..models import OrderStatus, PlacedOrder
from .decode import FieldError
from .schema import Document, History

__all__ = ["check_document"]

_EXEC_ID = re.compile(r"EXEC-([1-9][0-9]*)")


def check_document(doc: Document) -> None:
    """Raise PersistenceError for the first reference in ``doc`` that does not resolve."""
    accounts = {account.id for account in doc.ledger.accounts}
    orders = {order.id: order for _, order in doc.orders.orders}
    _check_orders(doc, accounts)
    _check_history(doc.history, accounts, doc.settings.exec_seq, doc.settings.order_seq)
    _check_books(doc)
    _check_money(doc)
    if doc.market is None and (doc.settings.mark != "last" or doc.ledger.short_marks):
        raise FieldError("settings.mark 'bid_ask' (or ledger.short_marks) needs a market section")
    if doc.risk is not None:
        _known(doc.risk.accounts(), accounts, "risk")
        _check_values(doc)
        for n, row in enumerate(doc.risk.reservations):
            _working(orders, row[0], f"risk.reservations[{n}][0]", "holds buying power")
    if doc.brackets is not None:
        owners = ((f"positions[{n}][0]", account) for n, (account, _, _) in enumerate(doc.brackets.positions))
        _known(owners, accounts, "brackets")
    if doc.session is not None:
        seen: set[str] = set()
        for n, order_id in enumerate(doc.session.day_orders):
            where = f"session.day_orders[{n}]"
            order = _working(orders, order_id, where, "is a day order")
            if order.duration is None or order.duration.type != "DAY" or order_id in seen:
                raise FieldError(f"{where} {order_id!r} is not a working day order listed once")
            seen.add(order_id)
    if doc.market is not None:
        market = doc.market
        if len(set(market.symbols)) != len(market.symbols):
            raise FieldError(f"market.symbols {list(market.symbols)} lists a symbol twice")
        rows = doc.history.equity.total
        for n, (account, _, number) in enumerate(market.last_equity):
            _known([(f"last_equity[{n}][0]", account)], accounts, "market")
            if number >= rows:
                raise FieldError(f"market.last_equity[{n}][2] {number} is not one of the {rows} equity rows")


def _known(names: Iterable[tuple[str, str]], accounts: set[str], section: str) -> None:
    for where, account in names:
        if account not in accounts:
            raise FieldError(f"{section}.{where} {account!r} is an account that is not saved")


def _working(orders: Mapping[str, PlacedOrder], order_id: str, where: str, what: str) -> PlacedOrder:
    order = orders.get(order_id)
    if order is None or order.status is not OrderStatus.WORKING:
        state = "not saved" if order is None else order.status.label.lower()
        raise FieldError(f"{where} {order_id!r} {what} but is {state}")
    return order


def _number(pattern: re.Pattern[str], text: str) -> int | None:
    match = pattern.fullmatch(text)
    return None if match is None else int(match.group(1))


def _check_orders(doc: Document, accounts: set[str]) -> None:
    last = doc.settings.order_seq
    for n, (account, order) in enumerate(doc.orders.orders):
        where = f"orders.orders[{n}]"
        if account not in accounts:
            raise FieldError(f"{where}[0] {account!r} is an account that is not saved")
        number = _number(ORDER_ID, order.id)
        if number is not None and number > last:
            raise FieldError(
                f"settings.order_seq {last} would give the id of the saved order {order.id!r} again"
            )
        if order.filledQty > order.qty * (1 + 1e-9) + 1e-9:
            raise FieldError(f"{where}[1].filledQty {order.filledQty!r} is more than its qty {order.qty!r}")
        if order.filledQty > 0 and order.avgPrice is None:
            raise FieldError(f"{where}[1].avgPrice must be a number > 0 once it has filled, got None")


def _rows(log: LogState, name: str) -> np.ndarray:
    width = len(log.columns)
    if len(log.data) % width:
        raise FieldError(f"history.{name}.data must hold whole rows of {width} numbers")
    return log.data.reshape(-1, width)


def _codes(column: np.ndarray, names: tuple[str, ...], where: str, what: str) -> None:
    ok = (column >= 0) & (column < len(names)) & (column == np.floor(column))
    if not ok.all():
        row = int(np.argmin(ok))
        code = float(column[row])
        raise FieldError(
            f"{where} row {row} has the {what} code {code:g}, but only {len(names)} {what}s are saved"
        )


def _check_history(history: History, accounts: set[str], exec_seq: int, order_seq: int) -> None:
    if set(history.accounts) != accounts:
        missing = sorted(accounts.symmetric_difference(history.accounts))
        raise FieldError(
            f"history.accounts {list(history.accounts)} are not the saved accounts ({missing[0]!r})"
        )
    for name, log, kind in (
        ("executions", history.executions, ExecutionLog),
        ("equity", history.equity, EquityLog),
    ):
        if log.columns != kind.columns:
            raise FieldError(f"history.{name}.columns must be {list(kind.columns)}, got {list(log.columns)}")
        rows = _rows(log, name)
        if not np.isfinite(rows).all():
            row = int(np.argmin(np.isfinite(rows).all(axis=1)))
            raise FieldError(f"history.{name}.data row {row} holds a number that is not finite")
        column = {c: rows[:, k] for k, c in enumerate(log.columns)}
        where = f"history.{name}.data"
        _codes(column["account"], history.accounts, where, "account")
        if (column["time"] < 0).any():
            raise FieldError(f"{where} holds a time before 1970")
        if name == "executions":
            _codes(column["symbol"], history.symbols, where, "symbol")
            bad = ~np.isin(column["side"], (1.0, -1.0)) | ~(column["qty"] > 0) | ~(column["price"] > 0)
            bad |= ~(column["commission"] >= 0)
            if bad.any():
                row = int(np.argmax(bad))
                raise FieldError(f"{where} row {row} must have a side of 1 or -1, a qty and price > 0")
            _check_ids(log, exec_seq, order_seq)


def _near(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-6)


def _check_values(doc: Document) -> None:
    """The risk section's position values and their sums must be the ledger's positions'
    ``|qty| x mark``, but for rounding (``gross`` is the running sum the loaded ledger
    takes).  An account listed with 0 and no positions is what earlier versions wrote."""
    assert doc.risk is not None
    want: dict[Any, float] = {
        (a.id, p.symbol): abs(p.qty) * p.mark for a in doc.ledger.accounts for p in a.positions
    }
    totals: dict[Any, float] = {}
    for (account, _), value in want.items():
        totals[account] = totals.get(account, 0.0) + value
    values: dict[Any, float] = {(a, s): v for a, s, v in doc.risk.values}
    for name, rows, expected in (("values", values, want), ("gross", dict(doc.risk.gross), totals)):
        for key in rows.keys() | expected.keys():
            if not _near(rows.get(key, 0.0), expected.get(key, 0.0)):
                shown = list(key) if isinstance(key, tuple) else [key]
                raise FieldError(
                    f"risk.{name} {shown} is not the value of the ledger's positions "
                    f"({expected.get(key, 0.0)!r}, |qty| x mark)"
                )


def _check_books(doc: Document) -> None:
    """When every execution is still kept, the ledger and the orders' fills must be what
    the executions add up to (the ledger's own rules, replayed)."""
    log = doc.history.executions
    if log.total != len(log.data) // len(log.columns):
        return  # the oldest were dropped (history_limit): the books cannot be replayed
    replay = Ledger()
    for saved in doc.ledger.accounts:
        if saved.id not in replay.accounts:  # one listed twice is refused by Ledger.from_state
            replay.open_account(saved.id, saved.initial_balance)
    filled: dict[str, float] = {}
    names, symbols = doc.history.accounts, doc.history.symbols
    for (_, account, symbol, side, qty, price, fee), order_id in zip(
        _rows(log, "executions").tolist(), log.strings[1], strict=True
    ):
        name = symbols[int(symbol)]
        replay.marks[name] = price
        replay.apply_fill(replay.accounts[names[int(account)]], name, int(side), qty, price, fee)
        filled[order_id] = filled.get(order_id, 0.0) + qty
    for n, saved in enumerate(doc.ledger.accounts):
        where = f"ledger.accounts[{n}]"
        want = replay.accounts[saved.id]
        for field in ("realized", "commission"):
            if not _near(getattr(saved, field), getattr(want, field)):
                raise FieldError(
                    f"{where}.{field} {getattr(saved, field)!r} is not what its executions add up to"
                )
        held = {p.symbol: p for p in saved.positions}
        if held.keys() != want.positions.keys():
            raise FieldError(f"{where}.positions {sorted(held)} are not what its executions leave open")
        for k, pos in enumerate(saved.positions):
            other = want.positions[pos.symbol]
            for field in ("qty", "avg", "realized"):
                if not _near(getattr(pos, field), getattr(other, field)):
                    value = getattr(pos, field)
                    raise FieldError(
                        f"{where}.positions[{k}].{field} {value!r} is not what its executions add up to"
                    )
    for n, (_, order) in enumerate(doc.orders.orders):
        if not _near(order.filledQty, filled.get(order.id, 0.0)):
            raise FieldError(
                f"orders.orders[{n}][1].filledQty {order.filledQty!r} is not its executions' sum"
            )


def _check_money(doc: Document) -> None:
    """An account's money must be what its last equity row says: every change of it books
    a row, so a balance, P&L or commission that differs was changed in the file (the
    initial balance is the one figure the executions cannot check)."""
    rows = _rows(doc.history.equity, "equity")
    # each account code's last row, in one pass: the first of each code in the reversed rows
    codes, first = np.unique(rows[::-1, 1], return_index=True)
    last = dict(zip(codes.astype(int).tolist(), (len(rows) - 1 - first).tolist(), strict=True))
    code_of = {name: code for code, name in enumerate(doc.history.accounts)}
    for n, saved in enumerate(doc.ledger.accounts):
        row = last.get(code_of[saved.id])
        if row is None:
            continue  # no rows, or its rows were dropped (history_limit)
        _, _, balance, _, realized, _, commission = rows[row].tolist()
        for field, value, fits in (
            (
                "initial_balance",
                saved.initial_balance,
                _near(saved.initial_balance + saved.realized - saved.commission, balance),
            ),
            ("realized", saved.realized, _near(saved.realized, realized)),
            ("commission", saved.commission, _near(saved.commission, commission)),
        ):
            if not fits:
                raise FieldError(
                    f"ledger.accounts[{n}].{field} {value!r} does not fit the account's last equity "
                    f"row (history.equity.data row {row}: balance {balance!r}, realized {realized!r}, "
                    f"commission {commission!r}; balance = initial_balance + realized - commission)"
                )


def _check_ids(log: LogState, exec_seq: int, order_seq: int) -> None:
    rows = len(log.data) // len(log.columns)
    if len(log.strings) != 2 or any(len(column) != rows for column in log.strings):
        raise FieldError(f"history.executions.strings must be 2 columns of {rows} ids, one per row")
    seen: set[str] = set()
    for n, exec_id in enumerate(log.strings[0]):
        number = _number(_EXEC_ID, exec_id)
        where = f"history.executions.strings[0][{n}]"
        if number is None or exec_id in seen:
            raise FieldError(f"{where} {exec_id!r} must be an EXEC-<number> listed once")
        if number > exec_seq:
            raise FieldError(f"settings.exec_seq {exec_seq} would give the id {exec_id!r} again")
        seen.add(exec_id)
    for n, order_id in enumerate(log.strings[1]):
        number = _number(ORDER_ID, order_id)
        if number is None or number > order_seq:
            where = f"history.executions.strings[1][{n}]"
            raise FieldError(f"{where} {order_id!r} is not an order id the broker has given")
