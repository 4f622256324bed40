// Silences (officer, admin) and API tokens (admin): list, create, expire or revoke. Every change is
// audited by the API; a new token's secret is shown once, here, and never again.

import { getJson, sendJson } from "./api.js";
import { $, announce, el, showError, timeEl } from "./dom.js";

function actionCell(label, action) {
  const td = el("td");
  const button = el("button", label, "secondary");
  button.type = "button";
  button.addEventListener("click", action);
  td.append(button);
  return td;
}

function timeCell(iso) {
  const td = el("td");
  td.append(iso ? timeEl(iso) : el("span", "never"));
  return td;
}

export function mountSilences() {
  const form = $("silence-form");

  async function load() {
    try {
      const silences = await getJson(`silences?include_expired=${$("silences-expired").checked}`);
      const now = Date.now();
      $("silences").tBodies[0].replaceChildren(...silences.map((s) => {
        const row = el("tr");
        const active = Date.parse(s.expires_at) > now;
        const matchers = Object.entries(s.matchers).filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(", ");
        row.append(el("td", matchers), el("td", s.reason), el("td", s.author), timeCell(s.created_at), timeCell(s.expires_at));
        row.append(active ? actionCell("Expire now", () => expire(s.id)) : el("td", "ended", "muted"));
        return row;
      }));
      showError("");
    } catch (error) {
      showError(`Could not load silences: ${error.message}`);
    }
  }

  async function expire(id) {
    try {
      await sendJson("DELETE", `silences/${encodeURIComponent(id)}`);
      announce("Silence expired");
      await load();
    } catch (error) {
      showError(`Could not expire the silence: ${error.message}`);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const matchers = {};
    for (const name of ["rule_id", "jurisdiction", "channel"]) {
      const value = String(data.get(name) || "").trim();
      if (value) matchers[name] = value;
    }
    const expires = new Date(String(data.get("expires_at")));
    try {
      await sendJson("POST", "silences", { matchers, reason: String(data.get("reason")).trim(), expires_at: expires.toISOString() });
      form.reset();
      announce("Silence created");
      await load();
    } catch (error) {
      showError(`Could not create the silence: ${error.message}`);
    }
  });
  $("silences-expired").addEventListener("change", load);
  return { show: load };
}

export function mountTokens() {
  const form = $("token-create-form");

  async function load() {
    try {
      const tokens = await getJson("tokens");
      $("tokens").tBodies[0].replaceChildren(...tokens.map((t) => {
        const row = el("tr");
        const expired = t.expires_at && Date.parse(t.expires_at) <= Date.now();
        const stateText = t.revoked_at ? "revoked" : expired ? "expired" : "active";
        row.append(el("td", t.name), el("td", t.role), timeCell(t.created_at), timeCell(t.expires_at), el("td", stateText));
        row.append(stateText === "active" ? actionCell("Revoke", () => revoke(t)) : el("td"));
        return row;
      }));
      showError("");
    } catch (error) {
      showError(`Could not load tokens: ${error.message}`);
    }
  }

  async function revoke(token) {
    if (!window.confirm(`Revoke the token ${token.name}? Its holder is refused from the next request on.`)) return;
    try {
      await sendJson("DELETE", `tokens/${encodeURIComponent(token.id)}`);
      announce(`Token ${token.name} revoked`);
      await load();
    } catch (error) {
      showError(`Could not revoke: ${error.message}`);
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const days = String(data.get("expires_in_days") || "").trim();
    try {
      const created = await sendJson("POST", "tokens", {
        name: String(data.get("name")).trim(), role: data.get("role"), expires_in_days: days ? Number(days) : null,
      });
      $("token-secret").textContent = created.token;
      $("token-created").hidden = false;
      form.reset();
      await load();
    } catch (error) {
      showError(`Could not create the token: ${error.message}`);
    }
  });
  return { show: () => { $("token-created").hidden = true; $("token-secret").textContent = ""; return load(); } };
}
