"""How open positions are valued: at the last price (``mark="last"``, the default) or, with
``mark="bid_ask"``, a long at the bid and a short at the ask.  Every expected figure is
worked out by hand from the quotes in the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import paperbroker as pb

from .test_persistence import rewrite


def market(mark: str = "last", **options) -> pb.BrokerService:
    """Bid 99, ask 101, last (the mid) 100; no risk rules, so sizes are free."""
    quotes = pb.ManualQuotes({"ABC": 100.0}, spread=2.0)
    return pb.BrokerService(execution_delay=None, market=quotes, mark=mark, risk=None, **options)


def test_the_worked_example_of_the_docs():
    # a long of 10 bought at the ask, 101: marked at the mid (100) it shows -10, at the bid
    # (99) -20, the whole spread lost at once
    for mark, unrealized, shown_at in (("last", -10.0, 100.0), ("bid_ask", -20.0, 99.0)):
        broker = market(mark)
        broker.buy("ABC", 10)
        pos = broker.position("ABC")
        assert (pos.avgPrice, pos.unrealizedPL, pos.last) == (101.0, unrealized, shown_at)
        assert broker.equity().equity == 100_000.0 + unrealized


def test_a_short_is_marked_at_the_ask():
    # sold 5 at the bid, 99: at the ask (101) it shows (99 - 101) x 5 = -10; at the mid -5
    last, both = market("last"), market("bid_ask")
    for broker in (last, both):
        broker.sell("ABC", 5)
    assert last.position("ABC").unrealizedPL == -5.0
    assert (both.position("ABC").unrealizedPL, both.position("ABC").last) == (-10.0, 101.0)


def test_a_flip_moves_the_position_from_the_bid_to_the_ask():
    broker = market("bid_ask")
    broker.buy("ABC", 10)  # long 10 at 101, marked at 99
    broker.sell("ABC", 30)  # sells at 99: realizes (99 - 101) x 10 = -20, short 20 at 99
    pos = broker.position("ABC")
    assert (pos.side, pos.qty, pos.avgPrice) == (pb.Side.SELL, 20.0, 99.0)
    assert (pos.last, pos.unrealizedPL, pos.realizedPL) == (101.0, -40.0, -20.0)


def test_a_new_quote_re_marks_longs_at_its_bid_and_shorts_at_its_ask():
    broker = market("bid_ask")
    broker.open_account("SHORT")
    broker.buy("ABC", 10)  # 101
    broker.sell("ABC", 4, account_id="SHORT")  # 99
    pl: list[pb.Position] = []
    broker.subscribe(pb.topic("pl", "SHORT"), pl.append)
    broker.subscribe(pb.topic("pl"), pl.append)
    # the bid stays at 99, the ask moves to 103: only the short's value moves
    broker.set_quote("ABC", bid=99.0, ask=103.0)
    assert broker.position("ABC").unrealizedPL == (99.0 - 101.0) * 10
    assert broker.position("ABC", "SHORT").unrealizedPL == (99.0 - 103.0) * 4
    assert [(p.last, p.unrealizedPL) for p in pl] == [(103.0, -16.0)]
    # both move
    broker.set_quote("ABC", bid=104.0, ask=106.0)
    assert broker.position("ABC").unrealizedPL == (104.0 - 101.0) * 10
    assert broker.position("ABC", "SHORT").unrealizedPL == (99.0 - 106.0) * 4
    assert broker.equity("SHORT").equity == 100_000.0 - 28.0


def test_a_fraction_of_a_share_is_marked_by_its_side_too():
    broker = market("bid_ask")
    broker.buy("ABC", 0.5)  # at the ask, 101; marked at the bid, 99
    assert (broker.position("ABC").last, broker.position("ABC").unrealizedPL) == (99.0, -1.0)
    broker.set_quote("ABC", bid=100.0, ask=102.0)
    assert (broker.position("ABC").last, broker.position("ABC").unrealizedPL) == (100.0, -0.5)


def test_a_closed_position_is_broadcast_at_the_long_side_mark():
    # once flat a position has no side to value: its last broadcast shows the bid, as the
    # symbol's mark, with no unrealized P&L
    broker = market("bid_ask")
    broker.buy("ABC", 10)
    seen: list[pb.Position] = []
    broker.subscribe(pb.topic("positions"), seen.append)
    broker.sell("ABC", 10)
    assert [(p.qty, p.last, p.unrealizedPL, p.realizedPL) for p in seen] == [(0.0, 99.0, 0.0, -20.0)]


def test_the_two_marks_differ_by_the_half_spread_on_a_seeded_walk():
    # the same seed gives the same fills; a long of 50 at the end is worth 50 half spreads
    # less at the bid than at the last price (the walk's last is its mid)
    runs = {}
    for mark in ("last", "bid_ask"):
        walk = pb.RandomWalk({"ABC": 100.0}, volatility=0.003, spread=0.04)
        broker = pb.BrokerService(execution_delay=None, market=walk, seed=7, mark=mark, risk=None)
        broker.run(20)
        broker.buy("ABC", 50)
        broker.run(200)
        runs[mark] = broker
    last, both = runs["last"], runs["bid_ask"]
    assert [e.price for e in last.executions()] == [e.price for e in both.executions()]
    quote = last.quote("ABC")
    assert quote == both.quote("ABC")
    assert last.position("ABC").unrealizedPL == pytest.approx(
        (quote.last - last.position("ABC").avgPrice) * 50
    )
    assert both.position("ABC").unrealizedPL == pytest.approx(
        (quote.bid - both.position("ABC").avgPrice) * 50
    )
    assert last.equity().equity - both.equity().equity == pytest.approx(50 * (quote.last - quote.bid))


def test_saving_keeps_the_choice_and_a_file_marked_at_last_is_as_before(tmp_path: Path):
    broker = market("bid_ask")
    broker.open_account("SHORT")
    broker.buy("ABC", 10)
    broker.sell("ABC", 4, account_id="SHORT")
    broker.set_quote("ABC", bid=98.0, ask=104.0)
    path = broker.save(tmp_path / "bid_ask.json")
    body = json.loads(path.read_bytes())["body"]
    assert body["settings"]["mark"] == "bid_ask" and body["ledger"]["short_marks"] == {"ABC": 104.0}
    loaded = pb.load(path)
    loaded.set_quote("ABC", bid=100.0, ask=102.0)  # the loaded broker marks the same way
    assert loaded.position("ABC").unrealizedPL == (100.0 - 101.0) * 10
    assert loaded.position("ABC", "SHORT").unrealizedPL == (99.0 - 102.0) * 4
    # marking at last, the file has neither field: older versions read it as before
    plain = market()
    plain.buy("ABC", 10)
    body = json.loads(plain.save(tmp_path / "last.json").read_bytes())["body"]
    assert "mark" not in body["settings"] and "short_marks" not in body["ledger"]


def _forged(path: Path, change) -> Path:
    """``path`` changed by ``change(body)``, its checksum written anew (a careful forger)."""
    rewrite(path, lambda document: change(document["body"]))
    return path


def test_a_file_whose_short_is_not_at_the_ask_is_refused(tmp_path: Path):
    broker = market("bid_ask")
    broker.sell("ABC", 4)
    path = _forged(
        broker.save(tmp_path / "short.json"), lambda b: b["ledger"].update(short_marks={"ABC": 105.0})
    )
    with pytest.raises(pb.PersistenceError, match=r"\.mark 101.0 is not the mark of 'ABC'"):
        pb.load(path)


def test_a_classic_file_that_says_bid_ask_is_refused(tmp_path: Path):
    broker = pb.BrokerService(execution_delay=None)
    path = _forged(broker.save(tmp_path / "classic.json"), lambda b: b["settings"].update(mark="bid_ask"))
    with pytest.raises(
        pb.PersistenceError,
        match=r"malformed: settings.mark 'bid_ask' \(or ledger.short_marks\) needs a market section",
    ):
        pb.load(path)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mark": "bid"}, r"mark must be 'last' \(the last price\) or 'bid_ask' .* got 'bid'"),
        ({"mark": None}, r"mark must be 'last' .* got None"),
        ({"mark": "bid_ask"}, r"classic mode has no quotes: build the broker with market=\.\.\."),
    ],
)
def test_a_mark_the_broker_cannot_use_is_refused(options, message):
    with pytest.raises(pb.ConfigurationError, match=message):
        pb.BrokerService(execution_delay=None, **options)
