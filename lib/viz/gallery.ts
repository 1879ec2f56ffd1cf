// The paper's qualitative figures: Figure 4 left (test images with their
// top-5 predictions as bars, the correct label's bar in red), Figure 4 right
// (a query image followed by the training images nearest to it in fc7
// space), and a confusion matrix. Notebooks get HTML or SVG; files get the
// same pictures as PNG (SVG rasterised by sharp, which embeds data: URI
// images) or a standalone HTML page.
import sharp from "sharp";
import { escapeHtml, inKernel, show, textTable } from "./display";
import { figureFormat, writeFigure } from "./files";
import { type RawImage, showSvg, svgImageBundle, svgToPng } from "./images";

const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
const BLUE = "#1f77b4";
const RED = "#d62728";
const TRACK = "#eeeeee";

/** An image as encoded bytes (PNG, JPEG, ... anything sharp reads) or raw 8-bit pixels. */
export type ImageInput = Buffer | RawImage;

/** A square PNG thumbnail: small images are enlarged pixel by pixel, large ones resampled. */
export async function thumbnailPng(image: ImageInput, size: number): Promise<Buffer> {
  const input = Buffer.isBuffer(image)
    ? sharp(image, { autoOrient: true })
    : sharp(Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength), {
        raw: { width: image.width, height: image.height, channels: image.channels ?? 3 },
      });
  const meta = Buffer.isBuffer(image) ? await sharp(image).metadata() : image;
  const enlarging = (meta.width ?? 0) < size && (meta.height ?? 0) < size;
  return input
    .resize(size, size, { fit: "contain", background: { r: 255, g: 255, b: 255 }, kernel: enlarging ? "nearest" : "lanczos3" })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .png()
    .toBuffer();
}

const dataUri = (png: Buffer) => `data:image/png;base64,${png.toString("base64")}`;

// ---------------------------------------------------------------------------
// Figure 4, left: predictions

export interface Prediction {
  label: string;
  /** Probability, 0..1. */
  p: number;
}

export interface PredictionItem {
  image: ImageInput;
  /** The top predictions, most probable first (five in the paper). */
  top: Prediction[];
  /** Marked red among the bars; leave it out for an image whose class is unknown (a photo of your own). */
  trueLabel?: string;
  caption?: string;
}

export interface PredictionOptions {
  /** Side of each image in pixels. Default 128. */
  imageSize?: number;
  /** Cards per row in the PNG. Default 4. */
  columns?: number;
  title?: string;
}

/** Whether the true label is among the shown predictions, and where. */
function truthRank(item: PredictionItem): number {
  return item.top.findIndex((t) => t.label === item.trueLabel);
}

const CARD_PAD = 8;
const BAR_ROW = 18;

function cardSize(item: PredictionItem, imageSize: number): { width: number; height: number } {
  return {
    width: Math.max(imageSize, 180) + 2 * CARD_PAD,
    height: CARD_PAD + imageSize + 20 + item.top.length * BAR_ROW + (truthRank(item) < 0 ? 16 : 0) + CARD_PAD,
  };
}

