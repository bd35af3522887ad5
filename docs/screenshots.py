"""Make the widget screenshots of the documentation (docs/_static/widgets/*.png).

Runs a seeded market-mode session in a real JupyterLab in headless Chromium, shows the
dashboard and each widget in a cell of its own, and saves a picture of each output.  The
session is deterministic, so running it again changes the pictures only where the
widgets changed.

    python docs/screenshots.py [--out docs/_static/widgets]

Needs the ``test`` extra (JupyterLab, Playwright) and Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SESSION = """\
import paperbroker as pb
from paperbroker.widgets import (
    AccountSummary, EquityChart, ExecutionsTable, OrdersTable, OrderTicket, PositionsTable, PriceChart,
    dashboard,
)

market = pb.RandomWalk({"AAPL": 190.0, "MSFT": 370.0}, volatility=0.002, quote_size=200)
broker = pb.BrokerService(market=market, seed=5, execution_delay=None, commission=pb.PerUnit(0.005))
# the price charts draw the quotes from when they are made: make them first
board = dashboard(broker, symbols=["AAPL", "MSFT"])
price = PriceChart(broker, "AAPL", height=340)
broker.run(30)
broker.buy("AAPL", 100, take_profit=197.0, stop_loss=181.0)
broker.sell("MSFT", 40)
broker.run(120)
broker.buy("MSFT", 20)
broker.buy("AAPL", 50, limit=180.0)
broker.run(150);"""

# (file name, the cell's code); each cell's output is photographed
PICTURES = [
    ("dashboard.png", "board"),
    ("price.png", "price"),
    ("orders.png", "OrdersTable(broker, height=220)"),
    ("positions.png", "PositionsTable(broker, height=120)"),
    ("executions.png", "ExecutionsTable(broker, height=150)"),
    ("summary.png", "AccountSummary(broker)"),
    ("chart.png", "EquityChart(broker, height=260)"),
    ("ticket.png", 'OrderTicket(broker, symbols=["AAPL", "MSFT"])'),
]


def _notebook(path: Path) -> None:
    cells = [SESSION, *(code for _, code in PICTURES)]
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
            for c in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb), encoding="utf-8")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "_static" / "widgets")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="pb-shots-"))
    _notebook(root / "shots.ipynb")
    port = _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(root / "config"), "JUPYTERLAB_WORKSPACES_DIR": str(root)}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
            "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
            f"--ServerApp.root_dir={root}", "--allow-root",
        ],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1300, "height": 1500}, device_scale_factor=1)
            for _ in range(120):
                try:
                    page.goto(f"http://127.0.0.1:{port}/lab/tree/shots.ipynb", timeout=5_000)
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    time.sleep(0.5)
            page.wait_for_function("() => document.body.innerText.includes('Idle')", timeout=120_000)
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            page.add_style_tag(content=".Toastify { display: none !important; }")  # the news prompt
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            shown = "document.querySelectorAll('.jp-Notebook .jp-OutputArea-output').length"
            page.wait_for_function(f"() => {shown} >= {len(PICTURES)}", timeout=120_000)
            args.out.mkdir(parents=True, exist_ok=True)
            for i, (name, _) in enumerate(PICTURES):
                cell = cells.nth(i + 1)  # after the session's cell
                # JupyterLab renders only the cells in view: bring each one in, then wait for
                # its charts to draw (plotly's SVG, the price chart's points)
                cell.scroll_into_view_if_needed()
                output = cell.locator(".jp-OutputArea-output").first
                for chart, drawn in ((".pb-chart", ".main-svg"), (".pb-price", "canvas")):
                    if output.locator(chart).count():
                        output.locator(f"{chart} {drawn}").first.wait_for(timeout=60_000)
                time.sleep(1.5)  # the last flushes and the first draws
                output.screenshot(path=str(args.out / name))
                print("wrote", args.out / name)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
