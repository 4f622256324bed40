// One alert in a side panel that scrolls on its own: masked evidence in context, why it matched, the
// rule's remediation and references, occurrences, comments, its audit entries, and the review actions.
// Comms sees the alert as the API scopes it, read-only: no review section is even requested.

import { getJson, sendJson } from "./api.js";
import { $, announce, el, fillList, maskedSnippet, reference, severityBadge, showError, timeEl, words } from "./dom.js";

// Allowed next statuses, as in alerts/lifecycle.py (the API refuses anything else with a 409).
const TRANSITIONS = {
  open: ["acknowledged", "in_review", "escalated", "closed"],
  acknowledged: ["in_review", "escalated", "closed"],
  in_review: ["escalated", "closed"],
  escalated: ["in_review", "closed"],
  // Left only by an approval or a rejection (alerts/levels.py), never by a plain transition.
  pending_approval: [],
  closed: ["open"],
};

const state = { id: null, alert: null, returnFocus: null, ctx: null };
const path = (suffix = "") => `alerts/${encodeURIComponent(state.id)}${suffix}`;

export function detailOpenFor(id) {
  return !$("detail").hidden && state.id === id;
}

export function closeDetail() {
  if ($("detail").hidden) return;
  $("detail").hidden = true;
  document.body.classList.remove("with-detail");
  const back = state.returnFocus;
  state.id = null;
  state.alert = null;
  for (const row of document.querySelectorAll("tr.selected")) row.classList.remove("selected");
  if (back && back.isConnected) back.focus();
}

function meta(alert) {
  const rows = [
    ["Severity", severityBadge(alert.severity)],
    ["Status", words(alert.status)],
    ["Rule", alert.rule_id],
    ["Jurisdiction", alert.jurisdiction],
    ["Source", `${alert.source} · ${alert.channel}`],
    ["Author", `${alert.author_id} (${alert.author_role})`],
    ["Language", alert.lang || "unknown"],
    ["Posted", timeEl(alert.post_created_at)],
    ["Alert created", timeEl(alert.created_at)],
    ["Assignee", alert.assignee || "—"],
    ["Verdict", alert.verdict ? words(alert.verdict) : "—"],
    ["Ticket", alert.ticket || "—"],
    ["Four eyes", alert.four_eyes ? "closing needs a second reviewer" : "no"],
    ["Closure asked", alert.approval_requested_by
      ? `${words(alert.approval_verdict)} by ${alert.approval_requested_by}, awaiting approval` : "—"],
    ["Closed by", alert.closed_by || "—"],
    ["QA", alert.qa_status ? words(alert.qa_status) : "—"],
    ["Occurrences", alert.occurrences ?? 1],
    ["Silenced", alert.silenced ? "yes" : "no"],
    ["Policy version", alert.policy_version],
    ["Alert id", alert.id],
  ];
  $("detail-meta").replaceChildren(...rows.flatMap(([label, value]) => {
    const dd = el("dd");
    if (value instanceof Node) dd.append(value); else dd.textContent = value;
    return [el("dt", label), dd];
  }));
}

function evidence(alert) {
  fillList($("detail-evidence"), alert.evidence, (item) => {
    const li = el("li");
    li.append(
      maskedSnippet(item.snippet),
      el("div", `${item.type} · ${item.detector} · score ${Number(item.score).toFixed(2)}`
        + (item.personal ? " · personal data (masked)" : ""), "what"),
    );
    return li;
  }, "no evidence recorded");
}

function changes(entry) {
  const after = entry.after || {};
  const before = entry.before || {};
  const keys = Object.keys(after).filter((key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]));
  return keys.map((key) => `${words(key)}: ${before[key] ?? "—"} → ${after[key] ?? "—"}`).join(", ");
}

