// Checkpoints of a training run, one folder per epoch:
//
//   RUN/checkpoints/epoch-0003/model.json       topology and weight specs (lib/model/io.ts)
//                             /weights.bin
//                             /optimizer.json    PaperSGD's settings and the index of optimizer.bin (optimizer-state.ts)
//                             /optimizer.bin     one float32 velocity per trainable weight, in model order
//                             /checkpoint.json   epoch, step, lr, schedule state, rng state, metrics
//   RUN/checkpoints/best.json                    which epoch folder is best by a metric
//
// A checkpoint is written into a hidden temporary folder (.epoch-0003.tmp-...)
// and renamed into place once every file is complete and synced, so a folder
// named epoch-NNNN with a checkpoint.json is always whole; a crash mid-save
// leaves only a temporary folder, which loaders ignore and the next save removes.
// best.json is a pointer, not a copy, and the folder it names is never pruned.
//
// checkpoint.json also records the size and sha256 of every file the checkpoint
// is made of. A file can be damaged after it was written (a disk error, a copy
// cut short, someone's edit), and random floats of the right length in
// weights.bin would otherwise load without complaint. loadCheckpoint checks
// them, and the fields it needs, before restoring anything, and names the file
// at fault (CheckpointDamagedError); newestIntactCheckpoint lets a resume fall
// back to the newest checkpoint that passes.
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { describeWriteError, sha256File, syncDir, writeFileSynced } from "../files";
import { MODEL_FILE, WEIGHTS_FILE, loadModel, readModelArtifacts, saveModel } from "../model/io";
import { BEST_FILE, bestCheckpoint, CHECKPOINT_FILE, CHECKPOINTS_DIR, checkpointName, checkpointsDir, listCheckpoints } from "../run/run";
import { isPaperSGD, type PaperSGD } from "./optimizer";
import { OPTIMIZER_FILE, OPTIMIZER_INDEX_FILE, restoreOptimizer, writeOptimizer } from "./optimizer-state";
import { type LrSchedule, restoreSchedule, type ScheduleState } from "./schedule";

const FORMAT = "alexnet-checkpoint";
// Version 2 added `files` (size and sha256 of each file); version 1 checkpoints still load, unverified.
const VERSION = 2;
const READABLE_VERSIONS = [1, 2];
/** The files a checkpoint is made of, besides checkpoint.json itself. */
export const CHECKPOINT_PARTS = [MODEL_FILE, WEIGHTS_FILE, OPTIMIZER_INDEX_FILE, OPTIMIZER_FILE] as const;
// Leftovers of interrupted saves: temporary checkpoint folders and pointer files.
const TEMP_ENTRY = /^\..*\.(tmp|old)-\d+-[0-9a-f]+$/;

export interface CheckpointContents {
  model: tf.LayersModel;
  optimizer: PaperSGD;
  schedule?: LrSchedule;
  /** Epochs completed; names the folder (epoch-0003). */
  epoch: number;
  /** Optimiser steps completed over the whole run. */
  step: number;
  /** The run's random state, stored as given (any JSON value). */
  rng?: unknown;
  /** E.g. { valTop1Error: 0.42, trainLoss: 1.9 }. */
  metrics?: Record<string, number>;
}

export interface SaveCheckpointOptions {
  /** How many of the newest checkpoints to keep (the best is kept besides). Default 3; Infinity keeps all. */
  keepLast?: number;
  /** Track the best checkpoint by this metric (must be in every save's metrics). */
  best?: { metric: string; mode?: "min" | "max" };
  /** Called after each file of the checkpoint is written, before the folder is renamed into place (progress; tests throw here to simulate a crash). */
  afterWrite?: (file: string) => void | Promise<void>;
}

export interface SavedCheckpoint {
  path: string;
  /** True when this checkpoint is now the one best.json names. */
  isBest: boolean;
  /** Checkpoint folders removed by keepLast. */
  removed: string[];
}

