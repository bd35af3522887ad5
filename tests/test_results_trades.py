"""pb.trades_frame: round trips of a netting account, on cases worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import paperbroker as pb

T0 = 1_704_205_800_000  # the SimClock's default start


def _broker(**kwargs: object) -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(T0), **kwargs)  # type: ignore[arg-type]


def _trade(
    b: pb.BrokerService, side: str, qty: float, price: float, account: str = pb.DEFAULT_ACCOUNT
) -> str:
    """A limit order filled at once at ``price``, one minute after the last; its id."""
    b.clock.advance(60_000)  # type: ignore[attr-defined]
    order = getattr(b, side)("X", qty, limit=price, account_id=account)
    b.fill(order.id, price=price)
    return str(order.id)


def _at(minutes: int) -> pd.Timestamp:
    return pd.Timestamp(T0 + minutes * 60_000, unit="ms", tz="UTC")


def test_columns_and_dtypes_are_stable_when_empty() -> None:
    empty = pb.trades_frame(_broker())
    assert list(empty.columns) == [
        "account", "symbol", "side", "qty", "entry_time", "exit_time", "entry_price", "exit_price",
        "pnl", "return_pct", "commission", "duration", "open", "entry_order_id", "exit_order_id",
    ]  # fmt: skip
    b = _broker()
    _trade(b, "buy", 10, 100.0)
    _trade(b, "sell", 10, 101.0)
    full = pb.trades_frame(b)
    assert len(empty) == 0 and len(full) == 1
    assert empty.dtypes.to_dict() == full.dtypes.to_dict()
    assert str(full["entry_time"].dtype) == "datetime64[ms, UTC]"
    assert full["duration"].dtype.kind == "m" and full["open"].dtype == bool


def test_a_round_trip_with_commissions() -> None:
    b = _broker(commission=pb.FixedPerOrder(1.0))
    first = _trade(b, "buy", 100, 50.0)
    last = _trade(b, "sell", 100, 52.0)
    t = pb.trades_frame(b).iloc[0]
    # (52 - 50) * 100 = 200 gross, minus two 1.00 commissions
    assert (t["side"], t["qty"], t["entry_price"], t["exit_price"]) == ("Buy", 100, 50.0, 52.0)
    assert t["pnl"] == pytest.approx(198.0) and t["commission"] == pytest.approx(2.0)
    assert t["return_pct"] == pytest.approx(198.0 / 5_000.0 * 100)
    assert (t["entry_time"], t["exit_time"]) == (_at(1), _at(2))
    assert t["duration"] == pd.Timedelta(minutes=1)
    assert (t["entry_order_id"], t["exit_order_id"], t["open"]) == (first, last, False)
    # the closed trades add up to the realized P&L minus the commissions
    account = b.equity()
    assert t["pnl"] == pytest.approx(account.realizedPL - account.commission)


def test_adding_averages_the_entry_and_a_partial_close_is_its_own_row() -> None:
    b = _broker(commission=pb.PerUnit(0.01))
    _trade(b, "buy", 100, 10.0)  # minute 1
    _trade(b, "buy", 300, 12.0)  # minute 2: avg (1000 + 3600) / 400 = 11.5
    _trade(b, "sell", 100, 13.0)  # minute 3: closes 100 of 400
    _trade(b, "sell", 300, 11.0)  # minute 4: closes the rest
    t = pb.trades_frame(b)
    assert t["qty"].tolist() == [100, 300]
    assert t["entry_price"].tolist() == [11.5, 11.5]
    assert t["exit_price"].tolist() == [13.0, 11.0]
    assert t["entry_time"].tolist() == [_at(1), _at(1)]
    assert t["exit_time"].tolist() == [_at(3), _at(4)]
    # entry commissions: 4.00 over 400 shares, 1 cent a share; exits 1.00 and 3.00
    assert t["commission"].tolist() == pytest.approx([1.0 + 1.0, 3.0 + 3.0])
    assert t["pnl"].tolist() == pytest.approx([150.0 - 2.0, -150.0 - 6.0])
    assert t["return_pct"].tolist() == pytest.approx([148.0 / 1150.0 * 100, -156.0 / 3450.0 * 100])


def test_a_flip_closes_one_trade_and_opens_the_next() -> None:
    b = _broker(commission=pb.FixedPerOrder(2.0))
    _trade(b, "buy", 500, 20.0)
    flip = _trade(b, "sell", 800, 21.0)  # closes 500 long, opens 300 short at 21
    cover = _trade(b, "buy", 300, 19.0)
    t = pb.trades_frame(b)
    assert t["side"].tolist() == ["Buy", "Sell"]
    assert t["qty"].tolist() == [500, 300]
    # the flip's 2.00 is shared 5/8 : 3/8
    assert t["commission"].tolist() == pytest.approx([2.0 + 1.25, 0.75 + 2.0])
    assert t["pnl"].tolist() == pytest.approx([500.0 - 3.25, 600.0 - 2.75])
    assert t.loc[1, "entry_time"] == _at(2) and t.loc[1, "entry_price"] == 21.0
    assert (t.loc[1, "entry_order_id"], t.loc[1, "exit_order_id"]) == (flip, cover)
    account = b.equity()
    assert t["pnl"].sum() == pytest.approx(account.realizedPL - account.commission)


def test_an_order_filled_in_parts_closes_one_row() -> None:
    b = _broker()
    _trade(b, "buy", 100, 10.0)
    b.clock.advance(60_000)  # type: ignore[attr-defined]
    order = b.sell("X", 100, limit=11.0)
    b.fill(order.id, qty=40, price=11.0)
    b.clock.advance(60_000)  # type: ignore[attr-defined]
    b.fill(order.id, qty=60, price=12.0)
    t = pb.trades_frame(b)
    assert len(t) == 1
    assert t.loc[0, "qty"] == 100 and t.loc[0, "exit_price"] == pytest.approx(11.6)  # (440 + 720) / 100
    assert t.loc[0, "exit_time"] == _at(3) and t.loc[0, "pnl"] == pytest.approx(160.0)


def test_an_open_trade_is_valued_at_the_mark() -> None:
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}, spread=0.0))
    b.buy("X", 10)  # fills at 100 on this zero-spread market
    b.set_price("X", 103.0)
    t = pb.trades_frame(b)
    assert len(t) == 1 and bool(t.loc[0, "open"])
    assert t.loc[0, "exit_price"] == 103.0 and t.loc[0, "pnl"] == pytest.approx(30.0)
    assert pd.isna(t.loc[0, "exit_time"]) and pd.isna(t.loc[0, "duration"])
    assert t.loc[0, "pnl"] == pytest.approx(b.position("X").unrealizedPL)


def test_accounts_are_separate_and_none_gives_all() -> None:
    b = _broker()
    b.open_account("ALICE")
    _trade(b, "buy", 10, 100.0)
    _trade(b, "sell", 5, 100.0, account="ALICE")
    _trade(b, "buy", 5, 90.0, account="ALICE")
    _trade(b, "sell", 10, 110.0)
    alice = pb.trades_frame(b, "ALICE")
    assert alice["side"].tolist() == ["Sell"] and alice.loc[0, "pnl"] == pytest.approx(50.0)
    demo = pb.trades_frame(b)
    assert demo["account"].tolist() == ["DEMO-ACCOUNT"] and demo.loc[0, "pnl"] == pytest.approx(100.0)
    both = pb.trades_frame(b, account_id=None)
    assert sorted(both["account"]) == ["ALICE", "DEMO-ACCOUNT"]
    with pytest.raises(pb.UnknownAccount):
        pb.trades_frame(b, "NOBODY")


def test_times_are_in_the_clocks_zone() -> None:
    b = pb.BrokerService(execution_delay=None, clock=pb.SimClock(T0, timezone="America/New_York"))
    _trade(b, "buy", 1, 10.0)
    _trade(b, "sell", 1, 11.0)
    t = pb.trades_frame(b).iloc[0]
    assert str(t["entry_time"].tz) == "America/New_York"
    assert t["entry_time"] == _at(1) and t["entry_time"].hour == 9  # 14:31 UTC is 9:31 in New York
    assert not math.isnan(t["pnl"])
