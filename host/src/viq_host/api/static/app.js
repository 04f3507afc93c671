/* VIQ operator page: vanilla JS over the /api endpoints. No cookies: the API token lives in sessionStorage and
 * goes in the Authorization header; writes also carry X-CSRF-Token from GET /api/session. Every value from the
 * server is inserted with textContent (never innerHTML). */
"use strict";

const S = { token: null, session: null, map: null, layer: null, features: new Map(), after: null, jobTimer: null,
  jobStream: null, jobRetry: null, selectedJob: null, selectedGipp: null };

/* ---------------------------------------------------------------------------------------------- helpers */

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const $ = (id) => document.getElementById(id);
const fmtTime = (t) => (t ? String(t).replace("T", " ").replace(/(\.\d+)?(\+00:00|Z)$/, "") : "");
const fmtNum = (v) => (typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3)
  ? v.toExponential(3) : String(Math.round(v * 1e4) / 1e4)) : (v ?? ""));

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.detail) ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail))
      : `HTTP ${status}`);
    this.status = status; this.body = body;
  }
}

async function api(path, opts = {}) {
  const headers = { Authorization: `Bearer ${S.token}`, ...(opts.headers || {}) };
  const method = opts.method || "GET";
  if (method !== "GET" && S.session) headers["X-CSRF-Token"] = S.session.csrf_token;
  let body = opts.body;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
  const resp = await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  if (resp.status === 401 && path !== "/api/session") { signOut("Your token was refused; sign in again."); }
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    throw new ApiError(resp.status, data);
  }
  if (opts.raw) return resp;
  const type = resp.headers.get("content-type") || "";
  return type.includes("json") ? resp.json() : resp.text();
}

async function blobUrl(path) {
  const resp = await api(path, { raw: true });
  return URL.createObjectURL(await resp.blob());
}

function setMsg(el, text, kind) { el.textContent = text; el.className = `msg ${kind || ""}`; }

function table(tbody, rows) { tbody.replaceChildren(...rows); }

/* --------------------------------------------------------------------------------------------- sign-in */

async function signIn(token) {
  S.token = token;
  try {
    S.session = await api("/api/session");
  } catch (err) {
    S.token = null; S.session = null;
    setMsg($("signin-msg"), `Sign-in failed: ${err.message}`, "error");
    return false;
  }
  sessionStorage.setItem("viq-token", token);
  $("signin").hidden = true;
  $("tabs").hidden = false;
  $("who").replaceChildren(
    h("span", { id: "who-name" }, `${S.session.name} (${S.session.role})`),
    h("span", { class: "hint" }, ` · runner: ${S.session.runner}`),
    h("button", { type: "button", id: "signout-btn", onclick: () => signOut("") }, "Sign out"));
  document.body.dataset.role = S.session.role;
  showTab("jobs");
  loadProcessorNames();
  return true;
}

function signOut(message) {
  sessionStorage.removeItem("viq-token");
  S.token = null; S.session = null;
  stopJobs();
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = true; });
  $("tabs").hidden = true; $("who").replaceChildren(); $("signin").hidden = false;
  setMsg($("signin-msg"), message, message ? "error" : "");
}

/* ------------------------------------------------------------------------------------------------ tabs */

const loaded = new Set();

function showTab(name) {
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
  if (name === "jobs") startJobs(); else stopJobs();
  if (name === "map") { initMap(); if (S.map) setTimeout(() => S.map.invalidateSize(), 50); }
  if (!loaded.has(name)) {
    loaded.add(name);
    if (name === "map") loadFacets();
    if (name === "trends") loadMeasurementNames();
    if (name === "gipps") loadGippTypes().then(listGipps);
  }
  if (name === "audit") loadAudit();
}

/* ------------------------------------------------------------------------------------------------ jobs */

/* The dashboard listens to GET /api/jobs/events (server-sent events) read with fetch, so the token travels in
 * the Authorization header as everywhere else (EventSource cannot set headers; no token in a URL, no cookie).
 * While the stream is down it polls every 1.5 s and tries the stream again after 5 s. */
