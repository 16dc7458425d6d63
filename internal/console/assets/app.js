// The operator console. Reads the operator API with the pasted bearer
// token and follows GET /api/v1/events; every string comes from the
// catalogs in i18n/ (t()).
import { svgEl, project, riverLines, chartGeometry, placeLabels } from "./draw.js";

const state = {
  token: sessionStorage.getItem("resilience.token") || "",
  lang: localStorage.getItem("resilience.lang") || "vi",
  cat: {},
  me: null,
  alerts: new Map(),
  stations: new Map(),
  selected: "",
  detail: "",
  lastEventId: "",
  es: null,
  retry: 0,
  audit: [],
  flash: null,
  drafts: [],
  issued: [],
  cap: null,
  capTimer: null,
  capAgain: null,
};

const $ = (id) => document.getElementById(id);
const ROLES = ["viewer", "operator", "publisher", "admin"];
const can = (role) => state.me && ROLES.indexOf(state.me.role) >= ROLES.indexOf(role);

function t(key, vars) {
  let s = state.cat[key];
  if (s === undefined) { s = key; }
  for (const [k, v] of Object.entries(vars || {})) { s = s.replace("{" + k + "}", v); }
  return s;
}

async function loadCatalog(lang) {
  const r = await fetch("/console/i18n/" + lang + ".json");
  state.cat = await r.json();
  state.lang = lang;
  document.documentElement.lang = lang;
  localStorage.setItem("resilience.lang", lang);
}

function translateStatic() {
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  document.querySelectorAll("[data-i18n-aria]").forEach((el) => { el.setAttribute("aria-label", t(el.dataset.i18nAria)); });
  document.title = t("title");
}

function fmtTime(iso) {
  if (!iso) { return "—"; }
  const d = new Date(iso);
  return d.toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB", { hour12: false, timeZone: "Asia/Ho_Chi_Minh" });
}

function fmtNum(v, unit) {
  if (v === undefined || v === null) { return "—"; }
  return Number(v).toLocaleString(state.lang === "vi" ? "vi-VN" : "en-GB", { maximumFractionDigits: 2 }) + (unit ? " " + unit : "");
}

async function api(path, opts) {
  const o = Object.assign({ headers: {} }, opts || {});
  o.headers = Object.assign({ Authorization: "Bearer " + state.token }, o.headers);
  if (o.body !== undefined && typeof o.body !== "string") {
    o.body = JSON.stringify(o.body);
    o.headers["Content-Type"] = "application/json";
  }
  const r = await fetch(path, o);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const err = new Error((body && body.error) || r.statusText);
    err.status = r.status;
    throw err;
  }
  return body;
}

// ---------------------------------------------------------------- login --

async function login(token) {
  state.token = token;
  try {
    state.me = await api("/api/v1/whoami");
  } catch (e) {
    state.token = "";
    state.me = null;
    $("login-error").textContent = e.status === 401 ? t("login.invalid") : t("error.network", { msg: e.message });
    $("login-error").hidden = false;
    return false;
  }
  sessionStorage.setItem("resilience.token", token);
  $("login-error").hidden = true;
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("audit-panel").hidden = !can("admin");
  $("cap-panel").hidden = !can("publisher");
  renderWho();
  await reloadAll();
  follow();
  return true;
}

function logout() {
  sessionStorage.removeItem("resilience.token");
  if (state.es) { state.es.close(); state.es = null; }
  location.reload();
}

function renderWho() {
  $("who").textContent = state.me ? t("login.as", { name: state.me.name, role: t("role." + state.me.role) }) : "";
}

// ----------------------------------------------------------- live events --

function setLive(on) {
  const el = $("live");
  el.classList.toggle("on", on);
  el.classList.toggle("off", !on);
  el.dataset.i18n = on ? "live.on" : "live.off";
  el.textContent = t(el.dataset.i18n);
}

