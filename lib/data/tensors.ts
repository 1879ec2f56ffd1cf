// The one place a loader batch becomes TensorFlow.js tensors, on whatever engine is
// active. The loader itself stays engine-free.
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "./loader";

/** The fields of a Batch the conversion reads. */
export type BatchArrays = Pick<Batch, "images" | "shape" | "labels" | "views">;

export interface BatchTensors<Y extends tf.Tensor = tf.Tensor1D> {
  /** [n * views, height, width, channels] float32. */
  xs: tf.Tensor4D;
  /** One label per record (not per view): int32 [n], or float32 one-hot [n, classes]. */
  ys: Y;
}

/**
 * Images and labels as tensors. Some engines keep a reference to `images` rather than
 * copying it (cpu for the tensor's life, tfjs-node until its first use), so call
 * `batch.release()` only after disposing `xs`.
 */
export function batchToTensors(batch: BatchArrays): BatchTensors<tf.Tensor1D>;
export function batchToTensors(batch: BatchArrays, options: { oneHot: number }): BatchTensors<tf.Tensor2D>;
export function batchToTensors(batch: BatchArrays, options: { oneHot?: number } = {}): BatchTensors<tf.Tensor1D> | BatchTensors<tf.Tensor2D> {
  const [rows, h, w, c] = batch.shape;
  if (batch.images.length !== rows * h * w * c) {
    throw new Error(`batchToTensors: images has ${batch.images.length} values but shape ${batch.shape.join("x")} needs ${rows * h * w * c}; was the batch released (release() hands its buffer back) before conversion?`);
  }
  if (rows !== batch.labels.length * batch.views) throw new Error(`batchToTensors: ${rows} images for ${batch.labels.length} labels with ${batch.views} views each.`);
  const xs = tf.tensor4d(batch.images, [rows, h, w, c], "float32");
  const classes = options.oneHot;
  if (classes === undefined) return { xs, ys: tf.tensor1d(batch.labels, "int32") };
  if (!Number.isInteger(classes) || classes < 1) {
    xs.dispose();
    throw new Error(`batchToTensors: oneHot must be the number of classes (a positive integer), got ${classes}.`);
  }
  const bad = batch.labels.find((l) => l < 0 || l >= classes);
  if (bad !== undefined) {
    xs.dispose();
    throw new Error(`batchToTensors: label ${bad} is outside 0..${classes - 1}; pass oneHot: the dataset's number of classes (loader.classes.length).`);
  }
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.labels, "int32"), classes).toFloat() as tf.Tensor2D);
  return { xs, ys };
}
