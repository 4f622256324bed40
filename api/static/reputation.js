// E-reputation (comms, officer, admin): per brand, volume and negative share over time with spike and
// crisis alerts marked on them, share of voice, themes of negative posts, and the brand alerts.
// Only aggregates and the alerts the API scopes for the caller's role ever reach this page.

import { getJson, query } from "./api.js";
import { $, el, severityBadge, showError, timeEl, words } from "./dom.js";
import { barChart, lineChart } from "./charts.js";
import { openDetail } from "./detail.js";

const MAX_POINTS = 120;
// Steps a reader can count in (minutes, hours, days); the first that is a multiple of the window wins.
const NICE_STEPS = [300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
// The windowed alerts the workers raise (monitor/reputation.py); pack rules are found by their tags.
const WINDOW_RULES = ["reputation-negative-spike", "reputation-volume-spike", "reputation-crisis"];
const percent = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);
const count = (v) => String(Math.round(v));
const stepText = (s) => (s % 3600 === 0 ? `${s / 3600} h` : `${Math.round(s / 60)} min`);

// Spike and crisis alerts name their brand in their post id: window:<brand>:... or crisis:<brand>:...
function alertBrand(alert, brands) {
  return brands.find((b) => alert.post_id.startsWith(`window:${b}:`) || alert.post_id.startsWith(`crisis:${b}:`));
}

export function mountReputation(ctx) {
  const form = $("reputation-filters");
  const state = { window: null, generation: 0, ruleIds: null };

  function range() {
    const data = new FormData(form);
    const seconds = Number(data.get("range"));
    const to = new Date();
    const from = new Date(to.getTime() - seconds * 1000);
    const jurisdiction = String(data.get("jurisdiction") || "").trim().toUpperCase();
    return { seconds, from: from.toISOString(), to: to.toISOString(), jurisdiction, source: String(data.get("source") || "") };
  }

  async function windowSeconds(brand, r) {
    if (state.window) return state.window;
    const probe = await getJson(`brands/${encodeURIComponent(brand)}/timeline?${query({ from: new Date(Date.parse(r.to) - 3600000).toISOString(), to: r.to })}`);
    state.window = probe.step;
    return state.window;
  }

  async function reputationRules() {
    if (state.ruleIds || !ctx.canReview()) return state.ruleIds;
    const catalog = await getJson("policies");
    const tagged = catalog.rules.filter((rule) => rule.tags.some((tag) => ["reputation", "brand"].includes(tag)));
    state.ruleIds = [...WINDOW_RULES, ...tagged.map((rule) => rule.id)];
    return state.ruleIds;
  }

  async function brandAlerts(r) {
    // Comms is scoped to these alerts by the API itself; other roles ask for them by rule.
    const rules = await reputationRules();
    const params = { since: r.from, jurisdiction: r.jurisdiction, source: r.source, limit: 200, rule: rules || undefined };
    return (await getJson(`alerts?${query(params)}`)).data;
  }

  function alertTable(alerts) {
    const body = $("brand-alerts").tBodies[0];
    body.replaceChildren(...alerts.map((alert) => {
      const row = el("tr");
      row.dataset.id = alert.id;
      const cellOf = (child) => { const td = el("td"); td.append(child); return td; };
      const open = el("button", alert.rule_title, "link");
      open.type = "button";
      open.addEventListener("click", () => openDetail(alert.id, { returnFocus: open }));
      row.append(cellOf(timeEl(alert.created_at)), cellOf(severityBadge(alert.severity)), cellOf(open),
        el("td", alert.jurisdiction), el("td", words(alert.status)));
      return row;
    }));
    $("brand-alerts-empty").hidden = alerts.length > 0;
  }

  function brandCard(brand, timeline, themes, alerts) {
    const card = el("article", null, "card brand");
    card.dataset.brand = brand;
    const title = el("h3", brand);
    title.id = `brand-${brand.replace(/\W+/g, "-")}`;
    card.setAttribute("aria-labelledby", title.id);
    const points = timeline.points.map((p) => ({ x: new Date(p.start), volume: p.volume, negative: p.negative_share }));
    const markers = alerts.filter((a) => alertBrand(a, [brand])).map((a) => ({
      x: new Date(a.post_created_at),
      label: a.rule_title,
      kind: a.rule_id.includes("crisis") ? "crisis" : "spike",
    }));
    const total = points.reduce((sum, p) => sum + p.volume, 0);
    card.append(title, el("p", `${total} posts naming ${brand}; ${markers.length} spike or crisis alert(s) marked ▼`, "muted small"));
    const charts = el("div", null, "chart-row");
    charts.append(
      lineChart({ title: `${brand}: volume (posts per ${stepText(timeline.step)})`, points: points.map((p) => ({ x: p.x, y: p.volume })), markers, format: count }),
      lineChart({ title: `${brand}: negative share of scored posts`, points: points.map((p) => ({ x: p.x, y: p.negative })), markers, format: percent, yMin: 0, yMax: 1 }),
    );
    card.append(charts);
    const themeBlock = el("div", null, "themes");
    themeBlock.append(el("h4", `Themes of ${themes.negative_posts} negative posts`));
    if (themes.themes.length) {
      themeBlock.append(barChart({ title: "Most frequent words", items: themes.themes.map((t) => ({ label: t.term, value: t.posts })), format: (v) => `${v} posts` }));
    } else {
      themeBlock.append(el("p", `No word used by ${themes.min_posts} or more negative posts.`, "muted small"));
    }
    card.append(themeBlock);
    return card;
  }

  async function load() {
    const generation = ++state.generation;
    const r = range();
    const window = { from: r.from, to: r.to, jurisdiction: r.jurisdiction, source: r.source };
    try {
      const share = await getJson(`brands/share-of-voice?${query(window)}`);
      const brands = share.brands.map((b) => b.brand);
      $("share-of-voice").replaceChildren(barChart({
        title: `Mentions per brand (${share.total} in all)`,
        items: share.brands.map((b) => ({ label: b.brand, value: b.volume })),
        format: (v) => `${v} (${share.total ? Math.round((100 * v) / share.total) : 0}%)`,
      }));
      const alerts = await brandAlerts(r);
      const cards = [];
      if (brands.length) {
        const size = await windowSeconds(brands[0], r);
        const step = NICE_STEPS.find((s) => s % size === 0 && r.seconds / s <= MAX_POINTS)
          || size * Math.ceil(r.seconds / size / MAX_POINTS);
        for (const brand of brands) {
          const name = encodeURIComponent(brand);
          const [timeline, themes] = await Promise.all([
            getJson(`brands/${name}/timeline?${query({ ...window, step })}`),
            getJson(`brands/${name}/themes?${query({ ...window, limit: 12 })}`),
          ]);
          cards.push(brandCard(brand, timeline, themes, alerts));
        }
      }
      if (generation !== state.generation) return;
      $("brands").replaceChildren(...cards);
      alertTable(alerts);
      showError("");
    } catch (error) {
      if (generation === state.generation) showError(`Could not load e-reputation: ${error.message}`);
    }
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); load(); });
  form.elements.range.addEventListener("change", load);
  form.elements.source.addEventListener("change", load);
  return { show: load };
}
