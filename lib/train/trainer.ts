// The trainer: epochs of SGD over the streaming loader, a validation pass after
// each (top-1 and top-5 error, centre crops), a line in RUN/metrics.jsonl, a
// checkpoint (last N and the best by val top-1 kept), then the schedule decides
// the next epoch's rate. train() reads top to bottom: check the options, open
// the run folder, resolve the settings (lib/train/settings.ts), open the data,
// build the model, restore a checkpoint when resuming, run the epochs
// (lib/train/loop.ts), with lib/viz/training.ts showing them through the hooks.
//
// The run folder (settings, metrics, checkpoints/, interrupted/) is
// lib/run/run.ts's. A stopped run (Ctrl-C, AbortSignal) writes a mid-epoch
// checkpoint under RUN/interrupted/, removed once the resumed run finishes that
// epoch.
//
// Exact resume: weights, velocities, learning rate and schedule come from the
// checkpoint, and the loop makes data order and dropout depend only on (seed,
// epoch, step). So a run stopped and resumed ends with the same weights, bit for
// bit, as one that ran straight through (on the same engine).
//
// Fine-tuning (lib/train/finetune.ts): `init` starts from a model folder or
// another run instead of random weights; the network, its input size and its
// input normalisation come from there, fc8 is re-initialised when the dataset
// has another number of classes. `freeze` and `featuresLrScale` keep the
// pretrained features fixed or slow. A resumed run takes its weights from its
// own checkpoint (init is not applied again) but freezes and scales as before.
import { existsSync, rmdirSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { type Loader, createLoader } from "../data/loader";
import { MANIFEST_FILE } from "../data/shard-format";
import { type Dataset, openDataset, verifyDataset } from "../data/shards";
import { checkFitsDevice } from "../engine/device-limits";
import { selectEngine } from "../engine/select";
import { buildAlexNet } from "../model/alexnet";
import { type EpochMetrics, type RunConfig, bestCheckpoint, keepRunMetrics, openRunFolder, writeRunConfig } from "../run/run";
import { type ProgressMode, trainingReporter } from "../viz/training";
import { acquireRunLock } from "../run/lock";
import { loadCheckpoint } from "./checkpoint";
import { type ResumePoint, chooseResumePoint } from "./resume";
import { featuresLrMultipliers, freeze, headClasses, loadInitModel, replaceHead } from "./finetune";
import { type EpochTally, NO_PARTIAL, type TrainHooks, composeHooks, runEpochs } from "./loop";
import { PaperSGD } from "./optimizer";
import { recordSizeFor } from "./profiles";
import { type RunOptions, checkOptions, defaultDataset, makeSchedule, resolveSettings } from "./settings";
import { type LossFn, softmaxCrossEntropy } from "./step";

export interface TrainOptions extends RunOptions, TrainHooks {
  /** Loader worker threads (0: in-process). Default: the loader's (cores - 1, 1 to 4). */
  workers?: number;
  /** Batch size of the validation pass. Default: batchSize. */
  evalBatchSize?: number;
  /** The training loss. Default: softmax cross-entropy. */
  lossFn?: LossFn;
  /** Default: "notebook" in a tslab kernel, "tty" on a terminal, else "lines". */
  progress?: ProgressMode;
  /** Where the bar and epoch lines go. Default stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stops after the current step, with a checkpoint of where it stopped. */
  signal?: AbortSignal;
}

export interface TrainResult {
  runDir: string;
  /** "interrupted" when the signal stopped the run; RUN/interrupted holds where it stopped. */
  status: "completed" | "interrupted";
  config: RunConfig;
  /** Every epoch of the run, those before a resume included (from metrics.jsonl). */
  history: EpochMetrics[];
  final: EpochMetrics | undefined;
  /** Training images per second in this call. */
  imagesPerSecond: number;
  lastCheckpoint: string | undefined;
  bestCheckpoint: string | undefined;
  resumedFrom: string | undefined;
  backend: string;
  /** The trained model; the caller disposes it. */
  model: tf.LayersModel;
}

/** Trains per the options; see the header comment for the run folder and exact resume. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  checkOptions(options);
  const engine = await selectEngine();
  const runDir = path.resolve(options.runDir);
  const resume = options.resume === true || options.resumeFrom !== undefined;
  // Held until train() returns: a second trainer in this folder is refused, naming this process.
  const lock = acquireRunFolder(runDir);
  try {
    return await trainLocked(options, { runDir, resume, engine: engine.engine, lockNote: lock.note });
  } finally {
    lock.release();
  }
}

async function trainLocked(
  options: TrainOptions,
  where: { runDir: string; resume: boolean; engine: string; lockNote: string },
): Promise<TrainResult> {
  const { runDir } = where;
  const folder = openRunFolder(runDir, where.resume, options.force === true);
  const settings = resolveSettings({ ...options, resume: where.resume }, folder.saved);
  // Without --data, the profile's embedded set; prepared only now, at records that fit the resolved crop.
  const data =
    settings.data ??
    (await defaultDataset(settings.profile, settings.crop, { progress: options.progress === "silent" ? "silent" : undefined }));
  const config: RunConfig = { ...settings, data };
  if (options.verify) await verifyDataset(config.data);
  // Chosen before anything is written; later checkpoints are moved aside only once the start is restored.
  const from = folder.restoring || options.resumeFrom !== undefined ? await chooseResumePoint(runDir, options.resumeFrom) : undefined;
  folder.replace(); // --force without --resume: the old run goes only now that the new one's settings are good
  writeRunConfig(runDir, config);

  const dataset = await openData(config);
  const classes = dataset.classes.length;
  let model: tf.LayersModel | undefined;
  let optimizer: PaperSGD | undefined;
  const loaders: { close(): Promise<void> }[] = [];
  try {
    const { trainLoader, valLoader } = makeLoaders(dataset, config, options);
    loaders.push(trainLoader, valLoader);
    const perEpoch = trainLoader.stepsPerEpoch;

    const start = await startingModel(config, dataset, folder.restoring);
    model = start.model;
    optimizer = start.optimizer;
    // On webgpu, a tensor over the device's binding limit would train on garbage: refuse it here, naming it.
    checkFitsDevice(model, Math.max(config.batchSize, options.evalBatchSize ?? 0));
    const schedule = makeSchedule(config.schedule, config.lr, config.epochs);
    let position = { startEpoch: 0, startStep: 0, globalStep: 0, partial: NO_PARTIAL };
    if (from) position = await restore(from.info.path, from.midEpoch, { model, optimizer, schedule }, perEpoch);
    const superseded = from ? from.supersede() : [];
    // A fresh start keeps no epochs of an earlier one; a resume keeps those its checkpoint has done.
    const history = keepRunMetrics(runDir, position.startEpoch);

    const hooks = composeHooks(trainingReporter({ progress: options.progress, stream: options.stream }), options);
    const note = start.note + where.lockNote + (from ? resumeNote(from, superseded) : "");
    hooks.onStart({
      config,
      classes,
      trainImages: trainLoader.size,
      valImages: valLoader.size,
      stepsPerEpoch: perEpoch,
      ...position,
      lr: optimizer.learningRate,
      resumedFrom: from?.info.path,
      note,
      engine: where.engine,
    });
    const run = await runEpochs({
      runDir,
      config,
      model,
      optimizer,
      schedule,
      trainLoader,
      valLoader,
      lossFn: options.lossFn ?? softmaxCrossEntropy,
      ...position,
      // Verified when it was loaded: the NaN stop names no checkpoint that failed its checks.
      lastCheckpoint: from?.info.path,
      history,
      keepLast: options.keepLast ?? 3,
      signal: options.signal,
      hooks,
    });
    hooks.onEnd(run.status);
    const trained = model;
    model = undefined; // the caller's now
    return {
      runDir,
      status: run.status,
      config,
      history,
      final: history[history.length - 1],
      imagesPerSecond: run.trainedSeconds > 0 ? run.trainedImages / run.trainedSeconds : 0,
      lastCheckpoint: run.lastCheckpoint,
      bestCheckpoint: bestCheckpoint(runDir),
      resumedFrom: from?.info.path,
      backend: tf.getBackend(),
      model: trained,
    };
  } finally {
    model?.dispose();
    optimizer?.dispose();
    for (const l of loaders) await l.close();
    await dataset.close();
  }
}

/** The training loader (augmented, shuffled) and the validation loader (centre crops), with a check that an epoch has a step. */
function makeLoaders(dataset: Dataset, config: RunConfig, options: TrainOptions): { trainLoader: Loader; valLoader: Loader } {
  // A card's normalisation replaces the mean image (applied by normalizeInput).
  const common = {
    batchSize: config.batchSize,
    crop: config.crop,
    seed: config.seed,
    workers: options.workers,
    mean: config.input ? ("none" as const) : ("image" as const),
  };
  const augment = config.cropsAndReflections === false ? "train-center" : "train";
  const trainLoader = createLoader(dataset, { ...common, split: "train", augment, lighting: config.lighting });
  const valLoader = createLoader(dataset, {
    ...common,
    split: "val",
    augment: "center",
    batchSize: options.evalBatchSize ?? config.batchSize,
  });
  if (trainLoader.stepsPerEpoch === 0) {
    void trainLoader.close();
    void valLoader.close();
    throw new Error(
      `train: the train split of ${config.data} has ${trainLoader.size} records, fewer than one batch of ${config.batchSize}; lower --batch.`,
    );
  }
  return { trainLoader, valLoader };
}

/** The prepared dataset of a run, checked against the run's crop and classes. */
async function openData(config: RunConfig): Promise<Dataset> {
  const dir = config.data;
  if (!existsSync(path.join(dir, MANIFEST_FILE))) {
    throw new Error(
      `no prepared dataset at ${dir} (manifest.json is missing); prepare one with \`alexnet prepare --format ... --out ${dir}\`, or leave --data out to use the embedded dataset.`,
    );
  }
  const dataset = openDataset(dir);
  const classes = dataset.classes.length;
  const [side] = dataset.recordShape;
  if (side < config.crop) {
    await dataset.close();
    throw new Error(
      `train: ${config.data} has ${side}x${side} records, smaller than the ${config.crop}x${config.crop} crops ${config.init ? `the model from ${config.init} takes` : "this run takes"}; prepare the dataset again with \`alexnet prepare --size ${recordSizeFor(config.crop)}\`.`,
    );
  }
  if (config.modelOptions.numClasses !== undefined && config.modelOptions.numClasses !== classes) {
    await dataset.close();
    throw new Error(
      `train: the model has ${config.modelOptions.numClasses} classes but ${config.data} has ${classes}; leave numClasses out to take the dataset's.`,
    );
  }
  return dataset;
}

/**
 * The network and optimiser a run starts with, and a note on what is special
 * about them. A resumed run's weights come from its checkpoint, so init applies
 * only to a run's start; freezing comes first, since a checkpoint holds
 * velocities for the trainable weights only.
 */
async function startingModel(
  config: RunConfig,
  dataset: Dataset,
  restoring: boolean,
): Promise<{ model: tf.LayersModel; optimizer: PaperSGD; note: string }> {
  let note = "";
  let model: tf.LayersModel;
  if (config.init !== undefined && !restoring) {
    const start = await initialModel(config, dataset);
    model = start.model;
    note = `, ${start.note}`;
  } else {
    model = buildAlexNet(config.model, { ...config.modelOptions, numClasses: dataset.classes.length });
  }
  try {
    const frozen = freeze(model, config.freeze ?? "none");
    if (frozen.length > 0) note += `, ${frozen.join(" ")} frozen`;
    if (config.cropsAndReflections === false) note += ", centre crops only (no random crops or reflections)";
    const featuresLrScale = config.featuresLrScale ?? 1;
    if (featuresLrScale !== 1) note += `, features at ${featuresLrScale}x the learning rate`;
    const optimizer = new PaperSGD({
      learningRate: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      ...(featuresLrScale !== 1 ? { lrMultipliers: featuresLrMultipliers(model, featuresLrScale) } : {}),
    });
    return { model, optimizer, note };
  } catch (err) {
    model.dispose();
    throw err;
  }
}

/**
 * The fine-tuning start: the init model with fc8 kept (the same classes: same
 * count, and the same names when the init model knows its names) or new.
 */
async function initialModel(config: RunConfig, dataset: Dataset): Promise<{ model: tf.LayersModel; note: string }> {
  const init = await loadInitModel(config.init as string);
  const classes = dataset.classes.length;
  const names = dataset.manifest.classNames ?? dataset.classes;
  try {
    const before = headClasses(init.model);
    const keepHead =
      before === classes &&
      (init.classes === undefined || isDeepStrictEqual(init.classes, names) || isDeepStrictEqual(init.classes, dataset.classes));
    const model = replaceHead(init, classes, { keepHead, modelOptions: config.modelOptions });
    return { model, note: `from ${init.source}${keepHead ? " (fc8 kept)" : ` (new fc8: ${before} -> ${classes} classes)`}` };
  } finally {
    init.model.dispose();
  }
}

/** Takes the run folder's lock, creating the folder; a folder it created and left empty goes again on release. */
function acquireRunFolder(runDir: string): { note: string; release: () => void } {
  const created = !existsSync(runDir);
  const lock = acquireRunLock(runDir);
  const t = lock.tookOver;
  return {
    note: t
      ? `, took over the lock left by process ${t.pid} on ${t.host} (${t.command}, since ${t.started}), which is no longer running`
      : "",
    release: () => {
      lock.release();
      // rmdir, not rm -r: it fails on a folder another trainer has just put its lock in.
      if (created) {
        try {
          rmdirSync(runDir);
        } catch {
          // not empty: a run was written, or someone else is using it now
        }
      }
    },
  };
}

/** What a resume skipped and moved aside, for the start line. */
function resumeNote(from: ResumePoint, superseded: { from: string; to: string }[]): string {
  const parts = from.skipped.map((s) => `skipped ${s.path}: ${s.reason}`);
  if (superseded.length) {
    const names = superseded.map((m) => path.basename(m.from)).join(", ");
    parts.push(`moved ${names} to ${path.dirname(superseded[0].to)} (not to be resumed from)`);
  }
  return parts.length ? `; ${parts.join("; ")}` : "";
}

async function restore(
  from: string,
  midEpoch: boolean,
  into: Parameters<typeof loadCheckpoint>[1],
  perEpoch: number,
): Promise<{ startEpoch: number; startStep: number; globalStep: number; partial: EpochTally }> {
  const info = await loadCheckpoint(from, into);
  const startStep = info.step - info.epoch * perEpoch;
  if (!(startStep >= 0 && startStep < perEpoch))
    throw new Error(
      `train --resume: ${from} is at step ${info.step} of epoch ${info.epoch + 1}, which does not fit ${perEpoch} steps per epoch; the dataset or batch size changed since the run started.`,
    );
  const m = info.metrics;
  const partial = midEpoch
    ? {
        lossSum: m.trainLossSum ?? 0,
        wrong: m.trainWrong ?? 0,
        seen: m.trainSeen ?? 0,
        steps: m.trainSteps ?? 0,
        seconds: m.trainSeconds ?? 0,
      }
    : NO_PARTIAL;
  return { startEpoch: info.epoch, startStep, globalStep: info.step, partial };
}
