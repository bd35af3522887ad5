"""The widgets in a real JupyterLab (and Notebook 7) in headless Chromium."""

from __future__ import annotations

from .conftest import Lab, Page

XSS = "<img src=x onerror=alert(1)>"

SETUP = f"""\
import asyncio, pathlib
import paperbroker as pb
from paperbroker.widgets import dashboard
XSS = {XSS!r}
broker = pb.BrokerService(execution_delay=None, seed=1)
for symbol, price in [("AAPL", 189.25), ("MSFT", 411.5), (XSS, 10.0)]:
    broker.fill(broker.buy(symbol, 10, price=price).id)
broker.fill(broker.sell("AAPL", 4, price=190.75).id)
broker.buy("MSFT", 5, limit=400.0)
board = dashboard(broker, symbols=["AAPL", "MSFT"])
board"""

# A background task that trades once the test says so (the file "go" appears): the
# fill happens after every cell has finished.
LATER = """\
async def later():
    while not pathlib.Path("go").exists():
        await asyncio.sleep(0.05)
    broker.fill(broker.buy("LATE", 7, price=55.5).id)
task = asyncio.get_running_loop().create_task(later())"""


def rows_text(tab: Page, table: str) -> list[str]:
    """The visible rows of a table (``.pb-table`` with that title) as text."""
    return tab.page.evaluate(
        """(title) => {
            const t = [...document.querySelectorAll('.pb-table')]
                .find((el) => el.querySelector('.pb-heading').textContent === title);
            return [...t.querySelectorAll('.pb-row:not([hidden])')]
                .map((r) => [...r.querySelectorAll('.pb-cell')].map((c) => c.textContent).join('|'));
        }""",
        table,
    )


def table(tab: Page, title: str) -> str:
    return f".pb-table:has(.pb-heading:text-is('{title}'))"


def wait_row(tab: Page, title: str, *texts: str) -> None:
    """Wait until a visible row of the table has every one of ``texts`` as a cell."""
    tab.page.wait_for_function(
        """([title, texts]) => {
            const t = [...document.querySelectorAll('.pb-table')]
                .find((el) => el.querySelector('.pb-heading').textContent === title);
            return t && [...t.querySelectorAll('.pb-row:not([hidden])')].some((r) => {
                const cells = [...r.querySelectorAll('.pb-cell')].map((c) => c.textContent);
                return texts.every((x) => cells.includes(x));
            });
        }""",
        arg=[title, list(texts)],
    )


def test_dashboard_renders_live_and_safe(lab: Lab, tab: Page) -> None:
    name = lab.notebook("dashboard.ipynb", SETUP, LATER)
    tab.open_lab(name)
    page = tab.page
    # every widget rendered, with the state made before it was displayed
    page.wait_for_selector(".pb-summary .pb-figure-equity .pb-value:not(:empty)")
    page.wait_for_selector(".pb-chart .main-svg")
    page.wait_for_selector(".pb-ticket .pb-buy-button")
    wait_row(tab, "Positions", "AAPL", "Long", "6", "189.25")
    wait_row(tab, "Orders", "MSFT", "Buy", "Limit", "400.00", "Working")
    wait_row(tab, "Executions", "AAPL", "Sell", "4", "190.75")
    assert page.locator(".pb-summary .pb-figure-realizedPL .pb-value").text_content() == "+6.00"
    assert page.locator(".pb-table").count() == 3
    # a symbol that is HTML is shown as text: no element, no script, no dialog
    wait_row(tab, "Positions", XSS, "Long", "10")
    assert page.locator(".pb-table img, .pb-summary img, .pb-ticket img").count() == 0
    assert "LATE" not in " ".join(rows_text(tab, "Executions"))

    # a fill by the background task, after the cells finished, reaches the tables
    (lab.root / "go").write_text("")
    wait_row(tab, "Executions", "LATE", "Buy", "7", "55.50")
    wait_row(tab, "Positions", "LATE", "Long", "7")
    assert "LATE" in rows_text(tab, "Executions")[0]  # merged in at the top: newest first
    assert "LATE" in rows_text(tab, "Orders")[0]
    tab.screenshot(".jp-OutputArea-output:has(.pb-summary)", "dashboard-lab.png")

    # the dark theme recolours the widgets
    light = page.locator(".pb-summary .pb-figure-realizedPL .pb-value").evaluate(
        "e => getComputedStyle(e).color"
    )
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})"
    )
    page.wait_for_selector("body[data-jp-theme-light='false']", state="attached")
    page.wait_for_function(
        "(light) => getComputedStyle(document.querySelector('.pb-summary .pb-figure-realizedPL .pb-value'))"
        ".color !== light",
        arg=light,
    )
    tab.screenshot(".jp-OutputArea-output:has(.pb-summary)", "dashboard-lab-dark.png")
    page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})"
    )
    page.wait_for_selector("body[data-jp-theme-light='true']", state="attached")
    assert tab.dialogs == []
    assert tab.errors == []


