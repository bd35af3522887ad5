"""Market mode through the public API: price sources, fills against quotes, marks, quotes topic."""

from __future__ import annotations

import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import OrderStatus

from .conftest import record


def manual(**kwargs):
    return pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}), **kwargs)


def bars(rows, symbol="SPY", **kwargs):
    frame = pd.DataFrame(
        rows,
        columns=["open", "high", "low", "close", "volume"],
        index=pd.date_range("2024-01-02 14:30", periods=len(rows), freq="1min", tz="UTC"),
    )
    return pb.BarReplay(frame, symbol=symbol, **kwargs)


def test_random_walk_quotes_on_the_tick_grid_with_the_spread():
    b = pb.BrokerService(
        execution_delay=None,
        seed=4,
        market=pb.RandomWalk({"A": 50.0, "B": 20.0}, spread=0.03, tick_size=0.01),
    )
    b.run(200)
    for q in b.quotes():
        assert q.ask - q.bid == pytest.approx(0.03)
        assert round(q.bid, 2) == q.bid and q.bid <= q.last <= q.ask
    assert b.quote("A").time == b.clock.now_ms() == pb.SimClock().now_ms() + 200_000


def test_random_walk_is_reproducible_by_seed():
    def path(seed):
        b = pb.BrokerService(execution_delay=None, seed=seed, market=pb.RandomWalk(["A"], volatility=0.01))
        out = []
        for _ in range(300):
            b.step()
            out.append(b.quote("A").last)
        return out

    assert path(1) == path(1)
    assert path(1) != path(2)


def test_market_order_fills_at_the_ask_and_sell_at_the_bid():
    b = manual()
    rec = record(b)
    q = b.quote("X")
    buy = b.buy("X", 3)
    assert buy.status is OrderStatus.FILLED and buy.avgPrice == q.ask
    sell = b.sell("X", 1)
    assert sell.avgPrice == q.bid
    assert buy.limitPrice is None  # TradingView: a market order has no limit price
    assert [e.price for e in rec.of("executions")] == [q.ask, q.bid]


def test_limit_waits_for_the_price_then_fills_at_limit_or_better():
    b = manual()
    o = b.buy("X", 2, limit=99.0)
    assert b.order(o.id).status is OrderStatus.WORKING
    b.set_quote("X", bid=98.8, ask=98.9)
    filled = b.order(o.id)
    assert (filled.status, filled.avgPrice) == (OrderStatus.FILLED, 98.9)


def test_stop_triggers_on_touch_and_fills_at_the_gap_price():
    b = manual()
    b.buy("X", 5)
    stop = b.sell("X", 5, stop=95.0)
    b.set_price("X", 96.0)
    assert b.order(stop.id).status is OrderStatus.WORKING
    b.set_quote("X", bid=90.0, ask=90.1)  # a gap through the stop
    assert b.order(stop.id).avgPrice == 90.0


def test_partial_fills_are_separate_executions_and_the_order_stays_working():
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 10.0}, quote_size=4))
    rec = record(b)
    o = b.buy("X", 10)
    states = [(x.status, x.filledQty) for x in rec.of("orders")]
    assert states == [(OrderStatus.WORKING, 0), (OrderStatus.WORKING, 4)]
    b.step()
    b.step()
    assert [e.qty for e in rec.of("executions")] == [4, 4, 2]
    assert [x.filledQty for x in rec.of("orders")][-2:] == [8, 10]
    assert b.order(o.id).status is OrderStatus.FILLED
    assert b.position("X").qty == 10


def test_every_tick_marks_positions_and_broadcasts_pl_equity_and_quotes():
    b = manual()
    b.buy("X", 10)
    rec = record(b)
    quotes = []
    b.subscribe(pb.topic("quotes", symbol="X"), quotes.append)
    b.set_price("X", 101.0)
    assert rec.kinds() == ["pl", "equity"]
    assert rec.of("pl")[0].last == 101.0 and rec.of("pl")[0].unrealizedPL == pytest.approx(
        10 * (101.0 - 100.01)
    )
    assert quotes[-1].symbol == "X" and quotes[-1].last == 101.0
    assert rec.of("equity")[0].unrealizedPL == pytest.approx(9.9)