function startJobs() {
  refreshJobs();
  if (window.ReadableStream && window.TextDecoderStream) streamJobs(); else startPolling();
}
function stopJobs() {
  stopPolling();
  if (S.jobStream) { S.jobStream.abort(); S.jobStream = null; }
  if (S.jobRetry) { clearTimeout(S.jobRetry); S.jobRetry = null; }
}
function startPolling() { if (!S.jobTimer) S.jobTimer = setInterval(refreshJobs, 1500); }
function stopPolling() { if (S.jobTimer) clearInterval(S.jobTimer); S.jobTimer = null; }

async function streamJobs() {
  if (S.jobStream || !S.token) return;
  const ctrl = new AbortController();
  S.jobStream = ctrl;
  try {
    const resp = await fetch("/api/jobs/events?limit=50", { headers: { Authorization: `Bearer ${S.token}`,
      Accept: "text/event-stream" }, credentials: "omit", cache: "no-store", signal: ctrl.signal });
    if (resp.status === 401) { signOut("Your token was refused; sign in again."); return; }
    if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
    stopPolling();
    $("jobs-live").textContent = "live";
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let event = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (event === "jobs" && data.length) renderJobs(JSON.parse(data.join("\n")), "updated");
      }
    }
  } catch (err) {
    if (ctrl.signal.aborted) return;
  }
  if (S.jobStream !== ctrl) return;
  S.jobStream = null;
  if (!S.token || $("tab-jobs").hidden) return;
  $("jobs-live").textContent = "polling";
  startPolling();
  S.jobRetry = setTimeout(() => { S.jobRetry = null; streamJobs(); }, 5000);
}

async function refreshJobs() {
  if (!S.token) return;
  let jobs;
  try { jobs = await api("/api/jobs?limit=50"); } catch (err) { return; }
  renderJobs(jobs, "refreshed");
}

function renderJobs(jobs, how) {
  const canWrite = S.session && S.session.role !== "viewer";
  table($("jobs-table").tBodies[0], jobs.map((j) => {
    const pct = j.state === "SUCCEEDED" || j.state === "WARNING" ? 100 : (j.progress || 0);
    const actions = h("td");
    if (canWrite && ["QUEUED", "RUNNING"].includes(j.state)) {
      actions.append(h("button", { class: "danger", type: "button",
        onclick: (e) => { e.stopPropagation(); jobAction(j.job_id, "cancel"); } }, "Cancel"));
    }
    if (canWrite && ["FAILED", "CANCELLED"].includes(j.state)) {
      actions.append(h("button", { type: "button",
        onclick: (e) => { e.stopPropagation(); jobAction(j.job_id, "retry"); } }, "Retry"));
    }
    return h("tr", { class: `clickable${S.selectedJob === j.job_id ? " selected" : ""}`, "data-job": j.job_id,
      onclick: () => showJob(j.job_id) },
    h("td", {}, j.job_id), h("td", {}, `${j.processor} ${j.version}`),
    h("td", {}, h("span", { class: `state state-${j.state}`, "data-state": j.state }, j.state)),
    h("td", {}, h("div", { class: "bar", title: `${Math.round(pct)} %` }, h("span", { style: `width:${pct}%` }))),
    h("td", { class: "num" }, j.exit_code ?? ""), h("td", {}, fmtTime(j.created)),
    h("td", {}, (j.reason || "").slice(0, 80)), actions);
  }));
  $("jobs-refreshed").textContent = `${how} ${new Date().toLocaleTimeString()}`;
  if (S.selectedJob) showJob(S.selectedJob, true);
}

async function jobAction(jobId, action) {
  try {
    await api(`/api/jobs/${encodeURIComponent(jobId)}/${action}`, { method: "POST", json: {} });
    refreshJobs();
  } catch (err) { setMsg($("submit-msg"), `${action} failed: ${err.message}`, "error"); }
}

