// Section 6 for one trained model: the error rates with the centre patch and the
// ten patches, the confusion matrix and the most confused pairs, Figure 3 (conv1
// kernels by tower), Figure 4 left (images with their top-5) and right (training
// images nearest in fc7 space). `alexnet eval` and notebook 09 both call this;
// every picture is also written under RUN/eval/ so a terminal user gets it too.
import { mkdirSync, writeFileSync } from "node:fs";
import * as tf from "@tensorflow/tfjs";
import path from "node:path";
import { createLoader, type Loader, type MeanMode } from "../data/loader";
import { type Dataset, openDataset, verifyDataset } from "../data/shards";
import type { RawImage } from "../viz/images";
import type { PredictionItem, RetrievalRow } from "../viz/gallery";
import { predictionGalleryHtml, predictionGalleryPng, retrievalGridPng, confusionMatrixSvg } from "../viz/gallery";
import { conv1Kernels, filterMosaic, towerColourStats, type TowerColourStats } from "../viz/filters";
import { pngFromPixels } from "../viz/images";
import { pct } from "../viz/format";
import type { ProgressMode } from "../viz/progress";
import { type InputTransform, inputTransformFor } from "../model/input";
import { evaluateModel, type Evaluation } from "./evaluate";
import { type ConfusedPair, ConfusionMatrix } from "./metrics";
import { describeTrained } from "../run/describe";
import { EVAL_DIR } from "../run/run";
import { type LoadedPredictor, loadPredictor } from "./predict";
import { retrieveNeighbours, type Retrieval } from "./retrieval";

export type Protocol = "center" | "ten-crop";

/** A model and the data to judge it on, with the input the model was trained to expect. */
export interface EvalTarget {
  predictor: LoadedPredictor;
  dataset: Dataset;
  /** What the loader subtracts before `transform`: the training mean image for a run, nothing for an imported model (its card's offset does it). */
  mean: MeanMode;
  transform: InputTransform;
  crop: number;
  /** Where figures and metrics.json go. */
  outDir: string;
}

/**
 * Opens a training run (its best checkpoint, or its newest with `checkpoint:
 * "last"`; its dataset unless `data` is given), one checkpoint folder of a run,
 * or a model folder with card.json (then `data` is required).
 */
export async function openEvalTarget(
  dir: string,
  options: { data?: string; out?: string; checkpoint?: "best" | "last" } = {},
): Promise<EvalTarget> {
  const trained = describeTrained(dir, { checkpoint: options.checkpoint });
  if (trained.kind === "model" && options.data === undefined)
    throw new Error(
      `${dir} is a model folder, not a training run, so it names no dataset: pass --data DIR (a prepared dataset with a val split).`,
    );
  const predictor = await loadPredictor(dir, { data: options.data, checkpoint: options.checkpoint });
  try {
    const dataDir = options.data ?? trained.config!.data;
    const dataset = openDataset(dataDir);
    if (dataset.classes.length !== predictor.classes.length) {
      await dataset.close();
      throw new Error(
        `${dataDir} has ${dataset.classes.length} classes but the model has ${predictor.classes.length} outputs; evaluate it on the dataset it was trained (or fine-tuned) on.`,
      );
    }
    const { input } = predictor;
    const [side] = dataset.recordShape;
    if (side < input.crop) {
      await dataset.close();
      throw new Error(
        `${dataDir} has ${side}x${side} records but the model takes ${input.crop}x${input.crop} crops; prepare the dataset again with \`alexnet prepare --size ${input.recordSize}\` (or larger).`,
      );
    }
    // A per-pixel mean is the training mean image: the loader subtracts it. Per-channel values are applied as a transform.
    const perPixel = input.mean.length !== 3;
    const transform: InputTransform = perPixel
      ? { inputScale: input.scale }
      : inputTransformFor({
          mean: Array.from(input.mean) as [number, number, number],
          scale: (typeof input.scale === "number" ? [input.scale, input.scale, input.scale] : input.scale) as [number, number, number],
        });
    // One checkpoint's evaluation goes beside the run's, named by its epoch, not into the checkpoint (pruned as the run goes on).
    const outDir =
      options.out ??
      (trained.runDir && path.resolve(dir) !== trained.runDir
        ? path.join(trained.runDir, EVAL_DIR, path.basename(trained.modelDir))
        : path.join(dir, EVAL_DIR));
    return { predictor, dataset, mean: perPixel ? "image" : "none", transform, crop: input.crop, outDir };
  } catch (err) {
    predictor.model.dispose();
    throw err;
  }
}

export async function closeEvalTarget(target: EvalTarget): Promise<void> {
  target.predictor.model.dispose();
  await target.dataset.close();
}

