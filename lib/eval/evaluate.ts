// Testing a trained network as section 6 of the paper does: top-1 and top-5
// error over a whole split, from the centre patch ("center" loader) or from the
// softmax averaged over ten patches ("ten-crop" loader). The model runs one batch
// at a time with dropout off; its logits are copied out and every measure is
// computed in lib/eval/metrics.ts, in plain JavaScript.
import * as tf from "@tensorflow/tfjs";
import { createLoader, type Batch, type Loader, type MeanMode } from "../data/loader";
import type { Dataset } from "../data/shards";
import type { SplitName } from "../data/types";
import { type InputTransform, transformInput } from "../model/input";
import { Progress, type ProgressMode } from "../viz/progress";
import { averageViews, ConfusionMatrix, labelRank, logMeanSoftmax, rowOf, softmax, topK } from "./metrics";

/**
 * The model's output rows for one loader batch (batch.shape[0] rows, dropout
 * off), as a Float32Array; no tensor outlives the call. The batch is not released.
 */
export async function batchOutputs(
  model: tf.LayersModel,
  batch: Pick<Batch, "images" | "shape">,
  transform: InputTransform = {},
): Promise<{ values: Float32Array; width: number }> {
  const xs = tf.tensor4d(batch.images, batch.shape, "float32");
  let out: tf.Tensor;
  try {
    out = tf.tidy(() => {
      const y = model.apply(transformInput(xs, transform), { training: false }) as tf.Tensor;
      return y.rank === 2 ? y : tf.reshape(y, [y.shape[0], -1]);
    });
  } finally {
    xs.dispose();
  }
  try {
    return { values: (await out.data()) as Float32Array, width: out.shape[1] as number };
  } finally {
    out.dispose();
  }
}

/** One image's result: its record, its label and the most probable classes (view-averaged softmax). */
export interface Prediction {
  /** Record index in the split. */
  index: number;
  label: number;
  /** Most probable first. */
  top: { class: number; p: number }[];
}

export interface ClassResult {
  class: number;
  name: string;
  /** Images of this class. */
  count: number;
  /** NaN when count is 0. */
  top1Error: number;
  top5Error: number;
}

export interface Evaluation {
  /** How each image was presented: "center", "ten-crop" (or "none", "train"). */
  protocol: string;
  /** Patches per image whose softmax was averaged: 1 or 10. */
  views: number;
  /** Images evaluated. */
  count: number;
  top1Error: number;
  top5Error: number;
  /** Mean negative log of the label's (view-averaged) probability. */
  loss: number;
  /** Top-1 predictions: counts[actual * classes + predicted]. */
  confusion: ConfusionMatrix;
  perClass: ClassResult[];
  /** One per image, in the order the loader gave them. */
  predictions: Prediction[];
  seconds: number;
}

export interface EvaluateOptions extends InputTransform {
  /** Classes kept per image in `predictions`. Default 5. */
  keep?: number;
  /** Called after each batch with the images done so far. */
  onBatch?: (progress: { images: number; total: number; batch: number }) => void;
  /** A progress bar ("tty", "lines", "notebook"). Default "silent". */
  progress?: ProgressMode;
}

/**
 * Top-1/top-5 error, loss, confusion matrix and per-image predictions of `model`
 * over one epoch of `loader` (a "center" or "ten-crop" loader; the model must
 * output logits). Streams: one batch of tensors is alive at a time.
 */
