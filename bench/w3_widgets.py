"""W3: a displayed dashboard in real JupyterLab while the broker makes 2,000 fills a second.

A token-less JupyterLab is started on 127.0.0.1 and a notebook is run in headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright).  The notebook displays
``paperbroker.widgets.dashboard`` (with its price chart) and then a background task trades
on the kernel's loop: every 10 ms it places 20 market orders, each filled at once by the
market (a random walk of five symbols), and steps the market once every ``--tick-every``
orders (default 5: 400 ticks a second, 2,000 quotes), for ``--seconds`` (default 20).

Measured:

* messages per second from kernel to browser: every ``comm_msg`` the kernel publishes,
  counted in the kernel (the average over the run and the busiest 1-second window);
* kernel time per fill in widget code: the callbacks (the same trades timed on a broker
  with the dashboard's subscriptions and on one with no-op subscribers on the same topics,
  the difference divided by the fills) plus the flushes (their total time during the live
  run divided by its fills);
* the delay until the browser shows the final state: an in-page recorder notes, every
  animation frame, the equity in the account summary and the newest fill's order in the
  executions table and the last price on the price chart; the delay is from the kernel's
  last fill to the first frame that shows all three final values, and the kernel's part
  of it (from the last fill to the last message the kernel sent).

    python bench/w3_widgets.py [--seconds 20] [--rate 2000] [--tick-every 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import nbformat

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

SETUP = r"""
import asyncio, json, time, pathlib
import gc
import paperbroker as pb
from paperbroker.widgets import BrokerWidget, dashboard


FLUSH = {{}}  # seconds spent in widget flushes, by widget class
_flush = BrokerWidget._flush
_nested = [0.0]  # a flush inside a flush (flush_with partners) counts for its own class only
def _timed(self):
    t, outer = time.perf_counter(), _nested[0]
    _nested[0] = 0.0
    try:
        _flush(self)
    finally:
        spent = time.perf_counter() - t
        name = type(self).__name__
        FLUSH[name] = FLUSH.get(name, 0.0) + spent - _nested[0]
        _nested[0] = outer + spent
BrokerWidget._flush = _timed

SYMBOLS = ["AAPL", "MSFT", "NVDA", "EURUSD", "SPY"]
TICK_EVERY = {tick_every}
def new_broker():
    return pb.BrokerService(execution_delay=None, seed=1, market=pb.RandomWalk({{s: 125.0 for s in SYMBOLS}}))