export interface CheckpointInfo {
  path: string;
  epoch: number;
  step: number;
  /** The optimiser's learning rate when saved. */
  lr: number;
  schedule: ScheduleState | null;
  rng: unknown;
  metrics: Record<string, number>;
  savedAt: string;
}

/** Size and sha256 of one file of a checkpoint. */
export interface FileDigest {
  bytes: number;
  sha256: string;
}

/** checkpoint.json: the info without the folder it sits in, and the digest of each part. */
type CheckpointFile = Omit<CheckpointInfo, "path"> & { format: string; version: number; files?: Record<string, FileDigest> };

/** A checkpoint that cannot be trusted: a file missing, cut short, changed since it was saved, or checkpoint.json without the fields it needs. */
export class CheckpointDamagedError extends Error {
  override name = "CheckpointDamagedError";
  constructor(
    message: string,
    /** The file at fault. */
    readonly file: string,
  ) {
    super(message);
  }
}

function tempSuffix(kind: "tmp" | "old"): string {
  return `${kind}-${process.pid}-${randomBytes(4).toString("hex")}`;
}

function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new Error(`saveCheckpoint: ${what} must be an integer >= 0, got ${String(value)}.`);
}

async function digests(dir: string): Promise<Record<string, FileDigest>> {
  const files: Record<string, FileDigest> = {};
  for (const name of CHECKPOINT_PARTS) {
    const file = path.join(dir, name);
    files[name] = { bytes: (await stat(file)).size, sha256: await sha256File(file) };
  }
  return files;
}

function checkpointJson(c: CheckpointContents, files: Record<string, FileDigest>): string {
  checkCount(c.epoch, "epoch");
  checkCount(c.step, "step");
  const metrics = c.metrics ?? {};
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== "number" || !Number.isFinite(v))
      throw new Error(`saveCheckpoint: metrics.${k} must be a finite number, got ${String(v)}.`);
  }
  const body: CheckpointFile = {
    format: FORMAT,
    version: VERSION,
    epoch: c.epoch,
    step: c.step,
    lr: c.optimizer.learningRate,
    schedule: c.schedule ? c.schedule.getState() : null,
    rng: c.rng === undefined ? null : c.rng,
    metrics,
    savedAt: new Date().toISOString(),
    files,
  };
  let text: string;
  try {
    text = JSON.stringify(body, null, 2);
  } catch (err) {
    throw new Error(`saveCheckpoint: the rng state must be plain JSON (numbers, strings, arrays, objects): ${(err as Error).message}.`);
  }
  // What JSON cannot hold would come back different; an exact resume needs it identical.
  if (!isDeepStrictEqual((JSON.parse(text) as CheckpointFile).rng, body.rng))
    throw new Error(
      "saveCheckpoint: the rng state does not survive JSON unchanged; pass plain JSON (no undefined, NaN or Infinity inside).",
    );
  return text;
}

async function removeLeftovers(dir: string): Promise<void> {
  for (const name of readdirSync(dir)) {
    if (TEMP_ENTRY.test(name)) await rm(path.join(dir, name), { recursive: true, force: true });
  }
}

