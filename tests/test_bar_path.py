"""A bar replay's short path (one symbol's bar handed to the venue as numbers) does what
the general path (a :class:`Tick` per time, checked and applied row by row) does.

The venue takes a time at which one symbol has a bar from ``BarReplay.next_bar`` and
applies it without building a ``Tick``; a time with several symbols' bars, and any source
of your own, go through ``next_tick``.  A replay whose ``next_tick`` is overridden (here:
one that only calls the replay's own) takes the general path for every time, so running
the same strategy on both and comparing every event, the price history, the books and the
saved quotes shows the two paths agree.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb
from paperbroker.market.source import Tick, bar_quote
from paperbroker.records import is_read_only

TOPICS = ("orders", "executions", "positions", "pl", "equity", "quotes")


class _General(pb.BarReplay):
    """The same replay, every time through ``next_tick`` (a source of one's own)."""

    def next_tick(self, now_ms: int) -> Tick | None:
        return super().next_tick(now_ms)


def _bars(seed: int, n: int = 160) -> dict[str, pd.DataFrame]:
    """Two symbols of one-minute bars; Y skips some minutes, so some times have one bar."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-02 14:30", periods=n, freq="1min")
    frames = {}
    for symbol, start in (("X", 100.0), ("Y", 40.0)):
        close = start * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
        open_ = np.r_[start, close[:-1]]
        wick = np.abs(rng.normal(0.0, 0.001, (2, n)))
        frame = pd.DataFrame(
            {
                "open": open_,
                "high": np.maximum(open_, close) * (1 + wick[0]),
                "low": np.minimum(open_, close) * (1 - wick[1]),
                "close": close,
                "volume": rng.integers(50, 400, n).astype(float),
            },
            index=times,
        )
        frames[symbol] = frame if symbol == "X" else frame[rng.random(n) < 0.6]
    return frames


def _record(
    broker: pb.BrokerService, events: list[tuple[str, dict[str, Any]]], symbols: tuple[str, ...]
) -> None:
    """Every event of every topic into ``events``, as (topic, dict)."""
    for name in TOPICS:
        for symbol in symbols if name == "quotes" else (None,):
            where = pb.topic(name, symbol=symbol) if symbol else pb.topic(name)
            broker.subscribe(where, lambda r, n=name: events.append((n, r.to_dict())))


def _run(
    kind: type[pb.BarReplay],
    seed: int,
    tmp: Path | None = None,
    *,
    symbols: tuple[str, ...] = ("X", "Y"),
    bars: int = 160,
    save_at: int = 70,
    **options: Any,
) -> dict[str, Any]:
    """A seeded strategy of market, limit, stop and bracket orders on a replay of ``kind``
    (of ``symbols``' ``bars`` bars); every event of every topic, as dicts, and the books at
    the end.  With ``tmp`` the broker is saved after ``save_at`` steps and loaded to run on."""
    frames = _bars(seed, bars)
    keep = options.pop("columns", None)  # (a list of columns: the frames' others dropped)
    data = {symbol: frames[symbol][keep] if keep else frames[symbol] for symbol in symbols}
    share, spread = options.pop("volume_share", 0.5), options.pop("spread", 0.0)
    replay = kind(data, volume_share=share, spread=spread, allow_gaps=True)
    broker = pb.BrokerService(execution_delay=None, market=replay, **options)
    events: list[tuple[str, dict[str, Any]]] = []
    _record(broker, events, symbols)
    rng = np.random.default_rng(seed + 1)

    def strategy(quote: pb.Quote) -> None:
        roll = rng.random()
        qty = int(rng.integers(1, 30))
        if roll < 0.15:
            broker.buy(quote.symbol, qty)
        elif roll < 0.3:
            broker.sell(quote.symbol, qty)
        elif roll < 0.4:
            broker.buy(quote.symbol, qty, limit=round(quote.last * 0.998, 2))
        elif roll < 0.5:
            broker.sell(quote.symbol, qty, stop=round(quote.last * 0.997, 2))
        elif roll < 0.55:
            broker.buy(
                quote.symbol,
                qty,
                take_profit=round(quote.last * 1.004, 2),
                stop_loss=round(quote.last * 0.996, 2),
            )
        elif roll < 0.6 and broker.orders(status="working"):
            broker.cancel(broker.orders(status="working")[0].id)

    for symbol in symbols:
        broker.subscribe(pb.topic("quotes", symbol=symbol), strategy)
    if tmp is None:
        broker.run()
    else:  # save part way, load, and run the rest on the loaded broker
        broker.run(save_at)
        broker = pb.BrokerService.load(broker.save(tmp / "half.json"))
        loaded: list[tuple[str, dict[str, Any]]] = []
        _record(broker, loaded, symbols)
        for symbol in symbols:
            broker.subscribe(pb.topic("quotes", symbol=symbol), strategy)
        broker.run()
        events = loaded
    return {
        "events": events,
        "prices": {k: [None if x != x else x for x in v.tolist()] for k, v in broker.price_history().items()},
        "quotes": [broker.quote(s).to_dict() for s in symbols],
        "executions": pb.executions_frame(broker).to_dict("list"),
        "equity": broker.equity().to_dict(),
        "positions": [p.to_dict() for p in broker.positions()],
    }


@pytest.mark.parametrize("seed", [3, 11, 29])
def test_the_short_path_makes_what_the_general_path_makes(seed: int) -> None:
    short, general = _run(pb.BarReplay, seed), _run(_General, seed)
    assert len(short["executions"]["id"]) > 20  # the strategy trades
    assert sum(1 for name, _ in short["events"] if name == "quotes") > 200
    assert short == general


def test_the_paths_agree_with_bid_ask_marks_and_a_spread() -> None:
    short = _run(pb.BarReplay, 5, spread=0.04, mark="bid_ask")
    general = _run(_General, 5, spread=0.04, mark="bid_ask")
    assert short == general


def test_a_replay_saved_part_way_runs_on_to_the_same_books(tmp_path: Path) -> None:
    # saved after 70 steps, its quotes still rows from next_bar: they must save as quotes
    halves = _run(pb.BarReplay, 17, tmp_path)
    whole = _run(_General, 17)
    for part in ("events", "prices"):  # the loaded broker's subscribers and price log begin at the load
        del halves[part], whole[part]
    assert halves == whole
    assert len(whole["executions"]["id"]) > 10


# A replay of one symbol hands the venue each chunk's rows through ``pull`` (one C call a
# bar); these runs are longer than a chunk (CHUNK_TIMES, 512 times), so they cross its ends.


@pytest.mark.parametrize("seed", [3, 8])
def test_one_symbols_pulled_rows_make_what_the_general_path_makes(seed: int) -> None:
    short = _run(pb.BarReplay, seed, symbols=("X",), bars=1300)
    general = _run(_General, seed, symbols=("X",), bars=1300)
    assert len(short["executions"]["id"]) > 100
    assert sum(1 for name, _ in short["events"] if name == "quotes") == 1300
    assert short == general


@pytest.mark.parametrize(
    "given", [{"columns": ["open", "high", "low", "close"]}, {"volume_share": None}, {"spread": 0.06}]
)
@pytest.mark.parametrize("symbols", [("X",), ("X", "Y")])
def test_the_paths_agree_without_volume_unlimited_or_with_a_spread(
    symbols: tuple[str, ...], given: dict[str, Any]
) -> None:
    short = _run(pb.BarReplay, 12, symbols=symbols, bars=600, **given)
    general = _run(_General, 12, symbols=symbols, bars=600, **given)
    assert len(short["executions"]["id"]) > 50
    assert short == general


@pytest.mark.parametrize("save_at", [1, 511, 512, 700, 1299])
def test_a_pulled_replay_saved_mid_chunk_runs_on_to_the_same_books(tmp_path: Path, save_at: int) -> None:
    halves = _run(pb.BarReplay, 21, tmp_path, symbols=("X",), bars=1300, save_at=save_at)
    whole = _run(_General, 21, symbols=("X",), bars=1300)
    for part in ("events", "prices"):  # the loaded broker's subscribers and price log begin at the load
        del halves[part], whole[part]
    assert halves == whole


def test_a_pulled_replay_knows_where_it_is() -> None:
    frame = _bars(6, 1300)["X"]
    replay = pb.BarReplay(frame, symbol="X", volume_share=None)
    broker = pb.BrokerService(execution_delay=None, market=replay)
    for steps in (1, 600, 511, 100):  # into the first chunk, across two ends, into the third
        broker.run(steps)
        played = replay.rows_played()
        assert replay.remaining == 1300 - played
        assert broker.quote("X").time == int(frame.index[played - 1].value // 1_000_000)
        assert broker.quote("X").last == frame["close"].iloc[played - 1]
    assert played == 1212
    assert broker.run() == 88 and replay.remaining == 0
    assert broker.run() == 0


def test_the_current_quote_is_the_last_bar_each_symbol_had() -> None:
    frames = _bars(7, 20)
    broker = pb.BrokerService(
        execution_delay=None, market=pb.BarReplay(frames, volume_share=None, allow_gaps=True)
    )
    last: dict[str, pb.Quote] = {}
    for symbol in ("X", "Y"):
        broker.subscribe(pb.topic("quotes", symbol=symbol), lambda q: last.__setitem__(q.symbol, q))
    broker.run()
    for symbol in ("X", "Y"):
        quote = broker.quote(symbol)
        assert quote == last[symbol]
        assert quote.time == int(frames[symbol].index[-1].value // 1_000_000)
        assert quote.bidSize is None and quote.volume == frames[symbol]["volume"].iloc[-1]


def test_the_price_history_of_a_replay_is_its_newest_rows() -> None:
    frames = _bars(9, 50)
    replay = pb.BarReplay(frames, volume_share=None, allow_gaps=True)
    broker = pb.BrokerService(execution_delay=None, market=replay, history_limit=30)
    broker.run(12)
    early = broker.price_history()
    twelfth = pd.Timestamp("2024-01-02 14:41")  # the first 12 minutes, both symbols' bars
    assert len(early["time"]) == sum(int((f.index <= twelfth).sum()) for f in frames.values()) < 30
    broker.run()
    rows = broker.price_history()
    assert len(rows["time"]) == 30  # at least history_limit rows are kept, the newest
    both = pd.concat([f.assign(symbol=s) for s, f in frames.items()]).sort_index(kind="stable")
    newest = both.iloc[-30:]
    assert rows["time"].tolist() == [int(t.value // 1_000_000) for t in newest.index]
    assert rows["symbol"].tolist() == newest["symbol"].tolist()
    assert rows["last"].tolist() == newest["close"].tolist()
    assert rows["volume"].tolist() == newest["volume"].tolist()
    assert np.isnan(rows["bid"]).all()
    x = broker.price_history("X")
    assert x["high"].tolist() == frames["X"]["high"].iloc[-len(x["time"]) :].tolist()
    rows["last"][0] = -1.0  # the arrays are the caller's own
    assert broker.price_history()["last"][0] == newest["close"].iloc[0]
    with pytest.raises(pb.NotFound, match="no prices of 'Z'"):
        broker.price_history("Z")


def test_a_bar_quote_is_the_quote_its_constructor_makes() -> None:
    frame = _bars(4, 6)["X"]
    broker = pb.BrokerService(execution_delay=None, market=pb.BarReplay(frame, symbol="X", spread=0.02))
    heard: list[pb.Quote] = []
    broker.subscribe(pb.topic("quotes", symbol="X"), heard.append)
    broker.run()
    for quote, (at, bar) in zip(heard, frame.iterrows(), strict=True):
        size = bar["volume"] * 0.1  # the default volume_share
        made = pb.Quote(
            "X", bar["close"] - 0.01, bar["close"] + 0.01, size, size, bar["close"],
            int(at.value // 1_000_000), bar["open"], bar["high"], bar["low"], bar["volume"],
        )  # fmt: skip
        assert quote == made and quote.to_dict() == made.to_dict()
        assert is_read_only(quote)


def test_bar_quote_keeps_each_side_and_shows_unlimited_as_none() -> None:
    row = (1_000, 0, 10.0, 11.0, 9.0, 10.5, 300.0, 10.49, 10.51, 5.0, 7.0)
    assert bar_quote("X", row) == pb.Quote("X", 10.49, 10.51, 5.0, 7.0, 10.5, 1_000, 10.0, 11.0, 9.0, 300.0)
    unlimited = (1_000, 0, 10.0, 11.0, 9.0, 10.5, math.inf, 10.49, 10.51, math.inf, math.inf)
    quote = bar_quote("X", unlimited)
    assert (quote.bidSize, quote.askSize, quote.volume) == (None, None, None)
