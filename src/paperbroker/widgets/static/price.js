// PriceChart: one symbol's price with the account's orders on it, drawn with TradingView's
// lightweight-charts (vendored, Apache-2.0; sent by the kernel once per page: no CDN).
// Python sends {type: "update", from, base, candles, markers, markersBase, lines?, position?}
// + one float64 buffer of rows (time ms in the clock's zone, open, high, low, close, bid, ask)
// meaning "your points from index `from` on are these; drop those before `base`".
// Order lines are the library's price lines plus an HTML label (the drag handle, with an x
// that cancels); every text from Python is set with textContent or drawn on the canvas.

const PB_LINE_COLS = 7;
const PB_GREEN = "#1a7f37";
const PB_RED = "#cf222e";
const PB_AMBER = "#bf8700";

function loadLibrary(model, requests) {
  return pbKernelModule(model, requests, "library", "library", "__paperbrokerLightweightCharts");
}

/** Colour and dash of an order line by its style ("limit", "stop", "take-profit" ...). */
function lineLook(line, L) {
  const sideColor = line.side > 0 ? PB_GREEN : PB_RED;
  const S = L.LineStyle;
  const looks = {
    limit: [sideColor, S.Solid],
    stop: [PB_AMBER, S.Dashed],
    "stop-limit": [PB_AMBER, line.field === "stopPrice" ? S.Dashed : S.Dotted],
    "take-profit": [PB_GREEN, S.LargeDashed],
    "stop-loss": [PB_RED, S.LargeDashed],
  };
  const [color, style] = looks[line.style] || [sideColor, S.Solid];
  return { color: line.inactive ? color + "99" : color, lineStyle: style };
}

