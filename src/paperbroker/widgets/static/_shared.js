// paperbroker widgets: helpers shared by every component.  Python prepends this file to
// each widget's module (anywidget loads modules from blob URLs, where imports cannot
// resolve relative files).  Text from Python is only ever set with textContent.

const PB_SIDE = { 1: "Buy", "-1": "Sell" };
const PB_DIRECTION = { 1: "Long", "-1": "Short" };
const PB_TYPE = { 1: "Limit", 2: "Market", 3: "Stop", 4: "Stop Limit" };
const PB_STATUS = { 1: "Canceled", 2: "Filled", 3: "Inactive", 4: "Placing", 5: "Rejected", 6: "Working" };
const PB_MINUS = "\u2212";

/** An element with a class and (optional) text content. */
function pbEl(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined && text !== null) el.textContent = String(text);
  return el;
}

/** The widget's presentation scale (the `scale` trait: 1 normal, 1.4 for a projector),
 *  set on its root as the CSS variable --pb-scale that every font size is multiplied by. */
function pbScale(model, root) {
  const scale = Number(model.get("scale")) || 1;
  root.style.setProperty("--pb-scale", String(scale));
  return scale;
}

const pbFormats = new Map();
function pbFormat(minDigits, maxDigits) {
  const key = minDigits * 16 + maxDigits;
  let fmt = pbFormats.get(key);
  if (!fmt) {
    fmt = new Intl.NumberFormat(undefined, {
      minimumFractionDigits: minDigits,
      maximumFractionDigits: maxDigits,
    });
    pbFormats.set(key, fmt);
  }
  return fmt;
}

/** 1234.5 -> "1,234.50" with exactly `digits` decimals. */
function pbFixed(value, digits) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  const text = pbFormat(digits, digits).format(Math.abs(value));
  return value < 0 && text.replace(/[0.,\s]/g, "") !== "" ? PB_MINUS + text : text;
}

/** A signed amount: "+1,234.50", "−12.00", "0.00". */
function pbSigned(value, digits = 2, suffix = "") {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  const text = pbFormat(digits, digits).format(Math.abs(value));
  if (text.replace(/[0.,\s]/g, "") === "") return text + suffix;
  return (value > 0 ? "+" : PB_MINUS) + text + suffix;
}

/** A quantity: whole numbers as such, fractions with up to 4 decimals. */
function pbQty(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "";
  return pbFormat(0, 4).format(value);
}

/** "pb-pos", "pb-neg" or "pb-zero" for colouring an amount by sign. */
function pbSignClass(value, digits = 2) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "pb-zero";
  const scaled = Math.round(value * 10 ** digits);
  return scaled > 0 ? "pb-pos" : scaled < 0 ? "pb-neg" : "pb-zero";
}

/** How many decimals a price needs (2 to 6). */
function pbDecimals(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return 2;
  for (let d = 2; d < 6; d++) {
    const scaled = value * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, Math.abs(scaled))) return d;
  }
  return 6;
}

/**
 * A formatter of epoch milliseconds as a time of day in the broker clock's zone
 * (`zone` = {iana, offset}, see widgets/_zone.py), not the browser's: the HTML snapshot
 * and every viewer then show the same times.  A zone without an IANA name, or one this
 * browser does not know, is shown at its fixed UTC offset.
 */
function pbTimeFormat(zone) {
  const options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  const format = (clock, shift) => (ms) =>
    typeof ms === "number" && Number.isFinite(ms) ? clock.format(new Date(ms + shift)) : "";
  if (zone && zone.iana) {
    try {
      return format(new Intl.DateTimeFormat(undefined, { ...options, timeZone: zone.iana }), 0);
    } catch {
      // a zone this browser's Intl does not know: its fixed offset below
    }
  }
  const utc = new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" });
  return format(utc, ((zone && zone.offset) || 0) * 60000);
}

/** Coalesces repaint requests into one animation frame (a timer while the tab is hidden). */
function pbScheduler(run) {
  let handle = 0;
  let viaFrame = false;
  const fire = () => {
    handle = 0;
    run();
  };
  return {
    request() {
      if (handle) return;
      viaFrame = !document.hidden;
      handle = viaFrame ? requestAnimationFrame(fire) : setTimeout(fire, 250);
    },
    cancel() {
      if (!handle) return;
      if (viaFrame) cancelAnimationFrame(handle);
      else clearTimeout(handle);
      handle = 0;
    },
  };
}

/** Requests to Python with ids; `handle(msg)` resolves replies meant for this view. */
function pbRequests(model) {
  const prefix = Math.random().toString(36).slice(2, 10) + ":";
  const pending = new Map();
  let seq = 0;
  return {
    send(content, onReply) {
      const id = prefix + ++seq;
      if (onReply) pending.set(id, onReply);
      model.send({ ...content, id });
      return id;
    },
    handle(msg) {
      if (!msg || msg.type !== "reply" || !pending.has(msg.id)) return false;
      const onReply = pending.get(msg.id);
      pending.delete(msg.id);
      onReply(msg);
      return true;
    },
  };
}

/** A status line that shows a message for a while ("ok", "error" or "" for muted). */
function pbNotice(el) {
  let timer = 0;
  return (text, kind = "", ms = 6000) => {
    clearTimeout(timer);
    el.textContent = text || "";
    el.dataset.kind = kind;
    el.title = text || "";
    if (text && ms > 0) timer = setTimeout(() => {
      el.textContent = "";
      el.title = "";
    }, ms);
  };
}

/**
 * A library the kernel sends once per page: `requests.send({type: command})` is answered
 * by a message of type `reply` whose buffer is the library's source, imported as an ES module
 * from a blob URL (`wrap` turns other source into one).  The promise is cached on
 * `globalThis[key]`, so every view of the page shares it; a failure is not cached.
 */
function pbKernelModule(model, requests, command, reply, key, wrap = (source) => source) {
  const cached = globalThis[key];
  if (cached) return cached;
  const promise = new Promise((resolve, reject) => {
    const onMessage = async (msg, buffers) => {
      if (!msg || msg.type !== reply) return;
      model.off("msg:custom", onMessage);
      try {
        const source = wrap(new TextDecoder().decode(buffers[0]));
        const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
        try {
          resolve(await import(/* webpackIgnore: true */ url));
        } finally {
          URL.revokeObjectURL(url);
        }
      } catch (err) {
        reject(err);
      }
    };
    model.on("msg:custom", onMessage);
    requests.send({ type: command });
  });
  promise.catch(() => {
    if (globalThis[key] === promise) delete globalThis[key];
  });
  globalThis[key] = promise;
  return promise;
}
