"""Which library should draw the price chart: plotly.js or TradingView's lightweight-charts?

Measured, in headless Chromium, on the same 10,000 one-minute candles:

* ``first draw``: building the chart with every candle, to the first painted frame;
* ``live update``: replacing the last candle and appending one, 60 times, one per frame
  (what the widget does at its flush rate), the mean time per update until painted;
* ``pan``: 60 frames of a horizontal drag on the plot, the mean frame time;
* ``size``: the bytes of the library file the page loads (and gzipped).

Both libraries get a horizontal line (an order) too, since the chart needs those.  Run::

    python bench/chart_libraries.py          # needs Chromium at /usr/bin/chromium

The numbers of one run are in bench/README.md.
"""

from __future__ import annotations

import gzip
import json
import statistics
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parents[1] / "src" / "paperbroker" / "widgets" / "static"
N = 10_000


def candles(n: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    spread = np.abs(rng.normal(0, 0.0007, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    t0 = 1_700_000_000
    return [
        {"time": t0 + 60 * i, "open": float(o), "high": float(h), "low": float(lo), "close": float(c)}
        for i, (o, h, lo, c) in enumerate(zip(open_, high, low, close, strict=True))
    ]


COMMON = """() => {
window.frame = () => new Promise((r) => requestAnimationFrame(r));
window.measure = async (update, drag) => {
  const updates = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    update(i);
    await frame();
    updates.push(performance.now() - t0);
  }
  return updates;
};
}"""

LWC = """
async (data) => {
  const L = await import(URL.createObjectURL(new Blob([window.LWC_SRC], {type: "text/javascript"})));
  const el = document.getElementById("plot");
  const t0 = performance.now();
  const chart = L.createChart(el, {width: 1000, height: 400});
  const series = chart.addSeries(L.CandlestickSeries);
  series.setData(data);
  series.createPriceLine({price: data[data.length - 1].close * 0.99, title: "Buy limit 10"});
  await frame();
  const first = performance.now() - t0;
  let last = data[data.length - 1];
  const updates = await measure((i) => {
    last = {...last, time: last.time + 60, close: last.close * 1.0005, high: last.high * 1.0005};
    series.update(last);
  });
  window.chart = chart;
  return {first, updates};
}
"""

PLOTLY = """
async (data) => {
  const el = document.getElementById("plot");
  const cols = (k) => data.map((d) => d[k]);
  const x = data.map((d) => d.time * 1000);
  const t0 = performance.now();
  await Plotly.newPlot(el, [{type: "candlestick", x, open: cols("open"), high: cols("high"),
    low: cols("low"), close: cols("close")}],
    {width: 1000, height: 400, dragmode: "pan", xaxis: {rangeslider: {visible: false}, type: "date"},
     shapes: [{type: "line", xref: "paper", x0: 0, x1: 1, y0: data[data.length - 1].close * 0.99,
       y1: data[data.length - 1].close * 0.99}]},
    {editable: true, edits: {shapePosition: true}});
  await frame();
  const first = performance.now() - t0;
  let t = x[x.length - 1];
  let c = data[data.length - 1].close;
  const updates = await measure((i) => {
    t += 60000; c *= 1.0005;
    Plotly.extendTraces(el, {x: [[t]], open: [[c]], high: [[c * 1.001]], low: [[c * 0.999]],
      close: [[c]]}, [0], data.length);
  });
  return {first, updates};
}
"""

DRAG = """
async () => {
  const el = document.getElementById("plot");
  const box = el.getBoundingClientRect();
  return [box.left + box.width / 2, box.top + box.height / 2];
}
"""


def drag_frames(page: object) -> list[float]:
    """Drag across the plot, one step per frame; the time of each frame."""
    cx, cy = page.evaluate(DRAG)  # type: ignore[attr-defined]
    page.mouse.move(cx, cy)  # type: ignore[attr-defined]
    page.mouse.down()  # type: ignore[attr-defined]
    times = []
    for i in range(60):
        page.mouse.move(cx + 4 * (i + 1), cy)  # type: ignore[attr-defined]
        t = page.evaluate(
            "async () => { const t0 = performance.now(); await frame(); return performance.now() - t0; }"
        )  # type: ignore[attr-defined]
        times.append(t)
    page.mouse.up()  # type: ignore[attr-defined]
    return times


def run() -> dict[str, dict[str, float]]:
    data = candles(N)
    lwc_src = (STATIC / "vendor" / "lightweight-charts.mjs").read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    plotly_src = get_plotlyjs()
    results: dict[str, dict[str, float]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for name, src, script in (("lightweight-charts", lwc_src, LWC), ("plotly.js", plotly_src, PLOTLY)):
            page = browser.new_page(viewport={"width": 1100, "height": 500})
            page.set_content('<div id="plot" style="width:1000px;height:400px"></div>')
            page.evaluate(COMMON)
            if name == "plotly.js":
                page.add_script_tag(content=src)
            else:
                page.evaluate("(s) => { window.LWC_SRC = s; }", src)
            out = page.evaluate(script, data)
            print(name, "drawn", flush=True)
            pans = drag_frames(page)
            results[name] = {
                "first draw ms": round(out["first"], 1),
                "live update ms (mean)": round(statistics.mean(out["updates"]), 1),
                "live update ms (max)": round(max(out["updates"]), 1),
                "pan frame ms (mean)": round(statistics.mean(pans), 1),
                "size kB": round(len(src.encode()) / 1000),
                "gzipped kB": round(len(gzip.compress(src.encode())) / 1000),
            }
            page.close()
        browser.close()
    return results


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
