// A whole (small) split as tensors, for the short experiments of notebooks
// 02-06: a few thousand 32x32 or 64x64 images fit in memory many times over.
// Full-size training streams from the shards instead (lib/data/loader.ts).
import * as tf from "@tensorflow/tfjs";
import type { Dataset } from "./shards";
import type { SplitName } from "./types";

export interface InMemorySplit {
  /** [n, H, W, 3] float32: (pixel - mean image) * scale. */
  xs: tf.Tensor4D;
  /** [n] int32 class indices. */
  ys: tf.Tensor1D;
  count: number;
  classes: number;
}

export interface InMemoryOptions {
  /** Keep only the first N records (after the split's own order). */
  limit?: number;
  /**
   * Multiplies the mean-subtracted pixels. The paper feeds raw differences
   * (scale 1) to AlexNet; the small experiments use 1/64 so that tanh and
   * sigmoid networks start out of saturation.
   */
  scale?: number;
}

/** Reads a split into memory, subtracting the training set's mean image, as section 2 prescribes. */
export async function loadSplit(dataset: Dataset, split: SplitName, options: InMemoryOptions = {}): Promise<InMemorySplit> {
  if (!dataset.splitNames.includes(split)) throw new Error(`loadSplit: the dataset has no ${split} split (it has ${dataset.splitNames.join(", ")}).`);
  const reader = dataset.split(split);
  const count = Math.min(reader.length, options.limit ?? reader.length);
  const indices = Array.from({ length: count }, (_, i) => i);
  const batch = await reader.readBatch(indices, { origins: false });
  const [h, w, c] = dataset.recordShape;
  const mean = dataset.meanImage();
  const scale = options.scale ?? 1;
  const values = new Float32Array(batch.pixels.length);
  const size = h * w * c;
  for (let i = 0; i < values.length; i++) values[i] = (batch.pixels[i] - mean[i % size]) * scale;
  return {
    xs: tf.tensor4d(values, [count, h, w, c]),
    ys: tf.tensor1d(batch.labels, "int32"),
    count,
    classes: dataset.classes.length,
  };
}

/**
 * The split at `size` x `size`: averaged over whole blocks first (so a large
 * shrink does not alias, as bilinear sampling alone would), then resized
 * bilinearly the rest of the way. The input split is disposed; a split already
 * at or below `size` comes back as it is.
 */
export function shrinkSplit(split: InMemorySplit, size: number): InMemorySplit {
  const [, h, w] = split.xs.shape;
  if (h <= size && w <= size) return split;
  const xs = tf.tidy(() => {
    const factor = Math.max(1, Math.floor(Math.min(h, w) / size));
    const pooled = factor > 1 ? tf.avgPool(split.xs, factor, factor, "valid") : split.xs;
    return tf.image.resizeBilinear(pooled, [size, size]);
  });
  split.xs.dispose();
  return { ...split, xs };
}

export function disposeSplit(split: InMemorySplit): void {
  split.xs.dispose();
  split.ys.dispose();
}
