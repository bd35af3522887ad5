import pandas as pd
import pytest

import paperbroker as pb

FRAMES = {
    "orders": pb.orders_frame,
    "positions": pb.positions_frame,
    "executions": pb.executions_frame,
    "equity": pb.equity_frame,
}


def trade(b):
    b.fill(b.buy("AAPL", 10, price=100.0).id)
    b.fill(b.sell("AAPL", 4, price=105.0).id)
    b.buy("MSFT", 1, limit=50.0)


@pytest.mark.parametrize("name", list(FRAMES))
def test_columns_and_dtypes_do_not_depend_on_rows(name):
    empty = FRAMES[name](pb.BrokerService(execution_delay=None))
    busy_broker = pb.BrokerService(execution_delay=None)
    trade(busy_broker)
    busy = FRAMES[name](busy_broker)
    assert list(empty.columns) == list(busy.columns)
    assert [str(d) for d in empty.dtypes] == [str(d) for d in busy.dtypes]
    assert len(busy) > 0


def test_executions_frame_values(broker):
    trade(broker)
    df = pb.executions_frame(broker)
    assert list(df["id"]) == ["EXEC-1", "EXEC-2"]
    assert list(df["side"]) == ["Buy", "Sell"]
    assert list(df["net_amount"]) == [-1000.0, 420.0]
    assert str(df["time"].dt.tz) == "UTC"
    assert df["time"].iloc[0] == pd.Timestamp(broker.clock.now_ms(), unit="ms", tz="UTC")


def test_equity_frame_has_a_row_per_change(broker):
    trade(broker)
    df = pb.equity_frame(broker)
    assert list(df["equity"]) == [100_000.0, 100_000.0, 100_050.0]
    assert list(df["realized_pl"]) == [0.0, 0.0, 20.0]
    assert (df["balance"] == 100_000.0 + df["realized_pl"] - df["commission"]).all()


def test_orders_and_positions_frames(broker):
    trade(broker)
    orders = pb.orders_frame(broker)
    assert list(orders["status"]) == ["Filled", "Filled", "Working"]
    assert list(orders["type"]) == ["Market", "Market", "Limit"]
    positions = pb.positions_frame(broker)
    row = positions.iloc[0]
    assert (row["symbol"], row["qty"], row["avg_price"], row["unrealized_pl"]) == ("AAPL", 6.0, 100.0, 30.0)


def test_account_filter_and_all_accounts(broker):
    broker.open_account("B")
    broker.fill(broker.buy("X", 1, price=1.0).id)
    y = broker.buy("Y", 2, price=1.0, account_id="B")
    broker.fill(y.id)
    assert list(pb.executions_frame(broker)["symbol"]) == ["X"]
    b_rows = pb.executions_frame(broker, "B")
    assert list(b_rows["symbol"]) == ["Y"]
    assert (list(b_rows["id"]), list(b_rows["order_id"])) == (["EXEC-2"], [y.id])
    assert sorted(pb.executions_frame(broker, None)["account"]) == ["B", "DEMO-ACCOUNT"]
    assert len(pb.equity_frame(broker, None)) == 4
    with pytest.raises(pb.UnknownAccount):
        pb.orders_frame(broker, "NOPE")


def test_an_exported_frame_is_a_copy(broker):
    trade(broker)
    df = pb.executions_frame(broker)
    df.loc[0, "id"] = "EDITED"
    df.loc[0, "order_id"] = "EDITED"
    again = pb.executions_frame(broker)
    assert list(again["id"]) == ["EXEC-1", "EXEC-2"]
    assert "EDITED" not in list(again["order_id"])


