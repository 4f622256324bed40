// Veille console: the alert queue over /api/v1. Vanilla JS, no build step, no third-party code.
// Alert content is only ever written with textContent, never as HTML.
"use strict";

const API = "api/v1/alerts";
const PAGE_SIZE = 50;

const state = { cursor: null, generation: 0, selectedId: null };
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

function currentFilters() {
  const form = new FormData($("filters"));
  const params = new URLSearchParams();
  for (const name of ["severity", "status", "jurisdiction"]) {
    const value = String(form.get(name) || "").trim();
    if (value) params.set(name, value);
  }
  return params;
}

// The API answers 4xx with {"detail": "..."} or FastAPI's list of {loc, msg}: show either, readably.
function describeError(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((item) => `${(item.loc || []).slice(1).join(".")}: ${item.msg}`).join("; ");
  }
  return `the server answered ${status}`;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

// The API wants a bearer token: taken once from the URL fragment (#token=..., which never reaches a
// server log), or asked for, and kept for this tab only.
const TOKEN_KEY = "veille.token";

function apiToken() {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

// Allowed next statuses, as in alerts/lifecycle.py (the API refuses anything else with a 409).
const TRANSITIONS = {
  open: ["acknowledged", "in_review", "escalated", "closed"],
  acknowledged: ["in_review", "escalated", "closed"],
  in_review: ["escalated", "closed"],
  escalated: ["in_review", "closed"],
  closed: ["open"],
};

async function sendJson(method, url, payload) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const token = apiToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { method, headers, body: JSON.stringify(payload) });
  let body = null;
  try { body = await response.json(); } catch (_) { /* non-JSON error page */ }
  if (!response.ok) throw new Error(describeError(response.status, body));
  return body;
}

async function reviewAction(action) {
  try {
    await action();
    showError("");
    const id = state.selectedId;
    await loadPage(true);
    if (id) await openDetail(id);
  } catch (error) {
    showError(error.message);
  }
}

function setupReview() {
  $("transition-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const payload = { to: $("transition-to").value };
    const to = payload.to;
    const verdict = $("transition-verdict").value;
    const ticket = $("transition-ticket").value.trim();
    const note = $("transition-comment").value.trim();
    if (to === "closed" && verdict) payload.verdict = verdict;
    if (to === "closed" && ticket) payload.ticket = ticket;
    if (note) { if (to === "open") payload.reason = note; else payload.comment = note; }
    reviewAction(() => sendJson("POST", `${API}/${encodeURIComponent(state.selectedId)}/transition`, payload));
  });
  $("transition-to").addEventListener("change", () => {
    $("verdict-label").hidden = $("transition-to").value !== "closed";
  });
  $("assign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const assignee = $("assignee").value.trim() || null;
    reviewAction(() => sendJson("POST", `${API}/${encodeURIComponent(state.selectedId)}/assign`, { assignee }));
  });
  $("comment-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = $("comment-body").value.trim();
    reviewAction(async () => {
      await sendJson("POST", `${API}/${encodeURIComponent(state.selectedId)}/comments`, { body });
      $("comment-body").value = "";
    });
  });
  $("reveal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const justification = $("reveal-justification").value.trim();
    try {
      const spans = await sendJson("POST", `${API}/${encodeURIComponent(state.selectedId)}/reveal`, { justification });
      fillList($("revealed"), spans, (span) => {
        const item = el("li");
        item.append(el("div", span.text, "snippet"), el("div", `${span.type} · evidence #${span.index}`, "what"));
        return item;
      });
      showError("");
    } catch (error) {
      showError(`Could not reveal: ${error.message}`);
    }
  });
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    $("token").value = "";
    loadPage(true);
  });
}

async function showReview(alert) {
  $("transition-to").replaceChildren(...TRANSITIONS[alert.status].map((s) => {
    const option = el("option", s.replace("_", " "));
    option.value = s;
    return option;
  }));
  $("verdict-label").hidden = $("transition-to").value !== "closed";
  $("transition-verdict").value = "";
  $("transition-ticket").value = "";
  $("transition-comment").value = "";
  $("assignee").value = alert.assignee || "";
  $("revealed").replaceChildren();
  $("reveal-justification").value = "";
  $("reveal-form").hidden = !alert.evidence.some((e) => e.personal);
  try {
    const comments = await getJson(`${API}/${encodeURIComponent(alert.id)}/comments`);
    fillList($("comments"), comments, (c) => el("li", `${formatTime(c.created_at)} · ${c.author}: ${c.body}`));
    $("review").hidden = false;
  } catch (_) {
    $("review").hidden = true; // a role that may read alerts but not work them (comms)
  }
}

async function getJson(url) {
  const headers = { Accept: "application/json" };
  const token = apiToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(url, { headers });
  let body = null;
  try { body = await response.json(); } catch (_) { /* non-JSON error page */ }
  if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);  // enter another one above
  if (!response.ok) throw new Error(describeError(response.status, body));
  return body;
}

function severityBadge(severity) {
  return el("span", severity, `sev sev-${severity}`);
}