// follow opens the event stream with a fresh single-use ticket and, when
// it breaks, opens a new one from the last id seen (so nothing is missed:
// the server keeps a ring of recent events).
async function follow() {
  if (state.es) { state.es.close(); state.es = null; }
  let tk;
  try {
    tk = await api("/api/v1/events/ticket", { method: "POST" });
  } catch (e) {
    setLive(false);
    if (e.status === 401) { logout(); return; }
    setTimeout(follow, backoff());
    return;
  }
  let url = "/api/v1/events?ticket=" + encodeURIComponent(tk.ticket);
  if (state.lastEventId) { url += "&last_event_id=" + encodeURIComponent(state.lastEventId); }
  const es = new EventSource(url);
  state.es = es;
  es.onopen = () => { state.retry = 0; setLive(true); };
  es.addEventListener("alert", (m) => { state.lastEventId = m.lastEventId; upsertAlert(JSON.parse(m.data)); renderAlerts(); refreshDetail(JSON.parse(m.data).id); renderMap(); capSoon(); });
  es.addEventListener("station", (m) => { state.lastEventId = m.lastEventId; const s = JSON.parse(m.data); state.stations.set(s.id, s); renderStations(); renderMap(); if (s.id === state.selected) { renderChart(); } });
  es.addEventListener("reload", async (m) => { state.lastEventId = m.lastEventId; await reloadAll(); });
  es.onerror = () => {
    // The ticket is used up: a browser reconnect of its own would be
    // refused, so open a new stream with a new ticket.
    es.close();
    if (state.es === es) { state.es = null; }
    setLive(false);
    setTimeout(follow, backoff());
  };
}

function backoff() {
  state.retry = Math.min(state.retry + 1, 6);
  return Math.min(30000, 500 * 2 ** state.retry);
}

// ------------------------------------------------------------------ data --

async function reloadAll() {
  const [st, al] = await Promise.all([
    api("/api/v1/stations"),
    api("/api/v1/alerts?limit=200" + ($("show-resolved").checked ? "" : "&state=firing")),
  ]);
  state.stations = new Map(st.stations.map((s) => [s.id, s]));
  if (!$("show-resolved").checked) {
    const ack = await api("/api/v1/alerts?limit=200&state=acknowledged");
    al.alerts = al.alerts.concat(ack.alerts);
  }
  state.alerts = new Map();
  al.alerts.forEach(upsertAlert);
  renderAlerts();
  renderStations();
  renderMap();
  if (!state.selected && st.stations.length) {
    const first = st.stations.find((s) => (s.levels || []).length) || st.stations[0];
    selectStation(first.id);
  } else {
    renderChart();
  }
  if (can("admin")) { renderAudit(); }
  loadCap();
}

// upsertAlert keeps the newer of two pictures of one alert (an event may
// arrive before or after the list that already has it).
function upsertAlert(a) {
  const cur = state.alerts.get(a.id);
  if (cur && cur.updated_at > a.updated_at) { return; }
  if (cur && cur.history && !a.history) { a.history = cur.history; }
  state.alerts.set(a.id, a);
}

// ---------------------------------------------------------------- alerts --

function severityClass(a) {
  return "sev-" + (a.severity || "none");
}

function renderAlerts() {
  const ul = $("alerts");
  ul.replaceChildren();
  const showResolved = $("show-resolved").checked;
  const list = [...state.alerts.values()]
    .filter((a) => showResolved || a.state !== "resolved")
    .sort((x, y) => (y.started_at > x.started_at ? 1 : y.started_at < x.started_at ? -1 : 0));
  $("alerts-empty").hidden = list.length > 0;
  for (const a of list) {
    const li = document.createElement("li");
    li.className = "alert " + severityClass(a) + " state-" + a.state;
    li.dataset.alertId = a.id;
    li.dataset.station = a.station;
    const st = state.stations.get(a.station);
    const head = document.createElement("div");
    head.className = "alert-head";
    head.append(span("sev", t("severity." + a.severity)), span("station", st ? st.name : a.station),
      span("level", a.level_name || t("alert.level", { n: a.level })), span("state", t("state." + a.state)));
    const body = document.createElement("div");
    body.className = "alert-body";
    body.append(span("value", t("alert.value", { value: fmtNum(a.value), threshold: fmtNum(a.threshold) })),
      span("rule", a.rule), span("time", t("alert.since", { time: fmtTime(a.started_at) })));
    if (a.ack) { body.append(span("ack", t("alert.acked_by", { by: a.ack.by, time: fmtTime(a.ack.at) }))); }
    const actions = document.createElement("div");
    actions.className = "alert-actions";
    actions.append(button("act-detail", t("alert.details"), () => openDetail(a.id)));
    if (can("operator") && a.state === "firing") {
      actions.append(button("act-ack", t("alert.ack"), () => act(a.id, "ack", { note: t("alert.ack_note") })));
    }
    if (can("operator") && a.state !== "resolved") {
      actions.append(button("act-silence", t("alert.silence"), () => silence(a)));
    }
    li.append(head, body, actions);
    ul.append(li);
  }
}

