// LiveTable: a keyed, sortable, virtualized table.  Python sends
//   {type: "snapshot", rows}   and   {type: "patch", upsert, remove}
// where a row is [key, value per column].  Messages are queued and applied in one
// animation frame; only the rows in view (plus a margin) exist in the DOM.

const ROW_PX = 24; // at scale 1
const OVERSCAN = 8;
const WIDTHS = {
  id: "minmax(70px, 1fr)",
  time: "70px",
  symbol: "minmax(64px, 1fr)",
  side: "44px",
  direction: "48px",
  type: "66px",
  status: "74px",
  qty: "minmax(44px, 0.8fr)",
  price: "minmax(62px, 1fr)",
  avg: "minmax(62px, 1fr)",
  money: "minmax(72px, 1fr)",
  pl: "minmax(88px, 1fr)",
  note: "minmax(0, 1.6fr)",
  text: "minmax(60px, 1fr)",
};
const NUMERIC = new Set(["qty", "price", "avg", "money", "pl"]);

function cellView(kind, value, digits, time) {
  if (value === null || value === undefined) return ["", ""];
  switch (kind) {
    case "side":
      return [PB_SIDE[value] ?? String(value), value > 0 ? "pb-buy" : "pb-sell"];
    case "direction":
      return [PB_DIRECTION[value] ?? String(value), value > 0 ? "pb-buy" : "pb-sell"];
    case "type":
      return [PB_TYPE[value] ?? String(value), ""];
    case "status":
      return [PB_STATUS[value] ?? String(value), "pb-status pb-status-" + value];
    case "qty":
      return [pbQty(value), ""];
    case "price":
    case "avg":
      return [pbFixed(value, digits), ""];
    case "money":
      return [pbFixed(value, 2), ""];
    case "pl":
      return [pbSigned(value), pbSignClass(value)];
    case "time":
      return [time(value), ""];
    default:
      return [String(value), ""];
  }
}

