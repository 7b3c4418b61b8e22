// MS5 Floor's pages: each page is a shell the service renders; this script fills it from the public
// API (/api/v1) with the session's bearer token. No framework, no build step. Text from the API is
// always put into the page as text, never as markup.
"use strict";

// ---------------------------------------------------------------- elements
function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  append(element, children);
  return element;
}
function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}
const SVG = "http://www.w3.org/2000/svg";
function s(tag, attributes, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) element.setAttribute(name, value);
  return append(element, children);
}
function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}
const main = () => document.getElementById("main");
const data = (name) => document.body.dataset[name];

// ---------------------------------------------------------------- session
// A person's tokens live in sessionStorage (gone with the tab); a display's device credentials live in
// localStorage, so a TV signs itself in again after a restart without anyone at it.
const session = {
  get tokens() { return JSON.parse(sessionStorage.getItem("ms5.tokens") || "null"); },
  set tokens(value) {
    if (value) sessionStorage.setItem("ms5.tokens", JSON.stringify(value));
    else sessionStorage.removeItem("ms5.tokens");
  },
  get display() { return JSON.parse(localStorage.getItem("ms5.display") || "null"); },
  set display(value) {
    if (value) localStorage.setItem("ms5.display", JSON.stringify(value));
    else localStorage.removeItem("ms5.display");
  },
};

class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.message ? body.message : `the service answered ${status}`;
    super(message);
    this.status = status;
    this.code = body && body.code ? body.code : "http_" + status;
  }
}
// How an error is shown: the API's message in words, with its stable code for support.
function say(error) {
  if (error instanceof ApiError) return `${error.message} (${error.code})`;
  return `The service could not be reached: ${error.message}`;
}

function toSignIn(message) {
  session.tokens = null;
  const next = location.pathname + location.search;
  const query = new URLSearchParams({ next });
  if (message) query.set("message", message);
  location.assign("/sign-in?" + query);
}

// Gets new tokens without asking anyone: a display with its secret, a person with the refresh token.
async function renew() {
  const display = session.display;
  const tokens = session.tokens;
  try {
    if (display) session.tokens = await send("POST", "/auth/device", display, false);
    else if (tokens && tokens.refresh_token) {
      session.tokens = await send("POST", "/auth/refresh", { refresh_token: tokens.refresh_token }, false);
    } else return false;
    return true;
  } catch (error) {
    return false;
  }
}

