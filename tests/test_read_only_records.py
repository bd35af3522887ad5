"""Records the broker hands out are read-only; a changed copy comes from dataclasses.replace.

Issue: a ``positions`` subscriber that set ``p.qty = 1000`` on the record it received made
the position's take-profit and stop-loss orders 1,000 shares, because the same object went
on to the bracket logic.  Now every record handed out (to subscribers, and from ``buy``,
``submit``, ``order``, ``orders``, ``positions``, ``executions``, ``equity``, ``quote``) refuses
changes with a sentence that says how to make a changed copy.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

import paperbroker as pb


def _refused(record: object, name: str, value: object) -> str:
    with pytest.raises(dataclasses.FrozenInstanceError) as caught:
        setattr(record, name, value)
    return str(caught.value)


def test_a_subscriber_cannot_resize_a_positions_brackets() -> None:
    broker = pb.BrokerService(execution_delay=None)
    tampered: list[str] = []

    def tamper(position: pb.Position) -> None:
        try:
            position.qty = 1000  # type: ignore[misc]
        except dataclasses.FrozenInstanceError as exc:
            tampered.append(str(exc))

    broker.subscribe(pb.topic("positions"), tamper)
    order = broker.buy("X", 10, price=100.0, take_profit=110.0, stop_loss=95.0)
    broker.fill(order.id)
    children = [o for o in broker.orders() if o.status is pb.OrderStatus.WORKING]
    assert sorted(o.qty for o in children) == [10.0, 10.0]
    assert broker.position("X").qty == 10.0
    assert tampered and "read-only" in tampered[0]


def test_every_record_handed_out_refuses_changes() -> None:
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}))
    got: list[object] = []
    for kind in ("orders", "positions", "executions", "equity", "pl"):
        broker.subscribe(pb.topic(kind), got.append)
    broker.subscribe(pb.topic("quotes", symbol="X"), got.append)
    order = broker.buy("X", 2)
    broker.set_quote("X", bid=100.9, ask=101.1)
    handed_out = [
        order,
        broker.order(order.id),
        *broker.orders(),
        *broker.positions(),
        broker.position("X"),
        *broker.executions(),
        broker.equity(),
        broker.quote("X"),
        *got,
    ]
    kinds = {type(r).__name__ for r in handed_out}
    assert {"PlacedOrder", "Position", "Execution", "EquityData", "Quote"} <= kinds
    for record in handed_out:
        name = next(f.name for f in dataclasses.fields(record))  # type: ignore[arg-type]
        text = _refused(record, name, None)
        assert "read-only" in text and f"dataclasses.replace(record, {name}=...)" in text


def test_nested_records_of_an_order_are_read_only_too() -> None:
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}))
    cancelled = broker.buy("X", 1, limit=90.0, duration="IOC")  # cannot fill: cancelled at once
    assert cancelled.duration is not None and cancelled.message is not None
    text = cancelled.message.text
    _refused(cancelled.duration, "type", "GTC")
    _refused(cancelled.message, "text", "forged")
    assert broker.order(cancelled.id).message.text == text


def test_a_changed_copy_comes_from_replace_and_compares_by_value() -> None:
    broker = pb.BrokerService(execution_delay=None)
    order = broker.buy("X", 4, limit=10.0)
    bigger = dataclasses.replace(order, qty=40.0)
    assert (bigger.qty, order.qty, broker.order(order.id).qty) == (40.0, 4.0, 4.0)
    assert isinstance(bigger, pb.PlacedOrder) and bigger != order
    mine = order.copy()  # a mutable copy is the caller's to change
    mine.qty = 7.0
    assert mine.qty == 7.0 and broker.order(order.id).qty == 4.0
    rebuilt = pb.PlacedOrder(**{f.name: getattr(order, f.name) for f in dataclasses.fields(order)})
    assert rebuilt == order and order == rebuilt  # equal by value, read-only or not
    assert broker.order(order.id) == order


def test_read_only_records_pickle_and_copy() -> None:
    broker = pb.BrokerService(execution_delay=None)
    order = broker.buy("X", 4, limit=10.0)
    for clone in (pickle.loads(pickle.dumps(order)), copy.copy(order), copy.deepcopy(order)):
        assert clone == order
        _refused(clone, "qty", 1.0)


def test_one_record_goes_to_every_subscriber() -> None:
    broker = pb.BrokerService(execution_delay=None)
    first: list[pb.PlacedOrder] = []
    second: list[pb.PlacedOrder] = []
    broker.subscribe(pb.topic("orders"), first.append)
    broker.subscribe(pb.topic("orders"), second.append)
    returned = broker.buy("X", 1, limit=10.0)
    assert first[0] is second[0] is returned


@pytest.mark.parametrize("risk", [pb.DEFAULT_RISK, None])
def test_the_equity_record_a_subscriber_gets_is_the_one_the_broker_reports(risk) -> None:
    """The equity record of a fill (built field by field, without its constructor) has
    every field, is read-only, and equals ``equity()`` (built by the constructor)."""
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}), risk=risk)
    heard: list[pb.EquityData] = []
    broker.subscribe(pb.topic("equity"), heard.append)
    broker.buy("X", 3)
    broker.set_price("X", 104.5)
    for record in heard:
        assert [f.name for f in dataclasses.fields(record)] == [
            f.name for f in dataclasses.fields(pb.EquityData)
        ]
        assert all(hasattr(record, f.name) for f in dataclasses.fields(record))
        _refused(record, "equity", 0.0)
    assert heard[-1] == broker.equity()
    assert heard[-1].to_dict() == broker.equity().to_dict()
    assert (heard[-1].marginUsed is None) is (risk is None)