function renderRow(alert) {
  const row = document.createElement("tr");
  row.dataset.id = alert.id;
  row.tabIndex = 0;
  row.append(
    el("td", formatTime(alert.created_at)),
    (() => { const td = el("td"); td.append(severityBadge(alert.severity)); return td; })(),
    (() => {
      const td = el("td", null, "rule");
      td.append(el("div", alert.rule_title), el("div", alert.rule_id, "muted small"));
      return td;
    })(),
    el("td", alert.jurisdiction),
    el("td", alert.source),
    el("td", alert.status.replace("_", " ")),
  );
  row.addEventListener("click", () => openDetail(alert.id));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") { event.preventDefault(); openDetail(alert.id); }
  });
  if (alert.id === state.selectedId) row.classList.add("selected");
  return row;
}

async function loadPage(reset) {
  const generation = reset ? ++state.generation : state.generation;
  const params = currentFilters();
  params.set("limit", String(PAGE_SIZE));
  if (!reset && state.cursor) params.set("cursor", state.cursor);
  $("load-more").disabled = true;
  try {
    const page = await getJson(`${API}?${params}`);
    if (generation !== state.generation) return; // the filters changed while this page was loading
    const body = $("alerts").tBodies[0];
    if (reset) body.replaceChildren();
    for (const alert of page.data) body.append(renderRow(alert));
    state.cursor = page.next_cursor;
    $("load-more").hidden = !page.next_cursor;
    $("empty").hidden = body.rows.length > 0;
    $("summary").textContent = `${body.rows.length} of ${page.count} alert${page.count === 1 ? "" : "s"}`;
    showError("");
  } catch (error) {
    if (generation === state.generation) showError(`Could not load alerts: ${error.message}`);
  } finally {
    $("load-more").disabled = false;
  }
}

function fillList(list, items, render) {
  list.replaceChildren(...items.map(render));
}

async function openDetail(id) {
  state.selectedId = id;
  for (const row of $("alerts").tBodies[0].rows) row.classList.toggle("selected", row.dataset.id === id);
  let alert;
  try {
    alert = await getJson(`${API}/${encodeURIComponent(id)}`);
  } catch (error) {
    showError(`Could not load alert: ${error.message}`);
    return;
  }
  if (state.selectedId !== id) return;
  $("detail-title").textContent = alert.rule_title;
  const meta = [
    ["Severity", severityBadge(alert.severity)],
    ["Status", alert.status.replace("_", " ")],
    ["Rule", alert.rule_id],
    ["Jurisdiction", alert.jurisdiction],
    ["Source", `${alert.source} · ${alert.channel}`],
    ["Author role", alert.author_role],
    ["Language", alert.lang || "unknown"],
    ["Posted", formatTime(alert.post_created_at)],
    ["Alert created", formatTime(alert.created_at)],
    ["Assignee", alert.assignee || "—"],
    ["Verdict", alert.verdict ? alert.verdict.replace("_", " ") : "—"],
    ["Occurrences", alert.occurrences ?? 1],
    ["Silenced", alert.silenced ? "yes" : "no"],
    ["Policy version", alert.policy_version],
    ["Alert id", alert.id],
  ];
  $("detail-meta").replaceChildren(...meta.flatMap(([label, value]) => {
    const dd = el("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    return [el("dt", label), dd];
  }));
  fillList($("detail-evidence"), alert.evidence, (evidence) => {
    const item = el("li");
    item.append(
      el("div", evidence.snippet, "snippet"),
      el("div", `${evidence.type} · ${evidence.detector} · score ${Number(evidence.score).toFixed(2)}`
        + (evidence.personal ? " · personal data (masked)" : ""), "what"),
    );
    return item;
  });
  if (alert.evidence.length === 0) $("detail-evidence").append(el("li", "no evidence recorded", "muted"));
  fillList($("detail-explanation"), alert.explanation, (line) => el("li", line));
  $("detail-remediation").textContent = alert.remediation || "";
  $("detail-remediation-block").hidden = !alert.remediation;
  fillList($("detail-references"), alert.references, (ref) => el("li", ref));
  $("detail-references-block").hidden = alert.references.length === 0;
  $("detail").hidden = false;
  await showReview(alert);
}

function syncUrl() {
  const params = currentFilters();
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function restoreFilters() {
  const params = new URLSearchParams(location.search);
  for (const name of ["severity", "status", "jurisdiction"]) {
    const value = params.get(name);
    if (value !== null) $("filters").elements[name].value = value;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  restoreFilters();
  setupReview();
  $("filters").addEventListener("submit", (event) => { event.preventDefault(); syncUrl(); loadPage(true); });
  for (const name of ["severity", "status"]) {
    $("filters").elements[name].addEventListener("change", () => { syncUrl(); loadPage(true); });
  }
  // "reset" fires before the fields are cleared: reload once they are.
  $("filters").addEventListener("reset", () => setTimeout(() => { syncUrl(); loadPage(true); }, 0));
  $("load-more").addEventListener("click", () => loadPage(false));
  $("close-detail").addEventListener("click", () => { $("detail").hidden = true; state.selectedId = null; });
  loadPage(true);
});
