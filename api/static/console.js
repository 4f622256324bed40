// Veille console: sign-in, navigation by role and the page router. Plain ES modules, no build step,
// no third-party code; each page lives in its own module and is shown with ?view=<page>.

import { getJson, setToken, takeTokenFromFragment, token, whenUnauthorized } from "./api.js";
import { $, el, showError } from "./dom.js";
import { mountDetail, closeDetail } from "./detail.js";
import { mountQueue } from "./queue.js";
import { mountReputation } from "./reputation.js";
import { mountOverview } from "./overview.js";
import { mountPolicies } from "./policies.js";
import { mountSilences, mountTokens } from "./admin.js";

// What each role may use, as the API's guards allow it (api/auth.py): the navigation shows no more.
// Review levels (alerts/levels.py): reviewer is first level; principal, officer and admin second.
const REVIEWERS = ["reviewer", "principal", "officer", "admin"];
const SECOND_LEVEL = ["principal", "officer", "admin"];
const PAGES = [
  { id: "queue", label: "Alert queue", roles: REVIEWERS, mount: mountQueue },
  { id: "reputation", label: "E-reputation", roles: ["comms", ...REVIEWERS], mount: mountReputation },
  { id: "overview", label: "Overview", roles: [...SECOND_LEVEL, "ops"], mount: mountOverview },
  { id: "policies", label: "Policies", roles: REVIEWERS, mount: mountPolicies },
  { id: "silences", label: "Silences", roles: SECOND_LEVEL, mount: mountSilences },
  { id: "tokens", label: "Tokens", roles: ["admin"], mount: mountTokens },
];

const session = { me: null, pages: [], current: null, views: new Map() };

function allowedPages(role) {
  return PAGES.filter((page) => page.roles.includes(role));
}

function buildNav() {
  const list = $("nav-list");
  list.replaceChildren(...session.pages.map((page) => {
    const link = el("a", page.label);
    link.href = `?view=${page.id}`;
    link.dataset.page = page.id;
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey) return; // a new tab works as a link
      event.preventDefault();
      go(page.id);
    });
    const item = el("li");
    item.append(link);
    return item;
  }));
  $("nav").hidden = false;
}

function go(pageId, { push = true } = {}) {
  const page = session.pages.find((p) => p.id === pageId) || session.pages[0];
  if (session.current && session.current !== page.id) {
    session.views.get(session.current)?.hide?.();
    closeDetail();
  }
  if (push && new URLSearchParams(location.search).get("view") !== page.id) {
    history.pushState(null, "", `?view=${page.id}`);
  }
  for (const p of PAGES) $(`page-${p.id}`).hidden = p.id !== page.id;
  for (const link of $("nav-list").querySelectorAll("a")) {
    if (link.dataset.page === page.id) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `Veille · ${page.label}`;
  session.current = page.id;
  showError("");
  let view = session.views.get(page.id);
  if (!view) {
    view = page.mount(context);
    session.views.set(page.id, view);
  }
  view.show();
}

const context = {
  get me() { return session.me; },
  canReview: () => REVIEWERS.includes(session.me?.role),
  // Approvals, QA, silences, reveals and the audit log: the second level only (the API says the same).
  secondLevel: () => SECOND_LEVEL.includes(session.me?.role),
  setUrl(params) {
    history.replaceState(null, "", `?${params}`);
  },
};

function signOut() {
  setToken(null);
  session.views.get(session.current)?.hide?.();
  location.replace(location.pathname); // a fresh page: nothing of the session stays in memory
}

function showSignIn(message) {
  for (const p of PAGES) $(`page-${p.id}`).hidden = true;
  $("page-signin").hidden = false;
  $("nav").hidden = true;
  $("identity").hidden = true;
  closeDetail();
  showError(message || "");
  $("token").focus();
}

async function start() {
  takeTokenFromFragment();
  if (!token()) { showSignIn(""); return; }
  let me;
  try {
    me = await getJson("me");
  } catch (error) {
    setToken(null);
    showSignIn(`Sign-in failed: ${error.message}`);
    return;
  }
  session.me = me;
  session.pages = allowedPages(me.role);
  $("page-signin").hidden = true;
  $("who").textContent = me.name;
  $("role-badge").textContent = me.role;
  $("identity").hidden = false;
  buildNav();
  mountDetail(context);
  go(new URLSearchParams(location.search).get("view"), { push: false });
}

document.addEventListener("DOMContentLoaded", () => {
  whenUnauthorized((message) => {
    if (session.me) { setToken(null); session.me = null; showSignIn(`Signed out: ${message}`); }
  });
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setToken($("token").value.trim());
    $("token").value = "";
    await start();
    if (session.me) $("view").focus(); // the form is gone: keyboard users continue from the page
  });
  $("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("popstate", () => {
    if (session.me) go(new URLSearchParams(location.search).get("view"), { push: false });
  });
  start();
});
