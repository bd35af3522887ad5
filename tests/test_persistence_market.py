"""save() and load() of what goes beyond the order book and the ledger: risk rules, brackets
and time in force.

Most tests run a broker, save it mid-run and load it, then make the same calls on the
original and on the loaded broker and assert that the two stay identical: orders,
positions, executions, equity history, the events they broadcast and the errors they raise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import paperbroker as pb
from paperbroker import OrderStatus

from .reliability import is_sentence
from .test_persistence import rewrite, state

ACCOUNTS = [pb.DEFAULT_ACCOUNT, "B"]
SYMBOLS = ["AAA", "BBB"]
CLASSIC_SECTIONS = ["history", "ledger", "orders", "random", "settings"]
RISK = pb.RiskRules(
    account="margin",
    leverage=2.0,
    max_position=40,
    daily_loss_limit=400.0,
    symbols={"AAA": pb.SymbolRules(qty_step=1, tick_size=0.01, max_position=25)},
)


def manual_broker(**settings: Any) -> pb.BrokerService:
    """Manual mode with risk rules, on a clock whose session ends half an hour in."""
    options: dict[str, Any] = {
        "execution_delay": None,
        "seed": 11,
        "initial_balance": 20_000.0,
        "history_limit": None,
        "clock": pb.SimClock(session_end="15:00"),
        "risk": RISK,
    }
    broker = pb.BrokerService(**{**options, **settings})
    broker.open_account("B", 10_000.0)
    return broker


def reload(broker: pb.BrokerService, path: Path, **given: Any) -> pb.BrokerService:
    loaded = pb.load(pb.save(broker, path), **given)
    assert state(loaded) == state(broker)
    return loaded


class Events:
    """Every event of every account (and every quote), in arrival order."""

    def __init__(self, broker: pb.BrokerService) -> None:
        self.events: list[tuple[str, Any]] = []
        kinds = ("orders", "executions", "positions", "equity", "pl")
        for account in broker.accounts():
            for kind in kinds:
                broker.subscribe(pb.topic(kind, account), lambda p, k=kind, a=account: self.add(k, a, p))
        for quote in broker.quotes():
            broker.subscribe(pb.topic("quotes", symbol=quote.symbol), lambda p: self.add("quotes", "", p))

    def add(self, kind: str, account: str, payload: Any) -> None:
        self.events.append((f"{kind}:{account}", payload))


def go_on(original: pb.BrokerService, loaded: pb.BrokerService, drive: Callable[..., Any], *args: Any) -> Any:
    """Drive both brokers the same way; they must broadcast, return and end up the same."""
    events = [Events(original), Events(loaded)]
    results = [drive(original, *args), drive(loaded, *args)]
    assert events[0].events == events[1].events
    assert results[0] == results[1]
    assert state(loaded) == state(original)
    return results[0]


def drive_manual(broker: pb.BrokerService, steps: int) -> list[str]:
    """Orders of every kind, with brackets, trailing stops and time in force, filled at
    prices of the broker's choosing, under risk rules.  Every decision comes from the
    broker's own generator.  Returns the messages of the errors raised."""
    rng = broker.rng
    errors = []
    for _ in range(steps):
        account = ACCOUNTS[int(rng.integers(2))]
        symbol = SYMBOLS[int(rng.integers(2))]
        price = round(float(rng.uniform(95.0, 105.0)), 2)
        qty = float(rng.integers(1, 12))
        side = ("buy", "sell")[int(rng.integers(2))]
        sign = 1.0 if side == "buy" else -1.0
        place = getattr(broker, side)
        duration = ("DAY", "GTC", None)[int(rng.integers(3))]
        working = broker.orders(account, status="working")
        roll = float(rng.random())
        try:
            if roll < 0.25:
                brackets = {
                    "take_profit": round(price + 2 * sign, 2),
                    "stop_loss": round(price - 2 * sign, 2),
                }
                place(symbol, qty, limit=price, duration=duration, account_id=account, **brackets)
            elif roll < 0.35:
                place(symbol, qty, limit=price, trailing_stop_pips=150, account_id=account)
            elif roll < 0.45:
                place(symbol, qty, price=price, account_id=account)
            elif roll < 0.5:
                place(symbol, qty, stop=price, duration=duration, account_id=account)
            elif working and roll < 0.8:
                order = working[int(rng.integers(len(working)))]
                part = None if rng.random() < 0.6 else order.remaining / 2
                broker.fill(order.id, qty=part, price=price)
            elif working and roll < 0.9:
                broker.cancel(working[int(rng.integers(len(working)))].id)
            elif working:
                order = working[int(rng.integers(len(working)))]
                broker.modify(order.id, qty=order.filledQty + 1)
        except pb.BrokerError as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        broker.clock.advance(int(rng.integers(1_000, 40_000)))  # type: ignore[attr-defined]
    return errors