function clip(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/** One card as SVG elements at the origin: the image, its true label, and a bar per prediction. */
function cardElements(item: PredictionItem, png: Buffer, imageSize: number): string {
  const { width } = cardSize(item, imageSize);
  const inner = width - 2 * CARD_PAD;
  const rank = truthRank(item);
  const parts = [
    `<rect class="card" width="${width}" height="${cardSize(item, imageSize).height}" fill="white" stroke="#dddddd"/>`,
    `<image x="${(width - imageSize) / 2}" y="${CARD_PAD}" width="${imageSize}" height="${imageSize}" href="${dataUri(png)}"/>`,
    `<text x="${width / 2}" y="${CARD_PAD + imageSize + 14}" text-anchor="middle" font-weight="bold">${escapeHtml(clip(item.caption ?? item.trueLabel ?? "", 30))}</text>`,
  ];
  item.top.forEach((t, i) => {
    const y = CARD_PAD + imageSize + 20 + i * BAR_ROW;
    const isTrue = i === rank;
    parts.push(
      `<rect x="${CARD_PAD}" y="${y + 2}" width="${inner}" height="${BAR_ROW - 4}" fill="${TRACK}"/>`,
      `<rect class="bar${isTrue ? " true" : ""}" x="${CARD_PAD}" y="${y + 2}" width="${(Math.max(0, Math.min(1, t.p)) * inner).toFixed(1)}" height="${BAR_ROW - 4}" fill="${isTrue ? RED : BLUE}" fill-opacity="${isTrue ? 0.85 : 0.45}"><title>${escapeHtml(`${t.label}: ${t.p.toFixed(3)}`)}</title></rect>`,
      `<text x="${CARD_PAD + 3}" y="${y + 13}" font-size="10">${escapeHtml(clip(t.label, 26))}</text>`,
      `<text x="${width - CARD_PAD - 3}" y="${y + 13}" font-size="10" text-anchor="end">${(t.p * 100).toFixed(1)}%</text>`,
    );
  });
  if (rank < 0 && item.trueLabel !== undefined) {
    const y = CARD_PAD + imageSize + 20 + item.top.length * BAR_ROW + 12;
    parts.push(
      `<text class="missed" x="${CARD_PAD}" y="${y}" font-size="10" fill="${RED}">✗ ${escapeHtml(clip(item.trueLabel, 24))} not in top ${item.top.length}</text>`,
    );
  }
  return parts.join("");
}

/** One image with its predictions as an SVG: the true label's bar in red, a red note when it is missing. */
export async function predictionCardSvg(item: PredictionItem, options: PredictionOptions = {}): Promise<string> {
  const imageSize = options.imageSize ?? 128;
  const { width, height } = cardSize(item, imageSize);
  const png = await thumbnailPng(item.image, imageSize);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="11">${cardElements(item, png, imageSize)}</svg>`;
}

/** All cards in one SVG, `columns` to a row, with an optional title. */
export async function predictionGallerySvg(items: PredictionItem[], options: PredictionOptions = {}): Promise<string> {
  if (items.length === 0) throw new Error("predictionGallerySvg: no items");
  const imageSize = options.imageSize ?? 128;
  const columns = Math.max(1, Math.min(options.columns ?? 4, items.length));
  const sizes = items.map((it) => cardSize(it, imageSize));
  const cellW = Math.max(...sizes.map((s) => s.width));
  const rowH = Array.from({ length: Math.ceil(items.length / columns) }, (_, r) =>
    Math.max(...sizes.slice(r * columns, (r + 1) * columns).map((s) => s.height)),
  );
  const gap = 8;
  const top = options.title ? 30 : gap;
  const width = gap + columns * (cellW + gap);
  const height = top + rowH.reduce((a, b) => a + b + gap, 0);
  const pngs = await Promise.all(items.map((it) => thumbnailPng(it.image, imageSize)));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${width / 2}" y="20" text-anchor="middle" font-size="14">${escapeHtml(options.title)}</text>`);
  items.forEach((it, i) => {
    const r = Math.floor(i / columns);
    const y = top + rowH.slice(0, r).reduce((a, b) => a + b + gap, 0);
    parts.push(`<g transform="translate(${gap + (i % columns) * (cellW + gap)} ${y})">${cardElements(it, pngs[i], imageSize)}</g>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

/** The gallery as one PNG, for files. */
export async function predictionGalleryPng(items: PredictionItem[], options: PredictionOptions = {}): Promise<Buffer> {
  return svgToPng(await predictionGallerySvg(items, options));
}

/** The gallery as HTML for a notebook: inline PNGs and CSS bars (red: the true label). */
export async function predictionGalleryHtml(items: PredictionItem[], options: PredictionOptions = {}): Promise<string> {
  const imageSize = options.imageSize ?? 128;
  const pngs = await Promise.all(items.map((it) => thumbnailPng(it.image, imageSize)));
  const cards = items.map((it, i) => {
    const rank = truthRank(it);
    const bars = it.top.map((t, j) => {
      const pct = (Math.max(0, Math.min(1, t.p)) * 100).toFixed(1);
      const colour = j === rank ? RED : BLUE;
      return (
        `<div class="bar${j === rank ? " true" : ""}" title="${escapeHtml(`${t.label}: ${t.p.toFixed(3)}`)}" style="position:relative;height:14px;margin:2px 0;background:${TRACK}">` +
        `<div style="position:absolute;left:0;top:0;bottom:0;width:${pct}%;background:${colour};opacity:${j === rank ? 0.85 : 0.45}"></div>` +
        `<span style="position:absolute;left:3px;right:40px;top:0;font-size:10px;line-height:14px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis">${escapeHtml(t.label)}</span>` +
        `<span style="position:absolute;right:3px;top:0;font-size:10px;line-height:14px">${(t.p * 100).toFixed(1)}%</span></div>`
      );
    });
    const missed =
      rank < 0 && it.trueLabel !== undefined
        ? `<div class="missed" style="color:${RED};font-size:10px">✗ ${escapeHtml(it.trueLabel)} not in top ${it.top.length}</div>`
        : "";
    return (
      `<figure style="margin:4px;width:${Math.max(imageSize, 180)}px;font-family:${FONT};font-size:11px">` +
      `<img src="${dataUri(pngs[i])}" style="display:block;margin:0 auto;width:${imageSize}px;height:${imageSize}px;image-rendering:pixelated"/>` +
      `<figcaption style="text-align:center;font-weight:bold;margin:2px 0">${escapeHtml(it.caption ?? it.trueLabel ?? "")}</figcaption>${bars.join("")}${missed}</figure>`
    );
  });
  const title = options.title ? `<div style="font-family:${FONT};font-size:14px;margin:4px">${escapeHtml(options.title)}</div>` : "";
  return `${title}<div style="display:flex;flex-wrap:wrap;align-items:flex-start">${cards.join("")}</div>`;
}

/** A page that opens offline in any browser. */
export function htmlPage(title: string, body: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body style="font-family:${FONT}">\n${body}\n</body></html>\n`;
}

function predictionText(items: PredictionItem[]): string {
  return items
    .map((it, i) => {
      const rank = truthRank(it);
      const mark =
        it.trueLabel === undefined
          ? "class unknown"
          : rank === 0
            ? "top-1 right"
            : rank > 0
              ? `true label at rank ${rank + 1}`
              : `true label not in top ${it.top.length}`;
      return `[${i}] ${it.caption ?? it.trueLabel ?? ""} (${mark}): ${it.top.map((t) => `${t.label} ${(t.p * 100).toFixed(1)}%`).join(", ")}`;
    })
    .join("\n");
}

/**
 * Shows the predictions (Figure 4, left). With `file`, also writes them:
 * "*.png" as one PNG, "*.html" as a standalone page.
 */
export async function showPredictionGallery(
  items: PredictionItem[],
  options: PredictionOptions & { file?: string } = {},
): Promise<{ html: string; file?: string }> {
  const html = await predictionGalleryHtml(items, options);
  let file: string | undefined;
  if (options.file) {
    const format = figureFormat(options.file);
    if (format === "png") file = writeFigure(options.file, await predictionGalleryPng(items, options));
    else if (format === "html" || format === "htm") file = writeFigure(options.file, htmlPage(options.title ?? "Predictions", html));
    else throw new Error(`showPredictionGallery: cannot write "${options.file}"; use a .png or .html file`);
  }
  const text = [options.title, predictionText(items), file ? `written to ${file}` : undefined].filter(Boolean).join("\n");
  // In the notebook the drawn cards (one PNG), not the HTML: its bars are laid out with inline styles, which untrusted views drop.
  if (inKernel()) {
    // At 1x: the cards are mostly photographs already at their drawn size, and a 2x PNG of them is four times the notebook.
    const { bundle, metadata } = await svgImageBundle(await predictionGallerySvg(items, options), text, 1);
    show(bundle, metadata);
  } else show({ "text/plain": text });
  return { html, file };
}

// ---------------------------------------------------------------------------
// Figure 4, right: nearest neighbours

export interface Neighbour {
  image: ImageInput;
  label?: string;
  distance?: number;
}

export interface RetrievalRow {
  query: ImageInput;
  queryLabel?: string;
  /** Nearest first. */
  neighbours: Neighbour[];
}

export interface RetrievalOptions {
  /** Side of every image in pixels. Default 96. */
  cell?: number;
  /** Pixels between images and around the grid. Default 4. */
  gap?: number;
  /** Width of the band between the query and its neighbours (a line is drawn in it). Default 16. */
  separator?: number;
  /** Height of the caption band under each row of images; default 26 when any image has a label or distance, else 0. */
  caption?: number;
  title?: string;
}

export interface RetrievalLayout {
  width: number;
  height: number;
  /** Top edge of each row's images. */
  rowY: number[];
  /** Left edge of the query, then of each neighbour column. */
  queryX: number;
  neighbourX: number[];
  cell: number;
  caption: number;
  top: number;
}

/** Sizes and positions: one row per query, the query, the separator, then up to `neighbours` columns. */
export function retrievalLayout(
  rows: number,
  neighbours: number,
  options: RetrievalOptions & { hasCaptions?: boolean } = {},
): RetrievalLayout {
  const cell = options.cell ?? 96;
  const gap = options.gap ?? 4;
  const separator = options.separator ?? 16;
  const caption = options.caption ?? (options.hasCaptions ? 26 : 0);
  const top = options.title ? 26 : gap;
  const neighbourX = Array.from({ length: neighbours }, (_, j) => gap + cell + separator + j * (cell + gap));
  return {
    width: gap + cell + separator + neighbours * (cell + gap),
    height: top + rows * (cell + caption + gap),
    rowY: Array.from({ length: rows }, (_, r) => top + r * (cell + caption + gap)),
    queryX: gap,
    neighbourX,
    cell,
    caption,
    top,
  };
}

function captionLines(label: string | undefined, distance: number | undefined): string[] {
  return [label, distance === undefined ? undefined : `d = ${Number(distance.toPrecision(3))}`].filter(
    (s): s is string => s !== undefined && s !== "",
  );
}

/** The retrieval figure as one PNG: each query (framed), a separator line, then its neighbours in order. */
export async function retrievalGridPng(rows: RetrievalRow[], options: RetrievalOptions = {}): Promise<Buffer> {
  if (rows.length === 0) throw new Error("retrievalGridPng: no rows");
  const k = Math.max(1, ...rows.map((r) => r.neighbours.length));
  const hasCaptions = rows.some(
    (r) => r.queryLabel !== undefined || r.neighbours.some((n) => n.label !== undefined || n.distance !== undefined),
  );
  const L = retrievalLayout(rows.length, k, { ...options, hasCaptions });
  const chars = Math.max(4, Math.floor(L.cell / 6));
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="${FONT}" font-size="10">`,
    `<rect width="${L.width}" height="${L.height}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${L.width / 2}" y="18" text-anchor="middle" font-size="13">${escapeHtml(options.title)}</text>`);
  const place = async (image: ImageInput, x: number, y: number, lines: string[], frame?: string) => {
    const png = await thumbnailPng(image, L.cell);
    parts.push(`<image x="${x}" y="${y}" width="${L.cell}" height="${L.cell}" href="${dataUri(png)}"/>`);
    if (frame)
      parts.push(
        `<rect x="${x + 1}" y="${y + 1}" width="${L.cell - 2}" height="${L.cell - 2}" fill="none" stroke="${frame}" stroke-width="2"/>`,
      );
    lines
      .slice(0, 2)
      .forEach((line, i) =>
        parts.push(
          `<text x="${x + L.cell / 2}" y="${y + L.cell + 11 + i * 12}" text-anchor="middle">${escapeHtml(clip(line, chars))}</text>`,
        ),
      );
  };
  for (const [r, row] of rows.entries()) {
    const y = L.rowY[r];
    await place(row.query, L.queryX, y, captionLines(row.queryLabel, undefined), RED);
    const sepX = L.queryX + L.cell + (L.neighbourX[0] - L.queryX - L.cell) / 2;
    parts.push(`<line x1="${sepX}" x2="${sepX}" y1="${y}" y2="${y + L.cell}" stroke="#444" stroke-width="2"/>`);
    for (const [j, n] of row.neighbours.entries()) {
      const right =
        row.queryLabel !== undefined && n.label !== undefined ? (n.label === row.queryLabel ? undefined : "#999999") : undefined;
      await place(n.image, L.neighbourX[j], y, captionLines(n.label, n.distance), right);
    }
  }
  parts.push("</svg>");
  return svgToPng(parts.join(""));
}

/** Shows the retrieval grid (Figure 4, right) as a PNG; with `file`, writes it there too. */
export async function showRetrievalGrid(
  rows: RetrievalRow[],
  options: RetrievalOptions & { file?: string } = {},
): Promise<{ png: Buffer; file?: string }> {
  const png = await retrievalGridPng(rows, options);
  const file = options.file ? writeFigure(options.file, png) : undefined;
  const text = rows.map(
    (r, i) =>
      `[${i}] ${r.queryLabel ?? "query"} -> ${r.neighbours.map((n) => `${n.label ?? "?"}${n.distance === undefined ? "" : ` (${Number(n.distance.toPrecision(3))})`}`).join(", ")}`,
  );
  show({
    "image/png": png.toString("base64"),
    "text/plain": [options.title, ...text, file ? `written to ${file}` : undefined].filter(Boolean).join("\n"),
  });
  return { png, file };
}

// ---------------------------------------------------------------------------
// Confusion matrix

export interface ConfusionOptions {
  title?: string;
  /** Side of one cell in pixels. Default: fits about 560 pixels, between 2 and 36. */
  cell?: number;
  /**
   * Colour by "row" (default): each cell's share of its actual class, so rare
   * classes show as clearly as common ones; or by "count" against the largest cell.
   */
  colourBy?: "row" | "count";
}

/** Rows of counts from a nested array or a flat row-major array of classes x classes. */
export function confusionRows(counts: number[][] | ArrayLike<number>, classes: number): number[][] {
  if (Array.isArray(counts) && counts.every((r) => Array.isArray(r))) {
    const rows = counts as number[][];
    if (rows.length !== classes || rows.some((r) => r.length !== classes))
      throw new Error(`confusion matrix: expected ${classes}x${classes} counts`);
    return rows.map((r) => [...r]);
  }
  const flat = counts as ArrayLike<number>;
  if (flat.length !== classes * classes) throw new Error(`confusion matrix: ${flat.length} counts do not make ${classes}x${classes}`);
  return Array.from({ length: classes }, (_, r) => Array.from({ length: classes }, (_, c) => flat[r * classes + c]));
}

// White to dark blue, as a sequential "Blues" scale.
function blues(t: number): string {
  const lo = [255, 255, 255];
  const hi = [8, 48, 107];
  const c = lo.map((l, i) => Math.round(l + (hi[i] - l) * Math.max(0, Math.min(1, t))));
  return `rgb(${c.join(",")})`;
}

/** A heat map: rows are the actual classes, columns the predicted ones; the diagonal is correct. */
export function confusionMatrixSvg(counts: number[][] | ArrayLike<number>, classNames: string[], options: ConfusionOptions = {}): string {
  const n = classNames.length;
  const rows = confusionRows(counts, n);
  const cell = options.cell ?? Math.max(2, Math.min(36, Math.floor(560 / n)));
  const labelled = cell >= 8;
  const labelChars = 18;
  const margin = labelled ? 12 + 6 * Math.min(labelChars, Math.max(...classNames.map((c) => c.length))) : 16;
  const top = (options.title ? 30 : 8) + margin + 16;
  const left = margin + 20;
  const W = left + n * cell + 12;
  const H = top + n * cell + 12;
  const rowSums = rows.map((r) => r.reduce((a, b) => a + b, 0));
  // A loop, not Math.max(...): 1000 classes are a million arguments, past the call stack.
  let max = 1;
  for (const r of rows) for (const v of r) if (v > max) max = v;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${FONT}" font-size="${Math.min(11, Math.max(7, cell - 2))}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  if (options.title) parts.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${escapeHtml(options.title)}</text>`);
  parts.push(
    `<text x="${left + (n * cell) / 2}" y="${top - margin - 6}" text-anchor="middle" font-size="12">predicted</text>`,
    `<text x="12" y="${top + (n * cell) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 12 ${top + (n * cell) / 2})">actual</text>`,
  );
  rows.forEach((row, r) => {
    row.forEach((v, c) => {
      const t = options.colourBy === "count" ? v / max : rowSums[r] > 0 ? v / rowSums[r] : 0;
      const share = rowSums[r] > 0 ? ` (${((100 * v) / rowSums[r]).toFixed(1)}% of ${classNames[r]})` : "";
      parts.push(
        `<rect class="cell" x="${left + c * cell}" y="${top + r * cell}" width="${cell}" height="${cell}" fill="${blues(t)}"><title>${escapeHtml(`${classNames[r]} → ${classNames[c]}: ${v}${share}`)}</title></rect>`,
      );
      if (cell >= 24 && v > 0)
        parts.push(
          `<text x="${left + c * cell + cell / 2}" y="${top + r * cell + cell / 2 + 4}" text-anchor="middle" font-size="9" fill="${t > 0.5 ? "white" : "#222"}">${v}</text>`,
        );
    });
  });
  parts.push(`<rect x="${left}" y="${top}" width="${n * cell}" height="${n * cell}" fill="none" stroke="#444"/>`);
  if (labelled) {
    classNames.forEach((name, i) => {
      const label = escapeHtml(clip(name, labelChars));
      parts.push(
        `<text x="${left - 4}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end">${label}</text>`,
        `<text x="${left + i * cell + cell / 2 + 4}" y="${top - 4}" text-anchor="start" transform="rotate(-90 ${left + i * cell + cell / 2 + 4} ${top - 4})">${label}</text>`,
      );
    });
  }
  parts.push("</svg>");
  return parts.join("");
}

/** Shows the confusion matrix; with `file`, writes it as "*.svg" or "*.png". */
export async function showConfusionMatrix(
  counts: number[][] | ArrayLike<number>,
  classNames: string[],
  options: ConfusionOptions & { file?: string } = {},
): Promise<{ svg: string; file?: string }> {
  const svg = confusionMatrixSvg(counts, classNames, options);
  let file: string | undefined;
  if (options.file) {
    const format = figureFormat(options.file);
    if (format === "svg") file = writeFigure(options.file, svg);
    else if (format === "png") file = writeFigure(options.file, await svgToPng(svg));
    else throw new Error(`showConfusionMatrix: cannot write "${options.file}"; use a .svg or .png file`);
  }
  const rows = confusionRows(counts, classNames.length);
  const correct = rows.reduce((a, r, i) => a + r[i], 0);
  const total = rows.flat().reduce((a, b) => a + b, 0);
  const summary = `${options.title ? `${options.title}: ` : ""}${classNames.length} classes, ${correct} of ${total} correct (${total ? ((100 * correct) / total).toFixed(1) : "0.0"}%)`;
  const table =
    classNames.length <= 12
      ? `\n${textTable(
          ["actual \\ predicted", ...classNames],
          rows.map((r, i) => [classNames[i], ...r]),
        )}`
      : "";
  await showSvg(svg, `${summary}${table}${file ? `\nwritten to ${file}` : ""}`);
  return { svg, file };
}