function metricOf(info: { metrics: Record<string, number> }, metric: string): number | undefined {
  const v = info.metrics[metric];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Picks the best kept checkpoint by the metric (ties: the earliest) and points best.json at it. */
async function updateBest(runDir: string, metric: string, mode: "min" | "max"): Promise<string | undefined> {
  let best: { path: string; value: number } | undefined;
  for (const c of listCheckpoints(runDir)) {
    let info: CheckpointInfo;
    try {
      info = readInfoSync(c.path);
    } catch {
      continue; // a checkpoint.json damaged since it was written is no candidate (a resume moves it aside)
    }
    const value = metricOf(info, metric);
    if (value === undefined) continue;
    if (best === undefined || (mode === "min" ? value < best.value : value > best.value)) best = { path: c.path, value };
  }
  if (best === undefined) return undefined;
  const dir = checkpointsDir(runDir);
  const pointer = { checkpoint: path.basename(best.path), metric, mode, value: best.value };
  const tmp = path.join(dir, `.${BEST_FILE}.${tempSuffix("tmp")}`);
  await writeFileSynced(tmp, JSON.stringify(pointer, null, 2));
  await rename(tmp, path.join(dir, BEST_FILE));
  return best.path;
}

/**
 * Writes RUN/checkpoints/epoch-NNNN atomically, then updates best.json and
 * removes checkpoints beyond keepLast (never the best). Saving an epoch that
 * already exists replaces it.
 */
export async function saveCheckpoint(
  runDir: string,
  contents: CheckpointContents,
  options: SaveCheckpointOptions = {},
): Promise<SavedCheckpoint> {
  if (!isPaperSGD(contents.optimizer))
    throw new Error(
      "saveCheckpoint: the optimizer must be a PaperSGD (lib/train/optimizer.ts); its velocities are part of the checkpoint.",
    );
  const keepLast = options.keepLast ?? 3;
  if (!(keepLast === Infinity || (Number.isInteger(keepLast) && keepLast >= 1)))
    throw new Error(`saveCheckpoint: keepLast must be an integer >= 1 or Infinity, got ${String(keepLast)}.`);
  const mode = options.best?.mode ?? "min";
  if (options.best && metricOfContents(contents, options.best.metric) === undefined) {
    throw new Error(
      `saveCheckpoint: best is tracked by metrics.${options.best.metric}, but this save's metrics have no finite ${options.best.metric} (got keys: ${Object.keys(contents.metrics ?? {}).join(", ") || "none"}).`,
    );
  }
  checkpointJson(contents, {}); // its checks, before anything is written

  const dir = checkpointsDir(runDir);
  await mkdir(dir, { recursive: true });
  await removeLeftovers(dir);
  const name = checkpointName(contents.epoch);
  const final = path.join(dir, name);
  const tmp = path.join(dir, `.${name}.${tempSuffix("tmp")}`);
  await mkdir(tmp);
  try {
    await saveModel(contents.model, tmp);
    await options.afterWrite?.("model.json");
    await writeOptimizer(tmp, contents.model, contents.optimizer);
    await options.afterWrite?.(OPTIMIZER_INDEX_FILE);
    // Written last, with the digests of the files as they are on disk: a folder is a checkpoint only with this file.
    await writeFileSynced(path.join(tmp, CHECKPOINT_FILE), checkpointJson(contents, await digests(tmp)));
    await options.afterWrite?.(CHECKPOINT_FILE);
    await syncDir(tmp);
    if (existsSync(final)) {
      const old = path.join(dir, `.${name}.${tempSuffix("old")}`);
      await rename(final, old);
      await rename(tmp, final);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, final);
    }
    await syncDir(dir);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    // The checkpoint was being written into a temporary folder: the ones saved before are whole.
    throw describeWriteError(err, final, `the checkpoints saved before this one in ${dir} are kept`);
  }

  const best = options.best ? await updateBest(runDir, options.best.metric, mode) : bestCheckpoint(runDir);
  const all = listCheckpoints(runDir);
  const keep = new Set(all.slice(Math.max(0, all.length - (keepLast === Infinity ? all.length : keepLast))).map((c) => c.path));
  if (best !== undefined) keep.add(best);
  const removed: string[] = [];
  for (const c of all) {
    if (keep.has(c.path)) continue;
    await rm(c.path, { recursive: true, force: true });
    removed.push(c.path);
  }
  return { path: final, isBest: best === final, removed };
}

function metricOfContents(c: CheckpointContents, metric: string): number | undefined {
  return metricOf({ metrics: c.metrics ?? {} }, metric);
}

function parseInfo(dir: string, text: string): CheckpointInfo {
  return parseFile(dir, text).info;
}

