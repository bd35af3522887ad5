"""Shared tools of the reliability suite: hypothesis profiles, an all-topics event recorder,
a reference ledger that replays executions, and the invariants every test checks.

Hypothesis profiles (pick one with ``PAPERBROKER_HYPOTHESIS=<name>``):

* ``ci`` (the default): enough examples to matter, small enough for every test run;
* ``dev``: a quick look while editing;
* ``long``: the long run recorded in ``bench/README.md``.

Tolerances.  Quantities and money are floats, so invariants compare with
:func:`close` (``rel_tol=1e-9, abs_tol=1e-6``).  The broker keeps running totals (realized
P&L, commission, unrealized P&L) updated by one addition per fill, while the reference
below recomputes them from scratch; after n additions of terms up to ~1e6 the two differ by
at most ~n ulps (~1e-10 relative for the runs here), so ``rel_tol=1e-9`` leaves a margin of
ten without hiding a wrong term (the smallest real error is a whole price tick times a
quantity, >= 1e-3).  ``abs_tol=1e-6`` covers values that should be zero but are the
difference of two large sums (a closed position's unrealized P&L) and the ledger's
``QTY_EPSILON = 1e-9`` snapping of quantities.  Order quantities are compared exactly: the
broker adds fills in the same order as the reference does.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings

import paperbroker as pb

for name, examples, steps in (("ci", 200, 40), ("dev", 30, 20), ("long", 2_000, 80)):
    settings.register_profile(
        name,
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        print_blob=True,
    )
settings.load_profile(os.environ.get("PAPERBROKER_HYPOTHESIS", "ci"))


def scaled(fraction: float) -> settings:
    """The profile's settings with ``fraction`` of its examples, for costly tests."""
    return settings(max_examples=max(10, int(settings.default.max_examples * fraction)))


EPSILON = 1e-9  # the ledger's QTY_EPSILON: a quantity this close to zero is zero
CASCADE = ("executions", "orders", "positions", "equity", "pl")
FINAL = (pb.OrderStatus.FILLED, pb.OrderStatus.CANCELED, pb.OrderStatus.REJECTED)


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def is_sentence(message: str) -> bool:
    """An error message is a sentence: several words, ending with a full stop."""
    return len(message.split()) >= 4 and message.rstrip().endswith(".")


# ---------------------------------------------------------------------- events


@dataclass
class Events:
    """Every cascade event of the given accounts, as ``(account, kind, payload)`` in arrival
    order, plus each account's view rebuilt from those events alone."""

    events: list[tuple[str, str, Any]] = field(default_factory=list)
    subs: list[pb.Subscription] = field(default_factory=list)

    def attach(self, broker: pb.BrokerService, accounts: list[str]) -> Events:
        for account in accounts:
            for kind in CASCADE:
                self.subs.append(
                    broker.subscribe(
                        pb.topic(kind, account),
                        lambda payload, a=account, k=kind: self.events.append((a, k, payload)),
                    )
                )
        return self

    def detach(self) -> None:
        for sub in self.subs:
            sub.close()
        self.subs.clear()

    def view(self, account: str) -> tuple[dict[str, pb.PlacedOrder], dict[str, pb.Position], Any]:
        """(orders by id, open positions by id, last equity) as the events tell them."""
        orders: dict[str, pb.PlacedOrder] = {}
        positions: dict[str, pb.Position] = {}
        equity = None
        for who, kind, payload in self.events:
            if who != account:
                continue
            if kind == "orders":
                orders[payload.id] = payload
            elif kind in ("positions", "pl"):
                if payload.qty == 0:
                    positions.pop(payload.id, None)
                else:
                    positions[payload.id] = payload
            elif kind == "equity":
                equity = payload
        return orders, positions, equity