async function send(method, path, body, authorised = true) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  const tokens = session.tokens;
  if (authorised && tokens) headers.authorization = "Bearer " + tokens.access_token;
  const response = await fetch("/api/v1" + path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (error) { parsed = { message: text }; }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

// Calls the API; an expired token is renewed once, and a session that has ended leads to sign-in.
async function api(method, path, body) {
  if (!session.tokens && !(await renew())) toSignIn();
  try {
    return await send(method, path, body);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    if (await renew()) return send(method, path, body);
    toSignIn("Your session has ended. Sign in again.");
    throw error;
  }
}
const get = (path) => api("GET", path);
const post = (path, body) => api("POST", path, body || {});
// The read models follow a command within moments: reads `read` until `done` holds for its answer (10 s
// at most), so a page never shows the state from before the user's own command.
async function settled(read, done) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const answer = await read();
    if (done(answer) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
const lastPosition = (accepted) => Math.max(0, ...accepted.events.map((event) => event.position));

// Fetches a text answer (printable pages, exports) with the token, and opens or saves it.
async function download(path, filename, open) {
  const tokens = session.tokens;
  const response = await fetch("/api/v1" + path, { headers: { authorization: "Bearer " + tokens.access_token } });
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  const url = URL.createObjectURL(await response.blob());
  if (open) window.open(url, "_blank");
  else h("a", { href: url, download: filename }).click();
}

// Who is signed in (GET /api/v1/auth/me); the header shows it, and a person's session ends on idle as
// the API's does: after the idle time without any use of the page, it leads to sign-in.
let me = null;
async function whoAmI() {
  me = await get("/auth/me");
  const who = document.getElementById("who");
  if (who) who.textContent = `${me.name} (${[...new Set(me.grants.map((grant) => grant.role))].join(", ")})`;
  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.hidden = false;
    signOut.addEventListener("click", async () => {
      await post("/auth/logout").catch(() => null);
      session.display = null;
      toSignIn("Signed out.");
    });
  }
  if (me.session_idle_seconds) {
    let last = Date.now();
    for (const event of ["pointerdown", "keydown"]) addEventListener(event, () => { last = Date.now(); });
    setInterval(() => {
      if (Date.now() - last > me.session_idle_seconds * 1000) toSignIn("Your session ended after being idle.");
    }, 5000);
  }
  return me;
}

// A page's line of feedback: what the user's last action did, or why the API refused it, in words.
function feedback(id) {
  const element = h("p", { role: "status", id });
  const report = (text, failed) => { element.className = failed ? "error" : "notice"; element.textContent = text; };
  return { element, report, fail: (error) => report(say(error), true) };
}

// ---------------------------------------------------------------- time
// Every time is shown in the line's (site's) time zone with its UTC offset (AT-08).
function local(iso, zone, withDate) {
  if (!iso) return "";
  const options = { timeZone: zone || "UTC", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZoneName: "longOffset" };
  if (withDate) Object.assign(options, { year: "numeric", month: "2-digit", day: "2-digit" });
  return new Intl.DateTimeFormat("en-GB", options).format(new Date(iso)).replace("GMT", "UTC");
}
function age(iso) {
  const seconds = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  const hours = Math.floor(seconds / 3600), minutes = Math.floor((seconds % 3600) / 60);
  return hours ? `${hours} h ${minutes} min` : minutes ? `${minutes} min ${seconds % 60} s` : `${seconds} s`;
}
// Ages shown on a page tick every second without asking the service.
setInterval(() => {
  for (const element of document.querySelectorAll("[data-since]")) element.textContent = age(element.dataset.since);
}, 1000);
const since = (iso) => h("span", { "data-since": iso }, age(iso));
const percent = (ratio) => (ratio ? `${ratio.percent.toFixed(1)} %` : "–");

// ---------------------------------------------------------------- live streams
// Follows /api/v1/live/...: server-sent events read with fetch (so the bearer token goes in a header),
// resumed with Last-Event-ID after any loss. `onStale(text)` is told when figures stop being current
// (the connection is lost or silent, or the read models are behind) and `onStale(null)` when they are
// current again.
const BEHIND_SECONDS = 10;
const SILENT_MS = 16000;
function follow(path, onStatus, onStale) {
  let lastId = null;
  let heard = Date.now();
  let controller = null;
  let lostSince = null;
  const lost = () => {
    lostSince = lostSince || new Date().toISOString();
    onStale(`Connection lost since ${local(lostSince)}: the figures shown are from then.`);
  };
  setInterval(() => {
    if (Date.now() - heard > SILENT_MS && controller) { controller.abort(); lost(); }
  }, 1000);
  // A stream left open by a page being left would hold one of the browser's few connections to the
  // service until the service next writes to it.
  let leaving = false;
  addEventListener("pagehide", () => { leaving = true; controller.abort(); });
  const handle = (block) => {
    const field = (name) => block.split("\n").filter((line) => line.startsWith(name + ": "))
      .map((line) => line.slice(name.length + 2)).join("\n");
    const event = field("event");
    if (event === "health") {
      const behind = JSON.parse(field("data")).behind_seconds;
      onStale(behind >= BEHIND_SECONDS
        ? `The figures are ${Math.round(behind)} s behind the floor: the service is catching up.` : null);
    } else if (event === "error") {
      onStale(`The board cannot be shown: ${JSON.parse(field("data")).message}`);
    } else if (event) {
      lastId = field("id") || lastId;
      lostSince = null;
      onStale(null);
      onStatus(JSON.parse(field("data")));
    }
  };
  const connect = async () => {
    controller = new AbortController();
    heard = Date.now();
    try {
      if (!session.tokens && !(await renew())) return toSignIn();
      const headers = { accept: "text/event-stream", authorization: "Bearer " + session.tokens.access_token };
      if (lastId) headers["last-event-id"] = lastId;
      const response = await fetch("/api/v1/live" + path, { headers, signal: controller.signal });
      if (response.status === 401) {
        // An expired token is not a lost connection: renewed, the stream resumes at once.
        return (await renew()) ? connect() : toSignIn("Your session has ended. Sign in again.");
      } else if (!response.ok) {
        const body = await response.json().catch(() => null);
        onStale(`The board cannot be shown: ${say(new ApiError(response.status, body))}`);
      } else {
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          heard = Date.now();
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            handle(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      }
    } catch (error) { /* reconnects below */ }
    if (leaving) return;
    lost();
    setTimeout(connect, 1000);
  };
  connect();
}
function staleBanner(text) {
  const banner = document.getElementById("stale");
  banner.hidden = !text;
  banner.textContent = text || "";
  document.body.classList.toggle("is-stale", Boolean(text));
}

// ---------------------------------------------------------------- line states
// What a board says about a line, in words and as a colour class.
function lineState(status) {
  const shift = status.shift_oee;
  if (status.state === "stopped") {
    const stop = status.stop || {};
    if (stop.loss_category === "setup") return { key: "changeover", text: `Changeover (${stop.reason_code})` };
    return { key: "stopped", text: stop.reason_code ? `Stopped: ${stop.reason_code}` : "Stopped: unassigned" };
  }
  if (status.state === "running") return { key: "running", text: "Running" };
  if (!shift) return { key: "no-shift", text: "No shift" };
  return { key: "idle", text: status.job ? "Idle (job paused)" : "Idle" };
}
function stateSince(status) {
  if (status.state === "stopped" && status.stop) return status.stop.started_at;
  return null;
}
function progress(job) {
  const target = Number(job.target_quantity) || 0;
  const share = target ? Math.min(100, (job.good / target) * 100) : 0;
  const bar = h("div");
  bar.style.width = share.toFixed(1) + "%";
  return [h("div", { class: "progress", role: "progressbar", "aria-valuenow": share.toFixed(0) }, bar),
    `${job.product}: ${job.good} good, ${job.reject} reject of ${target} (${share.toFixed(0)} %)`];
}
function tierOf(calls) { return calls.reduce((top, call) => Math.max(top, call.level), 0); }
const linePath = (line) => line.split("/").map(encodeURIComponent).join("/");

// ---------------------------------------------------------------- charts (SVG)
function gauge(label, ratio) {
  const value = ratio ? ratio.percent : null;
  const grade = value === null ? "none" : value >= 85 ? "good" : value >= 60 ? "fair" : "poor";
  const arc = (fraction) => {
    const angle = Math.PI * (1 - Math.min(1, Math.max(0, fraction)));
    return `M 10 60 A 50 50 0 0 1 ${60 + 50 * Math.cos(angle)} ${60 - 50 * Math.sin(angle)}`;
  };
  return s("svg", { viewBox: "0 0 120 84", role: "img", "aria-label": `${label} ${percent(ratio)}` },
    s("path", { d: arc(1), class: "track", "stroke-width": 12, fill: "none" }),
    value === null ? null : s("path", { d: arc(value / 100), class: `gauge-${grade}`, "stroke-width": 12, fill: "none" }),
    s("text", { x: 60, y: 58, "text-anchor": "middle", "font-size": 18, "font-weight": "bold" }, percent(ratio)),
    s("text", { x: 60, y: 80, "text-anchor": "middle", "font-size": 12 }, label));
}
// Downtime of the shift by reason, longest first, with the cumulative share as a line.
function pareto(byReason) {
  const bars = Object.entries(byReason || {}).sort((a, b) => b[1] - a[1]).slice(0, 8);
  const total = bars.reduce((sum, [, ms]) => sum + ms, 0);
  if (!total) return h("p", { class: "muted" }, "No downtime this shift.");
  const width = 400, height = 160, step = width / bars.length, top = bars[0][1];
  let cumulative = 0;
  const points = bars.map(([, ms], index) => {
    cumulative += ms;
    return `${index * step + step / 2},${height - (cumulative / total) * height}`;
  });
  return s("svg", { viewBox: `0 0 ${width} ${height + 40}`, role: "img", "aria-label": "Downtime Pareto" },
    bars.map(([reason, ms], index) => [
      s("rect", { class: "bar", x: index * step + 4, width: step - 8, y: height - (ms / top) * height,
        height: (ms / top) * height }),
      s("text", { x: index * step + step / 2, y: height + 14, "text-anchor": "middle", "font-size": 11 }, reason),
      s("text", { x: index * step + step / 2, y: height + 30, "text-anchor": "middle", "font-size": 11 },
        `${Math.round(ms / 60000)} min`),
    ]),
    s("polyline", { class: "cumulative", points: points.join(" ") }));
}
// Hour by hour: each hour's target (grey) beside its good units (green when on target, red behind).
function hourBars(hours, zone) {
  if (!hours.length) return h("p", { class: "muted" }, "No hours of this shift yet.");
  const width = 480, height = 150, step = width / hours.length;
  const top = Math.max(1, ...hours.map((hour) => Math.max(hour.target || 0, hour.good)));
  const y = (units) => height - (units / top) * height;
  return s("svg", { viewBox: `0 0 ${width} ${height + 36}`, role: "img", "aria-label": "Hour by hour" },
    hours.map((hour, index) => {
      const x = index * step;
      const behind = hour.target !== null && hour.good < hour.target;
      return [
        s("rect", { class: "target", x: x + 4, width: step / 2 - 4, y: y(hour.target || 0), height: height - y(hour.target || 0) }),
        s("rect", { class: behind ? "behind" : "actual", x: x + step / 2, width: step / 2 - 4, y: y(hour.good), height: height - y(hour.good) }),
        s("text", { x: x + step / 2, y: height + 14, "text-anchor": "middle", "font-size": 11 }, local(hour.start, zone).slice(0, 5)),
        s("text", { x: x + step / 2, y: height + 30, "text-anchor": "middle", "font-size": 11 },
          `${hour.good}/${hour.target === null ? "–" : hour.target}`),
      ];
    }));
}

// ---------------------------------------------------------------- Andon calls
function callRows(calls, zone, actions) {
  if (!calls.length) return h("p", { class: "muted" }, "No open Andon calls.");
  const sorted = [...calls].sort((a, b) => a.raised_at.localeCompare(b.raised_at));
  return h("table", {}, h("tr", {}, ["Line", "Station", "Call", "Open for", "Tier", "Status", ""].map((t) => h("th", {}, t))),
    sorted.map((call) => h("tr", { class: `call tier-${call.level}`, "data-call": call.call_id },
      h("td", {}, call.line), h("td", {}, call.station), h("td", {}, `${call.call_type} (${call.priority})`),
      h("td", {}, since(call.raised_at)), h("td", { class: "tier" }, `Tier ${call.level}`),
      h("td", { class: "call-status" }, call.acknowledged_at
        ? `Acknowledged by ${call.acknowledged_by || "someone"} at ${local(call.acknowledged_at, zone)}` : "Waiting"),
      h("td", {}, actions ? actions(call) : null))));
}
// Acknowledge, resolve and cancel for people who may (the API decides; its refusal is shown).
function callActions(report) {
  return (call) => {
    const act = (step, body) => async () => {
      try { await post(`/andon-calls/${call.call_id}/${step}`, body()); report(`Call ${step}d.`); } catch (error) { report(say(error), true); }
    };
    return h("span", { class: "actions" },
      call.acknowledged_at ? null : h("button", { type: "button", onclick: act("acknowledge", () => ({})) }, "Acknowledge"),
      h("button", { type: "button", class: "quiet", onclick: act("resolve", () => ({
        resolution: prompt("What was done?") || "", root_cause: prompt("Root cause?") || "" })) }, "Resolve"),
      h("button", { type: "button", class: "quiet", onclick: act("cancel", () => ({ reason: prompt("Why cancel?") || "" })) }, "Cancel"));
  };
}

// ---------------------------------------------------------------- the signing dialog (ES-07)
// Shows what is signed and what the signature means before it asks for any credential; only then the
// password (and the username for a session's first signature). A refusal signs nothing and says why.
async function signRecord(recordType, recordId, meaning) {
  const dialog = document.getElementById("signing");
  const query = new URLSearchParams({ record_type: recordType, record_id: recordId, meaning });
  let intent;
  try { intent = await get("/signatures/intent?" + query); } catch (error) { alert(say(error)); return false; }
  return new Promise((resolve) => {
    const close = (signed) => { dialog.close(); resolve(signed); };
    const message = h("p", { class: "error", role: "alert" });
    const review = () => replace(dialog,
      h("h2", {}, `Sign: ${intent.meaning}`),
      h("dl", {}, intent.summary.map((line) => [h("dt", {}, line.label), h("dd", {}, line.value)]),
        h("dt", {}, "Version"), h("dd", {}, String(intent.version)),
        h("dt", {}, "Signer"), h("dd", {}, `${intent.signer} (${intent.role})`)),
      h("p", { class: "statement" }, intent.statement),
      h("div", { class: "actions" },
        h("button", { type: "button", id: "sign-continue", onclick: credentials }, "Continue to sign"),
        h("button", { type: "button", class: "quiet", onclick: () => close(false) }, "Cancel")));
    const credentials = () => {
      const username = h("input", { name: "username", autocomplete: "username", required: true });
      const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
      const form = h("form", { class: "narrow" },
        h("p", {}, `You are signing "${intent.meaning}" for ${recordType} ${recordId}, version ${intent.version}.`),
        intent.credentials === "username_and_password" ? h("label", {}, "Username", username) : null,
        h("label", {}, "Password", password), message,
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Sign"),
          h("button", { type: "button", class: "quiet", onclick: () => close(false) }, "Cancel")));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const body = { record_type: recordType, record_id: recordId, version: intent.version, meaning,
          password: password.value };
        if (intent.credentials === "username_and_password") body.username = username.value;
        try { await post("/signatures", body); close(true); } catch (error) { message.textContent = say(error); }
      });
      replace(dialog, h("h2", {}, "Your credentials"), form);
      (intent.credentials === "username_and_password" ? username : password).focus();
    };
    review();
    dialog.showModal();
  });
}

