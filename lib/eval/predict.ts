// Predictions for images from anywhere, made exactly as the network saw its
// training data: the same resize-and-centre-crop to the record size
// (preprocessImage, as `alexnet prepare` does), the same mean subtraction and
// crop (writeAugmented, the loader's hot path), the same input scale. A model
// comes from a training run (RUN/run.json + checkpoints), one of its checkpoint
// folders, or a model folder (model.json + card.json, e.g. from `alexnet import-torch`).
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { centerOffset, tenPatchPlaces, writeAugmented } from "../data/augment";
import { preprocessImage, type ResizeKernel } from "../data/preprocess";
import { MANIFEST_FILE } from "../data/shard-format";
import { openDataset } from "../data/shards";
import type { ImageShape } from "../data/stats";
import { CARD_FILE } from "../model/card";
import { loadModel } from "../model/io";
import { describeTrained, type TrainedInfo } from "../run/describe";
import { RUN_CONFIG_FILE } from "../run/run";

/** How a record becomes network input: input = (pixel − mean) · scale, after a crop. */
export interface InputPipeline {
  /** Side of the square records the crops come from (the prepared dataset's, or 256 for torchvision). */
  recordSize: number;
  /** The network's input side. */
  crop: number;
  /** Per-pixel mean image (recordSize² · 3 values) or one value per channel, in pixel units. */
  mean: Float32Array;
  /** One factor, or one per channel. */
  scale: number | [number, number, number];
  /** The resize kernel the records were prepared with. */
  kernel: ResizeKernel;
}

export interface LoadedPredictor {
  model: tf.LayersModel;
  /** One name per output. */
  classes: string[];
  input: InputPipeline;
  /** The folder the weights were read from (a checkpoint or a model folder). */
  weights: string;
  /** "run" for a training run folder (or one of its checkpoints), "model" for a model folder with card.json. */
  kind: "run" | "model";
  /** What the folder holds (its run settings or card). */
  trained: TrainedInfo;
}

/** What a folder holds as a trained network (lib/run/describe.ts), with its normalisation and class names, without loading weights. */
export function inputPipelineFor(
  dir: string,
  options: { data?: string; checkpoint?: "best" | "last" } = {},
): { input: InputPipeline; classes: string[]; kind: "run" | "model"; trained: TrainedInfo } {
  const trained = describeTrained(dir, { checkpoint: options.checkpoint });
  if (trained.kind === "model") {
    const card = trained.card!;
    const crop = card.modelOptions.inputSize ?? 224;
    // torchvision's eval transform: Resize(256), CenterCrop(224) — the paper's 256 records.
    return {
      kind: "model",
      trained,
      classes: card.classes,
      input: {
        recordSize: Math.round((crop * 256) / 224),
        crop,
        mean: Float32Array.from(card.input.mean),
        scale: card.input.scale,
        kernel: "linear",
      },
    };
  }
  const config = trained.config!;
  const dataDir = options.data ?? config.data;
  if (!existsSync(path.join(dataDir, MANIFEST_FILE))) {
    throw new Error(
      `${path.join(trained.runDir!, RUN_CONFIG_FILE)} names the dataset ${dataDir}, which is not there; its mean image and class names are needed: pass --data DIR (the prepared dataset the run was trained on).`,
    );
  }
  const dataset = openDataset(dataDir);
  try {
    const [h, w] = dataset.recordShape;
    if (h !== w) throw new Error(`${dataDir} has ${h}x${w} records; predictions need square records.`);
    const kernel = (dataset.manifest.preprocessing.kernel as ResizeKernel | undefined) ?? "linear";
    // A run fine-tuned from a model card normalises per channel (then multiplies by inputScale), as the trainer does.
    const runInput = config.input;
    const input: InputPipeline = runInput
      ? {
          recordSize: h,
          crop: config.crop,
          mean: Float32Array.from(runInput.mean),
          scale: runInput.scale.map((s) => s * config.inputScale) as [number, number, number],
          kernel,
        }
      : { recordSize: h, crop: config.crop, mean: dataset.meanImage(), scale: config.inputScale, kernel };
    return { kind: "run", trained, classes: dataset.manifest.classNames ?? dataset.classes, input };
  } finally {
    void dataset.close();
  }
}

/**
 * Loads the model and its input pipeline from a run folder (its best checkpoint,
 * or its newest with `checkpoint: "last"`), one checkpoint folder of a run, or a model folder.
 */
export async function loadPredictor(dir: string, options: { data?: string; checkpoint?: "best" | "last" } = {}): Promise<LoadedPredictor> {
  const { input, classes, kind, trained } = inputPipelineFor(dir, options);
  const weights = trained.modelDir;
  const model = await loadModel(weights);
  const outputs = model.outputs[0].shape[1];
  if (outputs !== classes.length) {
    model.dispose();
    throw new Error(
      `${weights} has ${outputs} outputs but ${classes.length} class names; ${kind === "run" ? "pass --data with the dataset the run was trained on" : `fix ${path.join(dir, CARD_FILE)}`}.`,
    );
  }
  return { model, classes, input, weights, kind, trained };
}