async function showJob(jobId, quiet) {
  S.selectedJob = jobId;
  let st, logs = null;
  try {
    st = await api(`/api/jobs/${encodeURIComponent(jobId)}`);
    if (st.attempts.length) logs = await api(`/api/jobs/${encodeURIComponent(jobId)}/logs`);
  } catch (err) { if (!quiet) $("job-detail").textContent = err.message; return; }
  const kv = h("table", { class: "grid kv" }, h("tbody", {},
    h("tr", {}, h("th", {}, "job"), h("td", {}, st.job_id)),
    h("tr", {}, h("th", {}, "processor"), h("td", {}, `${st.processor} ${st.version}`)),
    h("tr", {}, h("th", {}, "state"), h("td", {}, h("span", { class: `state state-${st.state}` }, st.state))),
    h("tr", {}, h("th", {}, "exit code"), h("td", {}, st.exit_code ?? "")),
    h("tr", {}, h("th", {}, "reason"), h("td", {}, st.reason || "")),
    h("tr", {}, h("th", {}, "attempts"), h("td", {}, String(st.attempts.length)))));
  const outs = st.outputs.length ? h("ul", {}, st.outputs.map((o) => h("li", {}, `${o.port}: ${o.product_type} `,
    h("span", { class: "hint" }, o.path.split("/").pop())))) : null;
  const meas = Object.keys(st.measurements).length ? h("ul", {},
    Object.entries(st.measurements).map(([k, v]) => h("li", {}, `${k} = ${fmtNum(v)}`))) : null;
  const logText = logs ? logs.events.map((e) => `${fmtTime(e.at)} [${e.level}] ${e.message}`).join("\n") : "";
  const products = h("div", { class: "hint" });
  if (["SUCCEEDED", "WARNING"].includes(st.state)) {
    api(`/api/products?job_id=${encodeURIComponent(jobId)}&limit=20`).then((fc) => {
      products.replaceChildren("Catalogued: ", ...fc.features.map((f) => h("a", { href: "#",
        onclick: (e) => { e.preventDefault(); openProduct(f.id); } }, `#${f.id} ${f.properties.product_type} `)));
    }).catch(() => {});
  }
  $("job-detail").replaceChildren(kv, outs ? h("h3", {}, "Outputs") : "", outs || "", products,
    meas ? h("h3", {}, "Measurements") : "", meas || "", h("h3", {}, "Log"), h("pre", { class: "log" }, logText));
}

function orderBody() {
  const file = $("order-file").files[0];
  if (file) return file.text();
  return Promise.resolve($("order-text").value);
}

async function validateOrder() {
  const body = await orderBody();
  if (!body.trim()) { setMsg($("submit-msg"), "Choose or paste a job order first.", "error"); return; }
  try {
    const plan = await api("/api/jobs/validate", { method: "POST", body, headers: { "Content-Type": "application/xml" } });
    const inputs = Object.entries(plan.inputs).map(([p, l]) => `  ${p}: ${l.map((i) => i.path).join(", ")}`);
    setMsg($("submit-msg"), `valid: ${plan.processor} ${plan.version}\ninputs:\n${inputs.join("\n") || "  (none)"}`
      + `\nparameters: ${JSON.stringify(plan.params)}`, "ok");
  } catch (err) { setMsg($("submit-msg"), `invalid: ${err.message}`, "error"); }
}

async function loadProcessorNames() {
  try {
    const list = await api("/api/processors");
    const dl = $("plan-procs");
    dl.replaceChildren(...list.filter((p) => p.status === "enabled").map((p) => h("option", { value: p.name })));
  } catch (err) { /* the plan form still takes a typed name */ }
}

async function planJob(ev) {
  ev.preventDefault();
  const body = { processor: $("plan-proc").value.trim(), start: `${$("plan-start").value}T00:00:00Z`,
    stop: `${$("plan-stop").value}T23:59:59Z` };
  if ($("plan-site").value.trim()) body.site = $("plan-site").value.trim();
  try {
    const plan = await api("/api/jobs/plan", { method: "POST", json: body });
    const lines = plan.ports.map((p) => `  ${p.port} (${p.rule}): `
      + (p.products.map((x) => `#${x.id} ${x.path.split("/").pop()}`).join(", ") || p.note));
    $("order-file").value = "";
    $("order-text").value = plan.job_order;
    setMsg($("submit-msg"), `planned: ${plan.processor} ${plan.version}\n${lines.join("\n")}\n`
      + "review the order, then Submit", "ok");
  } catch (err) { setMsg($("submit-msg"), `cannot plan: ${err.message}`, "error"); }
}

