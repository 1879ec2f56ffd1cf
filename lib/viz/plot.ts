// Charts. A chart is a plotly figure; each display carries three forms of it:
// plotly JSON (interactive where JupyterLab or VS Code has the plotly
// renderer), an SVG drawn here (everywhere else, and in saved notebooks), and
// a line of text. Files get the SVG, a PNG of it, or a standalone HTML page
// that embeds plotly.js and works offline.
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { LiveDisplay, escapeHtml, show } from "./display";

export interface Trace {
  type?: "scatter" | "bar";
  x: (number | string)[];
  y: number[];
  name?: string;
  mode?: "lines" | "markers" | "lines+markers";
}

export interface Figure {
  data: Trace[];
  layout?: { title?: string; xaxis?: { title?: string }; yaxis?: { title?: string; range?: [number, number] }; width?: number; height?: number };
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** Round numbers for axis ticks: about `count` steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

/** Draws line and bar charts as SVG (no browser needed). */
export function svgChart(fig: Figure): string {
  const W = fig.layout?.width ?? 640;
  const H = fig.layout?.height ?? 360;
  const traces = fig.data.filter((t) => t.x.length > 0);
  const categorical = traces.some((t) => t.type === "bar" || t.x.some((x) => typeof x === "string"));
  const m = { l: 64, r: 16, t: fig.layout?.title ? 36 : 16, b: categorical ? 84 : 48 };
  const categories = categorical ? [...new Set(traces.flatMap((t) => t.x.map(String)))] : [];
  const ys = traces.flatMap((t) => t.y).filter(Number.isFinite);
  let [y0, y1] = fig.layout?.yaxis?.range ?? [Math.min(0, ...ys), Math.max(...ys, 0)];
  if (y1 === y0) y1 = y0 + 1;
  if (!fig.layout?.yaxis?.range) y1 += (y1 - y0) * 0.05; // headroom above the highest point
  const xs = categorical ? [] : traces.flatMap((t) => t.x as number[]);
  const [x0, x1] = categorical ? [0, categories.length] : [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`, `<rect width="${W}" height="${H}" fill="white"/>`];
  if (fig.layout?.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escapeHtml(fig.layout.title)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`, `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  if (categorical) {
    const band = (W - m.l - m.r) / Math.max(1, categories.length);
    const bars = traces.filter((t) => t.type === "bar");
    const step = Math.max(1, Math.ceil(categories.length / 20));
    categories.forEach((c, i) => {
      if (i % step === 0) parts.push(`<text x="${m.l + (i + 0.5) * band}" y="${H - m.b + 14}" text-anchor="end" transform="rotate(-35 ${m.l + (i + 0.5) * band} ${H - m.b + 14})">${escapeHtml(c)}</text>`);
    });
    bars.forEach((t, k) => {
      const w = (band * 0.8) / bars.length;
      t.x.forEach((x, j) => {
        const i = categories.indexOf(String(x));
        const y = t.y[j];
        const top = py(Math.max(0, y));
        parts.push(`<rect x="${m.l + i * band + band * 0.1 + k * w}" y="${top}" width="${w}" height="${Math.abs(py(0) - py(y))}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeHtml(`${x}: ${y}`)}</title></rect>`);
      });
    });
  } else {
    for (const t of niceTicks(x0, x1)) parts.push(`<text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  traces
    .filter((t) => t.type !== "bar")
    .forEach((t, k) => {
      const colour = PALETTE[(k + traces.filter((u) => u.type === "bar").length) % PALETTE.length];
      const X = (x: number | string) => (categorical ? m.l + (categories.indexOf(String(x)) + 0.5) * ((W - m.l - m.r) / categories.length) : px(Number(x)));
      const pts = t.x.map((x, j) => (Number.isFinite(t.y[j]) ? `${X(x).toFixed(1)},${py(t.y[j]).toFixed(1)}` : "")).filter(Boolean);
      if ((t.mode ?? "lines") !== "markers") parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      if ((t.mode ?? "lines").includes("markers")) for (const p of pts) parts.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${colour}"/>`);
    });
  parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(y0)}" y2="${py(y0)}" stroke="#444"/>`, `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#444"/>`);
  if (fig.layout?.xaxis?.title) parts.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${escapeHtml(fig.layout.xaxis.title)}</text>`);
  if (fig.layout?.yaxis?.title) parts.push(`<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${escapeHtml(fig.layout.yaxis.title)}</text>`);
  const named = traces.filter((t) => t.name);
  named.forEach((t, k) => {
    const colour = PALETTE[traces.indexOf(t) % PALETTE.length];
    parts.push(`<rect x="${W - m.r - 150}" y="${m.t + 4 + k * 16}" width="10" height="10" fill="${colour}"/>`, `<text x="${W - m.r - 136}" y="${m.t + 13 + k * 16}">${escapeHtml(t.name!)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

/** Shows a chart in a notebook (plotly where available, SVG otherwise); prints `description` elsewhere. */
export function showPlot(fig: Figure, description: string): void {
  show({ "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {} }, "image/svg+xml": svgChart(fig), "text/plain": description });
}

export async function plotPng(fig: Figure): Promise<Buffer> {
  return sharp(Buffer.from(svgChart(fig))).png().toBuffer();
}

/** A self-contained interactive page (plotly.js embedded): opens offline in any browser. */
export function plotHtmlPage(figures: Figure[], title: string): string {
  // An inline script ends at the first "</script"; plotly's source contains none today, but escape it anyway.
  const plotly = readFileSync(require.resolve("plotly.js-dist-min"), "utf8").replace(/<\/script/gi, "<\\/script");
  const divs = figures.map((_, i) => `<div id="fig${i}" style="max-width:900px"></div>`).join("\n");
  const calls = figures.map((f, i) => `Plotly.newPlot("fig${i}", ${JSON.stringify(f.data)}, ${JSON.stringify(f.layout ?? {})});`).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><script>${plotly}</script></head><body><h1>${escapeHtml(title)}</h1>\n${divs}\n<script>${calls}</script></body></html>\n`;
}

export interface Histogram {
  /** bins + 1 edges, from the low end of the first bin to the high end of the last. */
  edges: number[];
  counts: number[];
}

/** Counts values into `bins` equal bins over [min, max] (the data's range by default); values outside are left out. */
export function histogram(values: ArrayLike<number>, bins = 20, range?: [number, number]): Histogram {
  let [lo, hi] = range ?? [Infinity, -Infinity];
  if (!range) for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
  if (!(hi > lo)) hi = lo + 1;
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!(v >= lo && v <= hi)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => lo + i * width), counts };
}

/** A histogram as a bar chart figure, bins labelled by their centres. */
export function histogramFigure(h: Histogram, title: string, xTitle: string, digits = 2): Figure {
  const centres = h.counts.map((_, i) => ((h.edges[i] + h.edges[i + 1]) / 2).toFixed(digits));
  return { data: [{ type: "bar", x: centres, y: h.counts }], layout: { title, xaxis: { title: xTitle }, yaxis: { title: "count" } } };
}

/** A chart that redraws in place, e.g. training curves while they grow. */
export class LivePlot {
  private readonly display: LiveDisplay;
  constructor(log?: (text: string) => void) {
    this.display = new LiveDisplay(log);
  }
  update(fig: Figure, description: string): void {
    this.display.update({ "application/vnd.plotly.v1+json": { data: fig.data, layout: fig.layout ?? {} }, "image/svg+xml": svgChart(fig), "text/plain": description });
  }
}
