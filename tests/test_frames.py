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