function resetForms(alert) {
  $("transition-to").replaceChildren(...TRANSITIONS[alert.status].map((s) => {
    const item = el("option", words(s));
    item.value = s;
    return item;
  }));
  syncTransitionFields();
  for (const id of ["transition-verdict", "transition-ticket", "transition-comment", "reveal-justification", "reveal-author-justification", "silence-reason"]) {
    $(id).value = "";
  }
  $("assignee").value = alert.assignee || "";
  $("revealed").replaceChildren();
  // The second level's tools (alerts/levels.py); the API refuses them to others all the same.
  const second = state.ctx.secondLevel();
  const me = state.ctx.me?.name;
  $("reveal-form").hidden = !second || !alert.evidence.some((e) => e.personal);
  $("silence-similar").hidden = !second;
  const pending = alert.status === "pending_approval";
  $("approval-form").hidden = !(second && pending && alert.approval_requested_by !== me);
  $("approval-reason").value = "";
  $("qa-form").hidden = !(second && alert.qa_status === "pending" && alert.closed_by !== me);
  $("qa-comment").value = "";
  const secondLevelOnly = !second && (pending || alert.status === "escalated");
  $("transition-form").hidden = secondLevelOnly || TRANSITIONS[alert.status].length === 0;
  $("assign-form").hidden = secondLevelOnly;
  let note = "";
  if (secondLevelOnly) note = `This alert is ${words(alert.status)}: a second-level reviewer takes it from here; you may comment.`;
  else if (pending && alert.approval_requested_by === me) note = "You asked for this closure: another second-level reviewer approves or rejects it.";
  $("level-note").textContent = note;
  $("level-note").hidden = !note;
  // The pack pseudonymises this jurisdiction's authors: the identity is its own audited reveal.
  $("reveal-author-form").hidden = !second || !alert.author_pseudonymised;
  $("revealed-author").textContent = "";
}

async function history(alert) {
  // The audit log is the second level's to read (api/auth.py SUPERVISORS).
  const [comments, occurrences, audit] = await Promise.all([
    getJson(path("/comments")),
    getJson(path("/occurrences")),
    state.ctx.secondLevel()
      ? getJson(`audit?target=${encodeURIComponent(`alert:${alert.id}`)}&limit=200`)
      : Promise.resolve({ data: [] }),
  ]);
  if (state.id !== alert.id) return;
  fillList($("comments"), comments, (c) => {
    const li = el("li");
    li.append(timeEl(c.created_at), el("span", ` ${c.author}: `, "who"), el("span", c.body));
    return li;
  }, "no comment yet");
  fillList($("occurrences"), occurrences, (o) => {
    const li = el("li");
    li.append(timeEl(o.post_created_at), el("span", ` post ${o.post_id}`));
    return li;
  }, "one occurrence");
  fillList($("audit"), audit.data, (entry) => {
    const li = el("li");
    li.dataset.action = entry.action;
    li.append(timeEl(entry.at), el("span", ` ${entry.actor} (${entry.role}) `, "who"), el("strong", entry.action));
    const what = changes(entry);
    if (what) li.append(el("div", what, "muted small"));
    return li;
  }, state.ctx.secondLevel() ? "no audit entry" : "the audit log is read by second-level reviewers");
}

function syncTransitionFields() {
  const closing = $("transition-to").value === "closed";
  $("verdict-label").hidden = !closing;
  $("ticket-label").hidden = !closing;
}

export async function openDetail(id, { closeWithVerdict = false, returnFocus = null } = {}) {
  state.id = id;
  state.returnFocus = returnFocus;
  let alert;
  try {
    alert = await getJson(`alerts/${encodeURIComponent(id)}`);
  } catch (error) {
    showError(`Could not load alert: ${error.message}`);
    return;
  }
  if (state.id !== id) return;
  state.alert = alert;
  $("detail-title").textContent = alert.rule_title;
  meta(alert);
  evidence(alert);
  fillList($("detail-explanation"), alert.explanation, (line) => el("li", line));
  $("detail-remediation").textContent = alert.remediation || "";
  $("detail-remediation-block").hidden = !alert.remediation;
  fillList($("detail-references"), alert.references, (ref) => { const li = el("li"); li.append(reference(ref)); return li; });
  $("detail-references-block").hidden = alert.references.length === 0;
  const reviewer = state.ctx.canReview();
  $("review").hidden = !reviewer;
  const wasHidden = $("detail").hidden;
  $("detail").hidden = false;
  document.body.classList.add("with-detail");
  if (wasHidden) $("detail").scrollTop = 0;
  if (reviewer) {
    resetForms(alert);
    try {
      await history(alert);
    } catch (error) {
      showError(`Could not load the alert's history: ${error.message}`);
    }
  }
  if (state.id !== id) return;
  if (closeWithVerdict && reviewer && TRANSITIONS[alert.status].includes("closed")) {
    $("transition-to").value = "closed";
    syncTransitionFields();
    $("transition-verdict").focus();
  } else if (wasHidden) {
    $("detail-title").focus();
  }
}