function parseFile(dir: string, text: string): { info: CheckpointInfo; files?: Record<string, FileDigest> } {
  const file = path.join(dir, CHECKPOINT_FILE);
  let body: CheckpointFile;
  try {
    body = JSON.parse(text) as CheckpointFile;
  } catch (err) {
    throw new CheckpointDamagedError(
      `loadCheckpoint: ${file} is not valid JSON (${(err as Error).message}); resume from another checkpoint (latestCheckpoint lists complete ones).`,
      file,
    );
  }
  if (body === null || typeof body !== "object")
    throw new CheckpointDamagedError(
      `loadCheckpoint: ${file} holds ${JSON.stringify(body)}, not a checkpoint's fields; resume from another checkpoint.`,
      file,
    );
  if (body.format !== FORMAT)
    throw new Error(`loadCheckpoint: ${file} is not a checkpoint written by saveCheckpoint (format "${String(body.format)}").`);
  if (!READABLE_VERSIONS.includes(body.version))
    throw new Error(
      `loadCheckpoint: ${file} has version ${String(body.version)}; this code reads versions ${READABLE_VERSIONS.join(" and ")}.`,
    );
  const bad = badFields(body);
  if (bad.length > 0)
    throw new CheckpointDamagedError(
      `loadCheckpoint: ${file} lacks or garbles ${bad.join(", ")}; the checkpoint is damaged, resume from another one.`,
      file,
    );
  const info = {
    path: dir,
    epoch: body.epoch,
    step: body.step,
    lr: body.lr,
    schedule: body.schedule,
    rng: body.rng,
    metrics: body.metrics,
    savedAt: body.savedAt,
  };
  return { info, files: body.files };
}

/** The fields of checkpoint.json that are missing or of the wrong kind. */
function badFields(body: CheckpointFile): string[] {
  const count = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  const checks: [string, boolean][] = [
    ["epoch", count(body.epoch)],
    ["step", count(body.step)],
    ["lr", typeof body.lr === "number" && Number.isFinite(body.lr)],
    [
      "schedule",
      body.schedule === null || (typeof body.schedule === "object" && body.schedule !== undefined && !Array.isArray(body.schedule)),
    ],
    ["metrics", typeof body.metrics === "object" && body.metrics !== null && !Array.isArray(body.metrics)],
    [
      "files",
      body.version < 2 ||
        (typeof body.files === "object" && body.files !== null && CHECKPOINT_PARTS.every((n) => isDigest(body.files?.[n]))),
    ],
  ];
  return checks.filter(([, ok]) => !ok).map(([name]) => name);
}

function isDigest(d: unknown): d is FileDigest {
  const x = d as FileDigest | undefined;
  return (
    typeof x === "object" && x !== null && Number.isInteger(x.bytes) && typeof x.sha256 === "string" && /^[0-9a-f]{64}$/.test(x.sha256)
  );
}

/**
 * Checks a checkpoint folder before anything is restored from it: checkpoint.json
 * has its fields, and each file has the size and sha256 it was saved with.
 * Throws CheckpointDamagedError naming the file; returns what checkpoint.json says.
 * A version 1 checkpoint (saved before digests were kept) passes on its fields alone.
 */
export async function verifyCheckpoint(dir: string): Promise<CheckpointInfo> {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw missing(dir);
  const { info, files } = parseFile(dir, await readFile(file, "utf8"));
  for (const [name, want] of Object.entries(files ?? {})) {
    const part = path.join(dir, name);
    const size = await stat(part).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined)
      throw new CheckpointDamagedError(`loadCheckpoint: ${part} is missing; the checkpoint is damaged, resume from another one.`, part);
    if (size !== want.bytes)
      throw new CheckpointDamagedError(
        `loadCheckpoint: ${part} has ${size} bytes, but ${want.bytes} were saved; the checkpoint is damaged, resume from another one.`,
        part,
      );
    if ((await sha256File(part)) !== want.sha256)
      throw new CheckpointDamagedError(
        `loadCheckpoint: ${part} is not the file that was saved (its sha256 differs); the checkpoint is damaged, resume from another one.`,
        part,
      );
  }
  return info;
}