def trade(broker, i):
    symbol = SYMBOLS[i % 5]
    order = (broker.buy if (i // 5) % 2 == 0 else broker.sell)(symbol, 1 + i % 3)
    if order.status is not pb.OrderStatus.FILLED:
        broker.fill(order.id)
    if i % TICK_EVERY == TICK_EVERY - 1:
        broker.step()

broker = new_broker()
board = dashboard(broker, symbols=SYMBOLS)

SENT = []  # monotonic time of every comm_msg the kernel publishes (all widgets)
Comm = type(board.summary.comm)
_publish = Comm.publish_msg
def _counting(self, msg_type, *args, **kwargs):
    if msg_type == "comm_msg":
        SENT.append(time.monotonic())
    return _publish(self, msg_type, *args, **kwargs)
Comm.publish_msg = _counting
board
"""

RUN = r"""
SECONDS, RATE, OUT = {seconds}, {rate}, pathlib.Path({out!r})

def event_key(sub):
    return (sub.kind, sub.params["symbol"]) if "symbol" in sub.params else sub.kind

def callback_cost(n=20000, rounds=5):
    # record the events of n trades, then time a dashboard's callbacks on them (no flush
    # runs inside a synchronous loop, so this is the per-event cost alone)
    b = new_broker()
    events = {{}}
    for kind in ("orders", "positions", "pl", "executions", "equity"):
        b.subscribe(pb.topic(kind), events.setdefault(kind, []).append)
    for symbol in SYMBOLS:
        for kind in ("quotes", "executions"):
            b.subscribe(pb.topic(kind, symbol=symbol), events.setdefault((kind, symbol), []).append)
    for i in range(n):
        trade(b, i)
    best = float("inf")
    for _ in range(rounds):
        target = new_broker()
        other = dashboard(target, symbols=SYMBOLS)
        calls = [(sub.callback, events[event_key(sub)]) for sub in target.subscriptions()]
        gc.collect()
        t = time.perf_counter()
        for callback, payloads in calls:
            for payload in payloads:
                callback(payload)
        best = min(best, time.perf_counter() - t)
        other.close()
    return best / n

async def drive():
    await asyncio.sleep(1.0)  # the views have rendered and asked for snapshots
    start_sent, start_flush = len(SENT), dict(FLUSH)
    t0 = time.monotonic()
    done = 0
    while True:
        elapsed = time.monotonic() - t0
        if elapsed >= SECONDS:
            break
        target = min(int(elapsed * RATE) + RATE // 100, int(SECONDS * RATE))
        # at most one batch between pauses: a machine too slow for RATE makes fewer fills
        # (the printed count says how many) instead of starving the loop's flush timers
        target = min(target, done + RATE // 100)
        while done < target:
            trade(broker, done)
            done += 1
        await asyncio.sleep(0.01)
    t_end = time.time()
    end = time.monotonic()
    await asyncio.sleep(2.0)  # let the last flushes go out
    kernel_tail = SENT[-1] - end  # the kernel's part of the final delay: its last message
    window = [t for t in SENT[start_sent:] if t0 <= t <= end + 0.5]
    per_second = [sum(1 for t in window if s <= t - t0 < s + 1) for s in range(int(SECONDS))]
    last = broker.executions()[-1]
    result = {{
        "fills": broker.execution_count,
        "seconds": end - t0,
        "t_end_ms": t_end * 1000.0,
        "kernel_tail_ms": kernel_tail * 1000.0,
        "messages": len(window),
        "messages_per_s": len(window) / (end - t0),
        "busiest_second": max(per_second),
        "flush_us_per_fill": {{k: (v - start_flush.get(k, 0.0)) / done * 1e6 for k, v in FLUSH.items()}},
        "callback_us_per_fill": callback_cost() * 1e6,
        "final_equity": f"{{broker.equity().equity:,.2f}}",
        "final_order": last.orderId,
        "final_last": f"{{broker.quote(SYMBOLS[0]).last:,.2f}}",
    }}
    OUT.write_text(json.dumps(result))

task = asyncio.get_running_loop().create_task(drive())
"""

RECORDER = """() => {
    window.__trace = [];
    let last = "";
    const tick = () => {
        const eq = document.querySelector('.pb-summary .pb-figure-equity .pb-value');
        const t = [...document.querySelectorAll('.pb-table')]
            .find((el) => el.querySelector('.pb-heading').textContent === 'Executions');
        const row = t && t.querySelector('.pb-row:not([hidden])');
        const cells = row ? [...row.querySelectorAll('.pb-cell')].map((c) => c.textContent) : [];
        const price = document.querySelector('.pb-price .pb-last');
        const now = (eq ? eq.textContent : '') + '|' + (cells[cells.length - 1] || '')
            + '|' + (price ? price.textContent : '');
        if (now !== last) { window.__trace.push([Date.now(), now]); last = now; }
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
}"""


def main_thread_busy(cdp: Any) -> dict[str, float]:
    """Seconds the page's main thread has spent on tasks, scripts, layout and style."""
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    names = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")
    return {name: float(metrics.get(name, 0.0)) for name in names}


def top_functions(profile: dict[str, Any], count: int = 15) -> list[tuple[float, str]]:
    """Self time (ms) per function of a CDP CPU profile, the largest first."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_ms: dict[str, float] = {}
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"], strict=True):
        frame = nodes[node_id]["callFrame"]
        where = frame["url"].rsplit("/", 1)[-1][:40]
        name = f"{frame['functionName'] or '(anonymous)'} {where}:{frame['lineNumber'] + 1}"
        self_ms[name] = self_ms.get(name, 0.0) + delta / 1000.0
    return sorted(((ms, name) for name, ms in self_ms.items()), reverse=True)[:count]


def start_lab(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = root / ".settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--LabApp.expose_app_in_browser=True", f"--LabApp.user_settings_dir={root / '.settings'}",
         f"--ServerApp.root_dir={root}", "--allow-root"],
        stdout=log, stderr=subprocess.STDOUT, cwd=root,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/api/status", timeout=2).close()
            return server, url
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("JupyterLab did not start; see " + str(root / "server.log"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=2000, help="fills per second")
    parser.add_argument("--tick-every", type=int, default=5, help="orders per market step")
    parser.add_argument("--profile", action="store_true", help="print the browser's hottest functions")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="w3-"))
    out = root / "result.json"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(tick_every=args.tick_every)),
        nbformat.v4.new_code_cell(RUN.format(seconds=args.seconds, rate=args.rate, out=str(out))),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "w3.ipynb")
    server, url = start_lab(root)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1300})
            errors: list[str] = []
            page.on(
                "console",
                lambda m: (
                    errors.append(m.text)
                    if m.type == "error" and "Failed to load resource" not in m.text
                    else None
                ),
            )
            page.goto(url + "/lab/tree/w3.ipynb")
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " const k = w && w.sessionContext.session && w.sessionContext.session.kernel;"
                " return k && k.status === 'idle'; }",
                timeout=120_000,
            )
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".pb-summary .pb-figure-equity .pb-value", timeout=120_000)
            page.evaluate(RECORDER)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            busy_before = main_thread_busy(cdp)
            if args.profile:
                cdp.send("Profiler.enable")
                cdp.send("Profiler.start")
            deadline = time.monotonic() + args.seconds + 180
            while not out.exists():
                if time.monotonic() > deadline:
                    raise SystemExit("the notebook did not finish; see " + str(root / "server.log"))
                page.wait_for_timeout(250)
            result = json.loads(out.read_text())
            final = result["final_equity"] + "|" + result["final_order"] + "|" + result["final_last"]
            page.wait_for_function("(final) => window.__trace.some(([, s]) => s === final)", arg=final)
            shown = page.evaluate("(final) => window.__trace.find(([, s]) => s === final)[0]", final)
            busy = {k: v - busy_before[k] for k, v in main_thread_busy(cdp).items()}
            hottest = top_functions(cdp.send("Profiler.stop")["profile"]) if args.profile else []
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
    dropped = "IOPub message rate exceeded" in (root / "server.log").read_text()
    result["browser_delay_ms"] = shown - result["t_end_ms"]
    print(f"W3 on {platform.node() and platform.machine()}, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, {datetime.date.today()}")  # fmt: skip
    print(f"  fills                          {result['fills']:,} in {result['seconds']:.1f} s")
    print(f"  kernel -> browser comm_msg/s   {result['messages_per_s']:.1f} "
          f"(busiest second {result['busiest_second']})")  # fmt: skip
    print(f"  widget callbacks per fill      {result['callback_us_per_fill']:.2f} us")
    flushes = result["flush_us_per_fill"]
    print(f"  widget flushes per fill        {sum(flushes.values()):.2f} us")
    for name, us in sorted(flushes.items(), key=lambda kv: -kv[1]):
        print(f"    {name:<28} {us:.2f} us")
    print(f"  browser shows final state      {result['browser_delay_ms']:.0f} ms after the last fill "
          f"(the kernel sent its last message {result['kernel_tail_ms']:.0f} ms after it)")  # fmt: skip
    run_s = result["seconds"]
    print(f"  browser main thread busy       {busy['TaskDuration'] / run_s:.0%} of the run (scripts "
          f"{busy['ScriptDuration'] / run_s:.0%}, layout {busy['LayoutDuration'] / run_s:.0%}, "
          f"style {busy['RecalcStyleDuration'] / run_s:.0%})")  # fmt: skip
    for ms, name in hottest:
        print(f"    {ms:8.0f} ms  {name}")
    print(f"  server dropped messages        {'yes' if dropped else 'no'}")
    print(f"  browser console errors         {len(errors)}")
    for error in errors:
        print("    ", error[:200])


if __name__ == "__main__":
    main()
