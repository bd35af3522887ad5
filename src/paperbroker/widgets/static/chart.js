// EquityChart: equity and balance over time with plotly.js.  Python sends
//   {type: "points", from: k} + buffers [time, equity, balance] (float64)
// meaning "your points from index k on are these".  plotly.js itself comes from the
// kernel (the plotly Python package's bundled file), once per page: no CDN.

function loadPlotly(model, requests) {
  // plotly.min.js is a UMD bundle: give it a CommonJS module object and export that
  const wrap = (source) =>
    "const module = { exports: {} };\nconst exports = module.exports;\n" +
    source +
    "\nexport default module.exports;\n";
  return pbKernelModule(model, requests, "plotly", "plotly-js", "__paperbrokerPlotly", wrap).then((m) => m.default);
}

function themeColors(el) {
  const css = getComputedStyle(el);
  const pick = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    fg: pick("--pb-fg", "#1f2328"),
    muted: pick("--pb-muted", "#59636e"),
    grid: pick("--pb-line", "#eef1f4"),
    border: pick("--pb-border", "#d1d9e0"),
    accent: pick("--pb-accent", "#1f6feb"),
    font: pick("font-family", "sans-serif"),
  };
}

function render({ model, el }) {
  const requests = pbRequests(model);
  const root = pbEl("div", "pb-chart");
  const bar = pbEl("div", "pb-bar");
  const last = pbEl("span", "pb-last pb-num");
  const noticeEl = pbEl("span", "pb-notice");
  const notice = pbNotice(noticeEl);
  bar.append(pbEl("span", "pb-heading", model.get("title")), last, noticeEl);
  const plot = pbEl("div", "pb-plot");
  plot.style.height = model.get("height") + "px";
  const loading = pbEl("div", "pb-loading", "Loading chart…");
  plot.appendChild(loading);
  root.append(bar, plot);
  pbScale(model, root);
  el.appendChild(root);

  const x = [];
  const equity = [];
  const balance = [];
  let Plotly = null;
  let drawn = false;
  let revision = 0;
  let alive = true;
  const maxPoints = model.get("max_points");

  let colors = null; // read from CSS once per theme (getComputedStyle forces a style pass)
  const theme = () => colors || (colors = themeColors(root));

  // Fills a few milliseconds apart (a fast run, a burst of orders) would get tick labels
  // in fractions of a second: show at least MIN_SPAN_MS, starting just before the first.
  const MIN_SPAN_MS = 10000;
  function xRange() {
    if (!x.length || x[x.length - 1] - x[0] >= MIN_SPAN_MS) return null;
    const start = x[0] - MIN_SPAN_MS / 20;
    return [start, start + MIN_SPAN_MS];
  }

  function layout() {
    const c = theme();
    const range = xRange();
    return {
      datarevision: revision,
      margin: { l: 8, r: 64, t: 26, b: 28 },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      font: { family: c.font, size: Math.round(11 * (Number(model.get("scale")) || 1)), color: c.muted },
      showlegend: true,
      legend: { orientation: "h", x: 0, y: 1.02, xanchor: "left", yanchor: "bottom", bgcolor: "rgba(0,0,0,0)" },
      hovermode: "x unified",
      xaxis: {
        type: "date",
        gridcolor: c.grid,
        linecolor: c.border,
        zeroline: false,
        automargin: true,
        ...(range ? { range, autorange: false } : { autorange: true }),
      },
      yaxis: {
        side: "right",
        gridcolor: c.grid,
        linecolor: c.border,
        zeroline: false,
        tickformat: ",.2f",
        automargin: true,
      },
      uirevision: "keep",
    };
  }

  function traces() {
    const c = theme();
    const mode = x.length < 3 ? "lines+markers" : "lines";
    return [
      {
        name: "Equity",
        x,
        y: equity,
        type: "scatter",
        mode,
        line: { color: c.accent, width: 1.8 },
        hovertemplate: "%{y:,.2f}<extra>Equity</extra>",
      },
      {
        name: "Balance",
        x,
        y: balance,
        type: "scatter",
        mode,
        marker: { size: 4 },
        line: { color: c.muted, width: 1, dash: "dot", shape: "hv" },
        hovertemplate: "%{y:,.2f}<extra>Balance</extra>",
      },
    ];
  }

  // plotly redraws are costly: at most one every REDRAW_MS, while the header's figure
  // (the same equity as the account summary's) changes with every message
  const REDRAW_MS = 450;
  let lastDraw = -Infinity;
  let redrawTimer = 0;
  function requestDraw() {
    if (redrawTimer) return;
    const wait = lastDraw + REDRAW_MS - performance.now();
    if (wait <= 0) frames.request();
    else
      redrawTimer = setTimeout(() => {
        redrawTimer = 0;
        frames.request();
      }, wait);
  }

  function draw() {
    if (!Plotly || !alive) return;
    lastDraw = performance.now();
    revision += 1;
    if (x.length) last.textContent = pbFixed(equity[equity.length - 1], 2);
    if (!drawn) {
      loading.remove();
      Plotly.newPlot(plot, traces(), layout(), { displayModeBar: false, responsive: true });
      drawn = true;
    } else {
      Plotly.react(plot, traces(), layout());
    }
  }
  const frames = pbScheduler(draw);

  function points(msg, buffers) {
    const start = Math.max(0, Math.min(msg.from, x.length));
    x.length = equity.length = balance.length = start;
    const [t, e, b] = buffers.map((buf) => new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8));
    for (let i = 0; i < t.length; i++) {
      x.push(t[i]); // the broker clock zone's wall time, as plotly draws it (_zone.wall_ms)
      equity.push(e[i]);
      balance.push(b[i]);
    }
    if (x.length > maxPoints) {
      const extra = x.length - maxPoints;
      x.splice(0, extra);
      equity.splice(0, extra);
      balance.splice(0, extra);
    }
    if (x.length) last.textContent = pbFixed(equity[equity.length - 1], 2);
    requestDraw();
  }

  model.on("msg:custom", (msg, buffers) => {
    if (requests.handle(msg)) return;
    if (msg && msg.type === "points") points(msg, buffers);
  });
  model.on("change:error", () => notice(model.get("error"), "error", 0));

  // redraw with the new colours when the JupyterLab theme changes
  const themeWatch = new MutationObserver(() => {
    colors = null;
    if (drawn) frames.request();
  });
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
  const resize = new ResizeObserver(() => {
    if (drawn && Plotly && plot.clientWidth) Plotly.Plots.resize(plot);
  });
  resize.observe(plot);

  loadPlotly(model, requests)
    .then((lib) => {
      Plotly = lib;
      frames.request();
    })
    .catch((err) => {
      loading.textContent = "The chart could not load plotly.js: " + err;
    });
  requests.send({ type: "snapshot" });

  return () => {
    alive = false;
    frames.cancel();
    clearTimeout(redrawTimer);
    themeWatch.disconnect();
    resize.disconnect();
    if (Plotly && drawn) Plotly.purge(plot);
  };
}

export default { render };