/** The newest checkpoint that passes verifyCheckpoint among `candidates` (newest last), and those skipped on the way with why. */
export async function newestIntactCheckpoint(
  candidates: readonly string[],
): Promise<{ checkpoint?: CheckpointInfo; skipped: { path: string; reason: string }[] }> {
  const skipped: { path: string; reason: string }[] = [];
  for (const dir of [...candidates].reverse()) {
    try {
      return { checkpoint: await verifyCheckpoint(dir), skipped };
    } catch (err) {
      skipped.push({ path: dir, reason: (err as Error).message });
    }
  }
  return { skipped };
}

function missing(dir: string): Error {
  return new Error(
    `loadCheckpoint: ${dir} is not a complete checkpoint (no ${CHECKPOINT_FILE}); pass a folder like RUN/${CHECKPOINTS_DIR}/epoch-0003, e.g. latestCheckpoint(RUN).`,
  );
}

function readInfoSync(dir: string): CheckpointInfo {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw missing(dir);
  return parseInfo(dir, readFileSync(file, "utf8"));
}

/** What checkpoint.json says (epoch, step, lr, schedule, rng, metrics), without touching tensors. */
export async function readCheckpointInfo(dir: string): Promise<CheckpointInfo> {
  const file = path.join(dir, CHECKPOINT_FILE);
  if (!existsSync(file)) throw missing(dir);
  return parseInfo(dir, await readFile(file, "utf8"));
}

/** Writes saved weights into an existing model, matched by order and checked by shape. */
async function restoreWeights(model: tf.LayersModel, dir: string): Promise<void> {
  const artifacts = await readModelArtifacts(dir);
  const specs = artifacts.weightSpecs ?? [];
  const weights = model.weights;
  if (specs.length !== weights.length) {
    throw new Error(
      `loadCheckpoint: ${dir} holds ${specs.length} weights but the model has ${weights.length}; restore into the architecture that was saved (or omit model to rebuild it from model.json).`,
    );
  }
  weights.forEach((w, i) => {
    const shape = w.shape.map((d) => d ?? 1);
    if (!tf.util.arraysEqual(shape, specs[i].shape)) {
      throw new Error(
        `loadCheckpoint: weight ${i} is ${w.originalName} [${shape}] in the model but ${specs[i].name} [${specs[i].shape}] in ${dir}; restore into the architecture that was saved.`,
      );
    }
  });
  const decoded = tf.io.decodeWeights(artifacts.weightData ?? new ArrayBuffer(0), specs);
  try {
    weights.forEach((w, i) => w.write(decoded[specs[i].name]));
  } finally {
    tf.dispose(Object.values(decoded));
  }
}

export interface RestoreTargets {
  /** Restore weights into this model; without it the model is rebuilt from model.json. */
  model?: tf.LayersModel;
  /** Restore velocities, step count and learning rate into this optimiser. */
  optimizer?: PaperSGD;
  /** Restore this schedule's state. */
  schedule?: LrSchedule;
}

export interface LoadedCheckpoint extends CheckpointInfo {
  /** targets.model with its weights restored, or the model rebuilt from model.json. */
  model: tf.LayersModel;
}

/** Restores a checkpoint folder (from latestCheckpoint or bestCheckpoint) into a model, optimiser and schedule, after verifyCheckpoint. */
export async function loadCheckpoint(dir: string, targets: RestoreTargets = {}): Promise<LoadedCheckpoint> {
  const info = await verifyCheckpoint(dir);
  if (targets.schedule && info.schedule === null)
    throw new Error(`loadCheckpoint: ${dir} was saved without a schedule; omit schedule, or resume from a checkpoint saved with one.`);
  let model: tf.LayersModel;
  if (targets.model) {
    await restoreWeights(targets.model, dir);
    model = targets.model;
  } else {
    model = await loadModel(dir);
  }
  if (targets.optimizer) await restoreOptimizer(model, targets.optimizer, dir);
  if (targets.schedule && info.schedule !== null) restoreSchedule(targets.schedule, info.schedule);
  return { ...info, model };
}