function span(cls, text) {
  const s = document.createElement("span");
  s.className = cls;
  s.textContent = text;
  return s;
}

function button(cls, text, fn) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = text;
  b.addEventListener("click", fn);
  return b;
}

async function act(id, kind, body) {
  try {
    await api("/api/v1/alerts/" + encodeURIComponent(id) + "/" + kind, { method: "POST", body });
    flash("action.sent");
    if (can("admin")) { renderAudit(); }
  } catch (e) {
    flash("error.action", { msg: e.message });
  }
}

async function silence(a) {
  const ends = new Date(Date.now() + 2 * 3600 * 1000).toISOString();
  try {
    await api("/api/v1/silences", { method: "POST", body: { matchers: { station: [a.station] }, comment: t("silence.comment", { id: a.id }), ends_at: ends } });
    flash("silence.created", { station: a.station });
  } catch (e) {
    flash("error.action", { msg: e.message });
  }
}

// flash shows the message of catalog key with vars; the key is kept, so a
// language switch translates the message shown (renderFlash).
function flash(key, vars) {
  state.flash = { key, vars };
  renderFlash();
}

function renderFlash() {
  if (!state.flash) { return; }
  let el = $("flash");
  if (!el) {
    el = document.createElement("p");
    el.id = "flash";
    el.setAttribute("role", "status");
    document.body.append(el);
  }
  el.dataset.key = state.flash.key;
  el.textContent = t(state.flash.key, state.flash.vars);
}

async function openDetail(id) {
  state.detail = id;
  $("detail-panel").hidden = false;
  await refreshDetail(id);
}

async function refreshDetail(id) {
  if (!id || id !== state.detail) { return; }
  let a;
  try { a = await api("/api/v1/alerts/" + encodeURIComponent(id)); } catch (e) { return; }
  $("detail-id").textContent = a.station + " · " + (a.level_name || a.level);
  const dl = $("detail-summary");
  dl.replaceChildren();
  const rows = [["detail.state", t("state." + a.state)], ["detail.peak", a.peak_level !== undefined ? String(a.peak_level) : "—"],
    ["detail.value", fmtNum(a.value)], ["detail.threshold", fmtNum(a.threshold)], ["detail.started", fmtTime(a.started_at)]];
  for (const [k, v] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = t(k);
    const dd = document.createElement("dd");
    dd.textContent = v;
    dl.append(dt, dd);
  }
  const ol = $("history");
  ol.replaceChildren();
  for (const h of a.history || []) {
    const li = document.createElement("li");
    li.className = "hist hist-" + h.kind;
    let text = fmtTime(h.at) + " · " + t("history." + h.kind);
    if (h.by) { text += " · " + t("history.by", { by: h.by }); }
    if (h.note) { text += " · " + h.note; }
    li.textContent = text;
    ol.append(li);
  }
}

// -------------------------------------------------------------- stations --

// primaryLevel is the station's first level entry (water level or flood
// depth), or undefined.
function primaryLevel(s) {
  return (s.levels || [])[0];
}

function stationColor(s) {
  if (s.offline) { return "offline"; }
  const firing = [...state.alerts.values()].filter((a) => a.station === s.id && a.state !== "resolved");
  const lv = primaryLevel(s);
  const reached = Math.max(lv ? lv.reached || 0 : 0, ...firing.map((a) => a.level || 0));
  return "lvl-" + reached;
}