TICKET = """\
import paperbroker as pb
from paperbroker.widgets import dashboard
broker = pb.BrokerService(execution_delay=None)
board = dashboard(broker, symbols=["AAPL"])
board"""


def test_ticket_places_an_order_that_can_be_cancelled(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("ticket.ipynb", TICKET))
    page = tab.page
    ticket = page.locator(".pb-ticket")
    ticket.wait_for()
    page.wait_for_selector(".pb-chart .main-svg")
    ticket.locator("label:has-text('Type') select").select_option("limit")
    ticket.locator("label:has-text('Quantity') input").fill("3")
    ticket.locator("label:has-text('Limit price') input").fill("101.25")
    ticket.locator("button", has_text="Buy").click()
    wait_row(tab, "Orders", "AAPL", "Buy", "Limit", "3", "101.25", "Working", "ORDER-1")
    status = ticket.locator(".pb-status-line")
    assert status.text_content() == "ORDER-1 working: Buy 3 AAPL limit 101.25"
    assert status.get_attribute("data-kind") == "ok"

    orders = page.locator(table(tab, "Orders"))
    orders.locator(".pb-row:not([hidden]) button", has_text="Cancel").click()
    wait_row(tab, "Orders", "ORDER-1", "Canceled")
    assert orders.locator(".pb-notice").text_content() == "Cancelled ORDER-1."
    assert orders.locator(".pb-row:not([hidden]) button:has-text('Cancel'):visible").count() == 0

    # an invalid order shows why in the ticket and places nothing
    ticket.locator("label:has-text('Quantity') input").fill("")
    ticket.locator("button", has_text="Sell").click()
    page.wait_for_function(
        "() => document.querySelector('.pb-ticket .pb-status-line').dataset.kind === 'error'"
    )
    assert status.text_content() == "Quantity is empty; enter how many to trade."
    ticket.locator("label:has-text('Type') select").select_option("market")
    ticket.locator("label:has-text('Symbol') input").fill("ZZZ")
    ticket.locator("label:has-text('Fill price') input").fill("")  # no price: none is known
    ticket.locator("label:has-text('Quantity') input").fill("2")
    ticket.locator("button", has_text="Buy").click()
    page.wait_for_function(
        "() => document.querySelector('.pb-ticket .pb-status-line').textContent.includes('ZZZ')"
    )
    assert "No price is known for 'ZZZ'" in status.text_content()
    assert len(rows_text(tab, "Orders")) == 1
    assert tab.errors == []


VIRTUAL = """\
import paperbroker as pb
from paperbroker.widgets import ExecutionsTable
broker = pb.BrokerService(execution_delay=None, risk=None)  # 10,000 buys: no buying-power limit
for i in range(10_000):
    broker.fill(broker.buy(f"S{i % 7}", 1 + i % 5, price=100 + i % 13).id)
table = ExecutionsTable(broker, height=300)
table"""


