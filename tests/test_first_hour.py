"""What a newcomer meets in the first hour (issue 18): the install line, a script without an
event loop, manual stepping, the default risk, enums and reprs that read well, frames in
the clock's zone, errors in the caller's words, and the student version of notebook 03."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import sys
import warnings
from pathlib import Path

import pytest

import paperbroker as pb

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli is in the test extra there
    import tomli as tomllib


def manual(**settings: object) -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(), **settings)  # type: ignore[arg-type]


# -- 1. install line and project URLs ----------------------------------------------------


def test_readme_says_the_package_is_not_on_the_index_and_installs_from_a_checkout() -> None:
    readme = (ROOT / "README.md").read_text()
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    assert "not on the Python package index" in install
    assert "pip install -e ." in install
    assert "```bash\npip install paperbroker" not in readme


def test_project_urls_name_the_repository_the_binder_badge_opens() -> None:
    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    badge = re.search(r"mybinder\.org/v2/gh/([^/]+/[^/]+)/", (ROOT / "README.md").read_text())
    assert badge is not None
    repo = badge.group(1)
    assert urls["Source"] == f"https://github.com/{repo}"
    assert all(url.startswith(f"https://github.com/{repo}") for url in urls.values())


# -- 2. classic mode without an event loop -----------------------------------------------


def test_a_subscription_without_a_running_loop_warns_once_with_what_to_do() -> None:
    broker = pb.BrokerService()  # classic mode: it needs the background task
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = broker.subscribe(pb.topic("executions"), lambda e: None)
        broker.subscribe(pb.topic("orders"), lambda o: None)
        first.close()
        broker.subscribe(pb.topic("equity"), lambda e: None)
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    text = str(runtime[0].message)
    assert "execution_delay=None" in text and "asyncio.run" in text
    assert runtime[0].filename == __file__  # it points at the caller's line
    assert not broker.simulator_running
    broker.shutdown()


def test_manual_mode_and_a_running_loop_do_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = manual()
        quiet.subscribe(pb.topic("executions"), lambda e: None)
        quiet.shutdown()

        async def main() -> bool:
            broker = pb.BrokerService(execution_delay=0.01)
            broker.subscribe(pb.topic("executions"), lambda e: None)
            order = broker.buy("AAPL", 1, limit=10.0)
            await asyncio.sleep(0.2)
            filled = broker.order(order.id).status is pb.OrderStatus.FILLED
            broker.shutdown()
            return filled

        assert asyncio.run(main())


# -- 3. manual mode's step() and run() without a market ----------------------------------


def test_manual_step_without_a_market_fills_one_working_order_at_its_own_price() -> None:
    broker = manual(seed=3)
    a = broker.buy("AAPL", 10, limit=150.0)
    b = broker.sell("MSFT", 5, limit=400.0)
    assert broker.step() is True
    states = [broker.order(o.id).status for o in (a, b)]
    assert sorted(states) == sorted([pb.OrderStatus.FILLED, pb.OrderStatus.WORKING])
    (execution,) = broker.executions()
    assert execution.price == (150.0 if execution.symbol == "AAPL" else 400.0)
    assert broker.run(5) == 5
    assert [broker.order(o.id).status for o in (a, b)] == [pb.OrderStatus.FILLED] * 2
    assert "one random" in (pb.BrokerService.step.__doc__ or "")


# -- 4. the default risk -----------------------------------------------------------------


def test_the_default_account_cannot_buy_more_than_its_equity() -> None:
    broker = manual()
    with pytest.raises(pb.OrderRejected) as info:
        broker.buy("AAPL", 100_000, price=189.0)
    # 100,000 x 189 needed, the whole 100,000 of equity available
    assert "18,900,000.00" in str(info.value) and "100,000.00 is available" in str(info.value)
    assert "risk=None" in str(info.value)
    (refused,) = broker.orders()
    assert refused.status is pb.OrderStatus.REJECTED
    assert broker.equity().equity == 100_000.0
    assert broker.positions() == []


def test_the_default_allows_shorts_and_counts_what_is_held() -> None:
    broker = manual()
    broker.fill(broker.sell("AAPL", 100, price=150.0))  # a short of 15,000
    equity = broker.equity()
    assert equity.marginUsed == 15_000.0
    assert equity.buyingPower == 100_000.0 - 15_000.0
    with pytest.raises(pb.OrderRejected):
        broker.buy("MSFT", 300, price=300.0)  # 90,000 > 85,000 left
    broker.buy("MSFT", 200, price=300.0)  # 60,000 fits


def test_risk_none_is_unlimited() -> None:
    broker = manual(risk=None)
    order = broker.buy("AAPL", 100_000, price=189.0)
    broker.fill(order)
    assert broker.position("AAPL").qty == 100_000
    assert broker.equity().buyingPower is None


# -- 5. enums print as names -------------------------------------------------------------


def test_enums_print_as_names_and_stay_protocol_integers() -> None:
    broker = manual()
    order = broker.buy("AAPL", 1, limit=10.0)
    assert str(order.status) == "WORKING" and str(order.side) == "BUY"
    assert f"{order.type} {order.side:>5}" == "LIMIT   BUY"
    assert f"{order.status:d} {pb.Side.SELL:+d}" == "6 -1"
    assert int(order.status) == 6 and order.status == 6
    assert json.loads(order.to_json())["status"] == 6
    assert json.loads(order.to_json())["side"] == 1


# -- 6. times ----------------------------------------------------------------------------


def test_frames_use_the_clocks_time_zone() -> None:
    clock = pb.SimClock(timezone="America/New_York")  # starts at 2024-01-02 14:30 UTC
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    broker.fill(broker.buy("AAPL", 1, price=10.0))
    (time,) = pb.executions_frame(broker)["time"]
    assert str(time.tz) == "America/New_York"
    assert (time.hour, time.minute) == (9, 30)  # 14:30 UTC is 09:30 EST
    assert str(pb.orders_frame(broker)["updated"].dt.tz) == "America/New_York"
    assert str(pb.equity_frame(broker)["time"].dt.tz) == "America/New_York"


def test_frames_stay_utc_with_a_utc_clock() -> None:
    broker = manual()
    broker.fill(broker.buy("AAPL", 1, price=10.0))
    (time,) = pb.executions_frame(broker)["time"]
    assert str(time.tz) == "UTC" and (time.hour, time.minute) == (14, 30)


def test_reprs_show_a_readable_utc_time_beside_the_milliseconds() -> None:
    execution = pb.Execution("AAPL", 10.0, 1.0, pb.Side.BUY, 1_704_205_800_250)
    assert "time=1704205800250 (2024-01-02 14:30:00.250 UTC)" in repr(execution)
    assert execution.time == 1_704_205_800_250


# -- 7. money in reprs -------------------------------------------------------------------


def test_reprs_round_money_to_the_cent_and_values_keep_full_precision() -> None:
    equity = pb.EquityData(99_957.99999999999, 100_000.0, -0.0041, -42.00000000000159)
    shown = repr(equity)
    assert "realizedPL=-42.0," in shown and "unrealizedPL=0.0," in shown
    assert "equity=99958.0," in shown
    assert equity.realizedPL == -42.00000000000159
    position = pb.Position("EURUSD", "EURUSD", 1000.0, pb.Side.BUY, 1.0834500000000001)
    assert "avgPrice=1.08345," in repr(position)  # a price keeps its sub-cent ticks


# -- 8. errors in the caller's words -----------------------------------------------------


def test_errors_name_the_argument_the_caller_used() -> None:
    broker = manual()
    with pytest.raises(pb.InvalidOrder, match=r"limit=") as info:
        broker.buy("AAPL", 1, limit=-1.0)
    assert "-1.0" in str(info.value)
    with pytest.raises(pb.InvalidOrder, match=r"stop_loss="):
        broker.buy("AAPL", 1, price=10.0, stop_loss=11.0)
    with pytest.raises(pb.InvalidOrder, match=r"price="):
        broker.buy("AAPL", 1)  # a market order, no price known yet
    with pytest.raises(pb.InvalidOrder, match=r"limitPrice"):
        broker.submit({"symbol": "AAPL", "type": "limit", "side": "buy", "qty": 1})
    assert broker.orders() == [] or all(o.status is pb.OrderStatus.REJECTED for o in broker.orders())


def test_fill_takes_the_order_record_or_its_id() -> None:
    broker = manual()
    first = broker.buy("AAPL", 10, limit=100.0)
    second = broker.buy("AAPL", 10, limit=102.0)
    assert broker.fill(first).orderId == first.id
    assert broker.fill(second.id, qty=4).qty == 4
    assert broker.position("AAPL").qty == 14
    with pytest.raises(pb.UnknownOrder, match=r"order\.id"):
        broker.fill(7)  # type: ignore[arg-type]
    with pytest.raises(pb.InvalidState, match=f"Order {first.id} is filled"):
        broker.fill(first)


# -- notebook 03's student version -------------------------------------------------------


def _student_module():  # type: ignore[no-untyped-def]
    path = ROOT / "notebooks" / "student_version.py"
    spec = importlib.util.spec_from_file_location("student_version", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_student_notebook_is_generated_from_the_answered_one() -> None:
    module = _student_module()
    source = json.loads(module.SOURCE.read_text(encoding="utf-8"))
    assert module.TARGET.read_text(encoding="utf-8") == module.render(module.student(source)), (
        "notebooks/03-pnl-accounting-student.ipynb is out of date: run python notebooks/student_version.py"
    )


def test_the_student_notebook_has_every_answer_blank_and_no_outputs() -> None:
    module = _student_module()
    answered = json.loads(module.SOURCE.read_text(encoding="utf-8"))
    student = json.loads(module.TARGET.read_text(encoding="utf-8"))
    assert len(student["cells"]) == len(answered["cells"])
    tagged = [c for c in answered["cells"] if "answer" in c["metadata"].get("tags", [])]
    assert len(tagged) == 8  # one per exercise
    code = "\n".join("".join(c["source"]) for c in student["cells"] if c["cell_type"] == "code")
    assert code.count("answer = ...") == 8
    text = json.dumps(student)
    assert "(150 * 52 + 50 * 60) / 200" not in text  # exercise 1's answer, anywhere
    assert "NBVAL_CHECK_OUTPUT" not in code
    assert all(c.get("outputs", []) == [] for c in student["cells"] if c["cell_type"] == "code")