# ---------------------------------------------------------------------- every figure, by hand
#
# One session with a commission of 0.01 a unit, every number worked out on paper:
#   1. buy 10 AAPL @ 100            commission 0.10  cash -1,000.10
#   2. sell 4 AAPL @ 105            commission 0.04  cash   +419.96  realized (105-100)*4 = 20
#   3. buy 10 MSFT limit 50, filled 4 @ 49 (0.04) and 6 @ 49.5 (0.06): average 493/10 = 49.3
#   4. sell short 5 TSLA @ 200 (0.05), buy 5 back @ 190 (0.05): realized (200-190)*5 = +50
# Marks are the last fill of each symbol: AAPL 105 (unrealized 5*6 = 30), MSFT 49.5
# (unrealized 0.2*10 = 2), TSLA flat.


def hand_session() -> tuple[pb.BrokerService, dict[str, str]]:
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1, commission=pb.PerUnit(0.01))
    ids = {"aapl_buy": broker.buy("AAPL", 10, price=100.0).id}
    broker.fill(ids["aapl_buy"])
    ids["aapl_sell"] = broker.sell("AAPL", 4, price=105.0).id
    broker.fill(ids["aapl_sell"])
    ids["msft"] = broker.buy("MSFT", 10, limit=50.0).id
    broker.fill(ids["msft"], qty=4, price=49.0)
    broker.fill(ids["msft"], qty=6, price=49.5)
    ids["short"] = broker.sell("TSLA", 5, price=200.0).id
    broker.fill(ids["short"])
    ids["cover"] = broker.buy("TSLA", 5, price=190.0).id
    broker.fill(ids["cover"])
    return broker, ids


def column(frame: pd.DataFrame, name: str) -> list[float]:
    return [float(v) for v in frame[name]]


def test_equity_frame_every_column_by_hand():
    df = pb.equity_frame(hand_session()[0])
    approx = pytest.approx
    assert column(df, "commission") == approx([0.0, 0.10, 0.14, 0.18, 0.24, 0.29, 0.34])
    assert column(df, "realized_pl") == approx([0.0, 0.0, 20.0, 20.0, 20.0, 20.0, 70.0])
    assert column(df, "unrealized_pl") == approx([0.0, 0.0, 30.0, 30.0, 32.0, 32.0, 32.0])
    balances = [100_000.0, 99_999.90, 100_019.86, 100_019.82, 100_019.76, 100_019.71, 100_069.66]
    assert column(df, "balance") == approx(balances)
    equities = [100_000.0, 99_999.90, 100_049.86, 100_049.82, 100_051.76, 100_051.71, 100_101.66]
    assert column(df, "equity") == approx(equities)


def test_positions_frame_realized_and_unrealized_by_hand():
    df = pb.positions_frame(hand_session()[0]).set_index("symbol")
    assert sorted(df.index) == ["AAPL", "MSFT"]  # the covered short is gone
    assert df.loc["AAPL", "realized_pl"] == pytest.approx(20.0)
    assert df.loc["AAPL", "unrealized_pl"] == pytest.approx(30.0)
    assert df.loc["MSFT", "realized_pl"] == 0.0
    assert df.loc["MSFT", "unrealized_pl"] == pytest.approx(2.0)
    assert df.loc["MSFT", "avg_price"] == pytest.approx(49.3)
    assert (df.loc["AAPL", "side"], df.loc["MSFT", "last"]) == ("Buy", 49.5)


def test_executions_frame_commission_and_net_amount_by_hand():
    df = pb.executions_frame(hand_session()[0])
    assert list(df["side"]) == ["Buy", "Sell", "Buy", "Buy", "Sell", "Buy"]
    assert column(df, "commission") == pytest.approx([0.10, 0.04, 0.04, 0.06, 0.05, 0.05])
    # cash moved: -qty*price for a buy, +qty*price for a sell, less the commission
    net = [-1_000.10, 419.96, -196.04, -297.06, 999.95, -950.05]
    assert column(df, "net_amount") == pytest.approx(net)


def test_orders_frame_avg_price_is_the_average_fill_not_the_limit():
    broker, ids = hand_session()
    df = pb.orders_frame(broker).set_index("id")
    assert df.loc[ids["msft"], "limit_price"] == 50.0
    assert df.loc[ids["msft"], "avg_price"] == pytest.approx(49.3)
    assert df.loc[ids["msft"], "filled_qty"] == 10.0
    assert df.loc[ids["aapl_sell"], "avg_price"] == 105.0
    assert df.loc[ids["cover"], "avg_price"] == 190.0