// ---------------------------------------------------------------- pages
const pages = {};

pages["sign-in"] = () => {
  const query = new URLSearchParams(location.search);
  const next = query.get("next") && query.get("next").startsWith("/") ? query.get("next") : "/";
  const message = h("p", { class: "error", role: "alert" });
  const notice = h("p", { class: "notice", role: "status" }, query.get("message") || "");
  const field = (label, name, type = "text", autocomplete = "off") =>
    h("label", {}, label, h("input", { name, type, autocomplete, required: true }));
  const form = (id, title, fields, submit, handler) => {
    const element = h("form", { id, class: "card narrow" }, h("h2", {}, title), fields, h("button", { type: "submit" }, submit));
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      message.textContent = "";
      const values = Object.fromEntries(new FormData(element));
      try { await handler(values); } catch (error) { message.textContent = say(error); }
    });
    return element;
  };
  const person = form("person", "Sign in", [field("Username", "username", "text", "username"),
    field("Password", "password", "password", "current-password")], "Sign in", async (values) => {
    try {
      session.display = null;
      session.tokens = await send("POST", "/auth/login", values, false);
      location.assign(next);
    } catch (error) {
      if (error.code === "password_change_required" || error.code === "password_expired") {
        notice.textContent = "Your password must be changed before you sign in.";
        change.hidden = false;
      }
      throw error;
    }
  });
  const change = form("change", "Change your password", [field("Username", "username", "text", "username"),
    field("Current password", "current_password", "password", "current-password"),
    field("New password", "new_password", "password", "new-password")], "Change password", async (values) => {
    await send("POST", "/auth/password", values, false);
    notice.textContent = "Password changed. Sign in with the new one.";
  });
  const display = form("display", "This screen is a display", [field("Device id", "device_id"),
    field("Device secret", "secret", "password")], "Show the board", async (values) => {
    session.tokens = await send("POST", "/auth/device", values, false);
    session.display = values;
    location.assign(next);
  });
  const bootstrap = form("bootstrap", "First administrator of a new installation", [
    field("Bootstrap token (from the service's data directory)", "token"), field("Username", "username"),
    field("Printed name", "printed_name"), field("Password", "password", "password", "new-password"),
    field("Site", "site")], "Create", async (values) => {
    await send("POST", "/bootstrap", values, false);
    notice.textContent = "The administrator exists. Sign in.";
    bootstrap.hidden = true;
  });
  change.hidden = true;
  bootstrap.hidden = true;
  const more = h("p", {},
    h("button", { type: "button", class: "quiet", onclick: () => { change.hidden = !change.hidden; } }, "Change password"), " ",
    h("button", { type: "button", class: "quiet", onclick: () => { display.hidden = !display.hidden; } }, "Set up a display"), " ",
    h("button", { type: "button", class: "quiet", onclick: () => { bootstrap.hidden = !bootstrap.hidden; } }, "New installation"));
  display.hidden = !query.has("display");
  replace(main(), h("h1", {}, "MS5 Floor"), notice, message, person, more, change, display, bootstrap);
};

