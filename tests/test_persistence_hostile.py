"""Hostile save files: each was written by hand and its checksum recomputed, as a careful
forger (or a buggy tool) would, so only the load's checks stand between it and a broker
that fails later.  Every one must raise PersistenceError naming the field, and load
nothing; a price source passed to load() stays unused.  A property test then mutates
valid files at random: each either loads into a sound broker or is refused, never with
another exception."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import paperbroker as pb

from .reliability import call, check_consistent, is_sentence, scaled
from .test_persistence import INITIAL, make_broker, rewrite, trade
from .test_persistence_market import drive_manual, drive_market, manual_broker, market_broker, walk

Body = dict[str, Any]


def refused(path: Path, field: str, **given: Any) -> str:
    """Loading ``path`` raises PersistenceError, in a sentence that names ``field``."""
    with pytest.raises(pb.PersistenceError) as info:
        pb.load(path, **given)
    text = str(info.value)
    assert is_sentence(text), text
    assert field in text, text
    return text


@pytest.fixture
def classic(tmp_path: Path) -> Path:
    broker = make_broker(history_limit=None)
    trade(broker, 80)
    return pb.save(broker, tmp_path / "classic.json")


def first(body: Body, status: pb.OrderStatus) -> int:
    """The position in ``orders.orders`` of the first order with ``status``."""
    return next(n for n, (_, o) in enumerate(body["orders"]["orders"]) if o["status"] == int(status))


def forge(path: Path, change: Callable[[Body], Any]) -> Path:
    rewrite(path, lambda document: change(document["body"]))
    return path


# ---------------------------------------------------------------------- numbers


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_naming_the_field(classic: Path, bad: float) -> None:
    forge(classic, lambda body: body["ledger"]["accounts"][0].update(realized=bad))
    refused(classic, f"ledger.accounts[0].realized must be a finite number, got {bad!r}")


def test_a_number_too_large_for_a_float_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["ledger"]["marks"].update(AAA=math.inf))
    classic.write_text(classic.read_text().replace("Infinity", "1e999"))
    assert "1e999" in classic.read_text()
    refused(classic, "ledger.marks['AAA'] must be a number > 0, got inf")


def test_a_string_quantity_is_refused(classic: Path) -> None:
    body = json.loads(classic.read_bytes())["body"]
    n = first(body, pb.OrderStatus.WORKING)
    forge(classic, lambda body: body["orders"]["orders"][n][1].update(qty="5"))
    refused(classic, f"orders.orders[{n}][1].qty must be a number > 0, got '5'")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda body: body["settings"].update(history_limit="40"), "settings.history_limit must be"),
        (lambda body: body["settings"].update(order_seq=True), "settings.order_seq must be a whole number"),
        (
            lambda body: body["orders"]["orders"][0][1].update(status="6"),
            "orders.orders[0][1].status must be",
        ),
        (lambda body: body["orders"]["orders"][0][1].update(side=0), "orders.orders[0][1].side must be"),
        (lambda body: body["orders"]["orders"][0][1].update(qty=-1.0), "orders.orders[0][1].qty must be"),
        (lambda body: body["orders"]["orders"][0].append("x"), "orders.orders[0] must be a list of 2"),
        (
            lambda body: body["orders"]["orders"][0][1].update(colour=1),
            "orders.orders[0][1].colour is not a field here",
        ),
        (lambda body: body["history"]["executions"].update(data=7), "history.executions.data must be packed"),
        (lambda body: body["random"]["state"].update(bit_generator="Dice"), "random.state.bit_generator"),
        (lambda body: body["random"]["state"].update(bit_generator=["PCG64"]), "random.state.bit_generator"),
        (lambda body: body["random"]["state"]["state"].update(inc="1"), "random.state is not a state"),
    ],
)
def test_wrong_types_are_refused_naming_the_field(
    classic: Path, change: Callable[[Body], Any], field: str
) -> None:
    refused(forge(classic, change), field)


def test_a_null_average_price_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["ledger"]["accounts"][0]["positions"][0].update(avg=None))
    refused(classic, "ledger.accounts[0].positions[0].avg must be a number > 0, got None")


def test_a_filled_order_without_an_average_price_is_refused(classic: Path) -> None:
    body = json.loads(classic.read_bytes())["body"]
    n = first(body, pb.OrderStatus.FILLED)
    forge(classic, lambda body: body["orders"]["orders"][n][1].update(avgPrice=None))
    refused(classic, f"orders.orders[{n}][1].avgPrice must be a number > 0 once it has filled")


# ---------------------------------------------------------------------- ids and lists


def test_an_order_listed_twice_as_working_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["orders"]["working"].append(body["orders"]["working"][0]))
    refused(classic, "is an order listed twice as working")


def test_an_order_listed_as_working_that_is_not_is_refused(classic: Path) -> None:
    body = json.loads(classic.read_bytes())["body"]
    filled = body["orders"]["orders"][first(body, pb.OrderStatus.FILLED)][1]["id"]
    forge(classic, lambda body: body["orders"]["working"].append(filled))
    refused(classic, f"{filled!r} is listed as working but is filled")


def test_a_working_order_missing_from_the_working_list_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["orders"]["working"].pop())
    refused(classic, "is working but not listed in working")


def test_duplicate_ids_are_refused(classic: Path, tmp_path: Path) -> None:
    original = classic.read_bytes()
    forge(classic, lambda body: body["orders"]["orders"].append(body["orders"]["orders"][0]))
    refused(classic, "orders.orders[")
    classic.write_bytes(original)
    forge(classic, lambda body: body["ledger"]["accounts"].append(body["ledger"]["accounts"][0]))
    refused(classic, "is an account listed twice")
    classic.write_bytes(original)
    forge(classic, lambda body: body["history"]["symbols"].append(body["history"]["symbols"][0]))
    refused(classic, "history.symbols[3]")


def test_a_history_limit_below_what_the_file_keeps_is_refused(classic: Path) -> None:
    """A broker keeps at most history_limit finished orders (and twice that many rows)."""
    forge(classic, lambda body: body["settings"].update(history_limit=1))
    refused(classic, "orders.done lists")


def test_a_forged_order_counter_that_would_reuse_an_id_is_refused(classic: Path) -> None:
    """Before, the next order was ORDER-1 again and overwrote a filled order."""
    forge(classic, lambda body: body["settings"].update(order_seq=1))
    refused(classic, "settings.order_seq 1 would give the id of the saved order")


def test_a_forged_execution_counter_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["settings"].update(exec_seq=2))
    refused(classic, "settings.exec_seq 2 would give the id")


# ---------------------------------------------------------------------- references


def test_empty_code_lists_are_refused(classic: Path) -> None:
    original = classic.read_bytes()
    forge(classic, lambda body: body["history"].update(symbols=[]))
    refused(classic, "history.executions.data row 0 has the symbol code")
    classic.write_bytes(original)
    forge(classic, lambda body: body["history"].update(accounts=[]))
    refused(classic, "history.accounts [] are not the saved accounts")


def _recode(body: Body, column: int, value: float) -> None:
    log = body["history"]["executions"]
    rows = np.frombuffer(base64.b64decode(log["data"]), "<f8").reshape(-1, 7).copy()
    rows[0, column] = value
    log["data"] = base64.b64encode(rows.astype("<f8").tobytes()).decode()


@pytest.mark.parametrize(("column", "what"), [(1, "account"), (2, "symbol")])
def test_unknown_accounts_and_symbols_in_the_history_are_refused(
    classic: Path, column: int, what: str
) -> None:
    forge(classic, lambda body: _recode(body, column, 9.0))
    refused(classic, f"history.executions.data row 0 has the {what} code 9, but only")


def test_an_order_of_an_account_that_is_not_saved_is_refused(classic: Path) -> None:
    forge(classic, lambda body: body["orders"]["orders"][0].__setitem__(0, "NOBODY"))
    refused(classic, "orders.orders[0][0] 'NOBODY' is an account that is not saved")


def test_books_that_do_not_add_up_to_the_executions_are_refused(classic: Path) -> None:
    """With the whole history kept, the ledger must be what the executions add up to."""
    original = classic.read_bytes()
    forge(classic, lambda body: body["ledger"]["accounts"][0].update(commission=0.0))
    refused(classic, "ledger.accounts[0].commission 0.0 is not what its executions add up to")
    classic.write_bytes(original)

    def flip(body: Body) -> None:
        position = body["ledger"]["accounts"][0]["positions"][0]
        position.update(qty=-position["qty"], side=-position["side"], unrealized=-position["unrealized"])
        body["ledger"]["accounts"][0]["unrealized"] -= 2 * position["unrealized"]

    forge(classic, flip)
    refused(classic, "ledger.accounts[0].positions[0].qty")


def test_a_position_that_does_not_fit_its_side_or_holders_is_refused(classic: Path) -> None:
    original = classic.read_bytes()
    position = json.loads(original)["body"]["ledger"]["accounts"][0]["positions"][0]
    classic.write_bytes(original)
    forge(classic, lambda body: body["ledger"]["accounts"][0]["positions"][0].update(side=-position["side"]))
    refused(classic, "ledger.accounts[0].positions[0].qty")
    classic.write_bytes(original)
    forge(classic, lambda body: body["ledger"]["holders"].update(ZZZ=["B"]))
    refused(classic, "ledger.holders['ZZZ']")


def test_risk_brackets_and_day_orders_must_refer_to_saved_orders(tmp_path: Path) -> None:
    broker = manual_broker()
    drive_manual(broker, 60)
    broker.buy("AAA", 1, limit=90.0, take_profit=95.0, stop_loss=85.0, duration="DAY")
    path = pb.save(broker, tmp_path / "manual.json")
    original = path.read_bytes()
    body = json.loads(original)["body"]
    filled = body["orders"]["orders"][first(body, pb.OrderStatus.FILLED)][1]["id"]
    cases: list[tuple[Callable[[Body], Any], str]] = [
        (lambda b: b["risk"]["reservations"][0].__setitem__(0, filled), "risk.reservations[0][0]"),
        (lambda b: b["risk"]["reservations"][0].__setitem__(1, "EVE"), "risk.reservations[0][1] 'EVE'"),
        (lambda b: b["risk"]["reserved"].append(b["risk"]["reserved"][0]), "risk.reserved["),
        (lambda b: b["risk"]["pending"][0].__setitem__(3, b["risk"]["pending"][0][3] + 5), "risk.pending ["),
        (lambda b: b["risk"]["reservations"][0].__setitem__(4, 1e6), "is not the sum of the reservations"),
        (
            lambda b: b["brackets"]["parents"][0][1].append(b["brackets"]["parents"][0][1][0]),
            "brackets.parents",
        ),
        (lambda b: b["session"]["day_orders"].append(filled), "session.day_orders["),
        (lambda b: b["session"]["day_orders"].append(b["session"]["day_orders"][0]), "session.day_orders["),
    ]
    for change, field in cases:
        path.write_bytes(original)
        refused(forge(path, change), field)


# ---------------------------------------------------------------------- market


@pytest.fixture
def market_file(tmp_path: Path) -> Path:
    broker = market_broker(walk(), history_limit=None)
    drive_market(broker, 60)
    broker.buy("AAA", 1, limit=round(broker.quote("AAA").bid * 0.95, 2))  # one rests for sure
    return pb.save(broker, tmp_path / "market.json")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda m: m["matcher"].update(seq=-1), "market.matcher.seq must be a whole number >= 0"),
        (lambda m: m["matcher"]["entries"].append(m["matcher"]["entries"][0]), "is filed twice"),
        (lambda m: m["matcher"]["entries"][0].__setitem__(2, 10**9), "market.matcher.entries[0][2]"),
        (lambda m: m["matcher"].update(bid=m["matcher"]["ask"][:-4]), "market.matcher.bid"),
        (lambda m: m["source"]["quotes"]["quoted"].append(True), "market.source.quotes.quoted"),
        (lambda m: m["source"].update(k=10_000), "market.source.k 10000"),
        (lambda m: m["last_equity"][0].__setitem__(2, 10**9), "market.last_equity[0][2]"),
    ],
)
def test_a_damaged_market_loads_nothing_and_leaves_the_given_source_unused(
    market_file: Path, change: Callable[[Body], Any], field: str
) -> None:
    forge(market_file, lambda body: change(body["market"]))
    refused(market_file, field)
    if "market.source" in field:
        return  # a given source replaces the saved one: its own state is not read
    given = walk()
    before = [q.to_dict() for q in (given.quote("AAA"), given.quote("BBB"))]
    refused(market_file, field, market=given)
    assert [q.to_dict() for q in (given.quote("AAA"), given.quote("BBB"))] == before
    pb.BrokerService(market=given)  # still free: no "already belongs to a broker"


def test_a_given_manual_source_gains_no_symbols_from_a_refused_file(tmp_path: Path) -> None:
    broker = market_broker(pb.ManualQuotes({"AAA": 100.0, "BBB": 60.0}), history_limit=None)
    drive_market(broker, 30, move=True)
    path = pb.save(broker, tmp_path / "manual.json")
    forge(path, lambda body: body["risk"]["gross"].append(["EVE", 1.0]))
    given = pb.ManualQuotes()
    refused(path, "risk.gross[", market=given)
    assert given.symbols == []


def test_risk_position_values_that_are_not_the_ledgers_are_refused(market_file: Path) -> None:
    saved = market_file.read_bytes()
    forge(market_file, lambda body: body["risk"]["values"][0].__setitem__(2, 1.0))
    text = refused(market_file, "risk.values [")
    assert "is not the value of the ledger's positions" in text
    market_file.write_bytes(saved)
    forge(market_file, lambda body: body["risk"]["gross"][0].__setitem__(1, 1.0))
    refused(market_file, "risk.gross [")
    market_file.write_bytes(saved)
    loaded = pb.load(forge(market_file, lambda body: body["risk"]["gross"].append(["B", 0.0])))
    assert loaded.equity("B").marginUsed == 0.0  # an account listed with 0, as older files do


def test_an_initial_balance_that_is_not_the_equity_rows_is_refused(classic: Path, market_file: Path) -> None:
    """The executions check P&L and commissions; the initial balance is checked by the
    account's last equity row, which every change of its money books."""
    for path in (classic, market_file):
        saved = path.read_bytes()
        forge(path, lambda body: body["ledger"]["accounts"][0].__setitem__("initial_balance", 1))
        text = refused(path, "ledger.accounts[0].initial_balance 1 ")
        assert "does not fit the account's last equity row" in text
        path.write_bytes(saved)
        loaded = pb.load(path)  # as saved, it loads, and goes on booking rows that fit
        if path is classic:
            loaded.fill_all()
        else:
            loaded.run(5)
        pb.load(pb.save(loaded, path))