/**
 * Network input for records (uint8 HWC, recordSize²·3 each): the centre crop, or
 * the ten patches of each ("ten-crop": rows 10i..10i+9), mean subtracted and scaled.
 */
export function recordsToInput(records: Uint8Array[], input: InputPipeline, views: "center" | "ten-crop" = "center"): tf.Tensor4D {
  const { recordSize: S, crop } = input;
  const shape: ImageShape = [S, S, 3];
  const places = views === "ten-crop" ? tenPatchPlaces(S, S, crop) : [{ x: centerOffset(S, crop), y: centerOffset(S, crop), flip: false }];
  const size = crop * crop * 3;
  const out = new Float32Array(records.length * places.length * size);
  records.forEach((record, i) => {
    if (record.length !== S * S * 3)
      throw new Error(`recordsToInput: record ${i} has ${record.length} bytes, expected ${S}x${S}x3 = ${S * S * 3}.`);
    places.forEach((p, v) =>
      writeAugmented(
        record,
        0,
        shape,
        { x: p.x, y: p.y, height: crop, width: crop, flip: p.flip },
        undefined,
        input.mean,
        out,
        (i * places.length + v) * size,
      ),
    );
  });
  return tf.tidy(() => {
    const x = tf.tensor4d(out, [records.length * places.length, crop, crop, 3]);
    return (typeof input.scale === "number" ? tf.mul(x, input.scale) : tf.mul(x, tf.tensor1d(input.scale))) as tf.Tensor4D;
  });
}

export interface ImagePrediction {
  /** The image file, or a caller's label. */
  source: string;
  /** Top-k classes by (view-averaged) probability. */
  top: { index: number; name: string; p: number }[];
}

/** Softmax of the model's logits, averaged over each image's views, as [images, classes]. */
export function averagedProbabilities(model: tf.LayersModel, x: tf.Tensor4D, views: number): tf.Tensor2D {
  return tf.tidy(() => {
    const logits = model.apply(x, { training: false }) as tf.Tensor2D;
    const classes = logits.shape[1];
    return tf.mean(tf.reshape(tf.softmax(logits), [-1, views, classes]), 1) as tf.Tensor2D;
  });
}

/** Top-k predictions for records already at the pipeline's record size, `batchSize` images at a time. */
export async function predictRecords(
  predictor: LoadedPredictor,
  records: Uint8Array[],
  options: { k?: number; views?: "center" | "ten-crop"; sources?: string[]; batchSize?: number } = {},
): Promise<ImagePrediction[]> {
  const views = options.views ?? "center";
  const k = Math.min(options.k ?? 5, predictor.classes.length);
  const C = predictor.classes.length;
  const batchSize = options.batchSize ?? 32;
  const out: ImagePrediction[] = [];
  for (let start = 0; start < records.length; start += batchSize) {
    const chunk = records.slice(start, start + batchSize);
    const values = tf.tidy(() =>
      averagedProbabilities(predictor.model, recordsToInput(chunk, predictor.input, views), views === "ten-crop" ? 10 : 1),
    );
    let probs: Float32Array;
    try {
      probs = (await values.data()) as Float32Array;
    } finally {
      values.dispose();
    }
    chunk.forEach((_, j) => {
      const row = Array.from(probs.subarray(j * C, (j + 1) * C), (p, index) => ({ index, p }));
      row.sort((a, b) => b.p - a.p || a.index - b.index);
      const i = start + j;
      out.push({
        source: options.sources?.[i] ?? `image ${i}`,
        top: row.slice(0, k).map((r) => ({ index: r.index, name: predictor.classes[r.index], p: r.p })),
      });
    });
  }
  return out;
}

/** Reads image files and prepares each as `alexnet prepare` would for this model: Resize(record size) of the shorter side, centre crop. */
export async function readImageRecords(files: string[], input: InputPipeline, options: { maxPixels?: number } = {}): Promise<Uint8Array[]> {
  const records: Uint8Array[] = [];
  for (const file of files) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      throw new Error(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check the path.`);
    }
    try {
      records.push(
        (await preprocessImage({ kind: "encoded", data }, { size: input.recordSize, kernel: input.kernel, maxPixels: options.maxPixels }))
          .pixels,
      );
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }
  return records;
}

/** Top-k predictions for image files (JPEG, PNG, WebP, ...). */
export async function predictFiles(
  predictor: LoadedPredictor,
  files: string[],
  options: { k?: number; views?: "center" | "ten-crop"; maxPixels?: number } = {},
): Promise<ImagePrediction[]> {
  const { maxPixels, ...predictOptions } = options;
  const records = await readImageRecords(files, predictor.input, { maxPixels });
  return predictRecords(predictor, records, { ...predictOptions, sources: files });
}

/** "file: name 83.1%, name 9.0%, ..." lines for a terminal. */
export function formatPredictions(predictions: ImagePrediction[]): string {
  return predictions
    .map((p) =>
      [`${p.source}`, ...p.top.map((t, i) => `  ${i + 1}. ${t.name.padEnd(24)} ${(100 * t.p).toFixed(1).padStart(5)}%`)].join("\n"),
    )
    .join("\n");
}