function renderStations() {
  const tb = document.querySelector("#stations tbody");
  tb.replaceChildren();
  for (const s of [...state.stations.values()].sort((a, b) => a.id.localeCompare(b.id))) {
    const tr = document.createElement("tr");
    tr.dataset.station = s.id;
    tr.className = stationColor(s) + (s.id === state.selected ? " selected" : "");
    const lv = primaryLevel(s);
    const sensor = lv ? lv.sensor : Object.keys(s.values || {})[0];
    const v = sensor && s.values ? s.values[sensor] : undefined;
    const tr1 = s.trend && sensor ? s.trend[sensor] : undefined;
    const cells = [
      s.name || s.id,
      s.river || "—",
      v ? fmtNum(v.value, v.unit) : "—",
      lv && lv.reached ? lv.reached_name : (lv ? t("level.below") : "—"),
      lv && lv.next_level ? t("level.distance", { d: fmtNum(lv.distance, lv.unit), name: "BĐ " + "I".repeat(lv.next_level) }) : "—",
      tr1 ? t("trend." + tr1.direction) + " " + fmtNum(tr1.per_hour, tr1.unit) : "—",
      s.offline ? t("stations.offline") + " · " + fmtTime(s.last_seen) : fmtTime(s.last_seen),
      s.battery ? fmtNum(s.battery.value, s.battery.unit) : "—",
    ];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    tr.addEventListener("click", () => selectStation(s.id));
    tb.append(tr);
  }
}

function selectStation(id) {
  state.selected = id;
  renderStations();
  renderChart();
}

// ------------------------------------------------------------------- map --

function renderMap() {
  const svg = $("map");
  svg.replaceChildren();
  const list = [...state.stations.values()].filter((s) => typeof s.lat === "number" && typeof s.lon === "number");
  if (!list.length) { return; }
  const pr = project(list, 600, 420, 40);
  for (const line of riverLines(list)) {
    const pts = line.stations.map((s) => pr(s).join(",")).join(" ");
    svg.append(svgEl("polyline", { points: pts, class: "river" }));
    const [x, y] = pr(line.stations[0]);
    const lbl = svgEl("text", { x: x, y: y + 22, class: "river-label" });
    lbl.textContent = line.river;
    svg.append(lbl);
  }
  // The stations, then their labels placed by a collision pass (Hòa Phú
  // and Bà Nà, Ái Nghĩa and Giao Thủy are a few pixels apart).
  const obstacles = [...svg.querySelectorAll("text.river-label")].map(boxOf);
  const items = [], labels = [];
  for (const s of list) {
    const [x, y] = pr(s);
    const g = svgEl("g", { class: "station " + stationColor(s), "data-station": s.id });
    g.append(svgEl("circle", { cx: x, cy: y, r: 7 }));
    const lbl = svgEl("text", { x: 0, y: 0 });
    lbl.textContent = s.name || s.id;
    g.append(lbl);
    g.addEventListener("click", () => selectStation(s.id));
    svg.append(g);
    const b = boxOf(lbl);
    items.push({ x, y, w: b.w || 6.2 * lbl.textContent.length, h: b.h || 13 });
    labels.push({ el: lbl, dx: b.x, dy: b.h ? b.y : -10 });
  }
  placeLabels(items, obstacles, { w: 600, h: 420 }).forEach((p, i) => {
    labels[i].el.setAttribute("x", Math.round(p.x - labels[i].dx));
    labels[i].el.setAttribute("y", Math.round(p.y - labels[i].dy));
  });
  const scale = pr.kmPx(10);
  svg.append(svgEl("line", { x1: 20, y1: 400, x2: 20 + scale, y2: 400, class: "scale" }));
  const sl = svgEl("text", { x: 20, y: 392, class: "scale-label" });
  sl.textContent = "10 km";
  svg.append(sl);
  const n = svgEl("text", { x: 575, y: 30, class: "north" });
  n.textContent = "N ↑";
  svg.append(n);
}

