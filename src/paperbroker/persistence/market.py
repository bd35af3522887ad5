"""The sections of a saved broker that hold what goes beyond the order book and the ledger.

Each is written only when the broker uses it, so a file of a plain classic broker has only
the five sections of :mod:`paperbroker.persistence`:

* ``market`` - the price source (:mod:`paperbroker.persistence.sources`), the slippage
  model, and the matching state: each symbol's quote and the size left on it this tick,
  which stops have triggered, and the resting orders with their time priority, trailing
  distance and time in force.  The per-symbol heaps and queues are not written: loading
  files the resting orders again, in the order they were filed, which rebuilds them;
* ``risk`` - the :class:`~paperbroker.core.risk.RiskRules` and the state behind them: what each
  working order reserves, the position values, and each account's equity at the start of
  the session (from which the daily loss limit counts);
* ``brackets`` - which orders are the take-profit and stop-loss of which parent order
  (still Inactive) or position (Working);
* ``session`` - time in force: the working day orders, in the order they expire.  Its
  presence also says that the broker does that bookkeeping on every order event.

Readers raise ``ValueError`` (or ``KeyError`` ...) for content that does not fit; the
loader reports it as a damaged file.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..clock import SimClock
from ..core.risk import RiskBook, RiskRules, SymbolRules, _Reservation
from ..errors import PersistenceError
from ..market.slippage import Slippage
from ..market.source import MarketSource
from ..models import OrderStatus, PlacedOrder
from .codec import count, number, pack, unpack
from .sources import dump_slippage, dump_source, load_quotes, load_slippage, load_source

if TYPE_CHECKING:
    from ..parts import BrokerParts

__all__ = [
    "dump_brackets",
    "dump_market",
    "dump_risk",
    "dump_session",
    "join_market",
    "load_brackets",
    "load_matching",
    "load_risk",
    "load_session",
]

_ROLES = ("takeProfit", "stopLoss")


def _order(parts: BrokerParts, order_id: object, status: OrderStatus, what: str) -> PlacedOrder:
    """The saved order ``order_id``, which must have ``status`` to be ``what``."""
    order = parts.engine.book.orders[order_id]  # type: ignore[index]
    if order.status is not status:
        msg = f"order {order_id!r} is listed as {what} but is {order.status.label.lower()}"
        raise ValueError(msg)
    return order


def _account(parts: BrokerParts, account_id: object) -> str:
    if account_id not in parts.engine.ledger.accounts:
        msg = f"the account {account_id!r} is not saved"
        raise ValueError(msg)
    return account_id


def _side(value: object) -> int:
    if value not in (1, -1) or isinstance(value, bool):
        msg = f"expected a side (1 or -1), got {value!r}"
        raise ValueError(msg)
    return value


# ---------------------------------------------------------------------- market

_QUOTES = ("bid", "ask", "avail_buy", "avail_sell")


def dump_market(parts: BrokerParts) -> dict[str, Any] | None:
    venue = parts.venue
    if venue is None:
        return None
    matcher = venue.matcher
    entries = sorted(matcher._entries.values(), key=lambda entry: entry.uid)  # as filed
    pending = [[i, [e.order.id for e in waiting if e.alive]] for i, waiting in matcher.pending.items()]
    return {
        "version": 1,
        "symbols": list(venue.source.symbols),
        "source": dump_source(venue.source),
        "slippage": dump_slippage(matcher._slip),
        "matcher": {
            "symbols": len(matcher.books),
            **{name: pack(getattr(matcher, name)) for name in _QUOTES},
            "seq": matcher._seq,
            "triggered": sorted(matcher._triggered),
            "entries": [[e.order.id, e.i, e.seq, e.trail, e.ioc, e.fok] for e in entries],
            "pending": pending,
        },
        "ticks": venue.ticks,
        "last_equity": [
            [account, time, row] for account, (time, row) in parts.engine.equity.last_rows.items()
        ],
    }


def join_market(
    parts: BrokerParts,
    saved: dict[str, Any],
    *,
    market: MarketSource | None = None,
    slippage: Slippage | None = None,
) -> None:
    """Give the new broker its market: the saved source (or ``market``) and slippage model.

    Runs before the ledger is read back: joining marks the source's quotes in the ledger,
    which the saved marks then replace.
    """
    symbols = saved["symbols"]
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        msg = f"the market's symbols must be a list of names, got {symbols!r}"
        raise ValueError(msg)
    if not isinstance(parts.clock, SimClock):
        msg = (
            f"Market mode runs on a simulated clock, but the clock given to load() is "
            f"{parts.clock!r}; pass a pb.SimClock or leave clock= out."
        )
        raise PersistenceError(msg)
    source = load_source(saved["source"], symbols) if market is None else market
    model = load_slippage(saved["slippage"]) if slippage is None else slippage
    if market is not None:
        for i, symbol in enumerate(symbols):
            if market.ensure_symbol(symbol) != i:
                msg = (
                    f"The price source passed to load() does not quote {symbol!r} as symbol "
                    f"number {i}; the saved market's symbols are {symbols}. Pass a source with "
                    "these symbols, in this order."
                )
                raise PersistenceError(msg)
    parts.join_market(source, model)
    load_quotes(source, saved["source"]["quotes"])  # after joining, which stamps them


def load_matching(parts: BrokerParts, saved: dict[str, Any]) -> None:
    """File the resting orders again (the orders are back by now) and restore the quotes
    they were matched against."""
    venue = parts.venue
    assert venue is not None  # joined by join_market
    matcher = venue.matcher
    state = saved["matcher"]
    n = count(state["symbols"])
    if n > len(venue.source.tick_sizes):
        msg = f"the matcher has {n} symbols but the market only {len(venue.source.tick_sizes)}"
        raise ValueError(msg)
    matcher.grow(venue.source.tick_sizes[:n])
    for name in _QUOTES:
        getattr(matcher, name)[:n] = unpack(state[name], n).tolist()
    matcher._seq = count(state["seq"])
    for order_id, i, seq, trail, ioc, fok in state["entries"]:
        order = _order(parts, order_id, OrderStatus.WORKING, "resting in the market")
        if not (isinstance(i, int) and 0 <= i < n and venue.source.index.get(order.symbol) == i):
            msg = f"order {order_id!r} rests under symbol number {i!r}, not under {order.symbol!r}"
            raise ValueError(msg)
        if not (isinstance(ioc, bool) and isinstance(fok, bool)):
            msg = f"the time in force of order {order_id!r} in the market is not true/false"
            raise ValueError(msg)
        if order_id in state["triggered"]:
            matcher._triggered.add(order_id)
        entry = matcher._insert(order, i, count(seq), None if trail is None else number(trail))
        entry.ioc, entry.fok = ioc, fok
    if len(matcher._triggered) != len(state["triggered"]):
        msg = "a triggered stop is not resting in the market"
        raise ValueError(msg)
    entries = matcher._entries
    matcher.pending = {count(i): [entries[order_id] for order_id in ids] for i, ids in state["pending"]}
    venue.ticks = count(saved["ticks"])
    parts.engine.equity.last_rows = {
        _account(parts, account): (count(time), count(row)) for account, time, row in saved["last_equity"]
    }


# ---------------------------------------------------------------------- risk


def dump_risk(parts: BrokerParts) -> dict[str, Any] | None:
    book = parts.engine.risk
    if book is None:
        return None
    rules = book.rules
    return {
        "version": 1,
        "rules": {
            "account": rules.account,
            "leverage": rules.leverage,
            "buying_power": rules.buying_power,
            "max_position": rules.max_position,
            "daily_loss_limit": rules.daily_loss_limit,
            "symbols": {symbol: asdict(sym) for symbol, sym in rules.symbols.items()},
            "default": asdict(rules.default),
        },
        "reservations": [
            [order_id, r.account, r.symbol, r.side, r.left, r.per_unit]
            for order_id, r in book._orders.items()
        ],
        "pending": [[a, s, side, qty] for (a, s, side), qty in book._pending.items()],
        "reserved": [[a, value] for a, value in book._reserved.items()],
        "values": [[a, s, value] for (a, s), value in book._value.items()],
        "gross": [[a, value] for a, value in book._gross.items()],
        "day_start": [[a, value] for a, value in book._day_start.items()],
    }


def _rules(saved: dict[str, Any]) -> RiskRules:
    if not isinstance(saved["buying_power"], bool):
        msg = f"buying_power must be true or false, got {saved['buying_power']!r}"
        raise ValueError(msg)
    return RiskRules(
        account=saved["account"],
        leverage=saved["leverage"],
        buying_power=saved["buying_power"],
        max_position=saved["max_position"],
        daily_loss_limit=saved["daily_loss_limit"],
        symbols={symbol: SymbolRules(**sym) for symbol, sym in saved["symbols"].items()},
        default=SymbolRules(**saved["default"]),
    )


def load_risk(parts: BrokerParts, saved: dict[str, Any]) -> None:
    book = RiskBook(_rules(saved["rules"]))
    for order_id, account, symbol, side, left, per_unit in saved["reservations"]:
        _order(parts, order_id, OrderStatus.WORKING, "holding buying power")
        res = _Reservation(_account(parts, account), symbol, _side(side), number(left), number(per_unit))
        book._orders[order_id] = res
    for account, symbol, side, qty in saved["pending"]:
        book._pending[(_account(parts, account), symbol, _side(side))] = number(qty)
    for account, symbol, value in saved["values"]:
        book._value[(_account(parts, account), symbol)] = number(value)
    for table, name in ((book._reserved, "reserved"), (book._gross, "gross"), (book._day_start, "day_start")):
        for account, value in saved[name]:
            table[_account(parts, account)] = number(value)
    parts.engine.risk = parts.engine.equity.risk = book


# ---------------------------------------------------------------------- brackets


def dump_brackets(parts: BrokerParts) -> dict[str, Any] | None:
    brackets = parts.engine.brackets
    if not brackets._inactive and not brackets._position:
        return None
    return {
        "version": 1,
        "parents": [
            [parent_id, [[role, child.id] for role, child in children.items()]]
            for parent_id, children in brackets._inactive.items()
        ],
        "positions": [
            [account, symbol, [[role, child.id] for role, child in children.items()]]
            for (account, symbol), children in brackets._position.items()
        ],
    }


def _role(value: object) -> str:
    if value not in _ROLES:
        msg = f"a bracket's role is takeProfit or stopLoss, got {value!r}"
        raise ValueError(msg)
    return value


def load_brackets(parts: BrokerParts, saved: dict[str, Any]) -> None:
    brackets = parts.engine.brackets
    for parent_id, children in saved["parents"]:
        if parent_id not in parts.engine.book.orders:
            msg = f"the brackets of order {parent_id!r} are saved but the order is not"
            raise ValueError(msg)
        for role, child_id in children:
            child = _order(parts, child_id, OrderStatus.INACTIVE, "an unarmed bracket")
            brackets._register(child, _role(role), parent_id)
    for account, symbol, children in saved["positions"]:
        owner = (_account(parts, account), symbol)
        for role, child_id in children:
            child = _order(parts, child_id, OrderStatus.WORKING, "a position's bracket")
            brackets._register(child, _role(role), owner)


# ---------------------------------------------------------------------- time in force


def dump_session(parts: BrokerParts) -> dict[str, Any] | None:
    engine = parts.engine
    if not engine.day_orders and engine.market is None and engine.risk is None and not engine.brackets.count:
        return None  # nothing but the book to keep: a plain classic broker
    return {"version": 1, "day_orders": list(parts.engine.day_orders)}


def load_session(parts: BrokerParts, saved: dict[str, Any]) -> None:
    day_orders = {}
    for order_id in saved["day_orders"]:
        order = _order(parts, order_id, OrderStatus.WORKING, "a working day order")
        if order.duration is None or order.duration.type != "DAY":
            msg = f"order {order_id!r} is listed as a day order but its time in force is {order.duration!r}"
            raise ValueError(msg)
        day_orders[order_id] = order
    parts.engine.day_orders = day_orders
