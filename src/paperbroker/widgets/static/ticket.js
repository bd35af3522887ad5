// OrderTicket: a form that sends {type: "place", side, order: {...}} to Python.  The
// outcome (order placed, or why it was refused) arrives in the synced `status` trait.

const TYPES = [
  ["market", "Market"],
  ["limit", "Limit"],
  ["stop", "Stop"],
  ["stop_limit", "Stop Limit"],
];
let ticketCount = 0;

function field(label, input) {
  const wrap = pbEl("label", "pb-field");
  const caption = pbEl("span", "pb-label", label);
  wrap.append(caption, input);
  return { wrap, caption, input };
}

function numberInput(placeholder) {
  const input = pbEl("input", "pb-input pb-num");
  input.type = "text";
  input.inputMode = "decimal";
  input.autocomplete = "off";
  input.placeholder = placeholder;
  return input;
}

function render({ model, el }) {
  const requests = pbRequests(model);
  const root = pbEl("div", "pb-ticket");
  const head = pbEl("div", "pb-bar");
  head.append(pbEl("span", "pb-heading", "Order ticket"), pbEl("span", "pb-muted", model.get("account_id")));

  const listId = "pb-symbols-" + ++ticketCount + "-" + Math.random().toString(36).slice(2, 8);
  const symbolInput = pbEl("input", "pb-input pb-symbol");
  symbolInput.type = "text";
  symbolInput.autocomplete = "off";
  symbolInput.spellcheck = false;
  symbolInput.placeholder = "AAPL";
  symbolInput.value = model.get("symbol");
  symbolInput.setAttribute("list", listId);
  // the kernel follows the symbol typed (a dashboard's price chart shows it)
  symbolInput.addEventListener("change", () => {
    const value = symbolInput.value.trim();
    if (value && value !== model.get("symbol")) {
      model.set("symbol", value);
      model.save_changes();
    }
  });
  const datalist = pbEl("datalist");
  datalist.id = listId;
  for (const s of model.get("symbols")) {
    const option = pbEl("option");
    option.value = s;
    datalist.appendChild(option);
  }

  const typeSelect = pbEl("select", "pb-input");
  for (const [value, label] of TYPES) {
    const option = pbEl("option", "", label);
    option.value = value;
    typeSelect.appendChild(option);
  }
  const qtyInput = numberInput("1");
  qtyInput.value = String(model.get("qty"));

  const symbol = field("Symbol", symbolInput);
  const quoteLine = pbEl("div", "pb-quote");
  const bidEl = pbEl("span", "pb-bid pb-num");
  const askEl = pbEl("span", "pb-ask pb-num");
  quoteLine.append(pbEl("span", "pb-label", "Bid"), bidEl, pbEl("span", "pb-label", "Ask"), askEl);
  symbol.wrap.appendChild(quoteLine);
  const type = field("Type", typeSelect);
  const qty = field("Quantity", qtyInput);
  const limit = field("Limit price", numberInput(""));
  const stop = field("Stop price", numberInput(""));
  const takeProfit = field("Take profit", numberInput("optional"));
  const stopLoss = field("Stop loss", numberInput("optional"));
  const form = pbEl("div", "pb-form");
  for (const f of [symbol, type, qty, limit, stop, takeProfit, stopLoss]) form.appendChild(f.wrap);
  symbol.wrap.classList.add("pb-wide");
  form.appendChild(datalist);

  const buy = pbEl("button", "pb-button pb-buy-button", "Buy");
  const sell = pbEl("button", "pb-button pb-sell-button", "Sell");
  buy.type = sell.type = "button";
  const buttons = pbEl("div", "pb-buttons");
  buttons.append(buy, sell);
  const statusEl = pbEl("div", "pb-status-line");
  statusEl.setAttribute("role", "status");
  statusEl.setAttribute("aria-live", "polite");
  root.append(head, form, buttons, statusEl);
  pbScale(model, root);
  el.appendChild(root);

  function syncType() {
    const kind = typeSelect.value;
    const market = kind === "market";
    limit.caption.textContent = market ? "Fill price" : "Limit price";
    limit.input.placeholder = market ? "last" : "";
    limit.input.disabled = kind === "stop";
    stop.input.disabled = kind === "market" || kind === "limit";
    if (stop.input.disabled) stop.input.value = "";
    if (limit.input.disabled) limit.input.value = "";
  }
  typeSelect.addEventListener("change", syncType);
  syncType();

  function showStatus() {
    const status = model.get("status") || {};
    statusEl.textContent = status.text || "";
    statusEl.dataset.kind = status.kind || "";
    statusEl.title = status.text || "";
  }
  model.on("change:status", showStatus);
  showStatus();

  function showQuote() {
    const quote = (model.get("quotes") || {})[symbolInput.value.trim()];
    quoteLine.hidden = !quote;
    if (!quote) return;
    const digits = Math.max(pbDecimals(quote[0]), pbDecimals(quote[1]));
    bidEl.textContent = pbFixed(quote[0], digits);
    askEl.textContent = pbFixed(quote[1], digits);
  }
  const quoteFrames = pbScheduler(showQuote);
  model.on("change:quotes", () => quoteFrames.request());
  symbolInput.addEventListener("input", showQuote);
  showQuote();

  function value(input) {
    const text = input.value.trim();
    return text === "" ? null : text;
  }

  function place(side) {
    const kind = typeSelect.value;
    const order = {
      symbol: symbolInput.value,
      type: kind,
      qty: value(qtyInput),
      takeProfit: value(takeProfit.input),
      stopLoss: value(stopLoss.input),
    };
    if (kind === "market") order.seenPrice = value(limit.input);
    else order.limitPrice = value(limit.input);
    order.stopPrice = value(stop.input);
    buy.disabled = sell.disabled = true;
    requests.send({ type: "place", side, order }, (reply) => {
      buy.disabled = sell.disabled = false;
      if (!reply.ok && (model.get("status") || {}).kind !== "error") {
        statusEl.textContent = reply.error;
        statusEl.dataset.kind = "error";
      }
    });
  }
  buy.addEventListener("click", () => place("buy"));
  sell.addEventListener("click", () => place("sell"));
  model.on("msg:custom", (msg) => requests.handle(msg));

  return () => quoteFrames.cancel();
}

export default { render };