async function submitOrder(ev) {
  ev.preventDefault();
  const body = await orderBody();
  if (!body.trim()) { setMsg($("submit-msg"), "Choose or paste a job order first.", "error"); return; }
  const prio = parseInt($("order-priority").value || "0", 10);
  try {
    const res = await api(`/api/jobs?priority=${prio}`, { method: "POST", body,
      headers: { "Content-Type": "application/xml" } });
    setMsg($("submit-msg"), `job ${res.job_id} queued (${res.plan.processor} ${res.plan.version})`, "ok");
    S.selectedJob = res.job_id;
    refreshJobs();
  } catch (err) { setMsg($("submit-msg"), `refused: ${err.message}`, "error"); }
}

/* ------------------------------------------------------------------------------------------------- map */

function initMap() {
  if (S.map || typeof L === "undefined") return;
  S.map = L.map("map", { worldCopyJump: false, minZoom: 2, maxZoom: 14 }).setView([44, 5], 4);
  fetch("/static/vendor/land-110m.geojson").then((r) => r.json()).then((land) => {
    L.geoJSON(land, { style: { color: "#8c8c7a", weight: 1, fillColor: "#f2efe6", fillOpacity: 1 },
      interactive: false }).addTo(S.map).bringToBack();
  }).catch(() => {});
  drawGraticule();
  S.layer = L.featureGroup().addTo(S.map);
}

function drawGraticule() {
  const lines = [];
  for (let lon = -180; lon <= 180; lon += 10) lines.push([[-85, lon], [85, lon]]);
  for (let lat = -80; lat <= 80; lat += 10) lines.push([[lat, -180], [lat, 180]]);
  L.polyline(lines, { color: "#9bb7cf", weight: 0.5, interactive: false }).addTo(S.map);
}

async function loadFacets() {
  try {
    const f = await api("/api/products/facets");
    for (const [sel, counts] of [[$("f-type"), f.product_type], [$("f-site"), f.site]]) {
      for (const [k, n] of Object.entries(counts).sort()) {
        if (k === "None") continue;
        sel.append(h("option", { value: k }, `${k} (${n})`));
      }
    }
  } catch (err) { $("search-msg").textContent = err.message; }
}

function searchParams() {
  const p = new URLSearchParams();
  if ($("f-type").value) p.set("type", $("f-type").value);
  if ($("f-site").value) p.set("site", $("f-site").value);
  if ($("f-band").value.trim()) p.set("band", $("f-band").value.trim());
  if ($("f-start").value) p.set("start", `${$("f-start").value}T00:00:00Z`);
  if ($("f-stop").value) p.set("stop", `${$("f-stop").value}T23:59:59Z`);
  if ($("f-bbox").checked && S.map) {
    const b = S.map.getBounds();
    const c = (v, lo, hi) => Math.min(hi, Math.max(lo, v)).toFixed(4);
    p.set("bbox", [c(b.getWest(), -180, 180), c(b.getSouth(), -90, 90), c(b.getEast(), -180, 180),
      c(b.getNorth(), -90, 90)].join(","));
  }
  p.set("limit", "200");
  p.set("fields", "lite");  // id, type, site, bands, times and a simplified footprint: all the map and list show
  return p;
}

