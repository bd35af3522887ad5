"""Resetting a student's account: on the broker, through the server with the teacher's
token, and from the Leaderboard; the other accounts are never touched."""

from __future__ import annotations

from typing import Any

import pytest

import paperbroker as pb
from paperbroker.widgets import Leaderboard

from .serve_helpers import Raw, until
from .test_widgets import browser, recording_comm, replies  # noqa: F401 - recording_comm: a fixture

pytestmark = pytest.mark.usefixtures("recording_comm")

START = 10_000.0


def _classroom() -> pb.BrokerService:
    # no risk rules: the figures below are the ledger's alone
    broker = pb.BrokerService(
        execution_delay=None, initial_balance=START, commission=pb.FixedPerOrder(1.0), risk=None
    )
    broker.open_account("ALICE")
    broker.open_account("BOB", 20_000.0)
    # ALICE: 10 AAPL at 100 and 4 sold at 110 (+40 realized), 6 still held; a working
    # limit buy with a take-profit bracket waiting for it.  BOB: 5 MSFT at 50.
    broker.fill(broker.buy("AAPL", 10, price=100.0, account_id="ALICE").id)
    broker.fill(broker.sell("AAPL", 4, price=110.0, account_id="ALICE").id)
    broker.buy("MSFT", 1, limit=40.0, take_profit=60.0, account_id="ALICE")
    broker.fill(broker.buy("MSFT", 5, price=50.0, account_id="BOB").id)
    return broker


def _books(broker: pb.BrokerService, account: str) -> tuple[Any, ...]:
    return (
        [o.to_dict() for o in broker.orders(account)],
        [p.to_dict() for p in broker.positions(account)],
        broker.equity(account).to_dict(),
        [e.to_dict() for e in broker.executions(account_id=account)],
    )


def test_a_reset_cancels_the_orders_closes_the_books_and_gives_back_the_initial_balance():
    broker = _classroom()
    assert broker.equity("ALICE").realizedPL == 40.0 and broker.equity("ALICE").commission == 2.0
    bob, fills = _books(broker, "BOB"), broker.executions(account_id="ALICE")
    events: list[tuple[str, Any]] = []
    for kind in ("orders", "positions", "equity", "executions"):
        broker.subscribe(pb.topic(kind, "ALICE"), lambda record, kind=kind: events.append((kind, record)))
    equity = broker.reset_account("ALICE")
    assert equity == pb.EquityData(START, START, 0.0, 0.0, 0.0)
    assert broker.equity("ALICE") == equity and broker.positions("ALICE") == []
    assert broker.orders("ALICE", status="working") == [] and broker.orders("ALICE", status="inactive") == []
    # what the subscribers heard, in order: both orders canceled, the position closed, the equity
    assert [(kind, getattr(r, "id", None)) for kind, r in events] == [
        ("orders", "ORDER-3"),
        ("orders", "ORDER-4"),
        ("positions", "AAPL"),
        ("equity", None),
    ]
    assert events[0][1].status is pb.OrderStatus.CANCELED
    assert events[0][1].message.text == "The account was reset to its initial balance."
    assert (events[2][1].qty, events[2][1].unrealizedPL) == (0.0, 0.0)
    assert events[3][1] == equity
    assert len(fills) == 2 and broker.executions(account_id="ALICE") == []  # it starts over
    assert broker.execution_count == 3  # every execution ever made is still counted
    assert broker.order(fills[0].orderId).status is pb.OrderStatus.FILLED  # its orders stay
    assert _books(broker, "BOB") == bob
    # the account trades again from its initial balance: 2 bought at 100, sold at 105
    broker.fill(broker.buy("AAPL", 2, price=100.0, account_id="ALICE").id)
    broker.fill(broker.sell("AAPL", 2, price=105.0, account_id="ALICE").id)
    assert broker.equity("ALICE") == pb.EquityData(START + 10.0 - 2.0, START + 8.0, 0.0, 10.0, 2.0)


def test_resetting_an_unknown_account_raises_and_changes_nothing():
    broker = _classroom()
    before = [_books(broker, a) for a in broker.accounts()]
    with pytest.raises(pb.UnknownAccount, match="CAROL"):
        broker.reset_account("CAROL")
    assert [_books(broker, a) for a in broker.accounts()] == before


