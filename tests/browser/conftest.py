"""Real-browser fixtures: one token-less JupyterLab server per session on 127.0.0.1 and
Debian's Chromium driven by Playwright's sync API.

Without ``/usr/bin/chromium`` (or the ``playwright`` package) the browser tests skip,
except in CI (``CI`` set), where they fail: CI must install the browser.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
STARTUP_S = 120


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must provide it (apt-get install chromium; pip install playwright).")
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """The running server: where it serves and the folder it serves."""

    url: str
    root: Path

    def notebook(self, name: str, *cells: str) -> str:
        """Write a notebook of code cells into the served folder; returns its name."""
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, self.root / name)
        return name

    def api(self, method: str, path: str) -> Any:
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        for session in self.api("GET", "/api/sessions"):
            self.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    root = tmp_path_factory.mktemp("lab-root")
    home = tmp_path_factory.mktemp("lab-home")
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no "get notified about news" popup over the screenshots
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port = _free_port()
    log = (home / "server.log").open("w")
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--port={port}",
        "--ip=127.0.0.1",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.disable_check_xsrf=True",
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        f"--ServerApp.root_dir={root}",
        "--allow-root",
    ]
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while True:
            try:
                with urllib.request.urlopen(url + "/api/status", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail("JupyterLab did not start:\n" + (home / "server.log").read_text()[-3000:])
                time.sleep(0.3)
        yield Lab(url, root)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# Module scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is started, which would break every asyncio test collected after it.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Page:
    """A browser tab with what it reported: console errors and dialogs."""

    page: Any
    lab: Lab
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def open_lab(self, name: str) -> None:
        """Open a notebook in JupyterLab (its own workspace) and run all its cells."""
        self.page.goto(f"{self.lab.url}/lab/workspaces/{uuid.uuid4().hex[:8]}/tree/{name}")
        self._run_all()

    def open_notebook7(self, name: str) -> None:
        """Open a notebook in Notebook 7 and run all its cells."""
        self.page.goto(f"{self.lab.url}/notebooks/{name}")
        self._run_all()

    def _run_all(self) -> None:
        page = self.page
        page.wait_for_selector(".jp-Notebook", timeout=STARTUP_S * 1000)
        page.wait_for_function(
            """() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session
                    && w.sessionContext.session.kernel;
                return k && k.status === "idle";
            }""",
            timeout=STARTUP_S * 1000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")

    def screenshot(self, selector: str, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.locator(selector).first.screenshot(path=str(path))
        return path


# Messages the browser logs that are not about our widgets.
IGNORED_CONSOLE = ("Failed to load resource",)


@pytest.fixture
def tab(lab: Lab, chromium: Any) -> Iterator[Page]:
    # a browser far from UTC and from New York, the zones of the brokers' clocks in these
    # tests: a time shown in the browser's own zone, not the clock's, would not match
    context = chromium.new_context(viewport={"width": 1400, "height": 1300}, timezone_id="Pacific/Auckland")
    page = context.new_page()
    page.set_default_timeout(60_000)
    out = Page(page, lab)

    def on_console(msg: Any) -> None:
        if msg.type == "error" and not any(s in msg.text for s in IGNORED_CONSOLE):
            out.errors.append(msg.text)

    def on_dialog(dialog: Any) -> None:
        out.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda exc: out.errors.append(str(exc)))
    page.on("dialog", on_dialog)
    try:
        yield out
    finally:
        context.close()
        lab.shutdown_kernels()