export async function evaluateModel(model: tf.LayersModel, loader: Loader, options: EvaluateOptions = {}): Promise<Evaluation> {
  const keep = options.keep ?? 5;
  const started = performance.now();
  const names = loader.classes;
  const bar =
    options.progress && options.progress !== "silent"
      ? new Progress(`evaluate (${loader.options.augment})`, loader.size, { unit: "img", mode: options.progress })
      : undefined;
  let confusion: ConfusionMatrix | undefined;
  let hits1: Int32Array | undefined;
  let hits5: Int32Array | undefined;
  const predictions: Prediction[] = [];
  let lossSum = 0;
  let batchNo = 0;
  for await (const batch of loader.batches({ epochs: 1 })) {
    let out: { values: Float32Array; width: number };
    try {
      out = await batchOutputs(model, batch, options);
    } finally {
      batch.release();
    }
    const classes = out.width;
    if (!confusion) {
      confusion = new ConfusionMatrix(classes);
      hits1 = new Int32Array(classes);
      hits5 = new Int32Array(classes);
    }
    const n = batch.labels.length;
    // A NaN compares false with everything, so it would rank every label first: 0% error from a broken model.
    const bad = out.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      const record = batch.indices[Math.floor(bad / classes / batch.views)];
      throw new Error(
        `evaluateModel: the model's output for record ${record} of ${loader.dataset.dir} (${loader.options.split}) is ${out.values[bad]}; its weights hold NaN or infinity, or its input is far outside what it was trained on. Evaluate an earlier checkpoint, or check the model's input normalisation.`,
      );
    }
    const probs = averageViews(softmax(out.values, classes), n, batch.views, classes);
    for (let i = 0; i < n; i++) {
      const label = batch.labels[i];
      if (label >= classes)
        throw new Error(
          `evaluateModel: label ${label} of record ${batch.indices[i]} is outside the model's ${classes} outputs; is this the model for ${loader.dataset.dir}?`,
        );
      const row = rowOf(probs, i, classes);
      const top = topK(row, Math.max(keep, 1));
      const rank = labelRank(row, label);
      confusion.add(label, top[0]);
      if (rank < 1) (hits1 as Int32Array)[label]++;
      if (rank < 5) (hits5 as Int32Array)[label]++;
      lossSum -= logMeanSoftmax(out.values, i, batch.views, classes, label);
      predictions.push({ index: batch.indices[i], label, top: top.slice(0, keep).map((c) => ({ class: c, p: row[c] })) });
    }
    batchNo++;
    bar?.tick(n);
    options.onBatch?.({ images: predictions.length, total: loader.size, batch: batchNo });
  }
  bar?.finish();
  const count = predictions.length;
  if (!confusion || count === 0)
    throw new Error(
      `evaluateModel: the ${loader.options.split} split of ${loader.dataset.dir} has no records; prepare a dataset with a validation split.`,
    );
  const support = confusion.support();
  const h1 = hits1 as Int32Array;
  const h5 = hits5 as Int32Array;
  const perClass: ClassResult[] = Array.from(support, (n, c) => ({
    class: c,
    name: names[c] ?? String(c),
    count: n,
    top1Error: n === 0 ? NaN : 1 - h1[c] / n,
    top5Error: n === 0 ? NaN : 1 - h5[c] / n,
  }));
  const sum = (a: Int32Array) => a.reduce((s, x) => s + x, 0);
  return {
    protocol: loader.options.augment,
    views: loader.views,
    count,
    top1Error: 1 - sum(h1) / count,
    top5Error: 1 - sum(h5) / count,
    loss: lossSum / count,
    confusion,
    perClass,
    predictions,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface CompareOptions extends EvaluateOptions {
  /** Default "val". */
  split?: SplitName;
  /** Default 32 images (320 patches with ten-crop). */
  batchSize?: number;
  /** Default: the model's input side. */
  crop?: number;
  /** What the loader subtracts. Default "image" (the paper); "none" for an imported model with inputTransformFor(card.input). */
  mean?: MeanMode;
  /** Loader worker threads. Default: the loader's. */
  workers?: number;
}

/**
 * The paper's two test protocols on one split: the centre patch alone, and the
 * softmax averaged over the ten patches (four corners, centre, and their
 * reflections). Section 6 reports the second.
 */
export async function compareProtocols(
  model: tf.LayersModel,
  data: string | Dataset,
  options: CompareOptions = {},
): Promise<{ center: Evaluation; tenCrop: Evaluation }> {
  const side = model.inputs[0].shape[1];
  const crop = options.crop ?? (typeof side === "number" ? side : undefined);
  const run = async (augment: "center" | "ten-crop"): Promise<Evaluation> => {
    const loader = createLoader(data, {
      split: options.split ?? "val",
      batchSize: options.batchSize ?? 32,
      augment,
      ...(crop !== undefined ? { crop } : {}),
      ...(options.mean !== undefined ? { mean: options.mean } : {}),
      ...(options.workers !== undefined ? { workers: options.workers } : {}),
    });
    try {
      return await evaluateModel(model, loader, options);
    } finally {
      await loader.close();
    }
  };
  const center = await run("center");
  const tenCrop = await run("ten-crop");
  return { center, tenCrop };
}
