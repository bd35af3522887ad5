"""save() and load(): a whole broker round-trips, a seeded run goes on identically, and a
damaged file raises PersistenceError and loads nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import paperbroker as pb

from .reliability import check_consistent, is_sentence, snapshot

DATA = Path(__file__).parent / "data"
INITIAL = {pb.DEFAULT_ACCOUNT: 100_000.0, "B": 5_000.0}
SYMBOLS = ["AAA", "BBB", "CCC"]


def make_broker(**settings: Any) -> pb.BrokerService:
    options: dict[str, Any] = {
        "execution_delay": None,
        "seed": 42,
        "commission": pb.PerUnit(0.01),
        "history_limit": 40,
        "clock": pb.SimClock(),
        "risk": None,  # the broker without risk rules (test_persistence_market.py has them)
    }
    broker = pb.BrokerService(**{**options, **settings})
    broker.open_account("B", INITIAL["B"])
    return broker


def trade(broker: pb.BrokerService, steps: int) -> None:
    """A strategy that takes every decision from the broker's own generator."""
    rng = broker.rng
    for _ in range(steps):
        account = list(INITIAL)[int(rng.integers(2))]
        symbol = SYMBOLS[int(rng.integers(3))]
        price = round(float(rng.uniform(90.0, 110.0)), 2)
        qty = float(rng.integers(1, 20))
        working = broker.orders(account, status="working")
        roll = rng.random()
        if roll < 0.35:
            broker.submit(
                pb.PreOrder(symbol, "market", ("buy", "sell")[int(rng.integers(2))], qty, seenPrice=price),
                account,
            )
        elif roll < 0.5:
            broker.sell(symbol, qty, limit=price, account_id=account)
        elif roll < 0.6:
            broker.buy(symbol, qty, stop=price, account_id=account)
        elif working and roll < 0.9:
            order = working[int(rng.integers(len(working)))]
            part = None if rng.random() < 0.5 else order.remaining * float(rng.uniform(0.1, 0.9))
            broker.fill(order.id, qty=part, price=price)
        elif working:
            broker.cancel(working[int(rng.integers(len(working)))].id)
        broker.clock.advance(int(rng.integers(1, 5_000)))  # type: ignore[attr-defined]


def state(broker: pb.BrokerService) -> dict[str, Any]:
    """Everything observable, including the generator's next draws and the next ids."""
    out = snapshot(broker)
    out["executions_frame"] = pb.executions_frame(broker, None).to_json(date_format="iso", date_unit="ms")
    out["orders_frame"] = pb.orders_frame(broker, None).to_json(
        date_format="iso", date_unit="ms"
    )  # NaN-safe comparison
    out["now"] = broker.clock.now_ms()
    out["rng"] = broker.rng.bit_generator.state
    return out


def test_a_saved_broker_loads_back_exactly(tmp_path: Path) -> None:
    broker = make_broker()
    trade(broker, 300)
    assert broker.execution_count > 40  # history was trimmed: the bound is saved too
    path = pb.save(broker, tmp_path / "broker.json")
    loaded = pb.load(path)
    assert loaded is not broker
    assert state(loaded) == state(broker)
    assert loaded.subscriptions() == [] and not loaded.simulator_running


def test_a_seeded_run_continues_identically_after_a_reload(tmp_path: Path) -> None:
    whole = make_broker(history_limit=None)
    trade(whole, 400)

    first = make_broker(history_limit=None)
    trade(first, 150)
    second = pb.load(pb.save(first, tmp_path / "mid.json"))
    trade(second, 250)
    assert state(second) == state(whole)
    check_consistent(second, INITIAL)


async def test_the_simulator_continues_identically_after_a_reload(tmp_path: Path) -> None:
    """Classic mode picks which order fills with the generator: a reload mid-run changes
    nothing in what fills when."""

    async def run(stops: list[int]) -> pb.BrokerService:
        broker = pb.BrokerService(execution_delay=0, seed=5, clock=pb.SimClock(), history_limit=None)
        for i in range(30):
            broker.buy(SYMBOLS[i % 3], 1 + i, limit=100.0 + i)
        for stop in [*stops, 30]:
            done = asyncio.Event()

            def fill(execution: pb.Execution, stop: int = stop, b: Any = broker, d: Any = done) -> None:
                if b.execution_count == stop:
                    b.shutdown()  # inside the step, so no further draw is made
                    d.set()

            broker.subscribe(pb.topic("executions"), fill)
            await asyncio.wait_for(done.wait(), 10)
            if stop != 30:
                broker = pb.load(pb.save(broker, tmp_path / f"at-{stop}.json"))
        return broker

    whole, reloaded = await run([]), await run([7, 19])
    assert [e.orderId for e in reloaded.executions()] == [e.orderId for e in whole.executions()]
    assert state(reloaded) == state(whole)