# ---------------------------------------------------------------------- whole runs


def test_risk_brackets_and_day_orders_go_on_identically_after_a_reload(tmp_path: Path) -> None:
    broker = manual_broker()
    drive_manual(broker, 50)
    working = [o for a in ACCOUNTS for o in broker.orders(a, status="working")]
    inactive = [o for a in ACCOUNTS for o in broker.orders(a, status="inactive")]
    # the save happens with every kind of state in play
    assert any(o.duration and o.duration.type == "DAY" for o in working)
    assert any(o.parentType is pb.ParentType.POSITION for o in working)
    assert any(o.trailingStopPips for o in working + inactive)
    assert inactive and broker.clock.now_ms() < broker.clock.next_session_end(pb.SimClock().now_ms())

    loaded = reload(broker, tmp_path / "manual.json")
    errors = go_on(broker, loaded, drive_manual, 250)
    # ... and the run after it uses that state: risk rejections, day orders expiring, OCO
    assert any("OrderRejected" in e for e in errors)
    messages = {o.message.text for a in ACCOUNTS for o in loaded.orders(a) if o.message}
    assert "The day order expired at the end of the session." in messages
    assert any(m.startswith("One-cancels-other") for m in messages)


def test_a_plain_classic_broker_is_written_with_the_classic_sections_only(tmp_path: Path) -> None:
    """Older paperbrokers read such a file: sections are added only for what is in use."""
    plain = pb.BrokerService(execution_delay=None)
    plain.fill(plain.buy("X", 1, price=10.0).id)
    body = json.loads(pb.save(plain, tmp_path / "plain.json").read_bytes())["body"]
    assert sorted(body) == CLASSIC_SECTIONS
    assert {name: section["version"] for name, section in body.items()} == dict.fromkeys(body, 1)
    plain.buy("X", 1, limit=9.0, duration="GTC")  # a time in force needs orders version 2
    body = json.loads(pb.save(plain, tmp_path / "plain.json").read_bytes())["body"]
    assert body["orders"]["version"] == 2
    body = json.loads(pb.save(manual_broker(), tmp_path / "risk.json").read_bytes())["body"]
    assert sorted(body) == sorted([*CLASSIC_SECTIONS, "risk", "session"])


# ---------------------------------------------------------------------- risk rules


def test_the_daily_loss_limit_counts_on_after_a_reload(tmp_path: Path) -> None:
    broker = manual_broker(risk=pb.RiskRules(account="margin", leverage=2.0, daily_loss_limit=300.0))
    broker.fill(broker.buy("X", 40, limit=100.0).id)
    broker.fill(broker.sell("X", 1, limit=92.0).id)  # marks X at 92: 320 lost today
    loaded = reload(broker, tmp_path / "loss.json")
    for b in (broker, loaded):
        with pytest.raises(pb.OrderRejected, match=r"daily loss limit of 300\.00 is reached \(320\.00 lost"):
            b.buy("X", 1, limit=92.0)
        b.sell("X", 5, limit=92.0)  # reducing the position is still allowed
        b.clock.advance(3_600_000)  # past the session end: a new day
        assert b.buy("X", 1, limit=92.0).status is OrderStatus.WORKING
    assert state(loaded) == state(broker)