def check_views(broker: pb.BrokerService, events: Events, accounts: list[str]) -> None:
    """A subscriber's view rebuilt from its events equals the broker's snapshot."""
    for account in accounts:
        orders, positions, equity = events.view(account)
        assert orders == {o.id: o for o in broker.orders(account)}, account
        assert positions == {p.id: p for p in broker.positions(account)}, account
        if equity is not None:
            assert equity == broker.equity(account), account


def check_order_events(events: Events) -> None:
    """No order is both filled and cancelled, and nothing happens to a finished order."""
    final: dict[str, pb.OrderStatus] = {}
    for _, kind, payload in events.events:
        if kind != "orders":
            continue
        assert payload.id not in final, f"{payload.id} changed after it was {final.get(payload.id)!r}"
        if payload.status in FINAL:
            final[payload.id] = payload.status


# ---------------------------------------------------------------------- reference ledger


@dataclass
class RefPosition:
    qty: float = 0.0  # signed
    avg: float = 0.0
    realized: float = 0.0


@dataclass
class RefAccount:
    initial: float
    realized: float = 0.0
    commission: float = 0.0
    positions: dict[str, RefPosition] = field(default_factory=dict)


class Reference:
    """The accounting rules of the design document, written plainly, fed with executions."""

    def __init__(self, initial: dict[str, float]) -> None:
        self.accounts = {a: RefAccount(b) for a, b in initial.items()}
        self.marks: dict[str, float] = {}
        self.filled: dict[str, float] = {}  # order id -> sum of its executions
        self.count = 0

    def apply(self, account: str, execution: pb.Execution) -> None:
        acc = self.accounts[account]
        self.count += 1
        self.marks[execution.symbol] = execution.price
        self.filled[execution.orderId] = self.filled.get(execution.orderId, 0.0) + execution.qty
        acc.commission += execution.commission
        pos = acc.positions.setdefault(execution.symbol, RefPosition())
        delta = execution.qty * int(execution.side)
        new = pos.qty + delta
        if abs(new) < EPSILON:
            new = 0.0
        if pos.qty == 0.0 or (pos.qty > 0) == (delta > 0):
            pos.avg = (pos.avg * abs(pos.qty) + execution.price * execution.qty) / abs(new) if new else 0.0
        else:
            closed = min(execution.qty, abs(pos.qty))
            pnl = (execution.price - pos.avg) * closed * math.copysign(1.0, pos.qty)
            pos.realized += pnl
            acc.realized += pnl
            if new and (new > 0) != (pos.qty > 0):
                pos.avg = execution.price
        pos.qty = new
        if new == 0.0:
            del acc.positions[execution.symbol]

    def unrealized(self, account: str) -> float:
        return sum((self.marks[s] - p.avg) * p.qty for s, p in self.accounts[account].positions.items())

    def replay(self, broker: pb.BrokerService) -> Reference:
        """Feed every kept execution of every account, in execution order; in market mode the
        marks are then the market's last prices."""
        rows = [(a, e) for a in self.accounts for e in broker.executions(account_id=a)]
        rows.sort(key=lambda row: int(row[1].id.rpartition("-")[2]))
        for account, execution in rows:
            self.apply(account, execution)
        self.quoted(broker)
        return self

    def quoted(self, broker: pb.BrokerService) -> None:
        """Market mode: a symbol the market quotes is marked at its quote's last price."""
        for quote in broker.quotes():
            self.marks[quote.symbol] = quote.last