function loaderFor(
  target: EvalTarget,
  split: "train" | "val",
  augment: Protocol,
  options: { batchSize?: number; workers?: number },
): Loader {
  return createLoader(target.dataset, {
    split,
    augment,
    batchSize: options.batchSize ?? 32,
    crop: target.crop,
    mean: target.mean,
    workers: options.workers,
  });
}

/** One untimed forward pass per batch size, so that timings that follow exclude the engine's warm-up. */
export async function warmUp(model: tf.LayersModel, crop: number, batchSizes: readonly number[]): Promise<void> {
  // apply, as evaluateModel does (batchOutputs): predict would cut the batch into 32s and warm the wrong shape.
  for (const n of new Set(batchSizes)) {
    const out = tf.tidy(() => model.apply(tf.zeros([n, crop, crop, 3]), { training: false }) as tf.Tensor);
    try {
      await out.data(); // read back without blocking: webgpu cannot block
    } finally {
      out.dispose();
    }
  }
}

/** Evaluates the val split (or `split`) with each protocol asked for. */
export async function evaluateProtocols(
  target: EvalTarget,
  protocols: readonly Protocol[],
  options: { batchSize?: number; workers?: number; progress?: ProgressMode; split?: "train" | "val" } = {},
): Promise<Partial<Record<Protocol, Evaluation>>> {
  const out: Partial<Record<Protocol, Evaluation>> = {};
  // The first forward pass pays for the engine's set-up (kernels, WebGPU pipelines); one untimed pass of each
  // input shape first, so each protocol's seconds are its own work (ten patches: ten times the images).
  await warmUp(
    target.predictor.model,
    target.crop,
    protocols.map((p) => (p === "ten-crop" ? 10 : 1) * (options.batchSize ?? 32)),
  );
  for (const protocol of protocols) {
    const loader = loaderFor(target, options.split ?? "val", protocol, options);
    try {
      out[protocol] = await evaluateModel(target.predictor.model, loader, { ...target.transform, progress: options.progress });
    } finally {
      await loader.close();
    }
  }
  return out;
}

async function recordImage(target: EvalTarget, split: "train" | "val", index: number): Promise<RawImage> {
  const [h, w, c] = target.dataset.recordShape;
  const record = await target.dataset.split(split).readRecord(index, { origins: false });
  return { pixels: record.pixels, width: w, height: h, channels: c as 3 };
}

/**
 * What the second protocol changed, image by image: `fixed` were wrong at top-1
 * with the first and right with the second, `broken` the reverse. Both
 * evaluations must come from loaders over the same split in the same order.
 */
export function protocolFlips(first: Evaluation, second: Evaluation): { fixed: number; broken: number; same: number } {
  if (first.predictions.length !== second.predictions.length)
    throw new Error(
      `protocolFlips: ${first.predictions.length} and ${second.predictions.length} predictions; evaluate the same split with both protocols.`,
    );
  let fixed = 0;
  let broken = 0;
  first.predictions.forEach((a, i) => {
    const b = second.predictions[i];
    if (a.index !== b.index)
      throw new Error(
        `protocolFlips: prediction ${i} is record ${a.index} in one evaluation and ${b.index} in the other; use unshuffled loaders.`,
      );
    const rightA = a.top[0]?.class === a.label;
    const rightB = b.top[0]?.class === b.label;
    if (!rightA && rightB) fixed++;
    if (rightA && !rightB) broken++;
  });
  return { fixed, broken, same: first.predictions.length - fixed - broken };
}

/**
 * Images for the error-analysis gallery: the most confident mistakes first
 * (what the network is surest about and wrong), then the most confident correct
 * answers, half and half when both exist.
 */
export function galleryPicks(evaluation: Evaluation, count = 8): number[] {
  const confidence = (i: number) => evaluation.predictions[i].top[0]?.p ?? 0;
  const all = evaluation.predictions.map((_, i) => i);
  const wrong = all
    .filter((i) => evaluation.predictions[i].top[0]?.class !== evaluation.predictions[i].label)
    .sort((a, b) => confidence(b) - confidence(a) || a - b);
  const right = all
    .filter((i) => evaluation.predictions[i].top[0]?.class === evaluation.predictions[i].label)
    .sort((a, b) => confidence(b) - confidence(a) || a - b);
  const nWrong = Math.min(wrong.length, Math.max(Math.ceil(count / 2), count - right.length));
  return [...wrong.slice(0, nWrong), ...right.slice(0, count - nWrong)];
}