def test_ten_thousand_rows_render_only_what_is_visible(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("virtual.ipynb", VIRTUAL, "table  # a second view of the same widget"))
    page = tab.page
    # both views rebuild the full table from a snapshot
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pb-table .pb-count')]"
        ".filter((c) => c.textContent === '10,000 rows').length === 2"
    )
    first = page.locator(".pb-table").first  # drive the first view
    rows = first.locator(".pb-row:not([hidden])")
    in_view = "() => [...document.querySelector('.pb-table').querySelectorAll('.pb-row:not([hidden])')]"
    assert rows.count() < 60
    assert "ORDER-10000" in rows_text(tab, "Executions")[0]
    scroller = first.locator(".pb-scroll")
    scroller.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_function(
        in_view + ".some((r) => r.textContent.includes('ORDER-1') && !r.textContent.includes('ORDER-10'))"
    )
    assert rows.count() < 60
    # sorting by a column re-orders the rows
    scroller.evaluate("el => { el.scrollTop = 0; }")
    first.locator(".pb-head button", has_text="Symbol").click()
    page.wait_for_function(
        "() => document.querySelector('.pb-table .pb-head button[data-sorted=asc]')?.textContent === 'Symbol'"
    )
    page.wait_for_function(in_view + ".every((r) => r.querySelectorAll('.pb-cell')[1].textContent === 'S0')")
    assert tab.errors == []


ZONED = """\
import paperbroker as pb
from paperbroker.widgets import EquityChart, ExecutionsTable
clock = pb.SimClock(timezone="America/New_York")  # 2024-01-02 14:30 UTC: 09:30 in New York
broker = pb.BrokerService(execution_delay=None, clock=clock)
broker.fill(broker.buy("AAPL", 1, price=100.0).id)
clock.advance(90_000)
broker.fill(broker.sell("AAPL", 1, price=101.0).id)
table = ExecutionsTable(broker)
chart = EquityChart(broker)
display(table, chart)"""


def test_times_show_in_the_broker_clock_zone_not_the_browsers(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("zoned.ipynb", ZONED))
    page = tab.page
    wait_row(tab, "Executions", "09:31:30", "AAPL", "Sell")
    wait_row(tab, "Executions", "09:30:00", "AAPL", "Buy")
    heading = page.locator(".pb-table .pb-head button", has_text="Time")
    assert heading.get_attribute("title") == "Sort by Time (America/New_York)"
    # plotly draws epoch ms as UTC wall time: the last point must sit at 09:31:30
    plot_x = "document.querySelector('.pb-chart .js-plotly-plot')?.data?.[0]?.x"
    page.wait_for_function(f"() => {plot_x}?.length")
    last_x = page.evaluate(f"() => {plot_x}.at(-1)")
    assert last_x == 1_704_205_800_000 + 90_000 - 5 * 3_600_000
    assert tab.errors == []


# Notebook 7 served by the Lab server logs these for a notebook with no widget at all
# (checked with a notebook holding only `1+1`): they are the host's, not ours.
NOTEBOOK7_HOST_ERRORS = {
    "Cannot read properties of undefined (reading 'schema')",
    "Command 'filebrowser:open-path' not registered.",
}

NOTEBOOK7 = """\
import paperbroker as pb
from paperbroker.widgets import dashboard
broker = pb.BrokerService(execution_delay=None)
broker.fill(broker.buy("AAPL", 3, price=100.0).id)
broker.fill(broker.sell("AAPL", 1, price=102.5).id)
board = dashboard(broker, symbols=["AAPL"])
board"""


def test_dashboard_in_notebook_7(lab: Lab, tab: Page) -> None:
    tab.open_notebook7(lab.notebook("notebook7.ipynb", NOTEBOOK7))
    page = tab.page
    page.wait_for_selector(".pb-summary .pb-figure-realizedPL .pb-value:text-is('+2.50')")
    page.wait_for_selector(".pb-chart .main-svg")
    wait_row(tab, "Positions", "AAPL", "Long", "2", "100.00", "102.50", "+5.00")
    wait_row(tab, "Executions", "AAPL", "Sell", "1", "102.50")
    tab.screenshot(".jp-OutputArea-output:has(.pb-summary)", "dashboard-notebook7.png")
    assert [e for e in tab.errors if e not in NOTEBOOK7_HOST_ERRORS] == []
