import asyncio
import logging

import pytest

import paperbroker as pb
from paperbroker.events import parse_topic


def test_topic_builder_is_canonical():
    assert pb.topic("orders") == 'orders:{"accountId":"DEMO-ACCOUNT"}'
    assert pb.topic("executions", "A", symbol="X") == 'executions:{"accountId":"A","symbol":"X"}'


def test_parse_normalises_key_order_and_spaces():
    kind, params, canonical = parse_topic('executions: { "symbol": "X", "accountId": "A" }')
    assert (kind, params) == ("executions", {"symbol": "X", "accountId": "A"})
    assert canonical == 'executions:{"accountId":"A","symbol":"X"}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("orders", "has no ':'"),
        ('trades:{"accountId":"A"}', "unknown type 'trades'; the types are orders, positions"),
        ("orders:{accountId:A}", "not valid JSON"),
        ('orders:["A"]', "must be a JSON object"),
        ("orders:{}", "lacks the param(s) accountId"),
        ('orders:{"accountId":"A","x":"1"}', "unknown param(s) x; orders takes accountId"),
        ('orders:{"accountId":7}', "must be a non-empty string, got 7"),
        ('orders:{"accountId":""}', "must be a non-empty string"),
        (None, "A topic must be a string"),
    ],
)
def test_malformed_topics_raise(broker, text, message):
    with pytest.raises(pb.InvalidTopic) as info:
        broker.subscribe(text, lambda x: None)
    assert message in str(info.value)
    assert broker.subscriptions() == []


def test_many_subscribers_and_handles(broker):
    got_a, got_b = [], []
    a = broker.subscribe(pb.topic("orders"), got_a.append)
    with broker.subscribe(pb.topic("orders"), got_b.append):
        broker.buy("X", 1, limit=1.0)
    broker.buy("X", 1, limit=1.0)
    assert (len(got_a), len(got_b)) == (2, 1)
    a.close()
    a.close()  # twice is fine
    assert not a.active and broker.subscriptions() == []


def test_remove_topic_removes_that_topics_callbacks(broker):
    keep = []
    broker.subscribe(pb.topic("orders"), lambda x: None)
    broker.subscribe(pb.topic("orders"), lambda x: None)
    broker.subscribe(pb.topic("equity"), keep.append)
    assert broker.remove_topic('orders: {"accountId": "DEMO-ACCOUNT"}') == 2
    assert [s.kind for s in broker.subscriptions()] == ["equity"]


def test_callback_must_be_callable(broker):
    with pytest.raises(TypeError, match="must be callable"):
        broker.subscribe(pb.topic("orders"), "print")


def test_failing_subscriber_is_logged_counted_and_skipped(broker, caplog):
    good = []

    def bad(_payload):
        raise RuntimeError("boom")

    sub = broker.subscribe(pb.topic("orders"), bad)
    broker.subscribe(pb.topic("orders"), good.append)
    with caplog.at_level(logging.ERROR, logger="paperbroker"):
        broker.fill(broker.buy("X", 1, price=1.0).id)
    assert len(good) == 2  # the cascade went on
    assert sub.errors == 2 and isinstance(sub.last_error, RuntimeError)
    assert broker.subscriber_errors == 2
    assert len([r for r in caplog.records if "raised" in r.getMessage()]) == 1  # traceback once
    assert broker.position("X").qty == 1


def test_broker_connection_sends_connected_on_subscribe(broker):
    got = []
    broker.subscribe(pb.topic("broker-connection"), got.append)
    assert len(got) == 1
    assert got[0].status is pb.ConnectionStatus.CONNECTED
    assert got[0].to_dict()["status"] == 1


async def test_async_subscribers_are_scheduled():
    b = pb.BrokerService(execution_delay=None)
    got = []

    async def slow(payload):
        await asyncio.sleep(0)
        got.append(payload.status)

    b.subscribe(pb.topic("orders"), slow)
    b.buy("X", 1, limit=1.0)
    await asyncio.sleep(0.01)
    assert got == [pb.OrderStatus.WORKING]


async def test_async_subscriber_errors_are_counted():
    b = pb.BrokerService(execution_delay=None)

    async def bad(_payload):
        raise ValueError("late")

    sub = b.subscribe(pb.topic("orders"), bad)
    b.buy("X", 1, limit=1.0)
    await asyncio.sleep(0.01)
    assert sub.errors == 1 and isinstance(sub.last_error, ValueError)


def test_execution_topic_can_filter_by_symbol(broker):
    only_y = []
    broker.subscribe(pb.topic("executions", symbol="Y"), only_y.append)
    broker.fill(broker.buy("X", 1, price=1.0).id)
    broker.fill(broker.buy("Y", 1, price=1.0).id)
    assert [e.symbol for e in only_y] == ["Y"]
