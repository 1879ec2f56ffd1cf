// conv1's kernels as pictures: the paper's Figure 3. Each 11x11x3 kernel is
// one small RGB image; in the two-tower network the first half of conv1's
// filters lived on GPU 1 and the second half on GPU 2, and the paper saw the
// first half learn colour-agnostic kernels and the second colour-specific
// ones. The mosaic keeps the towers in separate blocks (GPU 1 above GPU 2, as
// in the figure), and colourfulness puts a number on the claim.
import type * as tf from "@tensorflow/tfjs";
import { modelStages, towerCount } from "./architecture";
import { showPng } from "./display";
import { writeFigure } from "./files";
import { type RawImage, pngFromPixels } from "./images";

export interface Conv1Kernels {
  /** conv1's kernel as tfjs stores it: [size, size, inChannels, count], filter index fastest. */
  kernels: Float32Array;
  size: number;
  inChannels: number;
  count: number;
  /** 2 for the two-GPU variants (paper, mini): filters [0, count/2) are GPU 1's, the rest GPU 2's. */
  towers: number;
}

/**
 * Reads the kernel of the layer named "conv1". conv1 itself is never grouped
 * (both GPUs see the whole image), so the towers come from the rest of the
 * network: a model with grouped layers has two, and conv1's filters are split
 * half and half between them.
 */
export function conv1Kernels(model: tf.LayersModel): Conv1Kernels {
  const layer = model.getLayer("conv1");
  const weights = layer.getWeights();
  if (weights.length === 0) throw new Error("conv1Kernels: layer conv1 has no weights");
  const kernel = weights[0]; // the variable's own tensor: read it, never dispose it
  const [kh, kw, inChannels, count] = kernel.shape;
  if (kernel.shape.length !== 4 || kh !== kw)
    throw new Error(`conv1Kernels: expected a square [k, k, in, out] kernel, got [${kernel.shape.join(", ")}]`);
  const towers = towerCount(modelStages(model));
  if (count % towers !== 0) throw new Error(`conv1Kernels: ${count} filters do not split into ${towers} towers`);
  return { kernels: Float32Array.from(kernel.dataSync() as Float32Array), size: kh, inChannels, count, towers };
}

/** One filter's weights as a small image, row-major HWC (size x size x inChannels). */
export function filterWeights(k: Conv1Kernels, filter: number): Float32Array {
  if (!(filter >= 0 && filter < k.count)) throw new Error(`filterWeights: filter ${filter} is not in 0..${k.count - 1}`);
  const out = new Float32Array(k.size * k.size * k.inChannels);
  for (let i = 0; i < out.length; i++) out[i] = k.kernels[i * k.count + filter];
  return out;
}

export interface MosaicLayoutOptions {
  /** Filters per row within a tower block. Default: up to 16 (the paper's figure has 16). */
  columns?: number;
  /** Pixels between filters and around the mosaic. */
  gap: number;
  /** Pixels between one tower's block and the next (stacked: GPU 1 on top). */
  towerGap: number;
  /** Side of one filter's tile in pixels (kernel size x scale). */
  cell: number;
}

export interface MosaicPlace {
  filter: number;
  tower: number;
  /** Top-left corner of the filter's tile. */
  x: number;
  y: number;
}

export interface MosaicLayout {
  width: number;
  height: number;
  columns: number;
  /** Rows in each tower's block. */
  rows: number;
  places: MosaicPlace[];
}

/**
 * Where each filter goes: towers stacked top to bottom, each its own block of
 * rows; within a block, the tower's filters in order, row by row. A margin of
 * `gap` surrounds everything.
 */
export function mosaicLayout(count: number, towers: number, options: MosaicLayoutOptions): MosaicLayout {
  if (!(Number.isInteger(count) && count > 0 && Number.isInteger(towers) && towers > 0 && count % towers === 0)) {
    throw new Error(`mosaicLayout: ${count} filters do not split into ${towers} equal towers`);
  }
  const perTower = count / towers;
  const columns = Math.max(1, Math.min(options.columns ?? 16, perTower));
  const rows = Math.ceil(perTower / columns);
  const { gap, towerGap, cell } = options;
  const blockHeight = rows * cell + (rows - 1) * gap;
  const places: MosaicPlace[] = [];
  for (let filter = 0; filter < count; filter++) {
    const tower = Math.floor(filter / perTower);
    const i = filter - tower * perTower;
    places.push({
      filter,
      tower,
      x: gap + (i % columns) * (cell + gap),
      y: gap + tower * (blockHeight + towerGap) + Math.floor(i / columns) * (cell + gap),
    });
  }
  return {
    width: 2 * gap + columns * cell + (columns - 1) * gap,
    height: 2 * gap + towers * blockHeight + (towers - 1) * towerGap,
    columns,
    rows,
    places,
  };
}

export interface FilterMosaicOptions {
  /** Pixels per weight (nearest neighbour). Default 4. */
  scale?: number;
  /**
   * "per-filter" (default): each kernel's own min..max becomes 0..255, so every
   * kernel's pattern is visible; "global": one range for all, so weak kernels look faint.
   */
  normalise?: "per-filter" | "global";
  columns?: number;
  /** Default: scale (one weight's width). */
  gap?: number;
  /** Default: 4 x scale. */
  towerGap?: number;
  /** Grey level of the gaps. Default 255 (white). */
  background?: number;
}

