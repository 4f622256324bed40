// Overview (officer, admin; ops gets the counts it may read): open alerts by severity and
// jurisdiction, alerts over time, review times, per-rule precision, false positives, and the oldest
// open critical alert (officer and admin only: ops may not read alerts).

import { getJson, query } from "./api.js";
import { $, duration, el, showError, timeEl } from "./dom.js";
import { barChart, lineChart } from "./charts.js";

const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const CARD = 420; // about a card's width on a laptop screen

function card(title, ...children) {
  const node = el("article", null, "card");
  const heading = el("h3", title);
  heading.id = `overview-${title.toLowerCase().replace(/\W+/g, "-")}`;
  node.setAttribute("aria-labelledby", heading.id);
  node.append(heading, ...children);
  return node;
}

function table(headers, rows, className = "") {
  const node = el("table", null, `compact ${className}`);
  const head = el("tr");
  for (const h of headers) { const th = el("th", h); th.scope = "col"; head.append(th); }
  node.createTHead().append(head);
  const body = node.createTBody();
  for (const cells of rows) {
    const tr = el("tr");
    for (const value of cells) tr.append(el("td", value));
    body.append(tr);
  }
  return node;
}

// The API leaves empty buckets out: put them back so the line shows quiet days as zero.
function filled(series, bucket, from, to) {
  const size = bucket === "hour" ? 3600000 : 86400000;
  const totals = new Map(series.map((b) => [Date.parse(b.start), Object.values(b.counts).reduce((s, n) => s + n, 0)]));
  const start = Math.floor(Date.parse(from) / size) * size;
  const points = [];
  for (let t = start; t < Date.parse(to); t += size) points.push({ x: new Date(t), y: totals.get(t) || 0 });
  return points;
}

export function mountOverview(ctx) {
  const form = $("overview-filters");
  let generation = 0;

  async function load() {
    const mine = ++generation;
    const seconds = Number(new FormData(form).get("range"));
    const to = new Date().toISOString();
    const since = new Date(Date.now() - seconds * 1000).toISOString();
    const bucket = seconds <= 86400 ? "hour" : "day";
    try {
      const [bySeverity, byJurisdiction, series, times, precision, falsePositives] = await Promise.all([
        getJson(`analytics/counts?${query({ by: "severity", status: "open" })}`),
        getJson(`analytics/counts?${query({ by: "jurisdiction", status: "open" })}`),
        getJson(`analytics/timeseries?${query({ by: "severity", bucket, since })}`),
        getJson(`analytics/review-times?${query({ since })}`),
        getJson(`analytics/precision?${query({ since })}`),
        getJson(`analytics/false-positives?${query({ since, top: 5 })}`),
      ]);
      const cards = [
        card("Open alerts by severity", el("p", `${bySeverity.total} open`, "big"),
          barChart({ width: CARD, title: "Open alerts per severity", items: SEVERITIES.map((s) => ({ label: s, value: bySeverity.counts[s] || 0 })) })),
        card("Open alerts by jurisdiction",
          barChart({ width: CARD, title: "Open alerts per jurisdiction", items: Object.entries(byJurisdiction.counts).sort((a, b) => b[1] - a[1]).map(([label, value]) => ({ label, value })) })),
        card("Alerts over time",
          lineChart({ width: CARD, title: `New alerts per ${bucket}`, points: filled(series.series, bucket, since, to), format: (v) => String(Math.round(v)) })),
        card("Review times",
          table(["", "reviewed", "median", "90th pct."], [
            ["to acknowledge", times.time_to_acknowledge.count, duration(times.time_to_acknowledge.median_seconds), duration(times.time_to_acknowledge.p90_seconds)],
            ["to close", times.time_to_close.count, duration(times.time_to_close.median_seconds), duration(times.time_to_close.p90_seconds)],
          ])),
        card("Precision per rule",
          precision.rules.length
            ? table(["rule", "closed", "true +", "false +", "precision"], precision.rules.map((r) => [r.rule_id, r.closed_with_verdict, r.true_positive, r.false_positive, `${Math.round(r.precision * 100)}%`]), "rules")
            : el("p", "No alert closed with a verdict in this range.", "muted")),
        card("Most false positives",
          falsePositives.rules.length
            ? table(["rule", "false positives", "precision"], falsePositives.rules.map((r) => [r.rule_id, r.false_positive, `${Math.round(r.precision * 100)}%`]), "rules")
            : el("p", "No false positive in this range.", "muted")),
      ];
      if (ctx.canReview()) cards.splice(2, 0, await oldestCritical());
      if (mine !== generation) return;
      $("overview").replaceChildren(...cards);
      showError("");
    } catch (error) {
      if (mine === generation) showError(`Could not load the overview: ${error.message}`);
    }
  }

  async function oldestCritical() {
    const page = await getJson(`alerts?${query({ status: "open", severity: "critical", order: "oldest", limit: 1 })}`);
    const alert = page.data[0];
    if (!alert) return card("Oldest open critical alert", el("p", "No open critical alert.", "muted"));
    const link = el("a", alert.rule_title);
    link.href = `?${query({ view: "queue", status: "open", severity: "critical", order: "oldest" })}`;
    const age = duration((Date.now() - Date.parse(alert.created_at)) / 1000);
    const since = el("p", "open since ");
    since.append(timeEl(alert.created_at), ` (${age}), ${alert.jurisdiction}`);
    return card("Oldest open critical alert", el("p", `${age} old`, "big"), link, since,
      el("p", `${page.count} open critical alert${page.count === 1 ? "" : "s"} in all`, "muted small"));
  }

  form.elements.range.addEventListener("change", load);
  return { show: load };
}