def test_a_reset_account_saves_and_loads(tmp_path):
    broker = _classroom()
    broker.reset_account("ALICE")
    loaded = pb.load(broker.save(tmp_path / "class.pb"))
    assert [_books(loaded, a) for a in loaded.accounts()] == [_books(broker, a) for a in broker.accounts()]
    loaded.fill(loaded.buy("MSFT", 1, price=50.0, account_id="ALICE").id)
    assert [p.symbol for p in loaded.positions("ALICE")] == ["MSFT"]


async def test_the_teacher_resets_an_account_through_the_server_and_the_student_sees_it():
    broker = _classroom()
    server = pb.serve(broker)
    remote = await pb.connect(server.invite("ALICE").url)
    assert [p.symbol for p in remote.positions()] == ["AAPL"]
    student = await Raw.open(server.invite("BOB").url)
    await student.recv()  # welcome
    refused = await student.ask("reset", accountId="ALICE")
    assert refused["error"] == {
        "type": "AccessDenied",
        "message": "Only the teacher's token may reset the market.",
    }
    teacher = await Raw.open(server.invite(teacher=True).url)
    await teacher.recv()
    bob = _books(broker, "BOB")
    answer = await teacher.ask("reset", accountId="ALICE")
    assert (
        answer["type"] == "result"
        and answer["result"] == pb.EquityData(START, START, 0.0, 0.0, 0.0).to_dict()
    )
    await until(lambda: remote.positions() == [] and remote.executions() == [])
    assert remote.equity() == broker.equity("ALICE") and remote.equity().balance == START
    assert len(pb.executions_frame(remote)) == 0
    assert all(o.status is not pb.OrderStatus.WORKING for o in remote.orders())
    assert _books(broker, "BOB") == bob
    unknown = await teacher.ask("reset", accountId="CAROL")
    assert unknown["error"]["type"] == "UnknownAccount"
    for raw in (student, teacher):
        await raw.close()
    remote.close()
    server.close()
    await server.wait_closed()


async def test_the_leaderboard_resets_an_account_and_starts_its_row_again():
    broker = _classroom()
    server = pb.serve(broker)
    board = Leaderboard(server)
    alice = next(r for r in board.rows if r[0] == "ALICE")
    assert alice[6] == 2 and alice[3] == 40.0  # two trades, +40 realized
    browser(board, {"type": "reset", "id": 1, "account": "ALICE"})
    assert replies(board)[-1] == {
        "type": "reply",
        "id": 1,
        "ok": True,
        "error": None,
        "note": "ALICE was reset to 10,000.00.",
    }
    board.flush()
    alice = next(r for r in board.rows if r[0] == "ALICE")
    assert alice[1:7] == [START, 0.0, 0.0, 0.0, 0.0, 0]
    assert alice[7] == [START]  # the sparkline starts again
    browser(board, {"type": "reset", "id": 2, "account": "CAROL"})
    assert (
        replies(board)[-1]["ok"] is False
        and "not an account on this leaderboard" in replies(board)[-1]["error"]
    )
    # a reset made through the server in another way reaches the board too
    broker.fill(broker.buy("AAPL", 1, price=100.0, account_id="BOB").id)
    board.flush()
    assert next(r for r in board.rows if r[0] == "BOB")[6] == 2
    server.reset("BOB")
    board.flush()
    assert next(r for r in board.rows if r[0] == "BOB")[1:7] == [20_000.0, 0.0, 0.0, 0.0, 0.0, 0]
    board.close()
    server.close()
    await server.wait_closed()


def test_a_leaderboard_of_a_broker_resets_on_the_broker():
    broker = _classroom()
    board = Leaderboard(broker)
    assert board.reset("ALICE") == pb.EquityData(START, START, 0.0, 0.0, 0.0)
    board.flush()
    assert next(r for r in board.rows if r[0] == "ALICE")[6] == 0
    assert broker.positions("ALICE") == []
    board.close()


def test_a_reset_under_risk_rules_answers_with_the_risk_figures():
    broker = pb.BrokerService(execution_delay=None, initial_balance=START)
    broker.open_account("ALICE")
    broker.fill(broker.buy("AAPL", 10, price=100.0, account_id="ALICE").id)
    equity = broker.reset_account("ALICE")
    # a margin account that may not borrow (the default rules): all of it is buying power again
    assert equity == pb.EquityData(START, START, 0.0, 0.0, 0.0, marginUsed=0.0, buyingPower=START)
    assert broker.equity("ALICE") == equity