// Plant overview: each site the person may read, area by area, every line as a tile. Live.
pages.overview = async () => {
  await whoAmI();
  if (me.kind === "device") {
    const scope = me.grants[0] && me.grants[0].scope;
    if (scope && scope.kind === "line") return location.assign(`/lines/${linePath(scope.line)}/board`);
  }
  const sites = [...new Set(me.grants.filter((grant) => grant.scope.kind === "site").map((grant) => grant.scope.site))];
  const lines = [...new Set(me.grants.filter((grant) => grant.scope.kind === "line").map((grant) => grant.scope.line))];
  const root = replace(main(), h("h1", {}, "Plant overview"));
  const boards = new Map();
  const areas = new Map();
  const draw = () => {
    const byArea = new Map();
    for (const status of boards.values()) {
      const [site, area] = status.line.split("/");
      const key = `${site}/${area}`;
      if (!byArea.has(key)) byArea.set(key, []);
      byArea.get(key).push(status);
    }
    for (const [key, statuses] of [...byArea].sort()) {
      if (!areas.has(key)) {
        const tiles = h("div", { class: "tiles" });
        const [site, area] = key.split("/");
        root.append(h("section", { class: "area" }, h("h2", {}, `${key} `,
          h("a", { href: `/andon/${encodeURIComponent(site)}/${encodeURIComponent(area)}` }, "Andon board")), tiles));
        areas.set(key, tiles);
      }
      replace(areas.get(key), statuses.sort((a, b) => a.line.localeCompare(b.line)).map(tile));
    }
    if (!boards.size) replace(root, h("h1", {}, "Plant overview"), h("p", { class: "muted" }, "No lines you may see yet."));
  };
  const take = (body) => {
    for (const status of body.lines || [body]) boards.set(status.line, status);
    draw();
  };
  for (const site of sites) follow(`/sites/${encodeURIComponent(site)}`, take, staleBanner);
  for (const line of lines.filter((line) => !sites.includes(line.split("/")[0]))) follow(`/lines/${linePath(line)}`, take, staleBanner);
  if (!sites.length && !lines.length) replace(root, h("h1", {}, "Plant overview"), h("p", { class: "muted" }, "Your roles name no site or line."));
};

