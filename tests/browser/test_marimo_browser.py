"""The dashboard in marimo (``marimo run`` on 127.0.0.1, headless Chromium): it renders
every part and keeps updating while the market runs."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import CHROMIUM, STARTUP_S, _unavailable

APP = """\
import marimo

app = marimo.App()


@app.cell
def _():
    import paperbroker as pb
    from paperbroker.widgets import dashboard

    broker = pb.BrokerService(seed=1, market=pb.RandomWalk({"AAPL": 190.0}), execution_delay=0.1)
    broker.buy("AAPL", 3)
    board = dashboard(broker, symbols=["AAPL"])
    board
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.fixture
def marimo_app(tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    pytest.importorskip("marimo")
    (tmp_path / "app.py").write_text(APP)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = (tmp_path / "marimo.log").open("w")
    cmd = [sys.executable, "-m", "marimo", "run", "app.py", "--headless", "--host", "127.0.0.1"]
    server = subprocess.Popen([*cmd, "-p", str(port), "--no-token"], cwd=tmp_path, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("marimo did not start:\n" + (tmp_path / "marimo.log").read_text()[-3000:])
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_marimo_renders_the_dashboard_live(marimo_app: str, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 1400})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(marimo_app)
        # every live part renders (marimo's anywidget elements; locators see into them)
        page.locator(".pb-summary .pb-value").first.wait_for(timeout=STARTUP_S * 1000)
        page.locator(".pb-ticket .pb-buy-button").first.wait_for()
        assert page.locator(".pb-table").count() == 3
        page.locator(".pb-price[data-mode='line']").first.wait_for()
        # and keeps updating: the price chart gains points as the market ticks
        price = page.locator(".pb-price").first
        first = int(price.get_attribute("data-points") or 0)
        deadline = time.monotonic() + 30
        while int(price.get_attribute("data-points") or 0) < first + 5:
            assert time.monotonic() < deadline, "the chart stopped updating in marimo"
            time.sleep(0.2)
        positions = page.locator(".pb-table:has(.pb-heading:text-is('Positions')) .pb-row:not([hidden])")
        assert "AAPL" in positions.first.text_content()
        assert errors == []
    finally:
        context.close()
