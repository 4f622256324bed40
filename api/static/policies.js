// Policies (officer, admin): the packs by jurisdiction with their inheritance, each rule with its
// clauses, severity, maturity, references, remediation and its own tests; and "try a text", answered by
// the API with the engine behind `veille policies explain`.

import { getJson, query, sendJson } from "./api.js";
import { $, el, option, reference, severityBadge, showError } from "./dom.js";

function compact(value) {
  if (Array.isArray(value)) return value.map(compact).join(", ");
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => (k === "entities" || k === "lists" || k === "names" || k === "in" ? compact(v) : `${k} ${compact(v)}`)).join(", ");
  }
  return String(value);
}

// The rule's `when` tree as nested lists: all / any / not, then one predicate per leaf.
function condition(node) {
  for (const [key, label] of [["all", "all of"], ["any", "any of"]]) {
    if (node[key]) {
      const block = el("div", null, "cond");
      const list = el("ul");
      for (const child of node[key]) { const li = el("li"); li.append(condition(child)); list.append(li); }
      block.append(el("span", label, "op"), list);
      return block;
    }
  }
  if (node.not) {
    const block = el("div", null, "cond");
    block.append(el("span", "not", "op"), condition(node.not));
    return block;
  }
  const [key, value] = Object.entries(node)[0] || ["?", ""];
  const leaf = el("code", null, "pred");
  leaf.append(el("strong", key), ` ${compact(value)}`);
  return leaf;
}

function testList(title, cases) {
  const block = el("div", null, "tests");
  block.append(el("h5", `${title} (${cases.length})`));
  const list = el("ul");
  for (const c of cases) {
    const extra = ["jurisdiction", "source", "channel", "role", "lang"].filter((k) => c[k]).map((k) => `${k} ${c[k]}`);
    const li = el("li");
    li.append(el("q", c.text));
    if (extra.length) li.append(el("span", ` (${extra.join(", ")})`, "muted small"));
    list.append(li);
  }
  block.append(list);
  return block;
}

function ruleDetails(rule, inherited) {
  const details = el("details", null, "rule");
  details.dataset.rule = rule.id;
  const summary = el("summary");
  summary.append(severityBadge(rule.severity), el("code", rule.id), ` ${rule.title}`,
    el("span", ` ${rule.maturity}${inherited ? ` · from ${rule.pack}` : ""}`, "muted small"));
  details.append(summary, el("p", rule.description));
  const facts = el("dl", null, "meta");
  const add = (label, value) => { const dd = el("dd"); if (value instanceof Node) dd.append(value); else dd.textContent = value; facts.append(el("dt", label), dd); };
  add("Sources", rule.sources.join(", "));
  if (rule.tags.length) add("Tags", rule.tags.join(", "));
  add("Defined at", rule.origin);
  add("When", condition(rule.when));
  for (const exception of rule.exceptions) add(`Unless (${exception.name})`, condition(exception.when));
  if (rule.remediation) add("Remediation", rule.remediation);
  if (rule.references.length) {
    const refs = el("ul", null, "references");
    for (const ref of rule.references) { const li = el("li"); li.append(reference(ref)); refs.append(li); }
    add("References", refs);
  }
  details.append(facts, testList("Must match", rule.tests.match), testList("Must not match", rule.tests.no_match));
  return details;
}

// The submitted text with the spans of one rule marked, so "why" is visible in place.
function marked(text, spans) {
  const node = el("p", null, "tried-text");
  const ordered = [...spans].filter((s) => s.end > s.start && s.end - s.start < text.length).sort((a, b) => a.start - b.start);
  let last = 0;
  for (const span of ordered) {
    if (span.start < last) continue;
    node.append(text.slice(last, span.start));
    const mark = el("mark", text.slice(span.start, span.end));
    mark.title = `${span.detector}: ${span.type} (score ${span.score})`;
    node.append(mark);
    last = span.end;
  }
  node.append(text.slice(last));
  return node;
}

