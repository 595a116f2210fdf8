// Charts drawn as SVG from the API's numbers, with no library: a ranking as horizontal bars and a timeline as stacked
// columns. Each chart is an image with a text alternative, and the same numbers follow it as a table.

import { h, visible } from "./ui.js";

const SVG = "http://www.w3.org/2000/svg";

function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, name === "aria-label" ? visible(value) : String(value));
  }
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(visible(child)));
  return element;
}

function niceMax(value) {
  if (value <= 5) return Math.max(value, 1);
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return value;
}

function shorten(text, length) {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text;
}

// A ranking: one bar per item ({ label, value }), largest first as given.
// The width a chart is drawn at: the screen's, within bounds, so that its text stays readable on a phone.
function drawingWidth(widest) {
  return Math.round(Math.min(widest, Math.max(300, document.documentElement.clientWidth - 56)));
}

export function barChart(title, items, unit) {
  const rowHeight = 28;
  const width = drawingWidth(640);
  const narrow = width < 480;
  const labelWidth = narrow ? 118 : 190;
  const height = items.length * rowHeight + 8;
  const max = niceMax(Math.max(0, ...items.map((i) => i.value)));
  const plot = width - labelWidth - 56;
  const description = items.map((i) => `${i.label}: ${i.value} ${unit}`).join("; ");
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `${title}. ${description || "no data"}`,
      class: "chart bar-chart",
      preserveAspectRatio: "xMinYMin meet",
    },
    s("title", {}, title),
  );
  items.forEach((item, index) => {
    const y = index * rowHeight + 4;
    const length = max ? (item.value / max) * plot : 0;
    svg.append(
      s("text", { x: labelWidth - 8, y: y + rowHeight / 2, class: "chart-label", "text-anchor": "end", "dominant-baseline": "middle" },
        shorten(item.label, narrow ? 14 : 26)),
      s("rect", { x: labelWidth, y: y + 4, width: Math.max(length, 1), height: rowHeight - 10, rx: 3, class: "bar",
        "data-value": item.value }),
      s("text", { x: labelWidth + length + 6, y: y + rowHeight / 2, class: "chart-value", "dominant-baseline": "middle" },
        item.value),
    );
  });
  return h("figure", { class: "chart-figure" }, svg, h("figcaption", {}, title));
}

// A timeline: one stacked column per bucket ({ label, values: { series: n } }), series drawn in the given order.
export function columnChart(title, buckets, series) {
  const width = drawingWidth(720);
  const height = 240;
  const left = 40;
  const bottom = 28;
  const top = 10;
  const plotHeight = height - bottom - top;
  const totals = buckets.map((b) => series.reduce((sum, one) => sum + (b.values[one.key] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const step = (width - left - 8) / Math.max(buckets.length, 1);
  const column = Math.max(Math.min(step * 0.7, 28), 2);
  const description = buckets
    .map((b, i) => `${b.label}: ${totals[i]} (${series.map((one) => `${b.values[one.key] || 0} ${one.label}`).join(", ")})`)
    .join("; ");
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      role: "img",
      "aria-label": `${title}. ${description || "no data"}`,
      class: "chart column-chart",
      preserveAspectRatio: "xMinYMin meet",
    },
    s("title", {}, title),
  );
  // whole-number ticks only: 0, the middle when it is whole, the top
  for (const fraction of [0, 0.5, 1].filter((f) => Number.isInteger(max * f))) {
    const y = top + plotHeight - fraction * plotHeight;
    svg.append(
      s("line", { x1: left, x2: width - 4, y1: y, y2: y, class: "grid" }),
      s("text", { x: left - 6, y, class: "chart-axis", "text-anchor": "end", "dominant-baseline": "middle" },
        max * fraction),
    );
  }
  const labelEvery = Math.ceil(buckets.length / (width < 480 ? 4 : 8));
  buckets.forEach((bucket, index) => {
    const x = left + index * step + (step - column) / 2;
    let y = top + plotHeight;
    series.forEach((one, position) => {
      const value = bucket.values[one.key] || 0;
      if (!value) return;
      const size = (value / max) * plotHeight;
      y -= size;
      svg.append(s("rect", { x, y, width: column, height: size, class: `series-${position}`, "data-value": value },
        s("title", {}, `${bucket.label}: ${value} ${one.label}`)));
    });
    if (index % labelEvery === 0) {
      svg.append(s("text", { x: x + column / 2, y: height - 8, class: "chart-axis", "text-anchor": "middle" }, bucket.label));
    }
  });
  const legend = h(
    "ul",
    { class: "legend" },
    series.map((one, position) => h("li", {}, h("span", { class: `swatch series-${position}`, "aria-hidden": "true" }), one.label)),
  );
  return h("figure", { class: "chart-figure" }, svg, legend, h("figcaption", {}, title));
}
