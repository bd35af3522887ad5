// Leaderboard: every account ranked by equity.  State is one synced trait, `rows`
// ([account, equity, returnPct, realizedPL, unrealizedPL, commission, trades, curve]),
// plus `paused` / `can_pause` for the teacher's buttons; changes are applied in one
// animation frame.  Account ids are Python's text: set with textContent only.  A row's
// Reset button asks first ("Reset?") and sends the reset on a second click within 3 s.

const PB_SVG = "http://www.w3.org/2000/svg";

function pbSparkline(curve) {
  const svg = document.createElementNS(PB_SVG, "svg");
  svg.setAttribute("class", "pb-spark");
  svg.setAttribute("viewBox", "0 0 80 20");
  svg.setAttribute("preserveAspectRatio", "none");
  if (!Array.isArray(curve) || curve.length < 2) return svg;
  const low = Math.min(...curve);
  const high = Math.max(...curve);
  const span = high - low || 1;
  const points = curve.map((v, i) => {
    const x = (i / (curve.length - 1)) * 80;
    const y = 18 - ((v - low) / span) * 16;
    return x.toFixed(1) + "," + y.toFixed(1);
  });
  const line = document.createElementNS(PB_SVG, "polyline");
  line.setAttribute("points", points.join(" "));
  line.setAttribute("class", curve[curve.length - 1] >= curve[0] ? "pb-spark-up" : "pb-spark-down");
  svg.appendChild(line);
  return svg;
}

function render({ model, el }) {
  const root = pbEl("div", "pb-leaderboard");
  const bar = pbEl("div", "pb-bar");
  const title = pbEl("span", "pb-heading", "Leaderboard");
  const detail = pbEl("span", "pb-detail");
  const button = pbEl("button", "pb-button");
  button.type = "button";
  const notice = pbEl("span", "pb-notice");
  bar.append(title, detail, notice, button);
  const table = pbEl("table");
  const head = pbEl("tr");
  for (const [text, num] of [["#", true], ["Account", false], ["Equity", true], ["Return", true],
    ["Realized", true], ["Unrealized", true], ["Commission", true], ["Trades", true], ["Trend", false],
    ["", false]]) {
    head.appendChild(pbEl("th", num ? "pb-num" : "", text));
  }
  const thead = pbEl("thead");
  thead.appendChild(head);
  const tbody = pbEl("tbody");
  table.append(thead, tbody);
  const errorEl = pbEl("div", "pb-error");
  errorEl.dataset.kind = "error";
  root.append(bar, table, errorEl);
  el.appendChild(root);

  const requests = pbRequests(model);
  const show = pbNotice(notice);
  button.addEventListener("click", () => {
    button.disabled = true;
    requests.send({ type: model.get("paused") ? "resume" : "pause" }, (reply) => {
      button.disabled = false;
      show(reply.ok ? reply.note || "" : reply.error, reply.ok ? "ok" : "error");
    });
  });
  model.on("msg:custom", (msg) => requests.handle(msg));

  function cell(text, cls) {
    return pbEl("td", cls || "", text);
  }

  let asking = null; // the account whose Reset was clicked once, and when
  function resetButton(account) {
    const reset = pbEl("button", "pb-button pb-reset", asking && asking.account === account ? "Reset?" : "Reset");
    reset.type = "button";
    reset.title = "Cancel this account's orders, close its positions and give back its initial balance";
    reset.addEventListener("click", () => {
      if (!asking || asking.account !== account || Date.now() - asking.at > 3000) {
        asking = { account, at: Date.now() };
        reset.textContent = "Reset?";
        return;
      }
      asking = null;
      reset.disabled = true;
      requests.send({ type: "reset", account }, (reply) => {
        show(reply.ok ? reply.note || "" : reply.error, reply.ok ? "ok" : "error");
      });
    });
    const td = pbEl("td", "pb-actions");
    td.appendChild(reset);
    return td;
  }

  function update() {
    const rows = model.get("rows") || [];
    const paused = model.get("paused");
    detail.textContent = rows.length + (rows.length === 1 ? " account" : " accounts") + (paused ? " \u00b7 paused" : "");
    button.hidden = !model.get("can_pause");
    button.textContent = paused ? "Resume market" : "Pause market";
    const fresh = rows.map(([account, equity, ret, realized, unrealized, commission, trades, curve], i) => {
      const tr = pbEl("tr");
      const spark = pbEl("td", "pb-trend");
      spark.appendChild(pbSparkline(curve));
      tr.append(
        cell(String(i + 1), "pb-num pb-rank"),
        cell(account, "pb-account"),
        cell(pbFixed(equity, 2), "pb-num"),
        cell(pbSigned(ret, 2, "%"), "pb-num " + pbSignClass(ret)),
        cell(pbSigned(realized), "pb-num " + pbSignClass(realized)),
        cell(pbSigned(unrealized), "pb-num " + pbSignClass(unrealized)),
        cell(pbFixed(commission, 2), "pb-num"),
        cell(String(trades), "pb-num"),
        spark,
        resetButton(account),
      );
      return tr;
    });
    tbody.replaceChildren(...fresh);
    errorEl.textContent = model.get("error");
  }

  const frames = pbScheduler(update);
  for (const name of ["rows", "paused", "can_pause", "error"]) model.on("change:" + name, () => frames.request());
  update();
  return () => frames.cancel();
}

export default { render };