function tile(status) {
  const state = lineState(status);
  const shift = status.shift_oee;
  const calls = status.open_calls;
  const oldest = calls.length ? [...calls].sort((a, b) => a.raised_at.localeCompare(b.raised_at))[0] : null;
  const path = linePath(status.line);
  return h("article", { class: `tile state-${state.key}`, "data-line": status.line },
    h("h3", {}, status.name || status.line),
    h("div", { class: "state", "data-state": state.key }, state.text,
      stateSince(status) ? [" for ", since(stateSince(status))] : null),
    status.job ? h("div", {}, progress(status.job)) : h("div", { class: "muted" }, "No running job"),
    h("div", {}, shift ? `Shift ${shift.shift} OEE so far: ${percent(shift.oee.figures.oee)}` : "No shift now"),
    h("div", { class: calls.length ? "error" : "muted" }, calls.length
      ? [`${calls.length} open Andon call${calls.length > 1 ? "s" : ""}, oldest `, since(oldest.raised_at), `, tier ${tierOf(calls)}`]
      : "No open Andon calls"),
    h("div", { class: "links" }, h("a", { href: `/lines/${path}/board` }, "Board"), h("a", { href: `/lines/${path}/tablet` }, "Tablet"),
      shift ? h("a", { href: `/lines/${path}/shifts/${shift.date}/${encodeURIComponent(shift.shift)}` }, "Shift report") : null));
}

// The TV board of one line: no controls, large type, live, and plainly stale when it is.
pages.board = async () => {
  const line = data("line");
  await whoAmI();
  const view = replace(main(), h("p", { class: "loading" }, "Waiting for the line's board…"));
  let hours = [];
  let hoursError = null;
  let hoursOf = null;
  let hoursAt = 0;
  const loadHours = async (status) => {
    const shift = status.shift_oee;
    const key = shift ? `${shift.date}/${shift.shift}` : null;
    if (!key || (key === hoursOf && Date.now() - hoursAt < 30000)) return;
    hoursOf = key;
    hoursAt = Date.now();
    try {
      hours = (await get(`/lines/${linePath(line)}/shifts/${shift.date}/${encodeURIComponent(shift.shift)}/hour-by-hour`)).hours;
      hoursError = null;
    } catch (error) { hoursError = say(error); }
  };
  const draw = (status) => {
    const state = lineState(status);
    const zone = status.time_zone;
    const shift = status.shift_oee;
    const figures = shift ? shift.oee.figures : {};
    replace(view,
      h("div", { class: "board-head" }, h("h1", {}, status.name || line),
        h("span", { class: `state state-${state.key}`, "data-state": state.key }, state.text),
        stateSince(status) ? h("span", { class: "big" }, since(stateSince(status))) : null,
        h("span", { class: "clock", id: "clock" }, local(new Date().toISOString(), zone))),
      h("div", { class: "board-grid" },
        h("section", { class: "card" }, h("h2", {}, "Job"), status.job
          ? [h("div", { class: "big" }, status.job.product), progress(status.job)] : h("p", { class: "muted" }, "No running job")),
        h("section", { class: "card" }, h("h2", {}, shift ? `Shift ${shift.shift} so far${shift.crew ? `, crew ${shift.crew}` : ""}` : "No shift now"),
          h("div", { class: "gauges" }, gauge("Availability", figures.availability), gauge("Performance", figures.performance),
            gauge("Quality", figures.quality), gauge("OEE", figures.oee))),
        h("section", { class: "card" }, h("h2", {}, "Hour by hour: target and good"),
          hoursError ? h("p", { class: "error" }, hoursError) : hourBars(hours, zone)),
        h("section", { class: "card" }, h("h2", {}, "Downtime this shift"), pareto(shift && shift.oee.downtime_by_reason_ms)),
        h("section", { class: "card", id: "calls" }, h("h2", {}, "Open Andon calls"), callRows(status.open_calls, zone))));
  };
  let latest = null;
  setInterval(() => {
    const clock = document.getElementById("clock");
    if (clock && latest) clock.textContent = local(new Date().toISOString(), latest.time_zone);
  }, 1000);
  follow(`/lines/${linePath(line)}`, async (status) => {
    latest = status;
    draw(status);
    await loadHours(status);
    if (latest === status) draw(status);
  }, staleBanner);
};

// The Andon board of an area: every open call, oldest first, coloured by tier.
pages.andon = async () => {
  const site = data("site"), area = data("area");
  await whoAmI();
  const { element: message, report } = feedback();
  const list = h("div");
  replace(main(), h("h1", {}, `Andon: ${site}/${area}`), message, list);
  const actions = me.kind === "person" ? callActions(report) : null;
  follow(`/areas/${encodeURIComponent(site)}/${encodeURIComponent(area)}`, (body) => {
    const calls = body.lines.flatMap((status) => status.open_calls);
    const zone = body.lines[0] && body.lines[0].time_zone;
    replace(list, callRows(calls, zone, actions));
  }, staleBanner);
};