// After a change: the panel shows the stored alert again, and the queue updates its row.
async function act(action, message) {
  try {
    const result = await action();
    showError("");
    const alert = await getJson(path());
    document.dispatchEvent(new CustomEvent("veille:alert-changed", { detail: alert }));
    await openDetail(alert.id, { returnFocus: state.returnFocus });
    announce(typeof message === "function" ? message(result) : message);
  } catch (error) {
    showError(error.message);
  }
}

export function mountDetail(ctx) {
  state.ctx = ctx;
  $("close-detail").addEventListener("click", closeDetail);
  $("transition-to").addEventListener("change", syncTransitionFields);
  $("transition-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const to = $("transition-to").value;
    const payload = { to };
    const verdict = $("transition-verdict").value;
    const ticket = $("transition-ticket").value.trim();
    const note = $("transition-comment").value.trim();
    if (to === "closed" && verdict) payload.verdict = verdict;
    if (to === "closed" && ticket) payload.ticket = ticket;
    if (note) { if (to === "open") payload.reason = note; else payload.comment = note; }
    act(() => sendJson("POST", path("/transition"), payload), `Moved to ${words(to)}`);
  });
  $("approval-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const reason = $("approval-reason").value.trim();
    act(() => sendJson("POST", path("/approval"), { decision: "approve", ...(reason ? { reason } : {}) }),
      "Closure approved");
  });
  $("reject").addEventListener("click", () => {
    const reason = $("approval-reason").value.trim();
    act(() => sendJson("POST", path("/approval"), { decision: "reject", reason: reason || null }),
      "Closure rejected: back in review");
  });
  $("qa-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const comment = $("qa-comment").value.trim();
    act(() => sendJson("POST", path("/qa"), { outcome: $("qa-outcome").value, ...(comment ? { comment } : {}) }),
      "QA outcome recorded");
  });
  $("assign-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const assignee = $("assignee").value.trim() || null;
    act(() => sendJson("POST", path("/assign"), { assignee }), assignee ? `Assigned to ${assignee}` : "Unassigned");
  });
  $("assign-me").addEventListener("click", () => {
    act(() => sendJson("POST", path("/assign"), { assignee: ctx.me.name }), `Assigned to ${ctx.me.name}`);
  });
  $("comment-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = $("comment-body").value.trim();
    act(async () => {
      await sendJson("POST", path("/comments"), { body });
      $("comment-body").value = "";
    }, "Comment added");
  });
  $("silence-similar-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const alert = state.alert;
    const matchers = {};
    if ($("silence-rule").checked) matchers.rule_id = alert.rule_id;
    if ($("silence-channel").checked) matchers.channel = alert.channel;
    if ($("silence-jurisdiction").checked) matchers.jurisdiction = alert.jurisdiction;
    const days = Number($("silence-days").value);
    const expires_at = new Date(Date.now() + days * 86400000).toISOString();
    act(() => sendJson("POST", "silences", { matchers, reason: $("silence-reason").value.trim(), expires_at }),
      (silence) => `Silence ${silence.id} created until ${new Date(silence.expires_at).toLocaleString()}`);
  });
  $("reveal-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const justification = $("reveal-justification").value.trim();
    try {
      const spans = await sendJson("POST", path("/reveal"), { justification });
      fillList($("revealed"), spans, (span) => {
        const li = el("li");
        li.append(el("div", span.text, "snippet"), el("div", `${span.type} · evidence #${span.index}`, "what"));
        return li;
      });
      showError("");
      await history(state.alert); // the reveal is in the audit log now
    } catch (error) {
      showError(`Could not reveal: ${error.message}`);
    }
  });
  $("reveal-author-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const justification = $("reveal-author-justification").value.trim();
    try {
      const answer = await sendJson("POST", path("/reveal-author"), { justification });
      $("revealed-author").textContent = answer.status === "revealed"
        ? `Author: ${answer.author_id}`
        : `Request ${answer.request} awaits another officer's approval`;
      showError("");
      await history(state.alert);
    } catch (error) {
      showError(`Could not reveal the author: ${error.message}`);
    }
  });
}