async function search(ev, more) {
  if (ev) ev.preventDefault();
  const p = searchParams();
  if (more && S.after) p.set("after", S.after); else { S.layer.clearLayers(); S.features.clear(); }
  $("search-msg").textContent = "searching…";
  let fc;
  try { fc = await api(`/api/products?${p}&count=true`); } catch (err) {
    $("search-msg").textContent = err.message; return;
  }
  S.after = fc.next_after;
  $("more-btn").hidden = !fc.next_after;
  for (const f of fc.features) {
    S.features.set(f.id, f);
    if (f.geometry) {
      const layer = L.geoJSON(f, { style: { color: "#0b5394", weight: 2, fillOpacity: 0.15 } });
      layer.bindTooltip(`#${f.id} ${f.properties.product_type} ${f.properties.site || ""}`);
      layer.on("click", () => openProduct(f.id));
      S.layer.addLayer(layer);
    }
  }
  const rows = [...S.features.values()].map((f) => h("tr", { class: "clickable", "data-product": f.id,
    onclick: () => openProduct(f.id) },
  h("td", {}, f.id), h("td", {}, f.properties.product_type), h("td", {}, f.properties.site || ""),
  h("td", {}, (f.properties.bands || []).join(" ")), h("td", {}, fmtTime(f.properties.sensing_start))));
  table($("results").tBodies[0], rows);
  $("search-msg").textContent = `${S.features.size} shown of ${fc.numberMatched}`;
  if (!more && S.layer.getLayers().length && !$("f-bbox").checked) {
    S.map.fitBounds(S.layer.getBounds(), { maxZoom: 9, padding: [20, 20] });
  }
}

/* --------------------------------------------------------------------------------------------- product */

function openProduct(id) {
  $("product-id").value = id;
  showTab("product");
  showProduct(id);
}

async function showProduct(id) {
  const view = $("product-view");
  view.replaceChildren(h("p", { class: "hint" }, "loading…"));
  let f, up, down;
  try {
    [f, up, down] = await Promise.all([api(`/api/products/${id}`), api(`/api/products/${id}/lineage?direction=up`),
      api(`/api/products/${id}/lineage?direction=down`)]);
  } catch (err) { view.replaceChildren(h("p", { class: "msg error" }, err.message)); return; }
  const p = f.properties;
  const rows = [["id", f.id], ["type", p.product_type], ["site", p.site], ["bands", (p.bands || []).join(" ")],
    ["sensing", `${fmtTime(p.sensing_start)} → ${fmtTime(p.sensing_stop)}`], ["state", p.state],
    ["processor", p.processor ? `${p.processor} ${p.processor_version}` : ""], ["job", p.job_id],
    ["GIPPs", Object.entries(p.gipp_versions || {}).map(([k, v]) => `${k} v${v}`).join(", ")],
    ["size", `${p.size} bytes`], ["sha256", p.sha256], ["file", p.path.split("/").pop()]];
  const meta = h("table", { class: "grid kv" }, h("tbody", {}, rows.map(([k, v]) =>
    h("tr", {}, h("th", {}, k), h("td", {}, v ?? "")))));
  const dl = h("button", { type: "button", onclick: async () => {
    const url = await blobUrl(`/api/products/${id}/file`);
    const a = h("a", { href: url, download: p.path.split("/").pop() }); a.click();
  } }, "Download");
  const img = h("img", { class: "quicklook", alt: `quicklook of product ${id}`, id: "quicklook-img" });
  const qlBox = h("div", {}, img);
  blobUrl(`/api/products/${id}/quicklook.png`).then((u) => { img.src = u; })
    .catch((err) => qlBox.replaceChildren(h("p", { class: "hint" }, `No quicklook: ${err.message}`)));
  const edgeList = (lin, dir) => {
    const byId = new Map(lin.products.features.map((x) => [x.id, x]));
    const items = lin.edges.map((e) => {
      const other = dir === "up" ? e.input_id : e.product_id;
      const o = byId.get(other);
      return h("li", {}, "  ".repeat(e.depth - 1), h("a", { href: "#", onclick: (ev) => { ev.preventDefault();
        openProduct(other); } }, `#${other}`), ` ${o ? o.properties.product_type : ""} `,
      h("span", { class: "hint" }, o ? o.properties.path.split("/").pop() : ""));
    });
    return items.length ? h("ul", { class: "lineage" }, items) : h("p", { class: "hint" }, "none");
  };
  view.replaceChildren(
    h("div", { class: "col" }, h("h2", {}, `Product #${f.id}`), meta, h("div", { class: "buttons" }, dl),
      h("h3", {}, "Made from"), edgeList(up, "up"), h("h3", {}, "Used by"), edgeList(down, "down"),
      h("h3", {}, "History"), h("ul", {}, p.history.map((e) => h("li", {}, `${fmtTime(e.at)} ${e.action} `,
        h("span", { class: "hint" }, e.detail))))),
    h("div", { class: "col wide" }, h("h2", {}, "Quicklook"), qlBox));
}

