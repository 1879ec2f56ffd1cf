// What a model costs, layer by layer: output shape, parameters, multiply-adds
// and neurons, computed from the built model rather than from a table.
//
// Conventions, per example:
// - MACs count the multiply-adds of weights only: a conv is
//   outH*outW*outC * kh*kw*(inC/groups), a dense layer in*out. Bias adds,
//   ReLU, LRN, pooling, padding and dropout count 0 (they are a few percent
//   of the total). torchvision's "0.714 GFLOPS" for AlexNet is this count.
// - Neurons are the units of conv and dense layers (their post-ReLU outputs):
//   outH*outW*outC for a conv, units for a dense layer. The input, pooling,
//   LRN and dropout add none. This is how section 3.5 of the paper counts.
import type * as tf from "@tensorflow/tfjs";

export interface LayerSummary {
  name: string;
  /** tfjs class name, e.g. Conv2D, GroupedConv2D, Dense, MaxPooling2D. */
  type: string;
  /** Output shape without the batch axis. */
  outputShape: number[];
  params: number;
  macs: number;
  neurons: number;
}

export interface ModelSummary {
  layers: LayerSummary[];
  totals: { params: number; macs: number; neurons: number };
}

/**
 * Section 3.5: "the number of neurons in the network's remaining layers is given
 * by 253,440-186,624-64,896-64,896-43,264-4096-4096-1000", about 650,000 in all.
 * The built network matches the last seven exactly. conv1 has 55*55*96 =
 * 290,400 units at 224 (padding 2) and at 227 alike; 253,440 is no square map of
 * 96 (or 48 per tower) channels: 253,440/96 = 2,640 is not a square. It equals
 * 55*48*96, the same product with one 55 written as 48 (the kernels per GPU),
 * or 48*48*110, which no layer has. The built total, 659,272, is the one that
 * matches "650,000"; the paper's own list sums to 622,312.
 */
export const PAPER_NEURONS: Readonly<Record<string, number>> = {
  conv1: 253_440,
  conv2: 186_624,
  conv3: 64_896,
  conv4: 64_896,
  conv5: 43_264,
  fc6: 4096,
  fc7: 4096,
  fc8: 1000,
};
export const PAPER_TOTAL_NEURONS = 650_000;

function outputShapeOf(layer: tf.layers.Layer): number[] {
  const raw = layer.outputShape;
  // A layer with several outputs reports a list of shapes; AlexNet's layers have one.
  const shape = (Array.isArray(raw[0]) ? raw[0] : raw) as (number | null)[];
  const rest = shape.slice(1);
  if (rest.some((d) => d === null))
    throw new Error(
      `summarise: layer '${layer.name}' has an unknown output size ${JSON.stringify(shape)}; build the model with a fixed input size.`,
    );
  return rest as number[];
}

function product(values: readonly number[]): number {
  return values.reduce((a, b) => a * b, 1);
}

/** The kernel's shape: the layer's first weight of rank 2 (dense) or 4 (conv). */
function kernelShape(layer: tf.layers.Layer): number[] | undefined {
  const w = layer.weights.find((v) => v.shape.length === 2 || v.shape.length === 4);
  return w ? (w.shape as number[]) : undefined;
}

export function summariseLayer(layer: tf.layers.Layer): LayerSummary {
  const outputShape = outputShapeOf(layer);
  const kernel = kernelShape(layer);
  let macs = 0;
  let neurons = 0;
  if (kernel && kernel.length === 4 && outputShape.length === 3) {
    // [kh, kw, inC/groups, outC]: each output value reads one group's inputs.
    const [kh, kw, inPerGroup] = kernel;
    macs = product(outputShape) * kh * kw * inPerGroup;
    neurons = product(outputShape);
  } else if (kernel && kernel.length === 2 && outputShape.length === 1) {
    macs = kernel[0] * kernel[1];
    neurons = outputShape[0];
  }
  return { name: layer.name, type: layer.getClassName(), outputShape, params: layer.countParams(), macs, neurons };
}

export function summarise(model: tf.LayersModel): ModelSummary {
  const layers = model.layers.map(summariseLayer);
  const totals = { params: 0, macs: 0, neurons: 0 };
  for (const l of layers) {
    totals.params += l.params;
    totals.macs += l.macs;
    totals.neurons += l.neurons;
  }
  return { layers, totals };
}

function thousands(n: number): string {
  return Math.round(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A plain-text table: one row per layer, then the totals. */
export function formatSummary(summary: ModelSummary): string {
  const header = ["layer", "type", "output", "params", "MACs", "neurons"];
  const rows = summary.layers.map((l) => [
    l.name,
    l.type,
    l.outputShape.join("x"),
    thousands(l.params),
    thousands(l.macs),
    thousands(l.neurons),
  ]);
  const total = ["total", "", "", thousands(summary.totals.params), thousands(summary.totals.macs), thousands(summary.totals.neurons)];
  const all = [header, ...rows, total];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  // Names left-aligned, numbers right-aligned.
  const line = (r: string[]) =>
    r
      .map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(header), rule, ...rows.map(line), rule, line(total)].join("\n");
}