// boxOf is an SVG element's bounding box {x, y, w, h} (zero while the map
// is not displayed).
function boxOf(el) {
  try {
    const b = el.getBBox();
    return { x: b.x, y: b.y, w: b.width, h: b.height };
  } catch (e) {
    return { x: 0, y: 0, w: 0, h: 0 };
  }
}

// ----------------------------------------------------------------- chart --

async function renderChart() {
  const svg = $("chart");
  const s = state.stations.get(state.selected);
  svg.replaceChildren();
  if (!s) { $("chart-empty").hidden = false; return; }
  $("chart-station").textContent = s.name || s.id;
  const lv = primaryLevel(s);
  const sensor = lv ? lv.sensor : Object.keys(s.values || {})[0];
  if (!sensor) { $("chart-empty").hidden = false; return; }
  const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  let rs;
  try {
    rs = await api("/api/v1/readings?station=" + encodeURIComponent(s.id) + "&sensor=" + encodeURIComponent(sensor) + "&since=" + encodeURIComponent(since));
  } catch (e) { return; }
  if (state.selected !== s.id) { return; }
  svg.replaceChildren();
  const g = chartGeometry(rs.readings, lv ? lv.thresholds : null, Date.now(), 600, 240);
  $("chart-empty").hidden = rs.readings.length > 0;
  for (const th of g.thresholds) {
    svg.append(svgEl("line", { x1: g.left, x2: g.right, y1: th.y, y2: th.y, class: "threshold th-" + th.name }));
    const l = svgEl("text", { x: g.right + 4, y: th.y + 4, class: "threshold-label" });
    l.textContent = "BĐ " + th.name;
    svg.append(l);
  }
  svg.append(svgEl("line", { x1: g.left, x2: g.right, y1: g.bottom, y2: g.bottom, class: "axis" }));
  for (const tick of g.yTicks) {
    const l = svgEl("text", { x: 2, y: tick.y + 4, class: "tick" });
    l.textContent = fmtNum(tick.v);
    svg.append(l);
  }
  for (const tick of g.xTicks) {
    const l = svgEl("text", { x: tick.x, y: g.bottom + 16, class: "tick" });
    l.textContent = new Date(tick.t).toLocaleTimeString(state.lang === "vi" ? "vi-VN" : "en-GB", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: "Asia/Ho_Chi_Minh" });
    svg.append(l);
  }
  if (g.points.length) {
    svg.append(svgEl("polyline", { points: g.points.map((p) => p.join(",")).join(" "), class: "series" }));
  }
  const u = svgEl("text", { x: g.left, y: 12, class: "unit" });
  u.textContent = t("sensor." + sensor) + (rs.readings[0] ? " (" + rs.readings[0].unit + ")" : "");
  svg.append(u);
}

// ------------------------------------------------------- public warnings --

// The CAP drafts waiting for a publisher (GET /api/v1/cap/drafts, publish
// permission: read only when whoami says publisher or admin) and the
// issued documents of the public Atom feed. There is no event of their
// own: refetched on each alert event and every 15 s.
async function loadCap() {
  if (!can("publisher")) { return; }
  try {
    const d = await api("/api/v1/cap/drafts");
    state.drafts = d.drafts || [];
  } catch (e) { return; }
  drawDrafts();
  drawCapEditorMeta();
  await loadIssued();
}

// capSoon refetches the drafts after an alert event, coalescing a burst
// of events into one fetch, and once more 2 s later (the publisher may
// draft just after the event reached the stream).
function capSoon() {
  if (state.capTimer) { return; }
  state.capTimer = setTimeout(() => {
    state.capTimer = null;
    loadCap();
    if (!state.capAgain) { state.capAgain = setTimeout(() => { state.capAgain = null; loadCap(); }, 2000); }
  }, 250);
}