/* ---------------------------------------------------------------------------------------------- trends */

async function loadMeasurementNames() {
  try {
    const names = await api("/api/measurements");
    $("t-name").replaceChildren(...names.map((n) => h("option", { value: n }, n)));
  } catch (err) { /* shown on plot */ }
}

async function plotTrend(ev) {
  if (ev) ev.preventDefault();
  const name = $("t-name").value;
  if (!name) return;
  const p = new URLSearchParams();
  if ($("t-band").value.trim()) p.set("band", $("t-band").value.trim());
  if ($("t-site").value.trim()) p.set("site", $("t-site").value.trim());
  const enc = encodeURIComponent(name);
  try {
    const [series, url] = await Promise.all([api(`/api/measurements/${enc}?${p}`),
      blobUrl(`/api/measurements/${enc}/trend.png?${p}`)]);
    $("trend-img").src = url;
    table($("trend-specs").tBodies[0], [h("tr", {}, h("th", {}, "band"), h("th", {}, "min"), h("th", {}, "max"),
      h("th", {}, "what")), ...series.specs.map((s) => h("tr", {}, h("td", {}, s.band || "all"),
      h("td", { class: "num" }, fmtNum(s.min)), h("td", { class: "num" }, fmtNum(s.max)), h("td", {}, s.description)))]);
    table($("trend-alerts").tBodies[0], series.alerts.length ? series.alerts.map((a) => h("tr", { class: "alert-row" },
      h("td", {}, fmtTime(a.time).slice(0, 10)), h("td", {}, a.band || ""), h("td", { class: "num" }, fmtNum(a.value)),
      h("td", {}, `${a.kind} ${fmtNum(a.limit)}`))) : [h("tr", {}, h("td", {}, `${series.points.length} values, none out of limits`))]);
  } catch (err) { table($("trend-alerts").tBodies[0], [h("tr", {}, h("td", {}, err.message))]); }
}

async function openReport(ev) {
  ev.preventDefault();
  const url = await blobUrl("/api/reports/performance");
  window.open(url, "_blank", "noopener");
}

/* ----------------------------------------------------------------------------------------------- GIPPs */

async function loadGippTypes() {
  try {
    const types = await api("/api/gipps/types");
    $("g-type").append(...types.map((t) => h("option", { value: t }, t)));
  } catch (err) { /* listed below */ }
}

const validity = (g) => `${fmtTime(g.validity.start).slice(0, 10) || "…"} → ${fmtTime(g.validity.stop).slice(0, 10) || "…"}`;

async function listGipps(ev) {
  if (ev) ev.preventDefault();
  const p = new URLSearchParams();
  if ($("g-type").value) p.set("type", $("g-type").value);
  if ($("g-status").value) p.set("status", $("g-status").value);
  let list;
  try { list = await api(`/api/gipps?${p}`); } catch (err) { return; }
  table($("gipp-table").tBodies[0], list.map((g) => h("tr", { class: `clickable${S.selectedGipp === g.id ? " selected" : ""}`,
    "data-gipp": g.id, onclick: () => showGipp(g.id) },
  h("td", {}, g.id), h("td", {}, g.gipp_type), h("td", {}, g.band || ""), h("td", { class: "num" }, g.serial),
  h("td", {}, h("span", { class: `status-${g.status}` }, g.status)), h("td", {}, validity(g)))));
}

