// Talking to /api/v1 with the signed-in token. The token comes once from the URL fragment
// (#token=..., never sent to a server or its logs), or from the sign-in form, and lives in this tab's
// sessionStorage only: never in a URL query, never in localStorage.

const TOKEN_KEY = "veille.token";
export const API = "api/v1";

export function takeTokenFromFragment() {
  const fromFragment = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromFragment) {
    sessionStorage.setItem(TOKEN_KEY, fromFragment);
    history.replaceState(null, "", location.pathname + location.search);
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
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

function headers(extra) {
  const all = { Accept: "application/json", ...extra };
  const current = token();
  if (current) all.Authorization = `Bearer ${current}`;
  return all;
}

let onUnauthorized = () => {};
export function whenUnauthorized(callback) { onUnauthorized = callback; }

async function request(method, path, payload) {
  const init = { method, headers: headers(payload === undefined ? {} : { "Content-Type": "application/json" }) };
  if (payload !== undefined) init.body = JSON.stringify(payload);
  const response = await fetch(`${API}/${path}`, init);
  let body = null;
  try { body = await response.json(); } catch (_) { /* an empty or non-JSON answer */ }
  if (response.status === 401) onUnauthorized(describeError(401, body));
  if (!response.ok) throw new ApiError(response.status, describeError(response.status, body));
  return body;
}

export const getJson = (path) => request("GET", path);
export const sendJson = (method, path, payload) => request(method, path, payload);

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, String(item));
  }
  return search.toString();
}

// Server-sent events over fetch: EventSource cannot send the Authorization header, and the token
// must not go into the URL. Reconnects with backoff until `signal` aborts.
export async function stream(path, onEvent, signal, onState = () => {}) {
  let delay = 1000;
  while (!signal.aborted) {
    try {
      const response = await fetch(`${API}/${path}`, { headers: headers({ Accept: "text/event-stream" }), signal });
      if (response.status === 401 || response.status === 403) { onState("refused"); return; }
      if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
      onState("live");
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = { type: "message", data: "" };
          for (const line of block.split("\n")) {
            if (line.startsWith("event:")) event.type = line.slice(6).trim();
            else if (line.startsWith("data:")) event.data += line.slice(5).trim();
          }
          if (event.data) onEvent(event.type, JSON.parse(event.data));
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    onState("reconnecting");
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 30000);
  }
}