# ---------------------------------------------------------------------- random mutations


def _files() -> dict[str, tuple[bytes, dict[str, float]]]:
    """Valid files of a classic, a manual (risk, brackets, day orders) and a market broker,
    each keeping its whole history, with the accounts' initial balances."""
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        classic = make_broker(history_limit=None)
        trade(classic, 60)
        manual = manual_broker()
        drive_manual(manual, 60)
        market = market_broker(walk(), history_limit=None)
        drive_market(market, 60)
        for name, broker, initial in (
            ("classic", classic, INITIAL),
            ("manual", manual, {pb.DEFAULT_ACCOUNT: 20_000.0, "B": 10_000.0}),
            ("market", market, {pb.DEFAULT_ACCOUNT: 50_000.0, "B": 20_000.0}),
        ):
            out[name] = (pb.save(broker, Path(folder) / f"{name}.json").read_bytes(), initial)
    return out


FILES = _files()


def _places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value inside ``value`` (its containers too)."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _places(item, (*path, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            out += _places(item, (*path, n))
    return out


def _mutate(body: Body, where: tuple[Any, ...], kind: str, pick: int) -> None:
    parent: Any = body
    for key in where[:-1]:
        parent = parent[key]
    key = where[-1]
    value = parent[key]
    if kind == "duplicate" and isinstance(value, list) and value:
        value.append(json.loads(json.dumps(value[pick % len(value)])))
    elif kind == "negate" and isinstance(value, (int, float)) and not isinstance(value, bool):
        parent[key] = -value if value else -1
    elif kind == "nan":
        parent[key] = (math.nan, math.inf, -math.inf)[pick % 3]
    else:  # another type
        options = ["5", True, None, [], {}, 1, 2.5]
        parent[key] = next(o for o in options[pick % 7 :] + options if type(o) is not type(value))