function render({ model, el }) {
  const requests = pbRequests(model);
  const root = pbEl("div", "pb-price");
  const bar = pbEl("div", "pb-bar");
  const heading = pbEl("span", "pb-heading", model.get("symbol"));
  const last = pbEl("span", "pb-last pb-num");
  const quote = pbEl("span", "pb-quote pb-num");
  const noticeEl = pbEl("span", "pb-notice");
  const notice = pbNotice(noticeEl);
  bar.append(heading, last, quote, noticeEl);
  const plot = pbEl("div", "pb-plot");
  plot.style.height = model.get("height") + "px";
  const loading = pbEl("div", "pb-loading", "Loading chart…");
  const labels = pbEl("div", "pb-labels");
  const tip = pbEl("div", "pb-tip");
  tip.hidden = true;
  plot.append(loading, labels, tip);
  root.append(bar, plot);
  pbScale(model, root);
  el.appendChild(root);

  const maxPoints = model.get("max_points");
  let rows = []; // [time s, open, high, low, close, bid, ask]
  let base = 0; // index of rows[0]
  let candles = false;
  let markers = []; // [time ms (wall), price, qty, side, order id, text]
  let markersStart = 0; // index of markers[0]
  let markersSeenBase = 0;
  let markersDirty = true; // redraw markers, lines only when they changed: the page's time
  let overlayDirty = true; // goes to the price, not to redrawing the same arrows each frame
  let lines = [];
  let position = null;
  let L = null;
  let chart = null;
  let series = null; // candles or last-price line
  let bidSeries = null;
  let askSeries = null;
  let markerPlugin = null;
  let drawnMode = null;
  let drawnUpTo = -1; // rows drawn: full redraw when the window shifted or was reset
  let dirtyFrom = 0;
  const drawn = new Map(); // line key -> {priceLine, label, line}
  let dragging = null;
  let alive = true;
  let userMoved = false;
  for (const kind of ["wheel", "pointerdown"]) plot.addEventListener(kind, () => (userMoved = true), { passive: true });

  function update(msg, buffers) {
    const buf = buffers[0];
    const data = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
    const keepFrom = Math.max(0, Math.min(msg.from, base + rows.length) - base);
    if (msg.base > base) {
      rows = rows.slice(Math.min(rows.length, msg.base - base), keepFrom);
    } else {
      rows.length = keepFrom;
    }
    base = msg.base;
    if (base + rows.length !== msg.from) rows = []; // out of step (a reset): start again
    if (!rows.length) base = msg.from;
    for (let i = 0; i + PB_LINE_COLS <= data.length; i += PB_LINE_COLS) {
      rows.push([data[i] / 1000, data[i + 1], data[i + 2], data[i + 3], data[i + 4], data[i + 5], data[i + 6]]);
    }
    if (rows.length > maxPoints) {
      base += rows.length - maxPoints;
      rows = rows.slice(rows.length - maxPoints);
    }
    dirtyFrom = Math.min(dirtyFrom, msg.from);
    candles = msg.candles;
    // markers: indices from msg.markersFrom on are new; those before msg.markersBase are gone
    markers.length = Math.max(0, Math.min(markers.length, msg.markersFrom - markersStart));
    markers.push(...msg.markers);
    if (msg.markersBase > markersStart) {
      markers.splice(0, Math.min(markers.length, msg.markersBase - markersStart));
      markersStart = msg.markersBase;
    }
    if (markersStart + markers.length !== msg.markersFrom + msg.markers.length) {
      markers = msg.markers.slice();
      markersStart = msg.markersFrom;
    }
    if (msg.markers.length || msg.markersBase !== markersSeenBase) markersDirty = true;
    markersSeenBase = msg.markersBase;
    if (msg.lines) {
      lines = msg.lines;
      overlayDirty = true;
    }
    if ("position" in msg) {
      position = msg.position;
      overlayDirty = true;
    }
    frames.request();
  }

  function makeChart() {
    const css = getComputedStyle(root);
    const pick = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
    const zone = model.get("zone") || {};
    chart = L.createChart(plot, {
      autoSize: true,
      layout: {
        background: { type: "solid", color: "transparent" },
        textColor: pick("--pb-muted", "#59636e"),
        fontFamily: css.fontFamily,
        fontSize: Math.round(11 * (Number(model.get("scale")) || 1)),
        attributionLogo: true,
      },
      grid: { vertLines: { color: pick("--pb-line", "#eef1f4") }, horzLines: { color: pick("--pb-line", "#eef1f4") } },
      rightPriceScale: { borderColor: pick("--pb-border", "#d1d9e0") },
      timeScale: { borderColor: pick("--pb-border", "#d1d9e0"), timeVisible: true, secondsVisible: true },
      localization: { timeFormatter: (t) => pbClock(t) + (zone.name ? " " + zone.name : "") },
    });
    chart.subscribeCrosshairMove(hover);
  }

  const pbClock = (() => {
    // times are already the clock zone's wall time: format them as UTC
    const f = pbTimeFormat({ iana: "UTC" });
    return (t) => f(t * 1000);
  })();

  function makeSeries() {
    if (series) chart.removeSeries(series);
    if (bidSeries) chart.removeSeries(bidSeries);
    if (askSeries) chart.removeSeries(askSeries);
    bidSeries = askSeries = null;
    drawn.forEach((d) => d.priceLine && (d.priceLine = null));
    if (candles) {
      series = chart.addSeries(L.CandlestickSeries, {
        upColor: PB_GREEN, downColor: PB_RED, borderVisible: false, wickUpColor: PB_GREEN, wickDownColor: PB_RED,
      });
    } else {
      const thin = { lineWidth: 1, color: "#8c959f", lastValueVisible: false, priceLineVisible: false, crosshairMarkerVisible: false };
      bidSeries = chart.addSeries(L.LineSeries, { ...thin, title: "bid" });
      askSeries = chart.addSeries(L.LineSeries, { ...thin, title: "ask" });
      series = chart.addSeries(L.LineSeries, { color: pick("--pb-accent", "#1f6feb"), lineWidth: 2 });
    }
    // the price scale also spans the order lines and the position: all of them in view
    series.applyOptions({
      autoscaleInfoProvider: (original) => {
        const res = original();
        if (!res || !res.priceRange) return res;
        let { minValue, maxValue } = res.priceRange;
        for (const line of lines) {
          minValue = Math.min(minValue, line.price);
          maxValue = Math.max(maxValue, line.price);
        }
        if (position) {
          minValue = Math.min(minValue, position.price);
          maxValue = Math.max(maxValue, position.price);
        }
        return { ...res, priceRange: { minValue, maxValue } };
      },
    });
    markerPlugin = L.createSeriesMarkers(series, []);
    drawnMode = candles;
    for (const d of drawn.values()) d.label.remove();
    drawn.clear();
    drawnUpTo = -1;
  }
  const pick = (name, fallback) => getComputedStyle(root).getPropertyValue(name).trim() || fallback;

  const point = (r) => (candles ? { time: r[0], open: r[1], high: r[2], low: r[3], close: r[4] } : { time: r[0], value: r[4] });

  function drawPoints() {
    if (drawnMode !== candles) makeSeries();
    const full = drawnUpTo < 0 || dirtyFrom < base || dirtyFrom < drawnUpTo - 1 || base + rows.length - dirtyFrom > 50;
    if (full) {
      series.setData(rows.map(point));
      if (!candles) {
        bidSeries.setData(rows.map((r) => ({ time: r[0], value: r[5] })));
        askSeries.setData(rows.map((r) => ({ time: r[0], value: r[6] })));
      }
    } else {
      for (let i = Math.max(dirtyFrom, base) - base; i < rows.length; i++) {
        const r = rows[i];
        series.update(point(r));
        if (!candles) {
          bidSeries.update({ time: r[0], value: r[5] });
          askSeries.update({ time: r[0], value: r[6] });
        }
      }
    }
    drawnUpTo = base + rows.length;
    dirtyFrom = drawnUpTo;
    // until the points fill the width (and unless the user panned or zoomed), show them all
    if (!userMoved && rows.length * 6 < plot.clientWidth) chart.timeScale().fitContent();
    const r = rows[rows.length - 1];
    last.textContent = r ? pbFixed(r[4], pbDecimals(r[4])) : "";
    quote.textContent = r && !candles ? "bid " + pbFixed(r[5], pbDecimals(r[5])) + " · ask " + pbFixed(r[6], pbDecimals(r[6])) : "";
    root.dataset.mode = candles ? "candles" : "line";
    root.dataset.points = String(rows.length);
  }

  function nearestTime(ms) {
    // a fill's marker goes on the newest point at or before it (the library needs a bar)
    const t = ms / 1000;
    let lo = 0;
    let hi = rows.length - 1;
    if (hi < 0 || t < rows[0][0] - 1e-9) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (rows[mid][0] <= t + 1e-9) lo = mid;
      else hi = mid - 1;
    }
    return rows[lo][0];
  }

  let shownMarkers = [];
  function drawMarkers() {
    shownMarkers = [];
    for (const m of markers) {
      const time = nearestTime(m[0]);
      if (time === null) continue;
      shownMarkers.push({ time, m });
    }
    markerPlugin.setMarkers(
      shownMarkers.map(({ time, m }) => ({
        time,
        position: m[3] > 0 ? "belowBar" : "aboveBar",
        shape: m[3] > 0 ? "arrowUp" : "arrowDown",
        color: m[3] > 0 ? PB_GREEN : PB_RED,
        id: m[4],
        size: 1,
      })),
    );
    root.dataset.markers = String(shownMarkers.length);
  }

  function hover(param) {
    if (!param || param.time === undefined || !param.point) {
      tip.hidden = true;
      return;
    }
    const here = shownMarkers.filter((s) => s.time === param.time).map((s) => s.m[5]);
    if (!here.length) {
      tip.hidden = true;
      return;
    }
    tip.textContent = here.slice(-4).join("\n");
    tip.hidden = false;
    tip.style.left = Math.min(param.point.x + 12, plot.clientWidth - 180) + "px";
    tip.style.top = Math.max(param.point.y - 40, 0) + "px";
  }

  function key(line) {
    return line.id + "/" + line.field;
  }

  function drawLines() {
    const want = new Map(lines.map((line) => [key(line), line]));
    if (position) want.set("position", { ...position, id: "", style: "position", field: "" });
    for (const [k, d] of drawn) {
      if (!want.has(k) && (!dragging || dragging.key !== k)) {
        if (d.priceLine) series.removePriceLine(d.priceLine);
        d.label.remove();
        drawn.delete(k);
      }
    }
    for (const [k, line] of want) {
      let d = drawn.get(k);
      if (!d) {
        const label = pbEl("div", "pb-line-label");
        const text = pbEl("span", "pb-line-text");
        label.append(text);
        if (line.style !== "position") {
          const x = pbEl("button", "pb-x", "×");
          x.type = "button";
          x.title = "Cancel " + line.id;
          x.setAttribute("aria-label", "Cancel " + line.id);
          x.addEventListener("click", (ev) => {
            ev.stopPropagation();
            cancelOrder(line.id);
          });
          x.addEventListener("pointerdown", (ev) => ev.stopPropagation());
          label.append(x);
          label.addEventListener("pointerdown", (ev) => startDrag(ev, k));
        }
        labels.append(label);
        d = { label, text, priceLine: null, line };
        drawn.set(k, d);
      }
      if (dragging && dragging.key === k) continue; // the user holds it
      d.line = line;
      const look = line.style === "position" ? { color: pick("--pb-fg", "#1f2328"), lineStyle: L.LineStyle.Solid } : lineLook(line, L);
      const options = { price: line.price, color: look.color, lineStyle: look.lineStyle, lineWidth: line.style === "position" ? 2 : 1, axisLabelVisible: true, title: "" };
      if (d.priceLine) d.priceLine.applyOptions(options);
      else d.priceLine = series.createPriceLine(options);
      d.text.textContent = line.label;
      d.label.style.borderColor = look.color;
      d.label.style.color = look.color;
      d.label.dataset.id = line.id;
      d.label.dataset.field = line.field;
      d.label.dataset.price = String(line.price);
      d.label.dataset.style = line.style;
    }
    placeLabels();
  }

  function placeLabels() {
    if (!series) return;
    for (const d of drawn.values()) {
      const price = d.priceLine ? d.priceLine.options().price : d.line.price;
      const y = series.priceToCoordinate(price);
      const at = y === null ? null : Math.round(y);
      if (at === d.at) continue; // unchanged: no style write, no style recalculation
      d.at = at;
      d.label.hidden = at === null;
      if (at !== null) d.label.style.transform = `translateY(${at - 9}px)`;
    }
  }

  function startDrag(ev, k) {
    const d = drawn.get(k);
    if (!d || ev.button !== 0 || !series) return;
    ev.preventDefault(); // no compatibility mouse events: the chart does not pan
    ev.stopPropagation();
    dragging = { key: k, from: d.priceLine.options().price, pointer: ev.pointerId };
    d.label.setPointerCapture(ev.pointerId);
    d.label.classList.add("pb-dragging");
    chart.applyOptions({ handleScroll: false, handleScale: false });
    const top = plot.getBoundingClientRect().top;
    const move = (e) => {
      const price = series.coordinateToPrice(e.clientY - top);
      if (price === null) return;
      const digits = Math.max(2, pbDecimals(dragging.from));
      const rounded = Number(price.toFixed(digits));
      d.priceLine.applyOptions({ price: rounded });
      d.label.dataset.price = String(rounded);
      d.text.textContent = d.line.label.replace(/@ [^ ]+/, "@ " + pbFixed(rounded, digits));
      placeLabels();
    };
    const up = () => {
      d.label.removeEventListener("pointermove", move);
      d.label.removeEventListener("pointerup", up);
      d.label.removeEventListener("pointercancel", up);
      d.label.classList.remove("pb-dragging");
      chart.applyOptions({ handleScroll: true, handleScale: true });
      const from = dragging.from;
      const to = d.priceLine.options().price;
      dragging = null;
      if (to === from) return;
      const { id, field } = d.line;
      d.label.classList.add("pb-pending");
      requests.send({ type: "move", order: id, field, price: to }, (reply) => {
        d.label.classList.remove("pb-pending");
        if (reply.ok) {
          notice(reply.note || "", "ok");
        } else {
          // refused: the line goes back to where the order is
          d.priceLine.applyOptions({ price: from });
          d.label.dataset.price = String(from);
          d.text.textContent = d.line.label;
          placeLabels();
          notice(reply.error, "error", 10000);
        }
        drawLines();
      });
    };
    d.label.addEventListener("pointermove", move);
    d.label.addEventListener("pointerup", up);
    d.label.addEventListener("pointercancel", up);
  }

  function cancelOrder(id) {
    requests.send({ type: "cancel", order: id }, (reply) => {
      if (reply.ok) notice(reply.note || "", "ok");
      else notice(reply.error, "error", 10000);
    });
  }

  let heard = false; // an update from the kernel has arrived
  let noQuotes = false; // the "no quotes yet" notice is showing
  function draw() {
    if (!L || !alive) return;
    if (!chart) {
      loading.remove();
      makeChart();
    }
    heading.textContent = model.get("symbol");
    if (!rows.length) {
      root.dataset.points = "0";
      if (series) series.setData([]);
      // only once the kernel has said so, not while a view waits for its snapshot
      if (heard) {
        notice("No quotes of " + model.get("symbol") + " yet: the chart draws the market's quotes.", "", 0);
        noQuotes = true;
      }
      return;
    }
    if (noQuotes) {
      notice("");
      noQuotes = false;
    }
    const seriesBefore = series;
    drawPoints();
    // a marker that left the window goes too; a new series needs everything again
    const oldest = shownMarkers.length ? shownMarkers[0].time : Infinity;
    if (markersDirty || series !== seriesBefore || oldest < rows[0][0]) {
      drawMarkers();
      markersDirty = false;
    }
    if (overlayDirty || series !== seriesBefore) {
      drawLines();
      overlayDirty = false;
    }
    followFor(300); // the price scale may move with the new points
  }
  const frames = pbScheduler(draw);

  // the labels follow their lines while the user pans or zooms, and as the scale moves
  // after new points: for a while after each of those, not in every frame for ever (an
  // endless animation-frame loop keeps the browser drawing frames while nothing moves)
  let follow = 0;
  let followUntil = 0;
  const track = () => {
    placeLabels();
    follow = performance.now() < followUntil ? requestAnimationFrame(track) : 0;
  };
  function followFor(ms) {
    followUntil = Math.max(followUntil, performance.now() + ms);
    if (!follow) follow = requestAnimationFrame(track);
  }
  for (const kind of ["wheel", "pointerdown", "dblclick"]) plot.addEventListener(kind, () => followFor(600), { passive: true });
  plot.addEventListener("pointermove", (e) => e.buttons && followFor(600), { passive: true });
  const resized = new ResizeObserver(() => followFor(300));
  resized.observe(plot);

  model.on("msg:custom", (msg, buffers) => {
    if (requests.handle(msg)) return;
    if (msg && msg.type === "update") {
      heard = true;
      update(msg, buffers);
    }
  });
  model.on("change:error", () => notice(model.get("error"), "error", 0));
  model.on("change:symbol", () => {
    heard = false;
    rows = [];
    markers = [];
    markersStart = 0;
    markersDirty = overlayDirty = true;
    lines = [];
    position = null;
    drawnUpTo = -1;
    heading.textContent = model.get("symbol");
    frames.request();
  });

  loadLibrary(model, requests)
    .then((lib) => {
      L = lib;
      frames.request();
    })
    .catch((err) => {
      loading.textContent = "The chart could not load lightweight-charts: " + err;
    });
  requests.send({ type: "snapshot" });

  return () => {
    alive = false;
    frames.cancel();
    cancelAnimationFrame(follow);
    resized.disconnect();
    if (chart) chart.remove();
  };
}

export default { render };
