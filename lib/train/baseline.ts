// Pixel-space baselines: how far raw pixels get without a network. A dataset
// on which the nearest class mean, or a linear classifier on the pixels, is
// nearly as good as AlexNet is too easy to teach anything about features; the
// embedded set is designed so that both stay far from the network (notebook 07).
import * as tf from "@tensorflow/tfjs";
import type { InMemorySplit } from "../data/in-memory";
import type { Dataset, SplitReader } from "../data/shards";
import { fit } from "./fit";

export interface BaselineResult {
  /** "nearest class mean" or "linear classifier". */
  method: string;
  /** What the method saw, e.g. "146x146x3 pixels" or "24x24x3 pixels, standardised". */
  input: string;
  /** Top-1 error on the validation split. */
  valError: number;
  /** Top-1 error on the training split (how well the method fits what it was given). */
  trainError: number;
  trainCount: number;
  valCount: number;
  /** 1 - 1/classes. */
  chance: number;
}

function checkSplits(dataset: Dataset, what: string): void {
  for (const split of ["train", "val"] as const) {
    if (!dataset.splitNames.includes(split) || dataset.split(split).length === 0) {
      throw new Error(`${what}: ${dataset.dir} has no ${split} records; prepare a dataset with both splits.`);
    }
  }
}

/**
 * Nearest class mean on raw pixels (0..255, every value of the record): each
 * validation image gets the class whose mean training image is closest in
 * Euclidean distance. Streams the records; sums in float64.
 */
export async function nearestClassMean(dataset: Dataset, options: { limit?: number } = {}): Promise<BaselineResult> {
  checkSplits(dataset, "nearestClassMean");
  const classes = dataset.classes.length;
  const size = dataset.recordShape.reduce((a, b) => a * b, 1);
  const sums = Array.from({ length: classes }, () => new Float64Array(size));
  const counts = new Array<number>(classes).fill(0);
  const train = dataset.split("train");
  const end = (r: SplitReader) => Math.min(r.length, options.limit ?? r.length);
  for await (const rec of train.records({ end: end(train), origins: false })) {
    const s = sums[rec.label];
    for (let i = 0; i < size; i++) s[i] += rec.pixels[i];
    counts[rec.label]++;
  }
  const means = sums.map((s, k) => (counts[k] > 0 ? Float32Array.from(s, (v) => v / counts[k]) : undefined));
  const nearest = (pixels: Uint8Array): number => {
    let best = -1;
    let bestDistance = Infinity;
    means.forEach((m, k) => {
      if (!m) return;
      let d = 0;
      for (let i = 0; i < size; i++) {
        const e = pixels[i] - m[i];
        d += e * e;
      }
      if (d < bestDistance) [best, bestDistance] = [k, d];
    });
    return best;
  };
  const errorOn = async (reader: SplitReader): Promise<{ error: number; count: number }> => {
    let wrong = 0;
    let count = 0;
    for await (const rec of reader.records({ end: end(reader), origins: false })) {
      if (nearest(rec.pixels) !== rec.label) wrong++;
      count++;
    }
    return { error: wrong / count, count };
  };
  const t = await errorOn(train);
  const v = await errorOn(dataset.split("val"));
  const [h, w, c] = dataset.recordShape;
  return {
    method: "nearest class mean",
    input: `${h}x${w}x${c} pixels`,
    valError: v.error,
    trainError: t.error,
    trainCount: t.count,
    valCount: v.count,
    chance: 1 - 1 / classes,
  };
}

/** Box-averages an HWC uint8 record to side x side (each output pixel the mean of the input pixels it covers). */
export function boxDownsample(pixels: Uint8Array, height: number, width: number, channels: number, side: number): Float32Array {
  if (!Number.isInteger(side) || side < 1 || side > Math.min(height, width))
    throw new Error(`boxDownsample: side must be an integer from 1 to ${Math.min(height, width)}, got ${side}.`);
  if (pixels.length !== height * width * channels)
    throw new Error(`boxDownsample: ${pixels.length} values do not make a ${height}x${width}x${channels} image.`);
  const out = new Float32Array(side * side * channels);
  for (let oy = 0; oy < side; oy++) {
    const y0 = Math.floor((oy * height) / side);
    const y1 = Math.floor(((oy + 1) * height) / side);
    for (let ox = 0; ox < side; ox++) {
      const x0 = Math.floor((ox * width) / side);
      const x1 = Math.floor(((ox + 1) * width) / side);
      const n = (y1 - y0) * (x1 - x0);
      for (let ch = 0; ch < channels; ch++) {
        let sum = 0;
        for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += pixels[(y * width + x) * channels + ch];
        out[(oy * side + ox) * channels + ch] = sum / n;
      }
    }
  }
  return out;
}