function render({ model, el }) {
  const columns = model.get("columns");
  const zone = model.get("zone");
  const time = pbTimeFormat(zone); // the broker clock's zone, as in the HTML snapshot
  const actions = model.get("actions").map((a) => ({
    ...a,
    index: a.field ? columns.findIndex((c) => c.key === a.field) + 1 : -1,
  }));
  const requests = pbRequests(model);

  const root = pbEl("div", "pb-table");
  const bar = pbEl("div", "pb-bar");
  const title = pbEl("span", "pb-heading", model.get("title"));
  const count = pbEl("span", "pb-count");
  const noticeEl = pbEl("span", "pb-notice");
  noticeEl.setAttribute("role", "status");
  const notice = pbNotice(noticeEl);
  bar.append(title, count, noticeEl);

  const scroller = pbEl("div", "pb-scroll");
  // as tall as its rows, up to `height`: two rows do not sit in a big empty box
  scroller.style.maxHeight = model.get("height") + "px";
  scroller.tabIndex = 0;
  const head = pbEl("div", "pb-head pb-line");
  const body = pbEl("div", "pb-body");
  const empty = pbEl("div", "pb-empty", model.get("empty_text"));
  scroller.append(head, body, empty);
  root.append(bar, scroller);
  const scale = pbScale(model, root);
  const ROW_H = ROW_PX * scale;
  el.appendChild(root);

  // column widths grow with the type
  const px = (t) => t.replace(/(\d+)px/g, (_, n) => Math.round(n * scale) + "px");
  const template = columns.map((c) => px(WIDTHS[c.kind] || WIDTHS.text));
  if (actions.length) {
    const width = actions.reduce((sum, a) => sum + Math.ceil(a.label.length * 6.6 * scale) + 20, 0);
    template.push(width + (actions.length - 1) * 4 + "px");
  }
  // the narrowest each column can be, from its template entry ("70px", "minmax(62px, 1fr)")
  const least = template.map((t) => Number((t.match(/(\d+)px/) || [0, 0])[1]));
  // columns that give way when the table is narrow, the highest `gives_way` first
  const yielding = columns
    .map((c, i) => [c.gives_way || 0, i])
    .filter(([g]) => g > 0)
    .sort((a, b) => b[0] - a[0])
    .map(([, i]) => i);
  let hiddenKey = null;
  function fitColumns(width) {
    const hidden = new Set();
    const note = columns.some((c) => c.kind === "note");
    // gaps of 8 px, 10 px padding each side, room for a note; tight: 3 px, 4 px, none
    const need = (gap, pad, noteRoom) =>
      least.reduce((sum, w, i) => sum + (hidden.has(i) ? 0 : w + gap), 2 * pad) + (note ? noteRoom : 0);
    for (const i of yielding) {
      if (need(8, 10, 90 * scale) <= width) break;
      hidden.add(i);
    }
    // still too wide with every column that may give way hidden (a notebook beside
    // JupyterLab's file browser at 1024 px): tighter gaps keep the essential ones in view
    const tight = need(8, 10, 90 * scale) > width;
    const key = [...hidden].join(",") + (tight ? " tight" : "");
    if (key === hiddenKey) return;
    hiddenKey = key;
    root.classList.toggle("pb-tight", tight);
    root.style.setProperty("--pb-cols", template.filter((_, i) => !hidden.has(i)).join(" "));
    root.dataset.hidden = [...hidden].map((i) => columns[i].key).join(" ");
    for (let i = 0; i < columns.length; i++) root.classList.toggle("pb-hide-" + (i + 1), hidden.has(i));
  }
  fitColumns(Infinity);

  // ---- state
  const rows = new Map(); // key -> {v: row, s: arrival number}
  let arrivals = 0;
  let order = [];
  const sort = model.get("sort") || {};
  let sortIndex = columns.findIndex((c) => c.key === sort.key);
  let sortDir = sort.dir === 1 ? 1 : -1;
  // decimals per symbol, from its raw prices (limit, stop, last, fill), 2 to 6
  const symbolIndex = columns.findIndex((c) => c.kind === "symbol") + 1;
  const priceIndexes = columns.flatMap((c, i) => (c.kind === "price" ? [i + 1] : []));
  const digits = new Map();
  const queue = [];
  const busy = new Set(); // "action\0key" awaiting a reply

  // ---- header
  const headCells = columns.map((c, i) => {
    const cell = pbEl("button", "pb-cell pb-sort" + (NUMERIC.has(c.kind) ? " pb-num" : ""), c.label);
    cell.type = "button";
    cell.title = "Sort by " + c.label + (c.kind === "time" && zone && zone.name ? ` (${zone.name})` : "");
    cell.addEventListener("click", () => {
      if (sortIndex !== i) {
        sortIndex = i;
        sortDir = NUMERIC.has(c.kind) || c.kind === "time" ? -1 : 1;
      } else {
        sortDir = -sortDir;
      }
      full = true;
      resort();
      markSort();
      frames.request();
    });
    head.appendChild(cell);
    return cell;
  });
  if (actions.length) head.appendChild(pbEl("span", "pb-cell"));

  function markSort() {
    headCells.forEach((cell, i) => {
      cell.dataset.sorted = i === sortIndex ? (sortDir > 0 ? "asc" : "desc") : "";
      cell.setAttribute("aria-sort", i === sortIndex ? (sortDir > 0 ? "ascending" : "descending") : "none");
    });
  }

  // `order` is kept sorted: new rows and rows whose sort value changed are sorted on
  // their own and merged in, so a patch costs O(rows + changed log changed)
  const moved = new Set();
  let gone = false;
  let full = true;

  function upsert(row) {
    const key = row[0];
    const found = rows.get(key);
    if (found) {
      if (sortIndex >= 0 && found.v[sortIndex + 1] !== row[sortIndex + 1]) moved.add(found);
      found.v = row;
    } else {
      const entry = { v: row, s: ++arrivals, dead: false };
      rows.set(key, entry);
      moved.add(entry);
    }
    if (symbolIndex > 0) {
      const symbol = row[symbolIndex];
      let d = digits.get(symbol) || 2;
      for (const i of priceIndexes) if (typeof row[i] === "number") d = Math.max(d, pbDecimals(row[i]));
      digits.set(symbol, d);
    }
  }

  function drop(key) {
    const found = rows.get(key);
    if (!found) return;
    rows.delete(key);
    found.dead = true;
    gone = true;
  }

  function compare(a, b) {
    if (sortIndex < 0) return sortDir * (a.s - b.s);
    const x = a.v[sortIndex + 1];
    const y = b.v[sortIndex + 1];
    if (x === y || (x == null && y == null)) return sortDir * (a.s - b.s);
    if (x == null) return 1;
    if (y == null) return -1;
    return (x < y ? -1 : 1) * sortDir;
  }

  function merge(a, b) {
    if (!b.length) return a;
    const out = new Array(a.length + b.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < a.length && j < b.length) out[k++] = compare(a[i], b[j]) <= 0 ? a[i++] : b[j++];
    while (i < a.length) out[k++] = a[i++];
    while (j < b.length) out[k++] = b[j++];
    return out;
  }

  function resort() {
    if (full) {
      order = Array.from(rows.values()).sort(compare);
      full = false;
    } else if (moved.size || gone) {
      const keep = order.filter((e) => !e.dead && !moved.has(e));
      const added = [...moved].filter((e) => !e.dead).sort(compare);
      order = merge(keep, added);
    }
    moved.clear();
    gone = false;
  }

  function apply() {
    if (!queue.length) return;
    for (const msg of queue) {
      if (msg.type === "snapshot") {
        rows.clear();
        arrivals = 0;
        full = true;
        for (const row of msg.rows) upsert(row);
      } else {
        for (const row of msg.upsert) upsert(row);
        for (const key of msg.remove) drop(key);
      }
    }
    queue.length = 0;
    resort();
  }

  // ---- rows in view
  const pool = [];
  function makeRow() {
    const node = pbEl("div", "pb-row pb-line");
    node._cells = columns.map((c) => {
      const cell = pbEl("span", "pb-cell" + (NUMERIC.has(c.kind) ? " pb-num" : ""));
      cell._text = "";
      cell._cls = "";
      cell._base = cell.className;
      node.appendChild(cell);
      return cell;
    });
    if (actions.length) {
      const box = pbEl("span", "pb-cell pb-actions");
      node._buttons = actions.map((a) => {
        const button = pbEl("button", "pb-action pb-action-" + a.name, a.label);
        button.type = "button";
        button.dataset.action = a.name;
        box.appendChild(button);
        return button;
      });
      node.appendChild(box);
    }
    body.appendChild(node);
    pool.push(node);
    return node;
  }

  function fillRow(node, row) {
    node._key = row[0];
    const d = symbolIndex > 0 ? digits.get(row[symbolIndex]) || 2 : 2;
    for (let i = 0; i < columns.length; i++) {
      const cell = node._cells[i];
      const [text, cls] = cellView(columns[i].kind, row[i + 1], d, time);
      if (cell._text !== text) {
        cell.textContent = text;
        cell._text = text;
        if (columns[i].kind === "note" || columns[i].kind === "id") cell.title = text;
      }
      if (cell._cls !== cls) {
        cell.className = cls ? cell._base + " " + cls : cell._base;
        cell._cls = cls;
      }
    }
    if (node._buttons) {
      actions.forEach((a, j) => {
        const button = node._buttons[j];
        const hide = !(a.index < 0 || a.values.includes(row[a.index]));
        const waiting = busy.has(a.name + "\0" + row[0]);
        if (button.hidden !== hide) button.hidden = hide;
        if (button.disabled !== waiting) button.disabled = waiting;
      });
    }
  }

  // the scroll position and view height are read in their own events, never in a frame
  // that has written to the DOM (that would force a synchronous layout)
  let viewTop = 0;
  let viewHeight = model.get("height");
  let shown = -1;

  function paint() {
    const n = order.length;
    if (n !== shown) {
      body.style.height = n * ROW_H + "px";
      count.textContent = n === 1 ? "1 row" : pbQty(n) + " rows";
      empty.hidden = n > 0;
      shown = n;
    }
    const first = Math.max(0, Math.floor(viewTop / ROW_H) - OVERSCAN);
    const last = Math.min(n, Math.ceil((viewTop + viewHeight) / ROW_H) + OVERSCAN);
    for (let i = first; i < last; i++) {
      const node = pool[i - first] || makeRow();
      if (node._y !== i) {
        node.style.transform = "translateY(" + i * ROW_H + "px)";
        node._y = i;
      }
      if (node.hidden) node.hidden = false;
      fillRow(node, order[i].v);
    }
    for (let j = Math.max(0, last - first); j < pool.length; j++) if (!pool[j].hidden) pool[j].hidden = true;
  }

  const frames = pbScheduler(() => {
    apply();
    paint();
  });

  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    const node = button && button.closest(".pb-row");
    if (!node || node._key === undefined) return;
    const name = button.dataset.action;
    const key = node._key;
    const tag = name + "\0" + key;
    if (busy.has(tag)) return;
    busy.add(tag);
    button.disabled = true;
    requests.send({ type: "action", name, key }, (reply) => {
      busy.delete(tag);
      if (reply.ok) notice(reply.note || "", "ok", 4000);
      else notice(reply.error, "error", 10000);
      frames.request();
    });
  });

  model.on("msg:custom", (msg) => {
    if (requests.handle(msg)) return;
    if (msg && (msg.type === "patch" || msg.type === "snapshot")) {
      if (msg.type === "snapshot") queue.length = 0;
      queue.push(msg);
      frames.request();
    }
  });
  model.on("change:error", () => notice(model.get("error"), "error", 0));
  if (model.get("error")) notice(model.get("error"), "error", 0);

  scroller.addEventListener(
    "scroll",
    () => {
      viewTop = scroller.scrollTop;
      frames.request();
    },
    { passive: true },
  );
  const resize = new ResizeObserver((entries) => {
    const box = entries[entries.length - 1].contentRect;
    if (box.height > 0) viewHeight = box.height;
    if (box.width > 0) fitColumns(box.width);
    frames.request();
  });
  resize.observe(scroller);

  markSort();
  paint();
  requests.send({ type: "snapshot" });

  return () => {
    frames.cancel();
    resize.disconnect();
  };
}

export default { render };