function tryResult(text, result) {
  const out = [el("p", `${result.jurisdiction} → pack ${result.pack} (inherits ${result.inherits.join(" ← ")}), `
    + `policy version ${result.policy_version}; detectors run: ${result.detectors.filter((d) => !result.detectors_skipped.includes(d)).join(", ") || "none"}`, "muted small")];
  if (!result.rules.length) out.push(el("p", "No rule would match this text.", "none"));
  for (const rule of result.rules) {
    const box = el("article", null, "tried");
    box.dataset.rule = rule.rule_id;
    const head = el("h4");
    head.append(severityBadge(rule.severity), el("code", rule.rule_id), ` ${rule.title}`);
    box.append(head);
    if (rule.suppressed_by) box.append(el("p", `Would match, but suppressed by the exception “${rule.suppressed_by}”.`, "muted"));
    else if (rule.shadow) box.append(el("p", "Matches in shadow mode (incubating rule): counted, no alert.", "muted"));
    else box.append(el("p", "Would raise an alert.", "raise"));
    const why = el("ul", null, "why");
    for (const clause of rule.clauses) why.append(el("li", `because ${clause}`));
    box.append(why);
    if (rule.spans.length) box.append(marked(text, rule.spans));
    if (rule.remediation) box.append(el("p", `Remediation: ${rule.remediation}`));
    out.push(box);
  }
  return out;
}

export function mountPolicies() {
  let catalog = null;

  function showPack(code) {
    const pack = catalog.jurisdictions.find((j) => j.jurisdiction === code) || catalog.jurisdictions[0];
    for (const button of $("jurisdiction-list").querySelectorAll("button")) {
      button.setAttribute("aria-current", String(button.dataset.code === pack.jurisdiction));
    }
    const rules = new Map(catalog.rules.map((r) => [r.id, r]));
    const own = pack.rules.filter((id) => rules.get(id)?.pack === pack.pack);
    const inherited = pack.rules.filter((id) => rules.get(id)?.pack !== pack.pack);
    const head = el("h3", `${pack.jurisdiction}: pack ${pack.pack}`);
    const facts = el("p", `Inherits ${pack.inherits.join(" ← ")}; ${pack.rules.length} rules in force`
      + (pack.covers.length ? `; also applies to ${pack.covers.join(", ")}` : "")
      + `; detectors ${pack.detectors.join(", ") || "none"}.`, "muted");
    const blocks = [head, facts];
    const section = (title, ids, isInherited) => {
      blocks.push(el("h4", `${title} (${ids.length})`));
      for (const id of ids) if (rules.has(id)) blocks.push(ruleDetails(rules.get(id), isInherited));
    };
    section("Rules of this pack", own, false);
    section("Inherited rules", inherited, true);
    const disabled = Object.entries(pack.disabled);
    if (disabled.length) {
      blocks.push(el("h4", `Disabled here (${disabled.length})`));
      const list = el("ul");
      for (const [id, why] of disabled) { const li = el("li"); li.append(el("code", id), ` ${why}`); list.append(li); }
      blocks.push(list);
    }
    $("pack").replaceChildren(...blocks);
    history.replaceState(null, "", `?${query({ view: "policies", jurisdiction: pack.jurisdiction })}`);
    $("try-jurisdiction").value = pack.jurisdiction;
  }

  async function load() {
    try {
      catalog = await getJson("policies");
    } catch (error) {
      showError(`Could not load the policy packs: ${error.message}`);
      return;
    }
    $("policies-version").textContent = `version ${catalog.version} · ${catalog.files.length} files`;
    $("jurisdiction-list").replaceChildren(...catalog.jurisdictions.map((j) => {
      const button = el("button", null, "secondary");
      button.type = "button";
      button.dataset.code = j.jurisdiction;
      button.append(el("strong", j.jurisdiction), el("span", ` ${j.inherits.join(" ← ")}`, "muted small"));
      button.addEventListener("click", () => showPack(j.jurisdiction));
      const li = el("li");
      li.append(button);
      return li;
    }));
    $("try-jurisdiction").replaceChildren(...catalog.jurisdictions.map((j) => option(j.jurisdiction)));
    showPack(new URLSearchParams(location.search).get("jurisdiction") || "GLOBAL");
  }

  $("try-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("try-text").value;
    const payload = {
      text,
      jurisdiction: $("try-jurisdiction").value,
      source: $("try-source").value,
      channel: $("try-channel").value.trim() || null,
      role: $("try-role").value,
      is_employee: $("try-employee").checked,
    };
    $("try-result").replaceChildren(el("p", "Trying…", "muted"));
    try {
      const result = await sendJson("POST", "policies/try", payload);
      $("try-result").replaceChildren(...tryResult(text, result));
      showError("");
    } catch (error) {
      $("try-result").replaceChildren();
      showError(`Could not try the text: ${error.message}`);
    }
  });

  return { show: load };
}
