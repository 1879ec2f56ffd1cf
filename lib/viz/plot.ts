// Charts. A chart is a plotly figure; each display carries three forms of it
// (chartBundle): plotly JSON in plotly.js 3's form, interactive where a viewer
// renders it; a PNG of the SVG drawn here, for every other viewer; and a line
// of text. Files get the SVG, the PNG, or a standalone HTML page that embeds
// plotly.js and works offline.
import { readFileSync } from "node:fs";
import { LiveDisplay, type MimeBundle, escapeHtml, inKernel, show } from "./display";
import { svgImageBundle, svgToPng } from "./images";

export interface Trace {
  type?: "scatter" | "bar";
  x: (number | string)[];
  y: number[];
  name?: string;
  mode?: "lines" | "markers" | "lines+markers";
}

export interface Axis {
  title?: string;
  range?: [number, number];
  /** Whole numbers only (epochs, steps): no tick at 1.5. */
  integer?: boolean;
}

/** A chart as lib/ builds it: titles as plain strings; plotlyFigure turns it into plotly.js 3's form. */
export interface Figure {
  data: Trace[];
  layout?: { title?: string; xaxis?: Axis; yaxis?: Axis; width?: number; height?: number };
}

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/** The step niceTicks uses: 1, 2 or 5 times a power of ten, at least 1 for whole-number axes. */
export function niceStep(min: number, max: number, count = 5, integer = false): number {
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Round numbers for axis ticks: about `count` steps of 1, 2 or 5 times a power of ten (whole numbers with `integer`). */
export function niceTicks(min: number, max: number, count = 5, integer = false): number[] {
  if (!(max > min)) return [min];
  const step = niceStep(min, max, count, integer);
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
  // The legend sits in the right margin, beside the plot area, never on the data.
  const named = traces.filter((t) => t.name);
  const legendWidth = named.length ? 28 + 6.5 * Math.max(...named.map((t) => t.name!.length)) : 0;
  const m = { l: 64, r: 16 + legendWidth, t: fig.layout?.title ? 36 : 16, b: categorical ? 84 : 48 };
  const categories = categorical ? [...new Set(traces.flatMap((t) => t.x.map(String)))] : [];
  const ys = traces.flatMap((t) => t.y).filter(Number.isFinite);
  const [y0, yTop] = fig.layout?.yaxis?.range ?? [Math.min(0, ...ys), Math.max(...ys, 0)];
  let y1 = yTop;
  if (y1 === y0) y1 = y0 + 1;
  if (!fig.layout?.yaxis?.range) y1 += (y1 - y0) * 0.05; // headroom above the highest point
  const xs = categorical ? [] : traces.flatMap((t) => t.x as number[]);
  const [x0, x1] = categorical
    ? [0, categories.length]
    : [Math.min(...xs), Math.max(...xs) === Math.min(...xs) ? Math.min(...xs) + 1 : Math.max(...xs)];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (fig.layout?.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">${escapeHtml(fig.layout.title)}</text>`);
  for (const t of niceTicks(y0, y1, 5, fig.layout?.yaxis?.integer)) {
    parts.push(
      `<line x1="${m.l}" x2="${W - m.r}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
  }
  if (categorical) {
    const band = (W - m.l - m.r) / Math.max(1, categories.length);
    const bars = traces.filter((t) => t.type === "bar");
    const step = Math.max(1, Math.ceil(categories.length / 20));
    categories.forEach((c, i) => {
      if (i % step === 0)
        parts.push(
          `<text x="${m.l + (i + 0.5) * band}" y="${H - m.b + 14}" text-anchor="end" transform="rotate(-35 ${m.l + (i + 0.5) * band} ${H - m.b + 14})">${escapeHtml(c)}</text>`,
        );
    });
    bars.forEach((t, k) => {
      const w = (band * 0.8) / bars.length;
      t.x.forEach((x, j) => {
        const i = categories.indexOf(String(x));
        const y = t.y[j];
        const top = py(Math.max(0, y));
        parts.push(
          `<rect x="${m.l + i * band + band * 0.1 + k * w}" y="${top}" width="${w}" height="${Math.abs(py(0) - py(y))}" fill="${PALETTE[k % PALETTE.length]}"><title>${escapeHtml(`${x}: ${y}`)}</title></rect>`,
        );
      });
    });
  } else {
    for (const t of niceTicks(x0, x1, 5, fig.layout?.xaxis?.integer))
      parts.push(`<text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  traces
    .filter((t) => t.type !== "bar")
    .forEach((t, k) => {
      const colour = PALETTE[(k + traces.filter((u) => u.type === "bar").length) % PALETTE.length];
      const X = (x: number | string) =>
        categorical ? m.l + (categories.indexOf(String(x)) + 0.5) * ((W - m.l - m.r) / categories.length) : px(Number(x));
      const pts = t.x.map((x, j) => (Number.isFinite(t.y[j]) ? `${X(x).toFixed(1)},${py(t.y[j]).toFixed(1)}` : "")).filter(Boolean);
      if ((t.mode ?? "lines") !== "markers")
        parts.push(`<polyline points="${pts.join(" ")}" fill="none" stroke="${colour}" stroke-width="2"/>`);
      if ((t.mode ?? "lines").includes("markers"))
        for (const p of pts) parts.push(`<circle cx="${p.split(",")[0]}" cy="${p.split(",")[1]}" r="3" fill="${colour}"/>`);
    });
  parts.push(
    `<line x1="${m.l}" x2="${W - m.r}" y1="${py(y0)}" y2="${py(y0)}" stroke="#444"/>`,
    `<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" stroke="#444"/>`,
  );
  if (fig.layout?.xaxis?.title)
    parts.push(
      `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${escapeHtml(fig.layout.xaxis.title)}</text>`,
    );
  if (fig.layout?.yaxis?.title)
    parts.push(
      `<text x="14" y="${(m.t + H - m.b) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(m.t + H - m.b) / 2})">${escapeHtml(fig.layout.yaxis.title)}</text>`,
    );
  named.forEach((t, k) => {
    const colour = PALETTE[traces.indexOf(t) % PALETTE.length];
    const x = W - m.r + 12;
    parts.push(
      `<rect x="${x}" y="${m.t + 4 + k * 16}" width="10" height="10" fill="${colour}"/>`,
      `<text x="${x + 14}" y="${m.t + 13 + k * 16}">${escapeHtml(t.name!)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("");
}

/**
 * The figure in plotly.js 3's form: titles are { text } objects (plotly.js 3
 * dropped plain-string titles: https://github.com/plotly/plotly.js/releases/tag/v3.0.0
 * and plotly/plotly.js#7177),
 * whole-number axes tick at whole numbers, and the legend stays outside the plot area.
 */
export function plotlyFigure(fig: Figure): { data: Trace[]; layout: Record<string, unknown> } {
  const l = fig.layout ?? {};
  const axis = (a: Axis | undefined, values: number[]) => {
    if (!a) return undefined;
    const out: Record<string, unknown> = {};
    if (a.title !== undefined) out.title = { text: a.title };
    if (a.range) out.range = a.range;
    if (a.integer) {
      const finite = values.filter(Number.isFinite);
      out.tickformat = "d";
      if (finite.length) Object.assign(out, { tick0: 0, dtick: niceStep(Math.min(...finite), Math.max(...finite), 5, true) });
    }
    return out;
  };
  const layout: Record<string, unknown> = { legend: { x: 1.02, xanchor: "left", y: 1, yanchor: "top" } };
  if (l.title !== undefined) layout.title = { text: l.title };
  const xaxis = axis(
    l.xaxis,
    fig.data.flatMap((t) => t.x.filter((x): x is number => typeof x === "number")),
  );
  const yaxis = axis(
    l.yaxis,
    fig.data.flatMap((t) => t.y),
  );
  if (xaxis) layout.xaxis = xaxis;
  if (yaxis) layout.yaxis = yaxis;
  if (l.width !== undefined) layout.width = l.width;
  if (l.height !== undefined) layout.height = l.height;
  return { data: fig.data, layout };
}

/** PNGs are drawn at twice the chart's size and shown at its size (the bundle's metadata), so they stay sharp on dense screens. */
const PNG_DENSITY = 2;

export async function plotPng(fig: Figure, density = 1): Promise<Buffer> {
  return svgToPng(svgChart(fig), density);
}

/**
 * A chart's MIME bundle and its metadata. Which viewer shows which part:
 * - application/vnd.plotly.v1+json: JupyterLab with plotly's extension, which
 *   `pip install plotly` brings (https://plotly.com/python/getting-started/,
 *   "JupyterLab Support"); VS Code, whose Jupyter Notebook Renderers extension
 *   lists plotly among its mime types
 *   (https://marketplace.visualstudio.com/items?itemName=ms-toolsai.jupyter-renderers);
 * - image/png: every Jupyter front end, nbconvert's HTML (all versions: its
 *   templates' data_png block), and GitHub's preview, which runs no scripts
 *   (https://docs.github.com/en/repositories/working-with-files/using-files/working-with-non-code-files#working-with-jupyter-notebook-files). An image is kept in untrusted notebooks, where classic
 *   Notebook drops SVG and HTML styles (notebook's outputarea.js renders only
 *   its "safe" types, text and PNG/JPEG, untrusted), and nbconvert 6.5's HTML
 *   empties inline <svg>; so no image/svg+xml here (nbconvert would prefer it);
 * - text/plain: the CLI, logs, and viewers without images.
 * The PNG's width and height metadata (nbformat's output metadata, read by
 * JupyterLab, classic Notebook and nbconvert) show the 2x image at the chart's size.
 */
export async function chartBundle(fig: Figure, description: string): Promise<{ bundle: MimeBundle; metadata: Record<string, unknown> }> {
  const { bundle, metadata } = await svgImageBundle(svgChart(fig), description, PNG_DENSITY);
  return { bundle: { "application/vnd.plotly.v1+json": plotlyFigure(fig), ...bundle }, metadata };
}

/** Shows a chart in a notebook (plotly where a viewer has it, the PNG elsewhere); prints `description` outside one. Await it: the image is drawn first. */
export async function showPlot(fig: Figure, description: string): Promise<void> {
  if (!inKernel()) return show({ "text/plain": description });
  const { bundle, metadata } = await chartBundle(fig, description);
  show(bundle, metadata);
}

/**
 * JSON to embed in an inline <script>: `<` (and `>`, `&`) as \u escapes, which
 * mean the same in JavaScript, so a trace name such as "</script><script>..."
 * cannot end the script and start another.
 */
export function jsonInScript(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** A self-contained interactive page (plotly.js embedded): opens offline in any browser. */
export function plotHtmlPage(figures: Figure[], title: string): string {
  // An inline script ends at the first "</script"; plotly's source contains none today, but escape it anyway.
  const plotly = readFileSync(require.resolve("plotly.js-dist-min"), "utf8").replace(/<\/script/gi, "<\\/script");
  const divs = figures.map((_, i) => `<div id="fig${i}" style="max-width:900px"></div>`).join("\n");
  const calls = figures
    .map((f, i) => `Plotly.newPlot("fig${i}", ${jsonInScript(f.data)}, ${jsonInScript(plotlyFigure(f).layout)});`)
    .join("\n");
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
  if (!range)
    for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) [lo, hi] = [Math.min(lo, values[i]), Math.max(hi, values[i])];
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

/**
 * A chart that redraws in place, e.g. training curves while they grow. Updates
 * are drawn in order; await update (or flushed) before the cell ends, so the
 * last picture reaches the notebook.
 */
export class LivePlot {
  private readonly display: LiveDisplay;
  private drawn: Promise<void> = Promise.resolve();
  constructor(log?: (text: string) => void) {
    this.display = new LiveDisplay(log);
  }
  update(fig: Figure, description: string): Promise<void> {
    if (!inKernel()) {
      this.display.update({ "text/plain": description });
      return Promise.resolve();
    }
    // A copy: callers keep pushing into the arrays they passed while the PNG is drawn.
    const copy = structuredClone(fig);
    this.drawn = this.drawn.then(async () => {
      const { bundle, metadata } = await chartBundle(copy, description);
      this.display.update(bundle, metadata);
    });
    // One failed drawing is reported, and the next update still draws (callers do not await each update).
    this.drawn = this.drawn.catch((err: unknown) => console.error(`LivePlot: could not draw "${description}": ${(err as Error).message}`));
    return this.drawn;
  }
  /** Resolves when every update so far is shown. */
  flushed(): Promise<void> {
    return this.drawn;
  }
}