async function showGipp(id) {
  S.selectedGipp = id;
  const box = $("gipp-detail");
  let g, siblings, history;
  try {
    g = await api(`/api/gipps/${id}`);
    const q = new URLSearchParams({ type: g.gipp_type });
    if (g.band) q.set("band", g.band);
    [siblings, history] = await Promise.all([api(`/api/gipps?${q}`), api(`/api/gipps/history?${q}`)]);
  } catch (err) { box.replaceChildren(h("p", { class: "msg error" }, err.message)); return; }
  document.querySelectorAll("#gipp-table tr").forEach((tr) => tr.classList.toggle("selected", tr.dataset.gipp === String(id)));
  const head = h("table", { class: "grid kv" }, h("tbody", {}, [["file", g.file_name], ["status", g.status],
    ["validity", validity(g)], ["applicability", g.applicability.name || g.applicability.kind],
    ["produced by", `${g.producing_job} (${g.processor_version})`], ["series revision", g.revision]]
    .map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v ?? "")))));
  const hist = h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["id", "serial", "status", "validity"].map((c) => h("th", {}, c)))),
    h("tbody", {}, history.map((r) => h("tr", {}, h("td", {}, r.id), h("td", { class: "num" }, r.serial),
      h("td", {}, h("span", { class: `status-${r.status}` }, r.status)), h("td", {}, validity(r))))));
  const evid = g.validations.length ? h("ul", {}, g.validations.map((v) => h("li", {},
    `${v.metric} = ${fmtNum(v.value)}`, v.threshold !== null ? ` (threshold ${fmtNum(v.threshold)})` : "",
    v.passed === null ? "" : h("span", { class: v.passed ? "msg ok" : "msg error" }, v.passed ? " passed" : " failed"),
    h("span", { class: "hint" }, ` by ${v.recorded_by} ${fmtTime(v.recorded_at)}`)))) : h("p", { class: "hint" }, "No evidence attached.");
  const audit = h("ul", {}, g.audit.map((a) => h("li", {}, `${fmtTime(a.at)} ${a.actor} ${a.action} `,
    h("span", { class: "hint" }, a.reason))));
  // diff
  const other = h("select", { id: "diff-other" }, siblings.filter((s) => s.id !== id).map((s) =>
    h("option", { value: s.id }, `#${s.id} serial ${s.serial} ${s.status}`)));
  const diffOut = h("div", { id: "diff-out" });
  const diffBtn = h("button", { type: "button", id: "diff-btn", onclick: () => showDiff(id, other.value, diffOut) }, "Diff");
  // promotion form
  const next = { CANDIDATE: "TEST", TEST: "OPER" }[g.status];
  const canWrite = S.session.role !== "viewer";
  let promo = h("p", { class: "hint" }, next ? "Promotion needs the operator role." : `No promotion from ${g.status}.`);
  if (next && canWrite) {
    const msg = h("p", { class: "msg", id: "promote-msg" });
    promo = h("form", { id: "promote-form", onsubmit: (ev) => promote(ev, id, g.revision, msg) },
      h("label", {}, "Promote to ", h("select", { id: "p-to" }, h("option", { value: next }, next))),
      h("label", {}, "Reason ", h("input", { id: "p-reason", size: 50, required: true })),
      h("fieldset", {}, h("legend", {}, "Evidence (a validation result; required unless already attached)"),
        h("label", {}, "Metric ", h("input", { id: "p-metric", size: 24, placeholder: "residual_striping" })),
        h("label", {}, "Value ", h("input", { id: "p-value", type: "number", step: "any" })),
        h("label", {}, "Threshold ", h("input", { id: "p-threshold", type: "number", step: "any" })),
        h("label", {}, "Note ", h("input", { id: "p-note", size: 40, placeholder: "job id, report" }))),
      h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", id: "promote-btn" }, `Promote to ${next}`)),
      msg);
  }
  box.replaceChildren(
    h("div", { class: "card" }, h("h3", {}, `GIPP #${g.id} ${g.gipp_type} ${g.band || ""}`), head),
    h("div", { class: "cols" },
      h("div", { class: "col" }, h("div", { class: "card" }, h("h3", {}, "OPER history of the series"), hist),
        h("div", { class: "card" }, h("h3", {}, "Evidence"), evid),
        h("div", { class: "card" }, h("h3", {}, "Promotion"), promo)),
      h("div", { class: "col" }, h("div", { class: "card" }, h("h3", {}, "Diff with"), other, " ", diffBtn, diffOut),
        h("div", { class: "card" }, h("h3", {}, "Audit"), audit))));
}