def test_equity_history_keeps_one_row_per_account_per_tick():
    b = pb.BrokerService(execution_delay=None, seed=3, market=pb.RandomWalk(["A"], quote_size=1))
    b.buy("A", 5)  # fills one unit per tick: several equity changes per tick
    b.run(50)
    frame = pb.equity_frame(b)
    # the opening row, then one row per tick: the first unit filled in the opening's
    # millisecond gets a row of its own rather than overwriting the opening balance
    assert frame["equity"].iloc[0] == 100_000.0 and frame["unrealized_pl"].iloc[0] == 0.0
    assert frame["time"].iloc[1:].is_unique
    assert frame["time"].iloc[1] == frame["time"].iloc[0]
    assert len(frame) <= 52


def test_a_replay_that_fills_on_its_first_bar_keeps_the_opening_balance():
    # the account opens at the first bar's time, and the order placed before run() fills
    # at that bar's open, 100, in the same millisecond: 10 shares, closes 101, 102, 103
    b = pb.BrokerService(
        execution_delay=None,
        market=bars([[100, 101, 99, 101, 1e6], [101, 102, 100, 102, 1e6], [102, 103, 101, 103, 1e6]],
                    volume_share=None),
    )  # fmt: skip
    b.buy("SPY", 10)
    b.run()
    frame = pb.equity_frame(b)
    assert frame["equity"].tolist() == [100_000.0, 100_010.0, 100_020.0, 100_030.0]
    assert frame["time"].iloc[0] == frame["time"].iloc[1]
    curve = pb.equity_curve(b)
    assert curve.tolist() == [100_000.0, 100_010.0, 100_020.0, 100_030.0]
    assert pb.stats(b)["return_pct"] == pytest.approx(0.03)


def test_bar_replay_steps_bar_by_bar_and_fills_at_the_next_open():
    b = pb.BrokerService(
        execution_delay=None,
        market=bars([[10, 11, 9, 10.5, 100], [10.6, 10.8, 10.4, 10.7, 100]], volume_share=None),
    )
    o = b.buy("SPY", 1)
    assert b.order(o.id).status is OrderStatus.WORKING  # bars: wait for the next bar
    assert b.run() == 2
    assert b.order(o.id).avgPrice == 10
    assert b.step() is False  # the data are used up
    assert b.quote("SPY").volume == 100 and b.quote("SPY").high == 10.8


def test_bar_replay_of_many_symbols_from_a_dict():
    idx = pd.date_range("2024-01-02", periods=3, freq="1D", tz="UTC")
    one = pd.DataFrame(
        {"Open": [1, 2, 3], "High": [1, 2, 3], "Low": [1, 2, 3], "Close": [1, 2, 3]}, index=idx
    )
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay({"A": one, "B": one * 10}))
    b.run()
    assert (b.quote("A").last, b.quote("B").last) == (3, 30)


def test_a_long_frame_plays_each_symbol_in_the_order_it_first_appears():
    times = pd.to_datetime(["2024-01-02 10:00", "2024-01-02 10:00", "2024-01-02 10:01"], utc=True)
    long = pd.DataFrame(
        {"time": times, "symbol": ["B", "A", "B"], "open": [2.0, 1.0, 3.0]}
        | {"high": [2.0, 1.0, 3.0], "low": [2.0, 1.0, 3.0], "close": [2.0, 1.0, 3.0]}
    )
    replay = pb.BarReplay(long, allow_gaps=True)
    assert replay.symbols == ["B", "A"]
    b = pb.BrokerService(execution_delay=None, market=replay)
    seen: list[pb.Quote] = []
    for symbol in ("A", "B"):
        b.subscribe(pb.topic("quotes", symbol=symbol), seen.append)
    b.run()
    assert [(q.symbol, q.last) for q in seen] == [("B", 2.0), ("A", 1.0), ("B", 3.0)]
    backwards = long.assign(time=times[[2, 0, 0]])  # B at 10:01, then B at 10:00
    with pytest.raises(pb.ConfigurationError, match=r"times of 'B' are not sorted: row 2 .* than row 0"):
        pb.BarReplay(backwards, allow_gaps=True)