function range(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** All of conv1's kernels as one RGB image (single-channel kernels are drawn grey). */
export function filterMosaic(k: Conv1Kernels, options: FilterMosaicOptions = {}): RawImage {
  if (k.inChannels !== 1 && k.inChannels !== 3)
    throw new Error(`filterMosaic: kernels with ${k.inChannels} input channels are not images; expected 1 or 3`);
  const scale = options.scale ?? 4;
  const layout = mosaicLayout(k.count, k.towers, {
    columns: options.columns,
    gap: options.gap ?? scale,
    towerGap: options.towerGap ?? 4 * scale,
    cell: k.size * scale,
  });
  const pixels = new Uint8Array(layout.width * layout.height * 3).fill(options.background ?? 255);
  const global = options.normalise === "global" ? range(k.kernels) : undefined;
  for (const place of layout.places) {
    const w = filterWeights(k, place.filter);
    const [lo, hi] = global ?? range(w);
    const span = hi - lo || 1; // a constant kernel comes out black rather than NaN
    for (let r = 0; r < k.size; r++) {
      for (let c = 0; c < k.size; c++) {
        const rgb = [0, 1, 2].map((ch) =>
          Math.round(((w[(r * k.size + c) * k.inChannels + (k.inChannels === 3 ? ch : 0)] - lo) / span) * 255),
        );
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) {
            pixels.set(rgb, ((place.y + r * scale + dy) * layout.width + place.x + c * scale + dx) * 3);
          }
        }
      }
    }
  }
  return { pixels, width: layout.width, height: layout.height, channels: 3 };
}

// The std of three values in [0, 1] is at most sqrt(2)/3 (one channel at 1, two at 0, or the reverse).
const MAX_CHANNEL_STD = Math.SQRT2 / 3;

/**
 * How colour-specific one kernel is, from 0 (the three channels equal at
 * every pixel: the kernel sees brightness only) to 1 (every pixel pure red,
 * green or blue against the others): the mean over pixels of the standard
 * deviation across R, G, B, after the same min-max stretch the mosaic uses.
 * `kernel` is one filter, HWC with 3 channels (filterWeights gives it).
 */
export function colourfulness(kernel: Float32Array): number {
  if (kernel.length === 0 || kernel.length % 3 !== 0) throw new Error(`colourfulness: ${kernel.length} values are not RGB pixels`);
  const [lo, hi] = range(kernel);
  const span = hi - lo;
  if (!(span > 0)) return 0;
  let sum = 0;
  for (let i = 0; i < kernel.length; i += 3) {
    const [r, g, b] = [(kernel[i] - lo) / span, (kernel[i + 1] - lo) / span, (kernel[i + 2] - lo) / span];
    const mean = (r + g + b) / 3;
    sum += Math.sqrt(((r - mean) ** 2 + (g - mean) ** 2 + (b - mean) ** 2) / 3);
  }
  return sum / (kernel.length / 3) / MAX_CHANNEL_STD;
}

export interface TowerColourStats {
  /** colourfulness of every conv1 filter, in filter order. */
  scores: number[];
  towers: { tower: number; firstFilter: number; filters: number; mean: number; min: number; max: number }[];
}

/** Mean colourfulness of each tower's conv1 filters: after training, GPU 2's should be clearly higher. */
export function towerColourStats(model: tf.LayersModel): TowerColourStats {
  const k = conv1Kernels(model);
  if (k.inChannels !== 3) throw new Error(`towerColourStats: conv1 has ${k.inChannels} input channels, colour needs 3`);
  const scores = Array.from({ length: k.count }, (_, f) => colourfulness(filterWeights(k, f)));
  const perTower = k.count / k.towers;
  const towers = Array.from({ length: k.towers }, (_, t) => {
    const s = scores.slice(t * perTower, (t + 1) * perTower);
    return {
      tower: t + 1,
      firstFilter: t * perTower,
      filters: perTower,
      mean: s.reduce((a, b) => a + b, 0) / s.length,
      min: Math.min(...s),
      max: Math.max(...s),
    };
  });
  return { scores, towers };
}

export interface ShowConv1Options extends FilterMosaicOptions {
  title: string;
  /** Also write the PNG here (folders are created). */
  file?: string;
}

/** Shows conv1's kernels (Figure 3) with each tower's colourfulness; returns the PNG and the numbers. */
export async function showConv1Filters(
  model: tf.LayersModel,
  options: ShowConv1Options,
): Promise<{ png: Buffer; stats: TowerColourStats; file?: string }> {
  const k = conv1Kernels(model);
  const png = await pngFromPixels(filterMosaic(k, options));
  const stats = towerColourStats(model);
  const towers = stats.towers.map(
    (t) =>
      `${k.towers > 1 ? `GPU ${t.tower} (filters ${t.firstFilter}-${t.firstFilter + t.filters - 1})` : "all filters"}: colourfulness ${t.mean.toFixed(3)}`,
  );
  const placement = k.towers > 1 ? `, towers stacked top to bottom (GPU 1 first)` : "";
  const file = options.file ? writeFigure(options.file, png) : undefined;
  showPng(
    png,
    [
      `${options.title}: ${k.count} conv1 kernels ${k.size}x${k.size}x${k.inChannels}${placement}`,
      ...towers,
      ...(file ? [`written to ${file}`] : []),
    ].join("\n"),
  );
  return { png, stats, file };
}