async function showDiff(a, b, out) {
  if (!b) return;
  let d;
  try { d = await api(`/api/gipps/${a}/diff/${b}`); } catch (err) { out.replaceChildren(h("p", { class: "msg error" }, err.message)); return; }
  const parts = [h("p", {}, d.identical ? "Identical." : `#${a} → #${b}:`)];
  if (d.header.length) {
    parts.push(h("table", { class: "grid" }, h("tbody", {}, d.header.map((r) => h("tr", {}, h("td", {}, r.field),
      h("td", { class: "diff-del" }, r.a), h("td", { class: "diff-add" }, r.b))))));
  }
  for (const c of d.changed) parts.push(h("p", {}, `${c.path}: `, h("span", { class: "diff-del" }, c.a), " → ", h("span", { class: "diff-add" }, c.b)));
  for (const p of d.added) parts.push(h("p", { class: "diff-add" }, `+ ${p}`));
  for (const p of d.removed) parts.push(h("p", { class: "diff-del" }, `- ${p}`));
  for (const arr of d.arrays) {
    parts.push(h("p", {}, `${arr.path}: ${arr.changed}/${arr.length} changed, mean ${fmtNum(arr.mean)}, rms ${fmtNum(arr.rms)}, `
      + `max |rel| ${fmtNum(arr.max_abs_relative)}`));
    const img = h("img", { class: "plot", alt: `difference of ${arr.path}` });
    parts.push(img);
    blobUrl(`/api/gipps/${a}/diff/${b}/plot.png?array=${encodeURIComponent(arr.path)}`).then((u) => { img.src = u; }).catch(() => {});
  }
  out.replaceChildren(...parts);
}

async function promote(ev, id, revision, msg) {
  ev.preventDefault();
  const body = { to: $("p-to").value, reason: $("p-reason").value, expected_revision: revision };
  const metric = $("p-metric").value.trim();
  if (metric) {
    body.evidence = { metric, value: parseFloat($("p-value").value), note: $("p-note").value };
    const thr = $("p-threshold").value;
    if (thr !== "") body.evidence.threshold = parseFloat(thr);
    if (Number.isNaN(body.evidence.value)) { setMsg(msg, "Evidence needs a numeric value.", "error"); return; }
  }
  try {
    const g = await api(`/api/gipps/${id}/promote`, { method: "POST", json: body });
    await listGipps();
    await showGipp(id);
    setMsg($("promote-msg") || msg, `GIPP #${g.id} is now ${g.status}`, "ok");
    const note = $("gipp-detail").querySelector(".card h3");
    if (note) note.append(h("span", { class: "msg ok", id: "promoted-note" }, ` — promoted to ${g.status}`));
  } catch (err) { setMsg(msg, `Refused: ${err.message}`, "error"); }
}

/* ----------------------------------------------------------------------------------------------- audit */

async function loadAudit() {
  let rows;
  try { rows = await api("/api/audit?limit=200"); } catch (err) { return; }
  table($("audit-table").tBodies[0], rows.map((r) => h("tr", {}, h("td", {}, r.id), h("td", {}, fmtTime(r.at)),
    h("td", {}, r.actor), h("td", {}, r.role), h("td", {}, r.action), h("td", {}, r.target),
    h("td", { class: r.outcome === "ok" ? "msg ok" : "msg error" }, r.outcome),
    h("td", { class: "hint" }, JSON.stringify(r.detail).slice(0, 160)))));
}

/* ----------------------------------------------------------------------------------------------- wiring */

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", (ev) => { ev.preventDefault(); signIn($("token").value.trim()); });
  document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));
  $("submit-form").addEventListener("submit", submitOrder);
  $("plan-form").addEventListener("submit", planJob);
  $("validate-btn").addEventListener("click", validateOrder);
  $("search-form").addEventListener("submit", (ev) => search(ev, false));
  $("more-btn").addEventListener("click", () => search(null, true));
  $("product-form").addEventListener("submit", (ev) => { ev.preventDefault(); showProduct($("product-id").value); });
  $("trend-form").addEventListener("submit", plotTrend);
  $("report-link").addEventListener("click", openReport);
  $("gipp-filter").addEventListener("submit", listGipps);
  const saved = sessionStorage.getItem("viq-token");
  if (saved) signIn(saved);
});