// The operator's tablet for one line.
pages.tablet = async () => {
  const line = data("line");
  const path = linePath(line);
  await whoAmI();
  const { element: message, report } = feedback("message");
  const attempt = (work, done) => async (event) => {
    if (event) event.preventDefault();
    try { await work(); report(done); } catch (error) { report(say(error), true); }
  };
  const status = h("section", { class: "card", id: "status" }, h("p", { class: "loading" }, "Waiting for the line…"));
  const jobs = h("section", { class: "card", id: "jobs" });
  const stops = h("section", { class: "card", id: "stops" });
  const calls = h("section", { class: "card", id: "andon" });
  const checklist = h("section", { class: "card", id: "checklist" });
  replace(main(), h("h1", {}, `Tablet: ${line}`), message, status, jobs, stops, calls, checklist);

  let config = { reasons: {}, reject_reasons: {} };
  try { config = (await get(`/lines/${path}`)).state; } catch (error) { report(say(error), true); }
  const leaves = (tree) => Object.keys(tree).filter((code) => !Object.values(tree).some((node) => node.parent === code));
  const label = (tree, code) => {
    const names = [];
    for (let at = code; at && tree[at]; at = tree[at].parent) names.unshift(tree[at].label);
    return names.join(" › ");
  };
  const options = (tree) => leaves(tree).sort().map((code) => h("option", { value: code }, `${label(tree, code)} (${code})`));

  // Jobs: the steps each status allows, and counts for a running job.
  // `after`: the job and position of the user's last command, which the list must reflect.
  const drawJobs = async (after) => {
    let list = [];
    const read = () => get(`/jobs?line=${encodeURIComponent(line)}&limit=50`);
    const reflects = (answer) => !after || answer.jobs.some((job) => job.job_id === after.id && job.last_position >= after.position);
    try { list = (await settled(read, reflects)).jobs; } catch (error) { report(say(error), true); }
    const open = list.filter((job) => !["completed", "cancelled"].includes(job.status));
    const step = (job, name, label, body) => h("button", { type: "button", "data-step": name, onclick: attempt(async () => {
      const accepted = await post(`/jobs/${job.job_id}/${name}`, body ? body() : {});
      await drawJobs({ id: job.job_id, position: lastPosition(accepted) });
    }, `Job ${label.toLowerCase()}.`) }, label);
    const counts = (job) => {
      const form = h("form", { class: "row", id: "counts" },
        h("label", {}, "Good", h("input", { name: "good", type: "number", min: 0, value: 0, required: true })),
        h("label", {}, "Reject", h("input", { name: "reject", type: "number", min: 0, value: 0, required: true })),
        h("label", {}, "Reject reason", h("select", { name: "reject_reason" }, h("option", { value: "" }, "–"), options(config.reject_reasons))),
        h("button", { type: "submit" }, "Record counts"));
      form.addEventListener("submit", attempt(async () => {
        const values = Object.fromEntries(new FormData(form));
        const body = { good: Number(values.good), reject: Number(values.reject) };
        if (values.reject_reason) body.reject_reason = values.reject_reason;
        const accepted = await post(`/jobs/${job.job_id}/production`, body);
        await drawJobs({ id: job.job_id, position: lastPosition(accepted) });
      }, "Counts recorded."));
      return form;
    };
    replace(jobs, h("h2", {}, "Jobs"), open.length ? open.map((job) => h("div", { class: "card", "data-job": job.job_id },
      h("div", {}, h("strong", {}, job.product), ` · ${job.status} · ${job.good} good, ${job.reject} reject of ${job.target_quantity}`),
      h("div", { class: "actions" },
        job.status === "created" ? step(job, "accept", "Accept") : null,
        job.status === "accepted" ? step(job, "start", "Start") : null,
        job.status === "running" ? step(job, "pause", "Pause") : null,
        job.status === "paused" ? step(job, "resume", "Resume") : null,
        job.status === "running" ? step(job, "complete", "Complete") : null),
      job.status === "running" ? counts(job) : null)) : h("p", { class: "muted" }, "No open jobs on this line."));
  };

  // Stops: start and end one, and give an open or unexplained stop its reason from the line's tree.
  // `shows`: what the list must show after the user's last command.
  const drawStops = async (shows) => {
    let list = [];
    const read = () => get(`/downtime?line=${encodeURIComponent(line)}&limit=50`);
    try { list = (await settled(read, (answer) => !shows || answer.stops.some(shows))).stops; } catch (error) { report(say(error), true); }
    const reasonForm = (stop) => {
      const form = h("form", { class: "row", "data-stop": stop.downtime_id },
        h("label", {}, "Reason", h("select", { name: "code", required: true }, options(config.reasons))),
        stop.reason_code ? h("label", {}, "Reason for the change", h("input", { name: "reason_for_change", required: true })) : null,
        h("button", { type: "submit" }, stop.reason_code ? "Change reason" : "Give reason"));
      form.addEventListener("submit", attempt(async () => {
        const values = Object.fromEntries(new FormData(form));
        await post(`/downtime/${stop.downtime_id}/reason`, values);
        await drawStops((shown) => shown.downtime_id === stop.downtime_id && shown.reason_code === values.code);
      }, "Reason given."));
      return form;
    };
    const end = (stop) => h("button", { type: "button", class: "quiet", onclick: attempt(async () => {
      await post(`/downtime/${stop.downtime_id}/end`, { ended_at: new Date().toISOString() });
      await drawStops((shown) => shown.downtime_id === stop.downtime_id && shown.ended_at);
    }, "Stop ended.") }, "End stop");
    const start = h("button", { type: "button", class: "danger", id: "stop-line", onclick: attempt(async () => {
      const accepted = await post("/downtime", { line, started_at: new Date().toISOString() });
      await drawStops((shown) => shown.downtime_id === accepted.aggregate_id);
    }, "Line stopped.") }, "Stop the line");
    const zone = config.identity ? config.identity[2] : "UTC";
    replace(stops, h("h2", {}, "Stops"), h("div", { class: "actions" }, start),
      list.length ? list.map((stop) => h("div", { class: "card" },
        h("div", {}, `${stop.equipment || "Whole line"} · from ${local(stop.started_at, zone)}`,
          stop.ended_at ? ` to ${local(stop.ended_at, zone)}` : " · open", " · ",
          h("strong", {}, stop.reason_code ? label(config.reasons, stop.reason_code) || stop.reason_code : "unassigned")),
        reasonForm(stop), stop.ended_at ? null : end(stop))) : h("p", { class: "muted" }, "No stops in the last 24 hours."));
  };

  // Andon: raise a call; the open ones with their responses.
  const raise = h("form", { class: "row", id: "raise" },
    h("label", {}, "Station", h("input", { name: "station", required: true, value: "S1" })),
    h("label", {}, "Type", h("select", { name: "call_type" }, ["maintenance", "quality", "material", "safety", "other"].map((t) => h("option", { value: t }, t)))),
    h("label", {}, "Priority", h("select", { name: "priority" }, ["low", "normal", "high", "critical"].map((p) => h("option", { value: p }, p)))),
    h("label", {}, "What is wrong", h("input", { name: "description", required: true })),
    h("button", { type: "submit" }, "Raise Andon call"));
  raise.addEventListener("submit", attempt(async () => {
    await post("/andon-calls", { line, ...Object.fromEntries(new FormData(raise)) });
    raise.reset();
  }, "Andon call raised."));
  const open = h("div");
  replace(calls, h("h2", {}, "Andon"), raise, open);

  // A checklist: started from a template, answered item by item, completed with a signature.
  const drawChecklist = async (id) => {
    const state = (await get(`/state?record_type=checklist&id=${encodeURIComponent(id)}`)).state;
    const items = state.template ? state.template.items : [];
    replace(checklist, h("h2", {}, `Checklist ${state.template ? state.template.template_id : ""}`),
      items.map((item) => {
        const kind = item.kind.kind;
        const given = state.answers[item.id];
        const input = kind === "check" ? h("select", { name: "value" }, h("option", { value: "true" }, "Yes"), h("option", { value: "false" }, "No"))
          : h("input", { name: "value", type: kind === "number" ? "number" : "text", required: true });
        const form = h("form", { class: "row", "data-item": item.id },
          h("label", {}, `${item.prompt}${item.mandatory ? " *" : ""}`, input),
          given ? h("label", {}, "Reason for the change", h("input", { name: "reason", required: true })) : null,
          h("span", {}, given ? `Answered: ${given.value}` : "Not answered"),
          h("button", { type: "submit" }, given ? "Change" : "Answer"));
        form.addEventListener("submit", attempt(async () => {
          const values = Object.fromEntries(new FormData(form));
          const value = kind === "check" ? values.value === "true" : kind === "number" ? Number(values.value) : values.value;
          const body = { item: item.id, answer: { kind, value } };
          if (values.reason) body.reason = values.reason;
          await post(`/checklists/${id}/answers`, body);
          await drawChecklist(id);
        }, "Answer recorded."));
        return form;
      }),
      state.completed ? h("p", { class: "notice" }, "Completed and signed.")
        : h("button", { type: "button", id: "complete-checklist", onclick: async () => {
          if (await signRecord("checklist", id, "performed")) { report("Checklist completed and signed."); await drawChecklist(id); }
        } }, "Complete with signature"));
  };
  const startChecklist = h("form", { class: "row" },
    h("label", {}, "Checklist template", h("input", { name: "template_id", required: true, value: new URLSearchParams(location.search).get("template") || "" })),
    h("button", { type: "submit" }, "Start checklist"));
  startChecklist.addEventListener("submit", attempt(async () => {
    const started = await post("/checklists", Object.fromEntries(new FormData(startChecklist)));
    await drawChecklist(started.aggregate_id);
  }, "Checklist started."));
  replace(checklist, h("h2", {}, "Checklist"), startChecklist);

  follow(`/lines/${path}`, (board) => {
    const state = lineState(board);
    replace(status, h("h2", {}, board.name || line),
      h("span", { class: `state state-${state.key}`, "data-state": state.key }, state.text),
      board.job ? h("div", {}, progress(board.job)) : h("p", { class: "muted" }, "No running job"));
    replace(open, callRows(board.open_calls, board.time_zone, callActions(report)));
  }, staleBanner);
  await drawJobs();
  await drawStops();
};