/** Gallery items (image, top-5 with names, true label) for predictions at `picks` (positions in evaluation.predictions). */
export async function galleryItems(target: EvalTarget, evaluation: Evaluation, picks: number[]): Promise<PredictionItem[]> {
  const names = target.predictor.classes;
  const items: PredictionItem[] = [];
  for (const i of picks) {
    const p = evaluation.predictions[i];
    items.push({
      image: await recordImage(target, "val", p.index),
      top: p.top.map((t) => ({ label: names[t.class], p: t.p })),
      trueLabel: names[p.label],
      caption: `val #${p.index}`,
    });
  }
  return items;
}

/** One val image per class (the first), for the first `count` classes: queries that cover the label space. */
export function queryPicks(labels: ArrayLike<number>, count: number): number[] {
  const seen = new Set<number>();
  const picks: number[] = [];
  for (let i = 0; i < labels.length && picks.length < count; i++) {
    if (!seen.has(labels[i])) {
      seen.add(labels[i]);
      picks.push(i);
    }
  }
  return picks;
}

/** Figure 4 right: the training images nearest to each query in fc7 space, streaming over the train split. */
export async function neighbours(
  target: EvalTarget,
  options: { queries?: number; k?: number; layer?: string; batchSize?: number; workers?: number } = {},
): Promise<{ retrieval: Retrieval; rows: RetrievalRow[] }> {
  const val = target.dataset.split("val");
  const labels = val.labels();
  const queries = queryPicks(labels, options.queries ?? 5);
  const queryLoader = loaderFor(target, "val", "center", options);
  const trainLoader = loaderFor(target, "train", "center", options);
  try {
    const retrieval = await retrieveNeighbours(target.predictor.model, queryLoader, trainLoader, {
      ...target.transform,
      k: options.k ?? 6,
      layer: options.layer ?? "fc7",
      queries,
    });
    const names = target.predictor.classes;
    const rows: RetrievalRow[] = [];
    for (let q = 0; q < retrieval.queries.length; q++) {
      const query = retrieval.queries[q];
      const found = retrieval.neighbours[q];
      rows.push({
        query: await recordImage(target, "val", query.index),
        queryLabel: names[query.label],
        neighbours: await Promise.all(
          found.map(async (n) => ({ image: await recordImage(target, "train", n.index), label: names[n.label], distance: n.distance })),
        ),
      });
    }
    return { retrieval, rows };
  } finally {
    await queryLoader.close();
    await trainLoader.close();
  }
}

/** Of each query's neighbours, the fraction sharing its label: a number for "semantically similar". */
export function neighbourAgreement(retrieval: Retrieval): number {
  let same = 0;
  let total = 0;
  retrieval.queries.forEach((q, i) => {
    for (const n of retrieval.neighbours[i]) {
      same += n.label === q.label ? 1 : 0;
      total++;
    }
  });
  return total === 0 ? NaN : same / total;
}

/**
 * The confusion matrix to draw: all of it up to `max` classes; beyond, only the
 * classes of the most confused pairs (a 1000x1000 picture shows nothing).
 */
export function confusionSubset(
  counts: ArrayLike<number>,
  names: string[],
  max = 30,
): { counts: number[][]; names: string[]; note: string } {
  const n = names.length;
  let keep = Array.from({ length: n }, (_, i) => i);
  if (n > max) {
    const matrix = new ConfusionMatrix(n);
    for (let i = 0; i < n * n; i++) if (counts[i]) matrix.add(Math.floor(i / n), i % n, counts[i]);
    const chosen = new Set<number>();
    for (const p of matrix.mostConfused(n * n, { symmetric: true })) {
      if (chosen.size + (chosen.has(p.actual) ? 0 : 1) + (chosen.has(p.predicted) ? 0 : 1) > max) break;
      chosen.add(p.actual);
      chosen.add(p.predicted);
    }
    keep = [...chosen].sort((a, b) => a - b);
  }
  return {
    counts: keep.map((a) => keep.map((b) => counts[a * n + b])),
    names: keep.map((c) => names[c]),
    note: keep.length < n ? ` (the ${keep.length} classes of the most confused pairs, of ${n})` : "",
  };
}

export interface EvalSummary {
  weights: string;
  data: string;
  /** The protocol top1Error/top5Error are for: "center" or "ten-crop". */
  protocol: Protocol;
  top1Error: number;
  top5Error: number;
  count: number;
  protocols: Partial<Record<Protocol, { top1Error: number; top5Error: number; loss: number; count: number; seconds: number }>>;
  perClass: { class: string; count: number; top1Error: number; top5Error: number }[];
  mostConfused: (ConfusedPair & { actualName: string; predictedName: string })[];
  conv1: TowerColourStats["towers"];
  /** Fraction of the fc7 neighbours with the query's label, when retrieval ran. */
  neighbourAgreement?: number;
  /** File name → path of each figure written. */
  files: Record<string, string>;
}

