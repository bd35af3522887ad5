"""The teacher's Leaderboard: ranking, figures, new accounts, pause and resume."""

from __future__ import annotations

import asyncio

import pytest

import paperbroker as pb
from paperbroker.widgets import Leaderboard

from .test_widgets import browser, recording_comm, replies  # noqa: F401 - recording_comm: a fixture

pytestmark = pytest.mark.usefixtures("recording_comm")


def _classroom() -> pb.BrokerService:
    broker = pb.BrokerService(
        execution_delay=None, initial_balance=10_000.0, commission=pb.FixedPerOrder(1.0)
    )
    for name in ("ALICE", "BOB", "CAROL"):
        broker.open_account(name)
    return broker


def _trade(broker: pb.BrokerService) -> None:
    # ALICE: 10 bought at 100, sold at 112 -> +120; BOB: 5 at 100, sold at 95 -> -25;
    # CAROL: 1 bought at 90, still open (no market: marked at its price). 1.00 a fill.
    for account, qty, exit_price in [("ALICE", 10, 112.0), ("BOB", 5, 95.0)]:
        broker.fill(broker.buy("AAPL", qty, price=100.0, account_id=account).id)
        broker.fill(broker.sell("AAPL", qty, price=exit_price, account_id=account).id)
    broker.fill(broker.buy("MSFT", 1, price=90.0, account_id="CAROL").id)


def test_accounts_are_ranked_by_equity_with_their_figures():
    broker = _classroom()
    board = Leaderboard(broker)
    assert [r[0] for r in board.rows] == ["ALICE", "BOB", "CAROL"]  # all at 10,000: by id
    _trade(broker)
    board.flush()
    shown = [[r[0], round(r[1], 2), round(r[2], 4), r[3], r[4], r[5], r[6]] for r in board.rows]
    assert shown == [
        ["ALICE", 10_118.0, 1.18, 120.0, 0.0, 2.0, 2],
        ["CAROL", 9_999.0, -0.01, 0.0, 0.0, 1.0, 1],
        ["BOB", 9_973.0, -0.27, -25.0, 0.0, 2.0, 2],
    ]
    assert board.rows[0][7][0] == 10_000.0 and board.rows[0][7][-1] == 10_118.0  # the sparkline
    html = board.snapshot_html()
    assert "ALICE" in html and "+1.18%" in html and "DEMO-ACCOUNT" not in html
    board.close()
    assert board.closed


async def test_accounts_opened_later_join_the_board():
    broker = _classroom()
    board = Leaderboard(broker, interval=0.05)
    broker.open_account("DAVE", 20_000.0)
    await asyncio.sleep(1.3)  # the board looks for new accounts every second
    assert [r[0] for r in board.rows] == ["DAVE", "ALICE", "BOB", "CAROL"]
    board.close()


async def test_the_teacher_pauses_and_resumes_the_market_from_the_board():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker, interval=0.5)
    server.invite("ALICE")
    board = Leaderboard(server)
    assert board.can_pause and not board.paused
    browser(board, {"type": "pause", "id": 1})
    assert server.paused and board.paused
    browser(board, {"type": "resume", "id": 2})
    assert not server.paused and not board.paused
    assert [(r["id"], r["ok"]) for r in replies(board)] == [(1, True), (2, True)]
    plain = Leaderboard(broker)
    assert not plain.can_pause
    browser(plain, {"type": "pause", "id": 3})
    assert replies(plain)[-1]["ok"] is False and "Leaderboard(server)" in replies(plain)[-1]["error"]
    board.close()
    plain.close()
    server.close()
    await server.wait_closed()


def test_a_leaderboard_needs_a_broker_or_a_server():
    with pytest.raises(pb.ConfigurationError, match="ClassroomServer or a BrokerService"):
        Leaderboard("class")
    with pytest.raises(pb.ConfigurationError, match="points"):
        Leaderboard(_classroom(), points=1)
