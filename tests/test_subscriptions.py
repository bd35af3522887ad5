"""Subscribing and closing: a closed subscription gets no further call, and the registry
stays small however many subscribers come and go (issue: reliability 2, items 5 and 7)."""

from __future__ import annotations

import random

import paperbroker as pb
from paperbroker.events import TopicHub


def manual() -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(0))


def test_a_subscription_closed_by_an_earlier_subscriber_of_the_same_event_is_not_called() -> None:
    broker = manual()
    calls: list[str] = []
    later: list[pb.Subscription] = []

    def first(execution: pb.Execution) -> None:
        calls.append("first")
        later[0].close()

    broker.subscribe(pb.topic("executions"), first)
    later.append(broker.subscribe(pb.topic("executions"), lambda e: calls.append("second")))
    broker.fill(broker.buy("X", 1, price=10.0).id)
    broker.fill(broker.buy("X", 1, price=10.0).id)
    assert calls == ["first", "first"]


def test_a_subscription_closed_earlier_in_the_cascade_gets_none_of_its_later_events() -> None:
    broker = manual()
    got: list[str] = []
    orders = broker.subscribe(pb.topic("orders"), lambda o: got.append(f"order {o.status.name}"))
    # the execution goes out before the order's Filled event in the same cascade
    broker.subscribe(pb.topic("executions"), lambda e: orders.close())
    order = broker.buy("X", 1, price=10.0)
    broker.fill(order.id)
    assert got == ["order WORKING"]  # placing; the Filled event came after close()
    assert not orders.active


def test_many_subscribers_come_and_go_and_each_live_one_gets_each_event_once() -> None:
    broker = manual()
    rng = random.Random(7)
    counts: dict[int, int] = {}
    subs = []
    for n in range(3_000):
        counts[n] = 0

        def count(_e: object, n: int = n) -> None:
            counts[n] += 1

        subs.append(broker.subscribe(pb.topic("executions"), count))
    closed = set(rng.sample(range(3_000), 2_500))
    for n in sorted(closed, key=lambda _: rng.random()):
        subs[n].close()
    broker.fill(broker.buy("X", 1, price=10.0).id)
    assert sum(counts.values()) == 500
    assert all(counts[n] == (0 if n in closed else 1) for n in counts)
    assert len(broker.subscriptions()) == 500
    for n in range(3_000):
        subs[n].close()
    assert broker.subscriptions() == []


def test_closed_subscriptions_do_not_pile_up_in_the_registry() -> None:
    hub = TopicHub()
    topic = pb.topic("orders")
    subs = [hub.subscribe(topic, print) for _ in range(1_000)]
    for sub in subs[:900]:
        sub.close()
        live = len(hub)
        # what a publisher walks holds at most twice the live subscriptions
        assert len(hub.table("orders")[pb.DEFAULT_ACCOUNT]) <= 2 * live
    for sub in subs[900:]:
        sub.close()
    assert len(hub) == 0
    assert not hub.has("orders", pb.DEFAULT_ACCOUNT)  # publishers build nothing for nobody


def test_subscribing_from_inside_a_cascade_starts_with_the_next_event() -> None:
    broker = manual()
    got: list[str] = []

    def subscribe_more(execution: pb.Execution) -> None:
        if not got:
            broker.subscribe(pb.topic("executions"), lambda e: got.append(f"new {e.id}"))
        got.append(f"old {execution.id}")

    broker.subscribe(pb.topic("executions"), subscribe_more)
    broker.fill(broker.buy("X", 1, price=10.0).id)
    broker.fill(broker.buy("X", 1, price=10.0).id)
    assert got == ["old EXEC-1", "old EXEC-2", "new EXEC-2"]