// loadIssued reads the public feed (no token: it is public) into
// state.issued: [{id, title, updated, summary}], newest first.
async function loadIssued() {
  let xml;
  try {
    const r = await fetch("/cap/feed.atom", { cache: "no-store" });
    if (!r.ok) { return; }
    xml = new DOMParser().parseFromString(await r.text(), "application/xml");
  } catch (e) { return; }
  const text = (el, name) => { const c = el.getElementsByTagName(name)[0]; return c ? c.textContent : ""; };
  state.issued = [...xml.getElementsByTagName("entry")].map((en) => {
    const link = [...en.getElementsByTagName("link")].find((l) => l.getAttribute("rel") === "alternate") || en.getElementsByTagName("link")[0];
    const href = link ? link.getAttribute("href") : text(en, "id");
    const file = href.slice(href.lastIndexOf("/") + 1);
    return { id: file.replace(/\.xml$/, ""), title: text(en, "title"), updated: text(en, "updated"), summary: text(en, "summary") };
  });
  drawIssued();
}

// msgTypeLabel names a draft's or document's CAP message type: a first
// Alert, an Update, or the all-clear (an Update with responseType AllClear).
function msgTypeLabel(msgType, allClear) {
  if (allClear) { return t("cap.msg_all_clear"); }
  return msgType === "Update" ? t("cap.msg_update") : t("cap.msg_alert");
}

function drawDrafts() {
  const tb = document.querySelector("#cap-drafts tbody");
  tb.replaceChildren();
  $("cap-drafts-empty").hidden = state.drafts.length > 0;
  for (const d of state.drafts) {
    const ev = d.event || {};
    const st = state.stations.get(ev.station);
    const tr = document.createElement("tr");
    tr.dataset.alertId = d.alert_id;
    tr.className = "sev-" + (ev.severity || "none") + (state.cap && state.cap.draft.alert_id === d.alert_id ? " selected" : "");
    const cells = [st ? st.name : (ev.station || "—"), ev.level_name || (ev.level ? t("alert.level", { n: ev.level }) : "—"),
      ev.severity ? t("severity." + ev.severity) : "—", msgTypeLabel(d.msg_type, d.all_clear), fmtTime(d.updated_at || d.created_at)];
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    const td = document.createElement("td");
    td.append(button("cap-open", t("cap.open"), () => openDraft(d.alert_id)));
    tr.append(td);
    tb.append(tr);
  }
}

function drawIssued() {
  const ul = $("cap-issued");
  ul.replaceChildren();
  $("cap-issued-empty").hidden = state.issued.length > 0;
  for (const doc of state.issued) {
    const li = document.createElement("li");
    li.dataset.identifier = doc.id;
    const a = document.createElement("a");
    a.href = "/cap/" + encodeURIComponent(doc.id) + ".xml";
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = doc.title || doc.id;
    const kind = (doc.summary || "").split(" ")[0];
    li.append(a, span("time", fmtTime(doc.updated)), span("msg-type", kind ? msgTypeLabel(kind, false) : ""), span("identifier", doc.id));
    ul.append(li);
  }
}

const CAP_FIELDS = ["headline", "description", "instruction"];
const CAP_LANGS = ["vi", "en"];

// openDraft reads one draft with its CAP XML preview into the editor.
async function openDraft(id) {
  let d;
  try { d = await api("/api/v1/cap/drafts/" + encodeURIComponent(id)); } catch (e) { flash("error.action", { msg: e.message }); return; }
  state.cap = d;
  for (const l of CAP_LANGS) {
    for (const f of CAP_FIELDS) { $("cap-" + l + "-" + f).value = ((d.draft.texts || {})[l] || {})[f] || ""; }
  }
  $("cap-xml").textContent = d.preview || "";
  $("cap-reason").value = "";
  $("cap-editor").hidden = false;
  drawCapEditorMeta();
  drawDrafts();
}

// drawCapEditorMeta names the open draft and says when it changed or
// left the list since it was opened.
function drawCapEditorMeta() {
  if (!state.cap) { return; }
  const d = state.cap.draft, ev = d.event || {};
  const st = state.stations.get(ev.station);
  $("cap-editor-id").textContent = (st ? st.name : ev.station || "") + " · " + msgTypeLabel(d.msg_type, d.all_clear);
  const cur = state.drafts.find((x) => x.alert_id === d.alert_id);
  const note = $("cap-editor-note");
  if (!cur) {
    note.textContent = t("cap.gone");
    note.hidden = false;
  } else if (cur.updated_at !== d.updated_at) {
    note.textContent = t("cap.changed");
    note.hidden = false;
  } else {
    note.hidden = true;
  }
}