export interface LinearBaselineOptions {
  /** Side the records are box-averaged to first. Default 24 (1,728 inputs). */
  side?: number;
  epochs?: number;
  learningRate?: number;
  /** L2 weight decay inside the velocity (lib/train/optimizer.ts). Default 0.0005. */
  weightDecay?: number;
  batchSize?: number;
  limit?: number;
  seed?: number;
}

async function downsampledSplit(
  reader: SplitReader,
  shape: readonly number[],
  side: number,
  classes: number,
  limit?: number,
): Promise<{ values: Float32Array; labels: Int32Array }> {
  const [h, w, c] = shape;
  const n = Math.min(reader.length, limit ?? reader.length);
  const dim = side * side * c;
  const values = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  let i = 0;
  for await (const rec of reader.records({ end: n, origins: false })) {
    values.set(boxDownsample(rec.pixels, h, w, c, side), i * dim);
    labels[i++] = rec.label;
  }
  if (labels.some((l) => l < 0 || l >= classes))
    throw new Error(`linearPixelClassifier: a label of ${reader.name} is outside 0..${classes - 1}.`);
  return { values, labels };
}

/**
 * Softmax regression on raw pixels, box-averaged to side x side and
 * standardised per input with the training split's mean and std: a linear
 * classifier, trained with the course's SGD (lib/train/fit.ts).
 */
export async function linearPixelClassifier(dataset: Dataset, options: LinearBaselineOptions = {}): Promise<BaselineResult> {
  checkSplits(dataset, "linearPixelClassifier");
  const side = options.side ?? 24;
  const classes = dataset.classes.length;
  const [, , c] = dataset.recordShape;
  const dim = side * side * c;
  const tr = await downsampledSplit(dataset.split("train"), dataset.recordShape, side, classes, options.limit);
  const va = await downsampledSplit(dataset.split("val"), dataset.recordShape, side, classes, options.limit);
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  const nTrain = tr.labels.length;
  for (let i = 0; i < nTrain; i++) for (let d = 0; d < dim; d++) mean[d] += tr.values[i * dim + d] / nTrain;
  for (let i = 0; i < nTrain; i++) for (let d = 0; d < dim; d++) sq[d] += (tr.values[i * dim + d] - mean[d]) ** 2 / nTrain;
  const standardise = (values: Float32Array): Float32Array => values.map((v, j) => (v - mean[j % dim]) / Math.sqrt(sq[j % dim] + 1e-6));
  const asSplit = (s: { values: Float32Array; labels: Int32Array }): InMemorySplit => ({
    xs: tf.tensor4d(standardise(s.values), [s.labels.length, side, side, c]),
    ys: tf.tensor1d(s.labels, "int32"),
    count: s.labels.length,
    classes,
  });
  const train = asSplit(tr);
  const val = asSplit(va);
  const model = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [side, side, c] }),
      tf.layers.dense({ units: classes, kernelInitializer: tf.initializers.zeros(), biasInitializer: tf.initializers.zeros() }),
    ],
  });
  try {
    const history = await fit(model, train, {
      epochs: options.epochs ?? 30,
      batchSize: options.batchSize ?? 64,
      learningRate: options.learningRate ?? 0.001,
      weightDecay: options.weightDecay ?? 0.0005,
      seed: options.seed ?? 1,
      val: val,
    });
    const last = history[history.length - 1];
    return {
      method: "linear classifier",
      input: `${side}x${side}x${c} pixels, standardised`,
      valError: last.valError as number,
      trainError: last.trainError,
      trainCount: train.count,
      valCount: val.count,
      chance: 1 - 1 / classes,
    };
  } finally {
    model.dispose();
    tf.dispose([train.xs, train.ys, val.xs, val.ys]);
  }
}