def test_a_replay_keeps_its_own_copy_of_the_data():
    frame = pd.DataFrame(
        {"open": [10.0, 11.0], "high": [10.0, 11.0], "low": [10.0, 11.0], "close": [10.0, 11.0]},
        index=pd.date_range("2024-01-02 14:30", periods=2, freq="1min", tz="UTC"),
    )
    b = pb.BrokerService(execution_delay=None, market=pb.BarReplay(frame, symbol="X"))
    frame.loc[:, "close"] = 99.0  # the caller reuses the frame: the replay plays what it was given
    b.run()
    assert b.quote("X").last == 11.0
    assert frame["open"].tolist() == [10.0, 11.0]


@pytest.mark.parametrize(
    ("rows", "kwargs", "message"),
    [
        ([[10, 11, 9, float("nan"), 1]], {}, "Column 'close' has no number at row 0"),
        ([[10, 9, 9.5, 10, 1]], {}, "high must be the highest"),
        ([[10, 11, 9, 10, -1]], {}, "Column 'volume' is -1.0 at row 0"),
        ([[10, 11, 9, 10, 1]], {"volume_share": 2}, "volume_share is a fraction"),
    ],
)
def test_bad_bars_are_refused_with_the_row(rows, kwargs, message):
    with pytest.raises(pb.ConfigurationError, match=message):
        bars(rows, **kwargs)