// capEdits is the approve body's texts: only the fields edited.
function capEdits() {
  const orig = state.cap.draft.texts || {};
  const out = {};
  for (const l of CAP_LANGS) {
    for (const f of CAP_FIELDS) {
      const v = $("cap-" + l + "-" + f).value;
      if (v.trim() !== "" && v !== ((orig[l] || {})[f] || "")) {
        out[l] = out[l] || {};
        out[l][f] = v;
      }
    }
  }
  return out;
}

function closeDraft() {
  state.cap = null;
  $("cap-editor").hidden = true;
  drawDrafts();
}

async function approveDraft() {
  if (!state.cap) { return; }
  const id = state.cap.draft.alert_id;
  const texts = capEdits();
  const opts = { method: "POST" };
  if (Object.keys(texts).length) { opts.body = { texts }; }
  let r;
  try { r = await api("/api/v1/cap/drafts/" + encodeURIComponent(id) + "/approve", opts); } catch (e) { flash("error.action", { msg: e.message }); return; }
  flash("cap.approved", { id: r.document.identifier });
  closeDraft();
  await loadCap();
  if (can("admin")) { renderAudit(); }
}

async function discardDraft() {
  if (!state.cap) { return; }
  const reason = $("cap-reason").value.trim();
  if (!reason) { flash("cap.reason_required"); $("cap-reason").focus(); return; }
  const id = state.cap.draft.alert_id;
  try { await api("/api/v1/cap/drafts/" + encodeURIComponent(id) + "/discard", { method: "POST", body: { reason } }); } catch (e) { flash("error.action", { msg: e.message }); return; }
  flash("cap.discarded");
  closeDraft();
  await loadCap();
  if (can("admin")) { renderAudit(); }
}

// ----------------------------------------------------------------- audit --

// renderAudit reads the last 50 entries of the audit log and draws them.
async function renderAudit() {
  let page;
  try { page = await api("/api/v1/audit?limit=50"); } catch (e) { return; }
  state.audit = page.entries || [];
  drawAudit();
}

// drawAudit draws the entries last read (in the current language: a
// language switch redraws them at once).
function drawAudit() {
  const tb = document.querySelector("#audit tbody");
  tb.replaceChildren();
  for (const e of state.audit) {
    const tr = document.createElement("tr");
    for (const c of [fmtTime(e.at || e.time), e.actor, e.action, e.target || "", (e.detail && e.detail.outcome) || ""]) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    tb.append(tr);
  }
}

// ------------------------------------------------------------------ boot --

async function switchLanguage() {
  await loadCatalog(state.lang === "vi" ? "en" : "vi");
  rerender();
}

function rerender() {
  translateStatic();
  renderWho();
  if (state.me) {
    setLive(!!state.es && state.es.readyState === 1);
    renderAlerts();
    renderStations();
    renderMap();
    renderChart();
    refreshDetail(state.detail);
    if (can("admin")) { drawAudit(); }
    if (can("publisher")) { drawDrafts(); drawIssued(); drawCapEditorMeta(); }
  }
  renderFlash();
}

async function boot() {
  await loadCatalog(state.lang);
  translateStatic();
  $("lang").addEventListener("click", switchLanguage);
  $("logout").addEventListener("click", logout);
  $("detail-close").addEventListener("click", () => { state.detail = ""; $("detail-panel").hidden = true; });
  $("show-resolved").addEventListener("change", () => reloadAll());
  $("login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("token").value.trim()); });
  $("cap-approve").addEventListener("click", approveDraft);
  $("cap-discard").addEventListener("click", discardDraft);
  $("cap-close").addEventListener("click", closeDraft);
  setInterval(() => { if (state.me && can("admin")) { renderAudit(); } }, 15000);
  setInterval(() => { if (state.me) { loadCap(); } }, 15000);
  if (state.token) { await login(state.token); }
  document.body.dataset.ready = "1";
}

boot();
