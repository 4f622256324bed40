// The alert queue (every reviewing role): filters kept in the URL, newest or oldest first, live updates from
// the event stream, keyboard navigation, multi-select with bulk assign and bulk transition.

import { ApiError, getJson, query, sendJson, stream } from "./api.js";
import { $, announce, el, severityBadge, showError, timeEl, words } from "./dom.js";
import { closeDetail, detailOpenFor, openDetail } from "./detail.js";

const PAGE_SIZE = 50;
const FIELDS = ["status", "qa", "severity", "jurisdiction", "rule", "channel", "source", "assignee", "since", "until", "order"];
const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const SHORT_TIME = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };

// <input type="datetime-local"> speaks the reader's local time; the URL and the API speak ISO instants.
function localToIso(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

function isoToLocal(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}

// Letters are shortcuts unless the reader is typing in a field (a checkbox is not a field).
function typing(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target instanceof HTMLInputElement) return !["checkbox", "radio", "button", "submit"].includes(target.type);
  return target.isContentEditable || ["SELECT", "TEXTAREA"].includes(target.tagName);
}

export function mountQueue(ctx) {
  const form = $("filters");
  const body = $("alerts").tBodies[0];
  const state = {
    cursor: null, generation: 0, alerts: new Map(), selected: new Set(), focus: -1, unseen: 0,
    abort: null, filters: {}, countsTimer: null,
  };

  function readForm() {
    const data = new FormData(form);
    const filters = {};
    for (const name of FIELDS) {
      let value = String(data.get(name) || "").trim();
      if (name === "since" || name === "until") value = value ? localToIso(value) : "";
      if (name === "jurisdiction") value = value.toUpperCase();
      if (name === "order" && value === "newest") value = "";
      if (value) filters[name] = value;
    }
    return filters;
  }

  function writeForm(filters) {
    for (const name of FIELDS) {
      const input = form.elements[name];
      const value = filters[name] || "";
      input.value = name === "since" || name === "until" ? (value ? isoToLocal(value) : "") : value;
      if (name === "order" && !value) input.value = "newest";
    }
  }

  function filtersFromUrl() {
    const params = new URLSearchParams(location.search);
    const filters = {};
    for (const name of FIELDS) if (params.get(name)) filters[name] = params.get(name);
    return filters;
  }

  function syncUrl() {
    ctx.setUrl(query({ view: "queue", ...state.filters }));
  }

  function matches(alert) {
    const f = state.filters;
    const same = (name, value) => !f[name] || String(value ?? "").toLowerCase() === f[name].toLowerCase();
    return same("status", alert.status) && same("severity", alert.severity) && same("jurisdiction", alert.jurisdiction)
      && same("rule", alert.rule_id) && same("channel", alert.channel) && same("source", alert.source)
      && same("assignee", alert.assignee) && same("qa", alert.qa_status)
      && (!f.since || new Date(alert.created_at) >= new Date(f.since))
      && (!f.until || new Date(alert.created_at) < new Date(f.until));
  }

  // --- rows ---

  function cell(child, className) {
    const td = el("td", null, className);
    if (child instanceof Node) td.append(child); else td.textContent = child ?? "";
    return td;
  }

  function renderRow(alert, fresh) {
    const row = document.createElement("tr");
    row.dataset.id = alert.id;
    row.tabIndex = -1;
    if (fresh) row.classList.add("fresh");
    const pick = el("input");
    pick.type = "checkbox";
    pick.checked = state.selected.has(alert.id);
    pick.setAttribute("aria-label", `Select: ${alert.rule_title}, ${alert.jurisdiction}`);
    pick.addEventListener("click", (event) => event.stopPropagation());
    pick.addEventListener("change", () => select(alert.id, pick.checked));
    const rule = el("div");
    rule.append(el("div", alert.rule_title), el("div", alert.rule_id, "muted small"));
    row.append(
      cell(pick, "pick"), cell(timeEl(alert.created_at, SHORT_TIME), "when"), cell(severityBadge(alert.severity)),
      cell(rule, "rule"), cell(alert.jurisdiction), cell(`${alert.channel} · ${alert.source}`, "col-channel"),
      cell(words(alert.status)), cell(alert.assignee || "—", "col-assignee"),
    );
    row.classList.toggle("picked", state.selected.has(alert.id));
    row.classList.toggle("selected", detailOpenFor(alert.id));
    row.addEventListener("click", () => { setFocus(rowIndex(alert.id)); open(alert.id); });
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && event.target === row) { event.preventDefault(); open(alert.id); }
    });
    return row;
  }

  const rows = () => Array.from(body.rows);
  const rowIndex = (id) => rows().findIndex((row) => row.dataset.id === id);

  function replaceRow(alert) {
    const index = rowIndex(alert.id);
    if (index < 0) return;
    state.alerts.set(alert.id, alert);
    const fresh = body.rows[index].classList.contains("fresh");
    const row = renderRow(alert, fresh);
    const hadFocus = document.activeElement === body.rows[index];
    body.rows[index].replaceWith(row);
    if (index === state.focus) { row.tabIndex = 0; row.classList.add("current"); if (hadFocus) row.focus(); }
  }

  function setFocus(index, { move = false } = {}) {
    const all = rows();
    if (!all.length) { state.focus = -1; return; }
    index = Math.max(0, Math.min(index, all.length - 1));
    all.forEach((row, i) => { row.tabIndex = i === index ? 0 : -1; row.classList.toggle("current", i === index); });
    state.focus = index;
    if (move) { all[index].focus(); all[index].scrollIntoView({ block: "nearest" }); }
  }

  const currentId = () => rows()[state.focus]?.dataset.id;

  function open(id, options) {
    for (const row of rows()) row.classList.toggle("selected", row.dataset.id === id);
    const returnFocus = rows()[rowIndex(id)];
    openDetail(id, { ...options, returnFocus });
  }

  // --- selection and bulk actions ---

  function select(id, on) {
    if (on) state.selected.add(id); else state.selected.delete(id);
    const row = rows()[rowIndex(id)];
    if (row) { row.classList.toggle("picked", on); row.querySelector("input[type=checkbox]").checked = on; }
    showBulk();
  }

  function showBulk() {
    const count = state.selected.size;
    $("bulk").hidden = count === 0;
    $("bulk-count").textContent = `${count} selected`;
    const all = rows();
    $("select-all").checked = all.length > 0 && all.every((row) => state.selected.has(row.dataset.id));
  }

  async function bulk(path, payload, done) {
    const ids = [...state.selected];
    try {
      const result = await sendJson("POST", path, { ...payload, filter: { id: ids } });
      const skipped = Object.entries(result.skipped || {});
      state.selected.clear();
      await load(true);
      const waiting = (result.pending_approval || []).length;
      // A four-eyes closure is only asked for: say so rather than let "closed" be believed.
      announce(done(result.changed.length) + (waiting ? `; ${waiting} awaiting a second reviewer's approval` : ""));
      showError(skipped.length ? `${skipped.length} left unchanged: ${skipped.map(([id, why]) => `${id.slice(0, 8)}… ${why}`).join("; ")}` : "");
    } catch (error) {
      showError(`Bulk action failed: ${error.message}`);
    }
  }

  // --- loading ---

  async function refreshCounts() {
    const { severity, order, ...rest } = state.filters;
    try {
      const counts = await getJson(`analytics/counts?${query({ ...rest, by: "severity" })}`);
      $("severity-counts").replaceChildren(...SEVERITIES.map((name) => {
        const item = el("li");
        const button = el("button", null, `count sev-outline sev-${name}`);
        button.type = "button";
        button.append(el("span", name), el("strong", counts.counts[name] || 0));
        button.setAttribute("aria-pressed", String(severity === name));
        button.title = `Show only ${name} alerts`;
        button.addEventListener("click", () => {
          form.elements.severity.value = severity === name ? "" : name;
          apply();
        });
        item.append(button);
        return item;
      }));
    } catch (_) { /* counts are a convenience; the list shows its own errors */ }
  }

  function scheduleCounts() {
    clearTimeout(state.countsTimer);
    state.countsTimer = setTimeout(refreshCounts, 500);
  }

  async function load(reset) {
    const generation = reset ? ++state.generation : state.generation;
    const params = { ...state.filters, limit: PAGE_SIZE };
    if (!reset && state.cursor) params.cursor = state.cursor;
    $("load-more").disabled = true;
    try {
      const page = await getJson(`alerts?${query(params)}`);
      if (generation !== state.generation) return; // the filters changed while this page was loading
      if (reset) {
        body.replaceChildren();
        state.alerts.clear();
        state.unseen = 0;
        showUnseen();
      }
      for (const alert of page.data) {
        state.alerts.set(alert.id, alert);
        body.append(renderRow(alert, false));
      }
      state.cursor = page.next_cursor;
      $("load-more").hidden = !page.next_cursor;
      $("empty").hidden = body.rows.length > 0;
      $("summary").textContent = `${body.rows.length} of ${page.count} alert${page.count === 1 ? "" : "s"} shown`;
      setFocus(reset ? 0 : state.focus);
      showBulk();
      showError("");
    } catch (error) {
      if (generation === state.generation) showError(`Could not load alerts: ${error.message}`);
    } finally {
      $("load-more").disabled = false;
    }
  }

  function apply() {
    state.filters = readForm();
    syncUrl();
    load(true);
    refreshCounts();
  }

  // --- live updates ---

  function showUnseen() {
    $("unseen").hidden = state.unseen === 0;
    $("unseen").textContent = `${state.unseen} new alert${state.unseen === 1 ? "" : "s"}`;
  }

  function onEvent(type, alert) {
    if (type === "changed") {
      if (state.alerts.has(alert.id)) replaceRow(alert);
      scheduleCounts();
      return;
    }
    if (type !== "new" || state.alerts.has(alert.id) || !matches(alert)) return;
    state.unseen += 1;
    showUnseen();
    announce(`New ${alert.severity} alert: ${alert.rule_title}`);
    scheduleCounts();
    if (state.filters.order === "oldest") return; // its place is at the end: the button reloads
    state.alerts.set(alert.id, alert);
    const focused = currentId();
    body.prepend(renderRow(alert, true));
    $("empty").hidden = true;
    if (focused) setFocus(rowIndex(focused));
  }

  function liveState(value) {
    $("live-state").textContent = { live: "● live", reconnecting: "reconnecting…", refused: "live updates off" }[value] || "";
  }

  $("unseen").addEventListener("click", () => {
    if (state.filters.order === "oldest") { load(true); return; }
    for (const row of body.querySelectorAll("tr.fresh")) row.classList.remove("fresh");
    state.unseen = 0;
    showUnseen();
    setFocus(0, { move: true });
  });

  // --- keyboard ---

  async function acknowledge(id) {
    try {
      const alert = await sendJson("POST", `alerts/${encodeURIComponent(id)}/transition`, { to: "acknowledged" });
      replaceRow(alert);
      announce(`Acknowledged: ${alert.rule_title}`);
      showError("");
      document.dispatchEvent(new CustomEvent("veille:alert-changed", { detail: alert }));
    } catch (error) {
      showError(error instanceof ApiError && error.status === 409 ? `Cannot acknowledge: ${error.message}` : error.message);
    }
  }

  document.addEventListener("keydown", (event) => {
    if ($("page-queue").hidden || $("help").open || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      if (!$("detail").hidden) { event.preventDefault(); closeDetail(); }
      return;
    }
    if (typing(event.target)) return;
    const id = currentId();
    const onRow = event.target instanceof HTMLTableRowElement;
    switch (event.key) {
      case "j": case "ArrowDown":
        if (event.key === "ArrowDown" && !onRow) return;
        event.preventDefault(); setFocus(state.focus + 1, { move: true }); break;
      case "k": case "ArrowUp":
        if (event.key === "ArrowUp" && !onRow) return;
        event.preventDefault(); setFocus(state.focus - 1, { move: true }); break;
      case "Enter":
        if (id && (onRow || event.target === document.body)) { event.preventDefault(); open(id); }
        break;
      case "x": if (id) { event.preventDefault(); select(id, !state.selected.has(id)); } break;
      case "a": if (id) { event.preventDefault(); acknowledge(id); } break;
      case "c": if (id) { event.preventDefault(); open(id, { closeWithVerdict: true }); } break;
      case "/": event.preventDefault(); $("filter-rule").focus(); break;
      case "?": event.preventDefault(); $("help").showModal(); break;
      default: break;
    }
  });

  // --- wiring ---

  form.addEventListener("submit", (event) => { event.preventDefault(); apply(); });
  for (const name of ["status", "severity", "source", "order"]) form.elements[name].addEventListener("change", apply);
  // "reset" fires before the fields are cleared: apply once they are.
  form.addEventListener("reset", () => setTimeout(apply, 0));
  $("load-more").addEventListener("click", () => load(false));
  $("help-button").addEventListener("click", () => $("help").showModal());
  $("select-all").addEventListener("change", () => {
    for (const row of rows()) select(row.dataset.id, $("select-all").checked);
  });
  $("bulk-clear").addEventListener("click", () => { for (const id of [...state.selected]) select(id, false); });
  $("bulk-to").addEventListener("change", () => { $("bulk-verdict-label").hidden = $("bulk-to").value !== "closed"; });
  $("bulk-assign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const assignee = $("bulk-assignee").value.trim();
    bulk("bulk/assign", { assignee }, (n) => `Assigned ${n} alert${n === 1 ? "" : "s"} to ${assignee}`);
  });
  $("bulk-transition-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = $("bulk-to").value;
    const payload = { to };
    if (to === "closed") payload.verdict = $("bulk-verdict").value;
    bulk("bulk/transition", payload, (n) => `Moved ${n} alert${n === 1 ? "" : "s"} to ${words(to)}`);
  });
  document.addEventListener("veille:alert-changed", (event) => replaceRow(event.detail));

  async function fillRuleIds() {
    try {
      const catalog = await getJson("policies");
      $("rule-ids").replaceChildren(...catalog.rules.map((rule) => {
        const item = el("option", rule.title);
        item.value = rule.id;
        return item;
      }));
    } catch (_) { /* suggestions only */ }
  }

  let suggested = false;
  return {
    show() {
      // From the moment the list is asked for: an alert stored while the first page loads still comes.
      const since = new Date().toISOString();
      state.filters = filtersFromUrl();
      writeForm(state.filters);
      load(true);
      refreshCounts();
      if (!suggested) { suggested = true; fillRuleIds(); }
      state.abort = new AbortController();
      stream(`alerts/stream?${query({ since })}`, onEvent, state.abort.signal, liveState);
    },
    hide() {
      state.abort?.abort();
      state.abort = null;
      liveState("");
    },
  };
}