def test_unsorted_and_gappy_data_are_refused_with_the_row_and_a_fix():
    idx = pd.to_datetime(["2024-01-02 10:00", "2024-01-02 09:59"], utc=True)
    frame = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}, index=idx)
    with pytest.raises(
        pb.ConfigurationError, match=r"not sorted: row 1 .* is earlier than row 0.*sort_index"
    ):
        pb.BarReplay(frame, symbol="X")
    idx = pd.to_datetime(["2024-01-02 10:00", "2024-01-02 10:01", "2024-01-02 10:05"], utc=True)
    frame = pd.DataFrame({"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0}, index=idx)
    with pytest.raises(pb.ConfigurationError, match=r"gap in 'X': row 2 .* allow_gaps=True"):
        pb.BarReplay(frame, symbol="X", frequency="1min")
    assert len(pb.BarReplay(frame, symbol="X", frequency="1min", allow_gaps=True)) == 3
    long = pd.DataFrame(
        {
            "time": idx[[0, 1, 0]],
            "symbol": ["A", "A", "B"],
            "open": 1.0,
            "high": 1.0,
            "low": 1.0,
            "close": 1.0,
        }
    )
    with pytest.raises(pb.ConfigurationError, match=r"gap at 2024-01-02 10:01.*'B' has no row"):
        pb.BarReplay(long)
    with pytest.raises(pb.ConfigurationError, match="lacks the column"):
        pb.BarReplay(frame.drop(columns="low"), symbol="X")
    with pytest.raises(pb.ConfigurationError, match="no 'symbol' column; pass symbol="):
        pb.BarReplay(frame)


def test_quote_replay_with_sizes():
    idx = pd.date_range("2024-01-02 14:30", periods=3, freq="1s", tz="UTC")
    frame = pd.DataFrame(
        {"bid": [10.0, 10.1, 10.2], "ask": [10.1, 10.2, 10.3], "bidSize": 5, "askSize": [2, 3, 9]}, index=idx
    )
    b = pb.BrokerService(execution_delay=None, market=pb.QuoteReplay(frame, symbol="Z"))
    o = b.buy("Z", 6)
    b.run()
    assert [e.price for e in b.executions()] == [10.1, 10.2, 10.3]
    assert [e.qty for e in b.executions()] == [2, 3, 1]
    assert b.order(o.id).status is OrderStatus.FILLED
    crossed = frame.assign(bid=[10.0, 10.3, 10.2])
    with pytest.raises(pb.ConfigurationError, match=r"row 1 .* ask must not be below its bid"):
        pb.QuoteReplay(crossed, symbol="Z")


def test_market_mode_configuration_errors():
    with pytest.raises(pb.ConfigurationError, match="market must be a price source"):
        pb.BrokerService(market="AAPL")
    with pytest.raises(pb.ConfigurationError, match="simulated clock"):
        pb.BrokerService(market=pb.RandomWalk(["A"]), clock=pb.WallClock())
    with pytest.raises(pb.ConfigurationError, match="slippage applies to market mode only"):
        pb.BrokerService(slippage=pb.FixedSlippage(1))
    walk = pb.RandomWalk(["A"])
    pb.BrokerService(market=walk)
    with pytest.raises(pb.ConfigurationError, match="already belongs to a broker"):
        pb.BrokerService(market=walk)
    with pytest.raises(pb.ConfigurationError, match="prices must be a dict"):
        pb.RandomWalk("AAPL")


def test_orders_for_symbols_the_market_does_not_trade_are_invalid():
    b = pb.BrokerService(execution_delay=None, market=pb.RandomWalk(["A"]))
    with pytest.raises(pb.InvalidOrder, match="does not trade 'B'; its symbols are A"):
        b.buy("B", 1)
    assert b.orders() == []


def test_a_replay_cannot_be_moved_by_hand_and_classic_mode_has_no_quotes():
    b = pb.BrokerService(execution_delay=None, market=bars([[1, 1, 1, 1, 1]]))
    with pytest.raises(pb.InvalidState, match="takes its prices from its data"):
        b.set_price("SPY", 2.0)
    classic = pb.BrokerService(execution_delay=None)
    with pytest.raises(pb.InvalidState, match="needs a market"):
        classic.set_price("X", 1.0)
    with pytest.raises(pb.InvalidState, match="no quotes in classic mode"):
        classic.quote("X")


def test_a_teacher_moves_a_random_walk_by_hand():
    b = pb.BrokerService(execution_delay=None, seed=2, market=pb.RandomWalk({"A": 100.0}))
    stop = b.sell("A", 1, stop=90.0)
    b.set_price("A", 80.0)
    assert b.order(stop.id).status is OrderStatus.FILLED
    b.step()
    assert abs(b.quote("A").last - 80.0) < 1.0  # the walk goes on from the new price


def test_a_failing_quote_subscriber_never_stops_the_market():
    b = manual()

    def broken(_quote):
        raise RuntimeError("boom")

    b.subscribe(pb.topic("quotes", symbol="X"), broken)
    b.run(3)
    assert b.subscriber_errors == 3


def test_a_triggered_stop_limit_says_so_until_its_stop_moves():
    """A teacher's question: why is my stop-limit still Working after the price passed the
    stop?  The order tells: its stop was reached and it now works as a limit order."""
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}, spread=0.0))
    rec = record(broker)
    order = broker.sell("X", 5, stop=95.0, limit=94.0)
    broker.set_price("X", 93.0)  # gaps through the stop, below the limit: it rests
    working = broker.order(order.id)
    assert working.status is OrderStatus.WORKING and working.filledQty == 0
    assert working.message == pb.OrderMessage(
        "information", "Stop 95 reached at 93; became a limit order at 94."
    )
    assert rec.of("orders")[-1] == working  # broadcast as an order change
    broker.modify(order.id, stop_price=92.0, limit_price=91.0)  # a new stop: armed again
    assert broker.order(order.id).message is None
    broker.set_price("X", 92.5)
    assert broker.order(order.id).filledQty == 0  # waits for its new stop
    broker.set_price("X", 91.5)
    assert broker.order(order.id).status is OrderStatus.FILLED