def check_books(broker: pb.BrokerService, ref: Reference) -> None:
    """The broker's positions, orders and money agree with the reference ledger."""
    assert broker.execution_count == ref.count
    for account, acc in ref.accounts.items():
        positions = {p.id: p for p in broker.positions(account)}
        assert positions.keys() == acc.positions.keys(), account
        for symbol, want in acc.positions.items():
            got = positions[symbol]
            signed = got.qty * int(got.side)
            assert close(signed, want.qty), (account, symbol, signed, want.qty)
            assert close(got.avgPrice, want.avg), (account, symbol, got.avgPrice, want.avg)
            assert close(got.realizedPL, want.realized), (account, symbol)
            assert got.last == ref.marks[symbol]
            assert close(got.unrealizedPL, (ref.marks[symbol] - want.avg) * want.qty)
        for order in broker.orders(account):
            assert order.filledQty == ref.filled.get(order.id, 0.0), order
            assert order.filledQty <= order.qty + EPSILON, order
            if order.status is pb.OrderStatus.WORKING:
                assert order.qty - order.filledQty > EPSILON, order
        eq = broker.equity(account)
        assert close(eq.realizedPL, acc.realized), (account, eq, acc)
        assert close(eq.commission, acc.commission), (account, eq, acc)
        assert close(eq.balance, acc.initial + acc.realized - acc.commission), (account, eq)
        assert close(eq.unrealizedPL, ref.unrealized(account)), (account, eq)
        assert close(eq.equity, eq.balance + sum(p.unrealizedPL for p in positions.values())), eq
        # equity from the reference alone: cash in, P&L and costs replayed from executions
        want = acc.initial + acc.realized - acc.commission + ref.unrealized(account)
        assert close(eq.equity, want), (account, eq.equity, want)


def check_consistent(broker: pb.BrokerService, initial: dict[str, float]) -> None:
    """The whole-broker invariants, from its kept history alone (keep all history)."""
    check_books(broker, Reference(initial).replay(broker))


# ---------------------------------------------------------------------- snapshots


def snapshot(broker: pb.BrokerService, *, history: bool = True) -> dict[str, Any]:
    """Everything a user can read back from a broker, for before/after comparisons
    (``history=False`` leaves out the equity history, the one slow part)."""
    accounts = broker.accounts()
    out = {
        "accounts": accounts,
        "orders": {a: [o.to_dict() for o in broker.orders(a)] for a in accounts},
        "positions": {a: [p.to_dict() for p in broker.positions(a)] for a in accounts},
        "executions": {a: [e.to_dict() for e in broker.executions(account_id=a)] for a in accounts},
        "equity": {a: broker.equity(a).to_dict() for a in accounts},
        "execution_count": broker.execution_count,
        "subscriptions": [s.topic for s in broker.subscriptions()],
        "subscriber_errors": broker.subscriber_errors,
        "simulator_errors": broker.simulator.errors,
    }
    if history:
        out["equity_rows"] = pb.equity_frame(broker, None).select_dtypes("number").to_numpy().tolist()
    return out


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, BaseException | None]:
    """``(result, None)`` or ``(None, the exception)``."""
    try:
        return function(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - the caller checks what was raised
        return None, exc


def expect_error(events: Events, action: Callable[[], Any], error: type[Exception]) -> None:
    """Run ``action``: it raises ``error`` with a sentence, and broadcasts nothing."""
    start = len(events.events)
    _, exc = call(action)
    assert isinstance(exc, error), repr(exc)
    assert is_sentence(str(exc)), exc
    assert len(events.events) == start, "a failed operation broadcast something"


# ---------------------------------------------------------------------- workloads


def burst(broker: pb.BrokerService, fills: int, seed: int = 0, accounts: tuple[str, ...] = ()) -> int:
    """Place and fill orders, whole and partial, at moving prices over three symbols and
    the given accounts (default: all); return how many fills were made."""
    rng = random.Random(seed)
    names = list(accounts or broker.accounts())
    done = 0
    while done < fills:
        account, symbol = rng.choice(names), rng.choice(("AAA", "BBB", "CCC"))
        side = rng.choice(("buy", "sell"))
        qty = float(rng.randint(1, 20))
        price = round(rng.uniform(90.0, 110.0), 2)
        order = broker.submit(pb.PreOrder(symbol, "market", side, qty, seenPrice=price), account)
        if rng.random() < 0.3:
            broker.fill(order.id, qty=qty / 2, price=round(price + rng.uniform(-1, 1), 2))
            done += 1
        broker.fill(order.id)
        done += 1
    return done