// A shift's report: figures, stops, calls and notes; prepare it for approval and sign it.
pages.shift = async () => {
  const line = data("line"), date = data("date"), shift = data("shift");
  const base = `/lines/${linePath(line)}/shifts/${date}/${encodeURIComponent(shift)}`;
  await whoAmI();
  const { element: message, report } = feedback();
  const view = h("div");
  replace(main(), h("h1", {}, `Shift report: ${line}, ${date} ${shift}`), message, view);
  let zone = "UTC";
  try { zone = (await get(`/lines/${linePath(line)}`)).state.identity[2]; } catch (error) { report(say(error), true); }
  const draw = async () => {
    let answer;
    try { answer = await get(`${base}/report`); } catch (error) { return report(say(error), true); }
    const content = answer.content;
    const figures = content.oee.figures;
    const note = h("form", { class: "row" }, h("label", {}, "Handover note", h("input", { name: "note", required: true })),
      h("button", { type: "submit" }, "Add note"));
    note.addEventListener("submit", async (event) => {
      event.preventDefault();
      try { await post(`${base}/handover-notes`, Object.fromEntries(new FormData(note))); await draw(); } catch (error) { report(say(error), true); }
    });
    replace(view,
      h("p", {}, h("span", { class: "state " + (answer.approval === "approved" ? "state-running" : "state-idle"), id: "approval" },
        answer.approval.replaceAll("_", " ")), " ", `Crew ${content.crew || "–"} · from ${local(content.start, zone, true)} to ${local(content.end, zone, true)}`),
      h("div", { class: "gauges card" }, gauge("Availability", figures.availability), gauge("Performance", figures.performance),
        gauge("Quality", figures.quality), gauge("OEE", figures.oee)),
      h("h2", {}, "Units"), h("table", {}, h("tr", {}, ["Job", "Product", "Good", "Reject"].map((t) => h("th", {}, t))),
        (content.units || []).map((unit) => h("tr", {}, h("td", {}, unit.job || "–"), h("td", {}, unit.product), h("td", {}, unit.good), h("td", {}, unit.reject)))),
      h("h2", {}, "Stops"), h("table", {}, h("tr", {}, ["From", "To", "Equipment", "Reason"].map((t) => h("th", {}, t))),
        (content.stops || []).map((stop) => h("tr", {}, h("td", {}, local(stop.started_at, zone)), h("td", {}, local(stop.ended_at, zone)),
          h("td", {}, stop.equipment || "line"), h("td", {}, stop.reason || "unassigned")))),
      h("h2", {}, "Handover notes"), (content.handover_notes || []).map((n) => h("p", {}, `${n.author_name}, ${local(n.at, zone)}: ${n.note}`)), note,
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: async () => {
          try { await post(`${base}/report/prepare`); report("Prepared for approval."); await draw(); } catch (error) { report(say(error), true); }
        } }, "Prepare for approval"),
        h("button", { type: "button", id: "approve", onclick: async () => {
          if (await signRecord("shift_report", answer.record_id, "approved")) { report("Approved and signed."); await draw(); }
        } }, "Approve with signature"),
        h("button", { type: "button", class: "quiet", onclick: () => download(`${base}/report/print`, "shift-report.html", true).catch((error) => report(say(error), true)) }, "Printable report")),
      h("h2", {}, "Signatures"), (answer.signatures || []).map((sig) => h("p", {}, `${sig.printed_name} · ${sig.meaning} · ${local(sig.signed_at, zone, true)} · ${sig.status}`)));
  };
  await draw();
};

