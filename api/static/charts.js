// Hand-drawn SVG charts: smaller than any chart library, no third-party code, works offline.
// Each chart is a <figure> whose SVG has a text alternative, and each data point a <title>.

const SVG = "http://www.w3.org/2000/svg";
// The viewBox width: pick it close to the width the chart gets on screen, so that text keeps its size.
const WIDTH = 640;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function figure(title, description, chart) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  chart.setAttribute("role", "img");
  chart.setAttribute("aria-label", `${title}: ${description}`);
  fig.append(caption, chart);
  return fig;
}

function shortTime(date, spanMs) {
  return spanMs > 2 * 86400000
    ? date.toLocaleDateString(undefined, { month: "short", day: "numeric" })
    : date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

// points: [{x: Date, y: number|null}]; markers: [{x: Date, label, kind}] drawn as vertical lines.
export function lineChart({ title, points, markers = [], format = (v) => String(v), yMin, yMax, height = 190, width = WIDTH }) {
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "line-chart" });
  const values = points.filter((p) => p.y !== null && p.y !== undefined).map((p) => p.y);
  const low = yMin ?? Math.min(0, ...values);
  let high = yMax ?? Math.max(1, ...values);
  if (high === low) high = low + 1;
  const x0 = points.length ? points[0].x.getTime() : 0;
  const x1 = points.length ? points[points.length - 1].x.getTime() : 1;
  const span = Math.max(x1 - x0, 1);
  const innerW = width - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const sx = (t) => PAD.left + ((t - x0) / span) * innerW;
  const sy = (v) => PAD.top + innerH - ((v - low) / (high - low)) * innerH;

  for (const tick of [low, (low + high) / 2, high]) {
    chart.append(svg("line", { x1: PAD.left, x2: width - PAD.right, y1: sy(tick), y2: sy(tick), class: "grid" }));
    chart.append(svg("text", { x: PAD.left - 6, y: sy(tick) + 4, class: "axis", "text-anchor": "end" }, format(tick)));
  }
  const ticks = Math.min(5, points.length);
  for (let i = 0; i < ticks; i++) {
    const t = x0 + (span * i) / Math.max(ticks - 1, 1);
    const anchor = i === 0 ? "start" : i === ticks - 1 ? "end" : "middle";
    chart.append(svg("text", { x: sx(t), y: height - 8, class: "axis", "text-anchor": anchor }, shortTime(new Date(t), span)));
  }

  let path = "";
  let pen = false;
  for (const p of points) {
    if (p.y === null || p.y === undefined) { pen = false; continue; }
    path += `${pen ? "L" : "M"}${sx(p.x.getTime()).toFixed(1)},${sy(p.y).toFixed(1)}`;
    pen = true;
  }
  chart.append(svg("path", { d: path, class: "series" }));
  for (const p of points) {
    if (p.y === null || p.y === undefined) continue;
    const dot = svg("circle", { cx: sx(p.x.getTime()), cy: sy(p.y), r: 2.6, class: "point" });
    dot.append(svg("title", {}, `${p.x.toLocaleString()} (${p.x.toISOString()}): ${format(p.y)}`));
    chart.append(dot);
  }
  for (const m of markers) {
    const t = m.x.getTime();
    if (t < x0 || t > x1) continue;
    const group = svg("g", { class: `marker marker-${m.kind}` });
    group.append(svg("line", { x1: sx(t), x2: sx(t), y1: PAD.top, y2: PAD.top + innerH }));
    group.append(svg("path", { d: `M${sx(t) - 5},${PAD.top} L${sx(t) + 5},${PAD.top} L${sx(t)},${PAD.top + 8} Z` }));
    group.append(svg("title", {}, `${m.label} — ${m.x.toLocaleString()} (${m.x.toISOString()})`));
    chart.append(group);
  }
  const described = values.length
    ? `${values.length} points from ${format(Math.min(...values))} to ${format(Math.max(...values))}` +
      (markers.length ? `, ${markers.length} alert marker(s)` : "")
    : "no data in this range";
  return figure(title, described, chart);
}

// items: [{label, value}] as horizontal bars, largest scale = the biggest value.
export function barChart({ title, items, format = (v) => String(v), width = WIDTH }) {
  const row = 26;
  const height = Math.max(row * items.length + 8, 34);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "bar-chart" });
  const labelW = Math.min(150, width / 4);
  const max = Math.max(1, ...items.map((i) => i.value || 0));
  items.forEach((item, i) => {
    const y = 4 + i * row;
    const w = ((item.value || 0) / max) * (width - labelW - 90);
    chart.append(svg("text", { x: labelW - 8, y: y + 16, class: "axis label", "text-anchor": "end" }, item.label));
    const bar = svg("rect", { x: labelW, y: y + 3, width: Math.max(w, 1), height: row - 8, class: "bar point" });
    bar.append(svg("title", {}, `${item.label}: ${format(item.value)}`));
    chart.append(bar);
    chart.append(svg("text", { x: labelW + w + 6, y: y + 16, class: "axis" }, format(item.value)));
  });
  if (!items.length) chart.append(svg("text", { x: 8, y: 20, class: "axis" }, "no data"));
  const described = items.map((i) => `${i.label} ${format(i.value)}`).join(", ") || "no data";
  return figure(title, described, chart);
}
