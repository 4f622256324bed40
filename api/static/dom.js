// Small DOM helpers. Data is only ever written with textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

export function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

export function fillList(list, items, render, empty) {
  list.replaceChildren(...items.map(render));
  if (items.length === 0 && empty) list.append(el("li", empty, "muted"));
}

// A date in the reader's time zone; the exact ISO instant on hover and for assistive tools.
export function timeEl(iso, options) {
  const node = el("time");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) { node.textContent = iso || "—"; return node; }
  node.dateTime = date.toISOString();
  node.title = date.toISOString();
  node.textContent = date.toLocaleString(undefined, options || { dateStyle: "medium", timeStyle: "short" });
  return node;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

export const words = (value) => String(value ?? "").replaceAll("_", " ");

export function severityBadge(severity) {
  return el("span", severity, `sev sev-${severity}`);
}

export function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

export function announce(message) {
  $("announce").textContent = message;
}

// A reference is a link when it is an http(s) URL, else plain text; long URLs wrap (CSS).
export function reference(text) {
  if (/^https?:\/\/\S+$/.test(text)) {
    const link = el("a", text);
    link.href = text;
    link.rel = "noreferrer noopener";
    link.target = "_blank";
    return link;
  }
  return el("span", text);
}

// Masked personal data appears in snippets as [TYPE]: highlight those placeholders in context.
export function maskedSnippet(snippet) {
  const node = el("div", null, "snippet");
  let last = 0;
  for (const match of String(snippet).matchAll(/\[[A-Z][A-Z0-9_]*\]/g)) {
    if (match.index > last) node.append(snippet.slice(last, match.index));
    const mark = el("mark", match[0], "masked");
    mark.title = "personal data, masked";
    node.append(mark);
    last = match.index + match[0].length;
  }
  if (last < snippet.length) node.append(snippet.slice(last));
  return node;
}

export function field(labelText, control) {
  const label = el("label", labelText);
  label.append(control);
  return label;
}

export function option(value, text, selected) {
  const node = el("option", text ?? value);
  node.value = value;
  if (selected) node.selected = true;
  return node;
}