export interface EvaluateRunOptions {
  data?: string;
  /** Check every shard of the data against its manifest (sizes and sha256) first. */
  verify?: boolean;
  out?: string;
  /** The protocol of the headline numbers. Default "center". */
  protocol?: Protocol;
  /** Evaluate with both protocols (the headline still follows `protocol`). */
  both?: boolean;
  /** Gallery images. Default 8. 0 skips the gallery. */
  gallery?: number;
  /** Retrieval queries. Default 5. 0 skips retrieval (it reads the whole train split). */
  queries?: number;
  batchSize?: number;
  workers?: number;
  progress?: ProgressMode;
}

/** Everything `alexnet eval` does: numbers, then each figure written under the output folder. */
export async function evaluateRun(dir: string, options: EvaluateRunOptions = {}): Promise<EvalSummary> {
  const target = await openEvalTarget(dir, options);
  try {
    if (options.verify) await verifyDataset(target.dataset.dir);
    const protocol = options.protocol ?? "center";
    const protocols: Protocol[] = options.both ? ["center", "ten-crop"] : [protocol];
    const results = await evaluateProtocols(target, protocols, options);
    const main = results[protocol] as Evaluation;
    const names = target.predictor.classes;
    mkdirSync(target.outDir, { recursive: true });
    const files: Record<string, string> = {};
    const write = (name: string, data: Buffer | string): void => {
      const file = path.join(target.outDir, name);
      writeFileSync(file, data);
      files[name] = file;
    };
    const summary: EvalSummary = {
      weights: target.predictor.weights,
      data: target.dataset.dir,
      protocol,
      top1Error: main.top1Error,
      top5Error: main.top5Error,
      count: main.count,
      protocols: Object.fromEntries(
        Object.entries(results).map(([k, e]) => [
          k,
          { top1Error: e.top1Error, top5Error: e.top5Error, loss: e.loss, count: e.count, seconds: e.seconds },
        ]),
      ),
      perClass: main.perClass.map((c) => ({ class: c.name, count: c.count, top1Error: c.top1Error, top5Error: c.top5Error })),
      mostConfused: main.confusion.mostConfused(5).map((p) => ({ ...p, actualName: names[p.actual], predictedName: names[p.predicted] })),
      conv1: towerColourStats(target.predictor.model).towers,
      files,
    };
    // The numbers first: a figure that fails must not cost the evaluation.
    write("metrics.json", JSON.stringify(summary, null, 2) + "\n");
    const shown = confusionSubset(main.confusion.counts, names);
    write(
      "confusion.svg",
      confusionMatrixSvg(shown.counts, shown.names, {
        title: `confusion matrix (${protocol}): rows actual, columns predicted${shown.note}`,
      }),
    );
    write("conv1-filters.png", await pngFromPixels(filterMosaic(conv1Kernels(target.predictor.model))));
    if ((options.gallery ?? 8) > 0) {
      const items = await galleryItems(target, main, galleryPicks(main, options.gallery ?? 8));
      write("predictions.png", await predictionGalleryPng(items, { title: "validation images, top-5 (true label red)" }));
      write("predictions.html", `<!doctype html><meta charset="utf-8"><title>predictions</title>${await predictionGalleryHtml(items)}`);
    }
    if ((options.queries ?? 5) > 0) {
      const found = await neighbours(target, { queries: options.queries ?? 5, batchSize: options.batchSize, workers: options.workers });
      write("neighbours.png", await retrievalGridPng(found.rows, { title: "validation image | nearest training images by fc7 distance" }));
      summary.neighbourAgreement = neighbourAgreement(found.retrieval);
    }
    write("metrics.json", JSON.stringify(summary, null, 2) + "\n");
    return summary;
  } finally {
    await closeEvalTarget(target);
  }
}

/** Lines for a terminal. */
export function formatEvalSummary(s: EvalSummary): string {
  const lines = [`${s.weights} on ${s.data} (${s.count} val images)`];
  for (const [k, e] of Object.entries(s.protocols))
    lines.push(
      `  ${k === "center" ? "centre patch " : "10-patch avg "}  top-1 error ${pct(e.top1Error)}   top-5 error ${pct(e.top5Error)}`,
    );
  if (s.mostConfused.length)
    lines.push(
      `  most confused: ${s.mostConfused
        .slice(0, 3)
        .map((p) => `${p.actualName} → ${p.predictedName} (${p.count})`)
        .join(", ")}`,
    );
  if (s.neighbourAgreement !== undefined) lines.push(`  fc7 neighbours sharing the query's label: ${pct(s.neighbourAgreement)}`);
  lines.push(
    `  figures: ${Object.values(s.files)
      .map((f) => path.basename(f))
      .join(", ")} in ${path.dirname(Object.values(s.files)[0] ?? ".")}`,
  );
  return lines.join("\n");
}