mutation = st.tuples(
    st.integers(0, 10**6), st.sampled_from(["type", "nan", "negate", "duplicate"]), st.integers(0, 50)
)


@scaled(0.5)
@given(name=st.sampled_from(sorted(FILES)), mutations=st.lists(mutation, min_size=1, max_size=3))
def test_a_randomly_damaged_file_loads_soundly_or_is_refused(
    name: str, mutations: list[tuple[int, str, int]]
) -> None:
    data, initial = FILES[name]
    document = json.loads(data)
    for index, kind, pick in mutations:
        places = [p for p in _places(document["body"]) if len(p) > 1 and p[-1] != "version"]
        _mutate(document["body"], places[index % len(places)], kind, pick)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.json"
        path.write_text(json.dumps(document))
        rewrite(path, lambda document: None)  # the checksum fits: only the checks can tell
        loaded, error = call(pb.load, path)
    if error is not None:
        assert isinstance(error, pb.PersistenceError), repr(error)  # never another exception
        assert is_sentence(str(error)), error
        return
    check_consistent(loaded, initial)
    for go_on in (lambda: loaded.run(5), loaded.fill_all):  # and it trades on soundly
        with contextlib.suppress(pb.BrokerError):  # refused as a broker refuses: nothing changed
            go_on()
    check_consistent(loaded, initial)