// The audit trail: search, a record's history with its signatures, exports.
pages["audit-trail"] = async () => {
  await whoAmI();
  const { element: message, fail } = feedback();
  const results = h("div");
  const history = h("div");
  const field = (label, name, placeholder) => h("label", {}, label, h("input", { name, placeholder: placeholder || "" }));
  const form = h("form", { class: "card row", id: "search" },
    h("label", {}, "Record type", h("select", { name: "record_type" }, h("option", { value: "" }, "any"),
      ["job", "downtime", "andon_call", "checklist", "checklist_template", "line", "user", "device", "shift_report"].map((t) => h("option", { value: t }, t)))),
    field("Record id", "record_id"), field("Line", "line", "site/area/line"), field("Action", "action", "e.g. DowntimeReasonChanged"),
    field("User id", "user"), field("From (UTC)", "from", "2026-11-30T00:00:00Z"), field("To (UTC)", "to"),
    h("button", { type: "submit" }, "Search"));
  const query = () => new URLSearchParams([...new FormData(form)].filter(([, value]) => value));
  const exports = h("div", { class: "actions" },
    h("button", { type: "button", class: "quiet", onclick: () => download(`/audit-trail/export?format=csv&${query()}`, "audit-trail.csv").catch((e) => fail(e)) }, "Export CSV"),
    h("button", { type: "button", class: "quiet", onclick: () => download(`/audit-trail/export?format=ndjson&${query()}`, "audit-trail.ndjson").catch((e) => fail(e)) }, "Export NDJSON"));
  const showRecord = async (type, id) => {
    try {
      const [events, signatures] = await Promise.all([get(`/history?record_type=${type}&id=${encodeURIComponent(id)}`),
        get(`/record-signatures?record_type=${type}&id=${encodeURIComponent(id)}`).catch(() => ({ signatures: [] }))]);
      replace(history, h("h2", {}, `History of ${type} ${id}`),
        h("p", {}, events.chain_verified === false ? h("span", { class: "error" }, "The hash chain does NOT verify.") : "The hash chain verifies."),
        h("table", {}, h("tr", {}, ["#", "Event", "Who", "When (UTC)", "Why"].map((t) => h("th", {}, t))),
          events.events.map((event) => h("tr", {}, h("td", {}, event.sequence), h("td", {}, event.event_type),
            h("td", {}, `${event.metadata.actor_name} (${event.metadata.actor_role})`), h("td", {}, event.recorded_at), h("td", {}, event.metadata.reason || "")))),
        h("h2", {}, "Signatures"), (signatures.signatures || []).length ? signatures.signatures.map((sig) =>
          h("p", {}, `${sig.printed_name} · ${sig.meaning} · ${sig.signed_local || sig.signed_at} · ${sig.status}`)) : h("p", { class: "muted" }, "None."),
        h("div", { class: "actions" }, h("button", { type: "button", class: "quiet",
          onclick: () => download(`/audit-trail/report?record_type=${type}&record_id=${encodeURIComponent(id)}`, "trail.html", true).catch(fail) }, "Printable report")));
    } catch (error) { fail(error); }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      const answer = await get(`/audit-trail?${query()}&limit=200`);
      replace(results, h("table", {}, h("tr", {}, ["When (local)", "Record", "Action", "Who", "Why", "Changes"].map((t) => h("th", {}, t))),
        answer.entries.map((entry) => h("tr", {}, h("td", {}, entry.recorded_local || entry.recorded_at),
          h("td", {}, h("a", { href: "#", onclick: (e) => { e.preventDefault(); showRecord(entry.record_type, entry.record_id); } }, `${entry.record_type} ${entry.record_id}`)),
          h("td", {}, entry.action), h("td", {}, entry.actor && entry.actor.name ? `${entry.actor.name} (${entry.actor.role})` : ""),
          h("td", {}, entry.reason || ""),
          h("td", {}, (entry.changes || []).map((change) => h("div", {}, `${change.field}: ${JSON.stringify(change.old)} → ${JSON.stringify(change.new)}`)))))));
    } catch (error) { fail(error); }
  });
  replace(main(), h("h1", {}, "Audit trail"), form, exports, message, results, history);
};

addEventListener("DOMContentLoaded", () => {
  const page = pages[document.body.dataset.page];
  if (page) Promise.resolve(page()).catch((error) => replace(main(), h("p", { class: "error" }, say(error))));
});