def test_settings_round_trip(tmp_path: Path) -> None:
    for settings in (
        {"execution_delay": pb.RANDOM_DELAY, "clock": pb.WallClock(), "commission": None},
        {"execution_delay": 0.25, "commission": pb.FixedPerOrder(1.5), "history_limit": None},
        {"commission": pb.PercentOfNotional(0.1), "initial_balance": 7.0},
    ):
        broker = make_broker(**settings)
        loaded = pb.load(pb.save(broker, tmp_path / "settings.json"))
        assert repr(loaded) == repr(broker)
        assert type(loaded.clock) is type(broker.clock)
        assert loaded.history_limit == broker.history_limit
        loaded.open_account("NEW")  # the default initial balance was kept
        broker.open_account("NEW")
        assert loaded.equity("NEW") == broker.equity("NEW")
        before_ms = int(time.time() * 1000)
        for b in (broker, loaded):
            b.fill(b.buy("X", 3, price=10.0).id)
        after_ms = int(time.time() * 1000)
        if isinstance(broker.clock, pb.WallClock):
            # The two fills happen at two wall-clock moments, which a millisecond boundary
            # may fall between: both must carry the real time, and agree in all else.
            for b in (broker, loaded):
                assert all(before_ms <= e.time <= after_ms for e in b.executions())
            assert [replace(e, time=0) for e in loaded.executions()] == [
                replace(e, time=0) for e in broker.executions()
            ]
        else:
            assert loaded.executions() == broker.executions()


def test_orders_keep_their_time_in_force(tmp_path: Path) -> None:
    broker = make_broker()
    gtc = broker.buy("AAA", 2, limit=99.0, duration="GTC")
    day = broker.sell("BBB", 1, limit=101.0, duration="DAY")
    broker.cancel(day.id)
    loaded = pb.load(pb.save(broker, tmp_path / "tif.json"))
    assert loaded.order(gtc.id).duration == pb.OrderDuration("GTC")
    assert loaded.order(day.id).duration == pb.OrderDuration("DAY")
    assert state(loaded) == state(broker)


def test_a_file_written_before_orders_had_a_time_in_force_still_loads(tmp_path: Path) -> None:
    """data/classic-v1.json was written by paperbroker's first save() (its orders section is
    version 1) from ``make_broker()`` after ``trade(broker, 80)``."""
    document = json.loads((DATA / "classic-v1.json").read_bytes())
    assert document["body"]["orders"]["version"] == 1
    loaded = pb.load(DATA / "classic-v1.json")
    again = json.loads(pb.save(loaded, tmp_path / "again.json").read_bytes())
    assert again["body"] == document["body"]  # nothing lost or changed by loading
    # Trading goes on as with the code that wrote the file.  Floats may differ from a run of
    # today's code in the last bits: a position opened at a price now has exactly that
    # average price (the first code computed price * qty / qty).
    fresh = make_broker()
    trade(fresh, 80)
    assert rounded(state(loaded)) == rounded(state(fresh))
    trade(loaded, 60)
    trade(fresh, 60)
    assert rounded(state(loaded)) == rounded(state(fresh))


