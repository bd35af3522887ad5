"""The classroom server and client over 127.0.0.1: lifecycle, protocol, authorisation,
bad input.  Load and fault tests are in test_serve_load.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from websockets.exceptions import ConnectionClosed

import paperbroker as pb

from .serve_helpers import Raw, until

ALICE_ORDERS = 'orders:{"accountId":"ALICE"}'


@pytest.fixture
async def classroom() -> AsyncIterator[tuple[pb.BrokerService, pb.ClassroomServer]]:
    broker = pb.BrokerService(execution_delay=None, seed=3)
    server = pb.serve(broker)
    await server.started()
    yield broker, server
    server.close()
    await server.wait_closed()


async def joined(server: pb.ClassroomServer, account: str = "ALICE") -> tuple[Raw, dict[str, object]]:
    raw = await Raw.open(server.invite(account).url)
    return raw, await raw.recv()


# ---------------------------------------------------------------------- lifecycle


async def test_serve_returns_at_once_with_a_local_url_and_stops_on_close():
    clock = pb.SimClock(1_704_205_800_000, timezone="America/New_York")
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    server = pb.serve(broker)
    assert server.url.startswith("ws://127.0.0.1:")
    assert int(server.url.rsplit(":", 1)[1].rstrip("/")) > 0
    invitation = server.invite("ALICE")
    assert "ALICE" in broker.accounts()
    assert invitation.url == f"{server.url}?token={invitation.token}"
    raw, welcome = await joined(server, "ALICE")
    assert welcome == {
        "type": "welcome",
        "protocol": 1,
        "role": "student",
        "accountId": "ALICE",
        "accounts": ["ALICE"],
        "paused": False,
        "timezone": "America/New_York",  # the broker clock's zone and time, for the client's clock
        "time": 1_704_205_800_000,
    }
    assert [(c.account_id, c.role, c.address) for c in server.clients] == [("ALICE", "student", "127.0.0.1")]
    server.close()
    with pytest.raises(ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    await server.wait_closed()
    with pytest.raises(ConnectionRefusedError):
        await Raw.open(invitation.url)


async def test_broker_shutdown_closes_the_server():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker)
    raw, _ = await joined(server)
    broker.shutdown()
    assert server.closed
    with pytest.raises(ConnectionClosed):
        await raw.recv()
    await server.wait_closed()


async def test_serve_refuses_bad_arguments_and_listens_nowhere():
    broker = pb.BrokerService(execution_delay=None)
    with pytest.raises(pb.ConfigurationError, match="BrokerService"):
        pb.serve("broker")  # type: ignore[arg-type]
    for bad in ({"port": -1}, {"port": 70000}, {"interval": 0}, {"buffer": 0}, {"rate": -1}, {"ssl": "yes"}):
        with pytest.raises(pb.ConfigurationError):
            pb.serve(broker, **bad)  # type: ignore[arg-type]
    server = pb.serve(broker)
    with pytest.raises(pb.ConfigurationError, match="another port"):
        pb.serve(broker, port=int(server.url.rsplit(":", 1)[1].rstrip("/")))
    with pytest.raises(pb.ConfigurationError, match="account id"):
        server.invite("")
    with pytest.raises(pb.ConfigurationError, match="teacher"):
        server.invite("ALICE", teacher=True)
    server.close()
    await server.wait_closed()


def test_serve_and_connect_need_a_running_loop():
    broker = pb.BrokerService(execution_delay=None)
    with pytest.raises(pb.InvalidState, match="running asyncio loop"):
        pb.serve(broker)
    with pytest.raises(pb.InvalidState, match="running asyncio loop"):
        pb.connect("ws://127.0.0.1:1/")


# ---------------------------------------------------------------------- protocol


async def test_subscribe_sends_the_snapshot_first_then_records_as_to_json(classroom):
    broker, server = classroom
    server.invite("ALICE")
    before = broker.buy("AAPL", 2, price=10.0, account_id="ALICE")
    raw, _ = await joined(server)
    request = await raw.send("subscribe", topic=' orders:{"accountId":"ALICE"}'.strip())
    reply = await raw.recv()
    assert reply["type"] == "subscribed" and reply["id"] == request
    assert reply["topic"] == ALICE_ORDERS
    assert reply["snapshot"] == [before.to_dict()]
    local: list[str] = []
    broker.subscribe(ALICE_ORDERS, lambda order: local.append(order.to_json()))
    broker.fill(before.id)
    after = broker.buy("AAPL", 1, price=11.0, account_id="ALICE")
    frames = [await raw.recv_text() for _ in range(2)]
    assert [json.loads(f)["seq"] for f in frames] == [1, 2]
    for frame, text in zip(frames, local, strict=True):
        assert f'"data":{text}}}' in frame  # the record's own to_json(), spliced in unchanged
    assert json.loads(frames[1])["data"]["id"] == after.id
    await raw.close()


async def test_requests_are_answered_with_the_result_or_the_brokers_own_error(classroom):
    broker, server = classroom
    raw, _ = await joined(server)
    placed = await raw.ask(
        "place", order={"symbol": "MSFT", "type": 1, "side": 1, "qty": 3, "limitPrice": 50}
    )
    order = placed["result"]
    assert placed["type"] == "result" and order["status"] == pb.OrderStatus.WORKING
    assert order == broker.order(order["id"]).to_dict()
    modified = await raw.ask("modify", orderId=order["id"], changes={"limitPrice": 51})
    assert modified["result"]["limitPrice"] == 51
    canceled = await raw.ask("cancel", orderId=order["id"])
    assert canceled["result"]["status"] == pb.OrderStatus.CANCELED
    again = await raw.ask("cancel", orderId=order["id"])
    with pytest.raises(pb.InvalidState) as local:
        broker.cancel(order["id"])
    assert again["error"] == {"type": "InvalidState", "message": str(local.value)}
    bought = await raw.ask("place", order={"symbol": "MSFT", "type": 2, "side": 1, "qty": 4, "seenPrice": 20})
    broker.fill(bought["result"]["id"])
    reversed_ = await raw.ask("reverse", positionId="MSFT")
    assert reversed_["result"]["qty"] == 8 and reversed_["result"]["side"] == -1
    closing = await raw.ask("close", positionId="MSFT", amount=1)
    assert closing["result"]["qty"] == 1 and closing["result"]["side"] == -1
    positions = await raw.ask("positions")
    assert positions["result"] == [p.to_dict() for p in broker.positions("ALICE")]
    equity = await raw.ask("equity")
    assert equity["result"] == broker.equity("ALICE").to_dict()
    unknown = await raw.ask("cancel", orderId="ORDER-999")
    assert unknown["error"]["type"] == "UnknownOrder"
    rejected = await raw.ask("place", order={"symbol": "MSFT", "type": 2, "side": 1, "qty": -5})
    assert rejected["error"]["type"] == "InvalidOrder" and "qty" in rejected["error"]["message"]
    classic = await raw.ask("quote", symbol="MSFT")
    assert classic["error"]["type"] == "InvalidState"
    await raw.close()


# ---------------------------------------------------------------------- authorisation


@pytest.mark.parametrize("query", ["", "?token=", "?token=not-a-token", "?other=1"])
async def test_a_connection_without_a_valid_token_is_closed_with_a_reason(classroom, query):
    _, server = classroom
    server.invite("ALICE")
    raw = await Raw.open(server.url + query)
    refusal = await raw.recv()
    assert refusal["type"] == "error" and refusal["error"]["type"] == "AccessDenied"
    with pytest.raises(ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert "token" in closed.value.rcvd.reason
    assert server.clients == []


async def test_a_student_acts_on_its_own_account_only(classroom):
    broker, server = classroom
    server.invite("BOB")
    bobs = broker.buy("AAPL", 1, limit=5.0, account_id="BOB")
    raw, _ = await joined(server, "ALICE")
    for kind, fields in [
        ("subscribe", {"topic": 'orders:{"accountId":"BOB"}'}),
        ("orders", {"accountId": "BOB"}),
        ("place", {"accountId": "BOB", "order": {"symbol": "AAPL", "type": 2, "side": 1, "qty": 1}}),
        ("cancel", {"orderId": bobs.id}),
        ("modify", {"orderId": bobs.id, "changes": {"qty": 2}}),
        ("close", {"accountId": "BOB", "positionId": "AAPL"}),
        ("pause", {}),
    ]:
        answer = await raw.ask(kind, **fields)
        assert answer["type"] == "error" and answer["error"]["type"] == "AccessDenied", kind
    assert server.clients[0].subscriptions == 0  # refused, not filtered
    assert broker.order(bobs.id).to_dict() == bobs.to_dict()
    assert broker.orders("ALICE") == []
    accounts = await raw.ask("accounts")
    assert accounts["result"] == ["ALICE"]
    await raw.close()


async def test_the_teacher_sees_every_account(classroom):
    broker, server = classroom
    server.invite("ALICE")
    server.invite("BOB")
    bobs = broker.buy("AAPL", 1, limit=5.0, account_id="BOB")
    raw = await Raw.open(server.invite(teacher=True).url)
    welcome = await raw.recv()
    assert welcome["role"] == "teacher" and welcome["accounts"] == broker.accounts()
    canceled = await raw.ask("cancel", orderId=bobs.id)
    assert canceled["result"]["status"] == pb.OrderStatus.CANCELED
    needs = await raw.ask("orders")
    assert needs["error"]["type"] == "ProtocolError" and "accountId" in needs["error"]["message"]
    await raw.close()


async def test_a_revoked_token_disconnects_its_client_and_cannot_join_again(classroom):
    _, server = classroom
    invitation = server.invite("ALICE")
    raw = await Raw.open(invitation.url)
    await raw.recv()
    assert server.revoke(invitation) == 1
    await raw.ws.wait_closed()
    assert raw.ws.close_code == 4401 and "revoked" in str(raw.ws.close_reason)
    again = await Raw.open(invitation.url)
    assert (await again.recv())["error"]["type"] == "AccessDenied"
    with pytest.raises(pb.AccessDenied):
        server.revoke(invitation.token)


# ---------------------------------------------------------------------- bad input


async def test_bad_messages_get_a_clear_error_and_change_nothing(classroom):
    broker, server = classroom
    raw, _ = await joined(server)
    await raw.ask("place", order={"symbol": "AAPL", "type": 1, "side": 1, "qty": 1, "limitPrice": 9})
    state = [o.to_dict() for o in broker.orders("ALICE")]
    cases = [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "explode", "id": 7}', "Unknown message type"),
        ('{"id": 8}', "Unknown message type"),
        ('{"type": "orders", "id": [1]}', "id must be"),
        ('{"type": "place", "id": 9}', "'order'"),
        ('{"type": "place", "id": 10, "order": "buy"}', "'order'"),
        ('{"type": "cancel", "id": 11, "orderId": 5}', "'orderId'"),
        ('{"type": "modify", "id": 12, "orderId": "ORDER-1", "changes": {"order_id": 1}}', "not 'order_id'"),
        ('{"type": "subscribe", "id": 13, "topic": "orders"}', "no ':'"),
        ('{"type": "close", "id": 14, "positionId": "AAPL", "amount": true}', "'amount'"),
    ]
    for text, words in cases:
        await raw.ws.send(text)
        answer = await raw.recv()
        assert answer["type"] == "error", text
        assert words in answer["error"]["message"], (text, answer)
        assert answer["error"]["message"].endswith("."), text
    await raw.ws.send(b"\x00\x01")
    binary = await raw.recv()
    assert binary["error"]["type"] == "ProtocolError" and "text frames" in binary["error"]["message"]
    assert [o.to_dict() for o in broker.orders("ALICE")] == state
    assert server.clients[0].subscriptions == 0
    await raw.close()


async def test_an_oversized_frame_closes_the_connection_with_1009():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker, max_size=1024)
    raw, _ = await joined(server)
    await raw.ws.send(json.dumps({"type": "orders", "id": 1, "pad": "x" * 2000}))
    with pytest.raises(ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.sent is not None and closed.value.sent.code == 1009
    assert broker.orders("ALICE") == []
    server.close()
    await server.wait_closed()


async def test_a_flood_beyond_the_rate_limit_is_refused_message_by_message():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker, rate=0.001, burst=5)  # no refill within the test
    raw, _ = await joined(server)
    order = {"symbol": "AAPL", "type": 1, "side": 1, "qty": 1, "limitPrice": 9}
    ids = [await raw.send("place", order=order) for _ in range(20)]
    answers = [await raw.answer(i) for i in ids]
    assert [a["type"] for a in answers] == ["result"] * 5 + ["error"] * 15
    assert {a["error"]["type"] for a in answers[5:]} == {"RateLimited"}
    assert "changed nothing" in answers[5]["error"]["message"]
    assert len(broker.orders("ALICE")) == 5
    server.close()
    await server.wait_closed()


# ---------------------------------------------------------------------- pause and resume


async def test_the_teacher_pauses_the_market_the_server_drives():
    broker = pb.BrokerService(execution_delay=None, market=pb.RandomWalk({"AAPL": 100.0}), seed=1)
    server = pb.serve(broker, interval=0.01)
    teacher = await Raw.open(server.invite(teacher=True).url)
    await teacher.recv()
    student, _ = await joined(server)
    await until(lambda: broker.quotes() != [])
    assert (await teacher.ask("pause"))["result"] is True
    assert (await student.recv())["type"] == "market"
    frozen = broker.quote("AAPL")
    await asyncio.sleep(0.1)
    assert broker.quote("AAPL") == frozen  # no steps while paused
    refused = await student.ask("place", order={"symbol": "AAPL", "type": 2, "side": 1, "qty": 1})
    assert refused["error"]["type"] == "InvalidState" and "paused" in refused["error"]["message"]
    assert broker.orders("ALICE") == []
    assert (await teacher.ask("resume"))["result"] is False
    await until(lambda: broker.quote("AAPL") != frozen)
    placed = await student.ask("place", order={"symbol": "AAPL", "type": 2, "side": 1, "qty": 1})
    assert placed["type"] == "result"
    server.close()
    await server.wait_closed()


async def test_a_server_that_does_not_drive_the_market_cannot_pause_it(classroom):
    _, server = classroom
    with pytest.raises(pb.InvalidState, match="interval"):
        server.pause()


# ---------------------------------------------------------------------- the client


async def test_the_client_mirrors_its_account_and_raises_the_brokers_errors(classroom):
    broker, server = classroom
    remote = await pb.connect(server.invite("ALICE").url)
    assert remote.account_id == "ALICE" and remote.connected
    assert remote.accounts() == ["ALICE"] and remote.equity() == broker.equity("ALICE")
    seen: list[pb.PlacedOrder] = []
    remote.subscribe(ALICE_ORDERS, seen.append)
    order = await remote.buy("AAPL", 5, price=100.0)
    assert order == broker.order(order.id)
    broker.fill(order.id)
    await until(lambda: remote.positions() == broker.positions("ALICE"))
    assert remote.equity() == broker.equity("ALICE")
    assert remote.executions() == broker.executions(account_id="ALICE")
    assert [o.status for o in seen] == [pb.OrderStatus.WORKING, pb.OrderStatus.FILLED]
    limit = await remote.sell("AAPL", 2, limit=120.0)
    assert (await remote.modify(limit.id, qty=3)).qty == 3
    assert (await remote.cancel(limit.id)).status is pb.OrderStatus.CANCELED
    closing = await remote.flatten("AAPL")
    broker.fill(closing.id)
    await until(lambda: remote.positions() == [])
    assert remote.orders() == broker.orders("ALICE")
    with pytest.raises(pb.UnknownOrder) as unknown:
        await remote.cancel("ORDER-404")
    with pytest.raises(pb.UnknownOrder) as local:
        broker.cancel("ORDER-404")
    assert str(unknown.value) == str(local.value)
    with pytest.raises(pb.InvalidOrder):
        await remote.buy("AAPL", 0)
    with pytest.raises(pb.AccessDenied):
        remote.subscribe('orders:{"accountId":"BOB"}', print)
    with pytest.raises(pb.AccessDenied):
        remote.orders("BOB")
    remote.close()


async def test_a_bad_token_fails_connect_without_retrying(classroom):
    _, server = classroom
    remote = pb.connect(server.url, token="wrong")
    with pytest.raises(pb.AccessDenied, match="unknown or has been revoked"):
        await remote
    assert remote.status is pb.ConnectionStatus.ERROR and remote.reconnects == 0
    with pytest.raises(pb.ConfigurationError):
        pb.connect("http://127.0.0.1:1/")


async def test_the_client_reconnects_with_backoff_and_is_whole_again():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker, buffer=40)
    remote = await pb.connect(server.invite("ALICE").url, backoff=(0.05, 0.2))
    statuses: list[pb.ConnectionStatus] = []
    remote.subscribe('broker-connection:{"accountId":"ALICE"}', lambda s: statuses.append(s.status))
    orders = [broker.buy("AAPL", 1, limit=10.0 + i, account_id="ALICE") for i in range(30)]
    broker.fill_all()  # 30 fills x 4 events in one go: more than the buffer of 40
    assert any(code == 4408 for _, code, _ in server.disconnects)
    await until(lambda: remote.reconnects >= 1 and remote.connected)
    await until(lambda: remote.orders() == broker.orders("ALICE"))
    assert remote.positions() == broker.positions("ALICE")
    assert remote.equity() == broker.equity("ALICE")
    assert {e.orderId for e in remote.executions()} == {o.id for o in orders}
    assert statuses[0] is pb.ConnectionStatus.CONNECTED
    assert pb.ConnectionStatus.CONNECTING in statuses and statuses[-1] is pb.ConnectionStatus.CONNECTED
    remote.close()
    assert remote.status is pb.ConnectionStatus.DISCONNECTED
    server.close()
    await server.wait_closed()


def test_records_rebuilt_from_their_json_equal_the_originals():
    from paperbroker.serve.protocol import record_from

    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}))
    order = broker.buy("AAPL", 3, limit=99.0, take_profit=110.0, stop_loss=90.0, duration="DAY")
    broker.set_price("AAPL", 98.0)
    records = [
        ("orders", order),
        ("orders", broker.order(order.id)),
        ("positions", broker.positions()[0]),
        ("executions", broker.executions()[0]),
        ("equity", broker.equity()),
        ("quotes", broker.quote("AAPL")),
    ]
    records += [("orders", o) for o in broker.orders() if o.parentId is not None]
    assert len(records) > 6  # the brackets are there too
    for kind, record in records:
        assert record_from(kind, json.loads(record.to_json())) == record


async def test_a_closed_local_subscription_stops_its_events_but_quotes_stay_current():
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}))
    server = pb.serve(broker)
    remote = await pb.connect(server.invite("ALICE").url)
    heard: list[float] = []
    sub = remote.subscribe(pb.topic("quotes", symbol="AAPL"), lambda q: heard.append(q.last))
    await until(lambda: heard == [100.0])  # the snapshot's quote
    broker.set_price("AAPL", 101.0)
    await until(lambda: heard == [100.0, 101.0])
    sub.close()
    broker.set_price("AAPL", 102.0)
    broker.set_price("AAPL", 103.0)
    await until(lambda: remote.quote("AAPL").last == 103.0)
    assert heard == [100.0, 101.0]
    remote.close()
    server.close()
    await server.wait_closed()
