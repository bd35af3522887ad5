// AccountSummary: the account's money as a row of figures.  State lives in two synced
// traits, `fields` ([key, label, kind]) and `values` ({key: number}); changes are applied
// in one animation frame.

function summaryText(kind, value) {
  if (kind === "pl") return [pbSigned(value), pbSignClass(value)];
  if (kind === "pct") return [pbSigned(value, 2, "%"), pbSignClass(value)];
  return [pbFixed(value, 2), ""];
}

function render({ model, el }) {
  const root = pbEl("div", "pb-summary");
  const account = pbEl("div", "pb-account");
  account.append(pbEl("div", "pb-label", "Account"), pbEl("div", "pb-account-id", model.get("account_id")));
  const figures = pbEl("div", "pb-figures");
  const errorEl = pbEl("div", "pb-error");
  errorEl.dataset.kind = "error";
  root.append(account, figures, errorEl);
  pbScale(model, root);
  el.appendChild(root);

  let shownFields = "";
  let cards = new Map();

  function build(fields) {
    figures.replaceChildren();
    cards = new Map();
    for (const [key, label, kind] of fields) {
      const card = pbEl("div", "pb-figure pb-figure-" + key);
      const value = pbEl("div", "pb-value pb-num");
      card.append(pbEl("div", "pb-label", label), value);
      figures.appendChild(card);
      cards.set(key, { value, kind, text: null, cls: null });
    }
  }

  function update() {
    const fields = model.get("fields");
    const signature = JSON.stringify(fields);
    if (signature !== shownFields) {
      build(fields);
      shownFields = signature;
    }
    const values = model.get("values");
    for (const [key, card] of cards) {
      const [text, cls] = summaryText(card.kind, values[key]);
      if (text !== card.text) {
        card.value.textContent = text;
        card.text = text;
      }
      if (cls !== card.cls) {
        card.value.className = "pb-value pb-num " + cls;
        card.cls = cls;
      }
    }
    errorEl.textContent = model.get("error");
  }

  const frames = pbScheduler(update);
  model.on("change:values", () => frames.request());
  model.on("change:fields", () => frames.request());
  model.on("change:error", () => frames.request());
  update();
  return () => frames.cancel();
}

export default { render };