# ---------------------------------------------------------------------- the documented schema

SCHEMA = {
    "orders": [
        "id", "account", "symbol", "type", "side", "qty", "status", "limit_price", "stop_price",
        "take_profit", "stop_loss", "filled_qty", "avg_price", "updated", "parent_id", "parent_type",
        "message",
    ],
    "positions": [
        "id", "account", "symbol", "side", "qty", "avg_price", "last", "unrealized_pl", "realized_pl",
    ],
    "executions": [
        "time", "id", "order_id", "account", "symbol", "side", "qty", "price", "commission", "net_amount",
    ],
    "equity": ["time", "account", "balance", "equity", "realized_pl", "unrealized_pl", "commission"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(FRAMES))
def test_columns_are_the_documented_ones(name):
    assert list(FRAMES[name](pb.BrokerService(execution_delay=None)).columns) == SCHEMA[name]
    assert list(FRAMES[name](hand_session()[0]).columns) == SCHEMA[name]


def two_accounts() -> pb.BrokerService:
    """DEMO-ACCOUNT long 3 X @ 10; B short 2 Y @ 20, its order cancelled half filled."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    broker.open_account("B", 5_000.0)
    broker.fill(broker.buy("X", 3, price=10.0).id)
    y = broker.sell("Y", 4, price=20.0, account_id="B")
    broker.fill(y.id, qty=2)
    broker.cancel(y.id)
    return broker


def test_positions_frame_rows_are_the_account_s_own():
    broker = two_accounts()
    mine = pb.positions_frame(broker)
    assert mine[["id", "account", "symbol", "side", "qty", "avg_price"]].values.tolist() == [
        ["X", "DEMO-ACCOUNT", "X", "Buy", 3.0, 10.0]
    ]
    theirs = pb.positions_frame(broker, "B")
    assert theirs[["id", "account", "symbol", "side", "qty", "avg_price"]].values.tolist() == [
        ["Y", "B", "Y", "Sell", 2.0, 20.0]
    ]
    assert sorted(pb.positions_frame(broker, None)["account"]) == ["B", "DEMO-ACCOUNT"]


def test_orders_frame_rows_are_the_account_s_own_with_every_field():
    broker = two_accounts()
    row = pb.orders_frame(broker, "B").iloc[0]
    assert len(pb.orders_frame(broker, "B")) == 1 and len(pb.orders_frame(broker)) == 1
    assert (row["id"], row["account"], row["symbol"], row["type"], row["side"]) == (
        "ORDER-2", "B", "Y", "Market", "Sell"
    )  # fmt: skip
    assert (row["qty"], row["status"], row["filled_qty"], row["avg_price"]) == (4.0, "Canceled", 2.0, 20.0)
    assert row["updated"] == pd.Timestamp("2024-01-02 14:30:00", tz="UTC")
    assert sorted(pb.orders_frame(broker, None)["account"]) == ["B", "DEMO-ACCOUNT"]


def test_orders_frame_shows_prices_brackets_and_parents():
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    parent = broker.buy("X", 2, limit=10.0, take_profit=12.0, stop_loss=9.0)
    stop = broker.sell("Z", 1, stop=5.0)
    df = pb.orders_frame(broker).set_index("id")
    assert df.loc[parent.id, ["limit_price", "take_profit", "stop_loss"]].tolist() == [10.0, 12.0, 9.0]
    assert df.loc[stop.id, "stop_price"] == 5.0 and df.loc[stop.id, "type"] == "Stop"
    children = df[df["parent_id"] == parent.id]
    assert sorted(children["type"]) == ["Limit", "Stop"]
    assert set(children["parent_type"]) == {"Order"} and set(children["status"]) == {"Inactive"}
    assert pd.isna(df.loc[parent.id, "parent_type"])


def test_executions_and_equity_frames_rows_are_the_account_s_own():
    broker = two_accounts()
    mine, theirs = pb.executions_frame(broker), pb.executions_frame(broker, "B")
    assert mine[["id", "order_id", "account", "symbol", "side", "qty", "price"]].values.tolist() == [
        ["EXEC-1", "ORDER-1", "DEMO-ACCOUNT", "X", "Buy", 3.0, 10.0]
    ]
    assert theirs[["id", "order_id", "account", "symbol", "side", "qty", "price"]].values.tolist() == [
        ["EXEC-2", "ORDER-2", "B", "Y", "Sell", 2.0, 20.0]
    ]
    assert list(theirs["net_amount"]) == [40.0]
    equity = pb.equity_frame(broker, "B")
    assert list(equity["account"]) == ["B", "B"] and list(equity["balance"]) == [5_000.0, 5_000.0]
    assert list(pb.equity_frame(broker)["account"]) == ["DEMO-ACCOUNT", "DEMO-ACCOUNT"]
    assert list(pb.equity_frame(broker)["time"]) == [pd.Timestamp("2024-01-02 14:30:00", tz="UTC")] * 2


def test_an_account_without_fills_has_no_execution_rows():
    """B has traded nothing while DEMO-ACCOUNT and C have: B's frame is empty, not theirs."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    for name in ("B", "C"):
        broker.open_account(name)
    broker.fill(broker.buy("X", 1, price=10.0).id)
    broker.fill(broker.buy("X", 2, price=11.0, account_id="C").id)
    assert len(pb.executions_frame(broker, "B")) == 0
    assert list(pb.executions_frame(broker, "C")["qty"]) == [2.0]
    assert list(pb.equity_frame(broker, "B")["equity"]) == [100_000.0]


def test_a_fractional_long_and_a_short_show_their_size():
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    broker.fill(broker.buy("X", 0.5, price=10.0).id)
    broker.fill(broker.sell("Y", 0.25, price=4.0).id)
    df = pb.positions_frame(broker).set_index("id")
    assert df.loc["X", ["side", "qty"]].tolist() == ["Buy", 0.5]
    assert df.loc["Y", ["side", "qty"]].tolist() == ["Sell", 0.25]


DTYPES = {
    "orders": {"qty": "float64", "limit_price": "float64", "stop_price": "float64", "take_profit": "float64",
               "stop_loss": "float64", "filled_qty": "float64", "avg_price": "float64",
               "id": "str", "parent_id": "str", "message": "str"},
    "positions": {"qty": "float64", "avg_price": "float64", "last": "float64", "unrealized_pl": "float64"},
}  # fmt: skip


@pytest.mark.parametrize("name", list(DTYPES))
def test_columns_keep_their_dtype_even_when_every_value_is_missing(name):
    df = FRAMES[name](hand_session()[0])
    assert {column: str(df[column].dtype) for column in DTYPES[name]} == DTYPES[name]


def test_enum_columns_carry_every_label_as_a_category():
    df = pb.orders_frame(hand_session()[0])
    assert list(df["status"].cat.categories) == [
        "Canceled",
        "Filled",
        "Inactive",
        "Placing",
        "Rejected",
        "Working",
    ]
    assert list(df["type"].cat.categories) == ["Limit", "Market", "Stop", "Stop Limit"]
    assert list(df["side"].cat.categories) == ["Buy", "Sell"] or set(df["side"].cat.categories) == {
        "Buy",
        "Sell",
    }
    assert list(df["parent_type"].cat.categories) == ["Order", "Position"]


def test_orders_frame_carries_the_order_s_message():
    clock = pb.SimClock()
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    day = broker.buy("X", 1, limit=10.0, duration="DAY")
    clock.advance(8 * 3_600_000)  # past 21:00 UTC, the default session end
    with pytest.raises(pb.InvalidState):
        broker.fill(day.id)
    df = pb.orders_frame(broker).set_index("id")
    assert df.loc[day.id, "message"] == "The day order expired at the end of the session."