def rounded(value: Any) -> Any:
    """``value`` with its floats (also inside JSON text) rounded to 9 significant digits."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    if isinstance(value, str) and value[:1] in "[{":
        return rounded(json.loads(value))
    return value


def test_a_model_of_your_own_must_be_passed_again(tmp_path: Path) -> None:
    def fee(qty: float, price: float, first_fill: bool) -> float:
        return 0.25

    broker = make_broker(commission=fee)
    path = pb.save(broker, tmp_path / "own.json")
    with pytest.raises(
        pb.PersistenceError, match=r"commission model of your own .*load\(path, commission=model\)"
    ):
        pb.load(path)
    loaded = pb.load(path, commission=fee)
    assert loaded.fill(loaded.buy("X", 1, price=1.0).id).commission == 0.25
    with pytest.raises(pb.ConfigurationError, match="commission must be None or a commission model"):
        pb.load(path, commission="free")


# ---------------------------------------------------------------------- damaged files


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    broker = make_broker()
    trade(broker, 60)
    return pb.save(broker, tmp_path / "broker.json")


def load_fails(path: Path, match: str) -> None:
    with pytest.raises(pb.PersistenceError, match=match) as info:
        pb.load(path)
    assert is_sentence(str(info.value)), info.value


def test_a_truncated_file_loads_nothing(saved: Path) -> None:
    data = saved.read_bytes()
    for size in (0, 1, len(data) // 3, len(data) - 3):
        saved.write_bytes(data[:size])
        load_fails(saved, "not complete JSON: it is truncated")


def test_a_tampered_file_fails_its_checksum(saved: Path) -> None:
    document = json.loads(saved.read_bytes())
    document["body"]["ledger"]["accounts"][0]["realized"] += 1.0
    saved.write_text(json.dumps(document))
    load_fails(saved, "fails its checksum")


def test_one_changed_byte_anywhere_in_the_body_is_caught(saved: Path) -> None:
    data = saved.read_bytes()
    start = data.index(b'"body"')
    for offset in range(start + 10, len(data) - 2, max(1, (len(data) - start) // 97)):
        if data[offset : offset + 1].isdigit():
            changed = (
                data[:offset] + (b"1" if data[offset : offset + 1] != b"1" else b"2") + data[offset + 1 :]
            )
            saved.write_bytes(changed)
            load_fails(saved, "checksum|not complete JSON")


def rewrite(path: Path, change: Any) -> None:
    """Edit a saved file and fix its checksum, as a careful forger (or a newer paperbroker) would."""
    document = json.loads(path.read_bytes())
    change(document)
    body = json.dumps(document["body"], sort_keys=True, separators=(",", ":"))  # the documented form
    document["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    path.write_text(json.dumps(document))


def test_other_versions_and_formats_are_refused(saved: Path) -> None:
    original = saved.read_bytes()
    cases = [
        (lambda d: d.update(version=2), "format version 2; this paperbroker reads version 1"),
        (lambda d: d.update(format="something-else"), "is not a saved paperbroker broker"),
        (lambda d: d["body"]["ledger"].update(version=3), "Section 'ledger' .* is version 3"),
        (lambda d: d["body"].update(market={"version": 1}), "contents are malformed"),
        (lambda d: d["body"].update(portfolio={"version": 1}), r"reads \[.history."),
        (lambda d: d["body"].pop("orders"), r"reads \[.history."),
        (lambda d: d["body"]["orders"]["orders"][0][1].update(status=99), "contents are malformed"),
        (lambda d: d["body"]["history"]["executions"].update(data="%%"), "contents are malformed"),
        (lambda d: d["body"]["settings"].update(history_limit=-1), "contents are malformed"),
        (lambda d: d["body"]["settings"]["commission"].update(type="Free"), "contents are malformed"),
    ]
    for change, message in cases:
        saved.write_bytes(original)
        rewrite(saved, change)
        load_fails(saved, message)


def test_missing_files_and_bad_paths(tmp_path: Path) -> None:
    load_fails(tmp_path / "nothing-here.json", "Cannot read the saved broker")
    load_fails(tmp_path, "Cannot read the saved broker")
    (tmp_path / "list.json").write_text("[1, 2]")
    load_fails(tmp_path / "list.json", "is not a saved paperbroker broker")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    load_fails(tmp_path / "binary.json", "not complete JSON")
    for bad in (None, 3, ""):
        with pytest.raises(pb.PersistenceError, match="path must be a file name"):
            pb.load(bad)  # type: ignore[arg-type]
    with pytest.raises(pb.PersistenceError, match="Cannot save the broker"):
        pb.save(make_broker(), tmp_path / "no" / "such" / "dir.json")
    with pytest.raises(pb.PersistenceError, match="save\\(\\) needs a BrokerService"):
        pb.save("broker", tmp_path / "x.json")  # type: ignore[arg-type]


# ---------------------------------------------------------------------- atomic writes


@pytest.mark.parametrize("fault", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    saved: Path, monkeypatch: pytest.MonkeyPatch, fault: BaseException
) -> None:
    before = saved.read_bytes()
    broker = make_broker()
    trade(broker, 100)

    def fail(fd: int) -> None:
        raise fault

    monkeypatch.setattr(os, "fsync", fail)
    expected = pb.PersistenceError if isinstance(fault, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        pb.save(broker, saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]
    monkeypatch.undo()
    assert state(pb.load(saved)) != state(broker)  # still the old broker
    pb.save(broker, saved)
    assert state(pb.load(saved)) == state(broker)


def test_broker_save_and_load_methods(tmp_path):
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=5)
    broker.fill(broker.buy("AAA", 3, price=10.0).id)
    path = broker.save(tmp_path / "b.json")
    again = pb.BrokerService.load(path)
    assert again.positions() == broker.positions()
    assert again.equity() == broker.equity()
    assert again.executions() == broker.executions()