def test_buying_power_reserved_by_working_orders_survives_a_reload(tmp_path: Path) -> None:
    broker = manual_broker(initial_balance=10_000.0, risk=pb.RiskRules())
    broker.buy("X", 60, limit=100.0)  # reserves 6,000 of 10,000
    loaded = reload(broker, tmp_path / "power.json")
    assert loaded.equity().buyingPower == pytest.approx(4_000.0)
    for b in (broker, loaded):
        with pytest.raises(pb.OrderRejected, match=r"needs 5,000\.00 of buying power .* only 4,000\.00"):
            b.buy("X", 50, limit=100.0)
        with pytest.raises(pb.OrderRejected, match="A cash account cannot sell short"):
            b.sell("X", 1, limit=100.0)
    assert state(loaded) == state(broker)


# ---------------------------------------------------------------------- brackets and time in force


def test_unarmed_brackets_arm_and_cancel_each_other_after_a_reload(tmp_path: Path) -> None:
    broker = manual_broker(risk=None)
    parent = broker.buy("X", 3, limit=100.0, take_profit=104.0, stop_loss=97.0)
    loaded = reload(broker, tmp_path / "brackets.json")

    def play(b: pb.BrokerService) -> list[tuple[str, OrderStatus, pb.ParentType | None]]:
        b.fill(parent.id)  # arms both brackets for the position
        take_profit, _ = (o for o in b.orders() if o.parentId == "X")
        b.fill(take_profit.id)  # takes the profit; one-cancels-other cancels the stop-loss
        return [(o.id, o.status, o.parentType) for o in b.orders()]

    after = go_on(broker, loaded, play)
    assert [status for _, status, _ in after] == [
        OrderStatus.FILLED,
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
    ]
    assert loaded.positions() == []


def test_day_orders_expire_at_the_session_end_after_a_reload(tmp_path: Path) -> None:
    broker = manual_broker(risk=None)
    day = broker.buy("X", 1, limit=90.0, duration="DAY")
    gtc = broker.buy("X", 1, limit=91.0)
    loaded = reload(broker, tmp_path / "day.json")

    def play(b: pb.BrokerService) -> tuple[OrderStatus, OrderStatus]:
        b.clock.advance(3_600_000)
        b.buy("Y", 1, limit=5.0)  # the first call after the session end expires the day order
        return b.order(day.id).status, b.order(gtc.id).status

    assert go_on(broker, loaded, play) == (OrderStatus.CANCELED, OrderStatus.WORKING)


# ---------------------------------------------------------------------- damaged sections


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body: body["risk"]["rules"].update(account="credit"), "contents are malformed"),
        (lambda body: body["risk"]["reservations"][0].__setitem__(0, "ORDER-999"), "contents are malformed"),
        (lambda body: body["risk"].update(version=2), "Section 'risk' .* is version 2"),
        (lambda body: body["brackets"]["parents"][0][1][0].__setitem__(0, "entry"), "contents are malformed"),
        (lambda body: body["session"]["day_orders"].append("ORDER-2"), "contents are malformed"),
        (lambda body: body.pop("history"), r"reads \['history', .*\] and optionally \["),
        (lambda body: body.update(extra={"version": 1}), r"reads \['history', .*\] and optionally \["),
    ],
)
def test_a_damaged_section_loads_nothing(tmp_path: Path, change: Callable[[Any], Any], message: str) -> None:
    broker = manual_broker()
    broker.buy("X", 1, limit=100.0, take_profit=101.0, duration="DAY")
    broker.buy("X", 1, limit=99.0)
    path = pb.save(broker, tmp_path / "damaged.json")
    rewrite(path, lambda document: change(document["body"]))
    with pytest.raises(pb.PersistenceError, match=message) as info:
        pb.load(path)
    assert is_sentence(str(info.value))
