// The trainer: epochs of SGD over the streaming loader, a validation pass after
// each (top-1 and top-5 error, centre crops), a line in RUN/metrics.jsonl, a
// checkpoint (last N and the best by val top-1 kept), then the schedule decides
// the next epoch's rate.
//
// The run folder (run.json, metrics.jsonl, checkpoints/, interrupted/) is
// lib/run/run.ts's. A stopped run (Ctrl-C, AbortSignal) writes a mid-epoch
// checkpoint under RUN/interrupted/, removed once the resumed run finishes that
// epoch: kept apart so that epoch-NNNN always means "NNNN epochs done".
//
// Exact resume: weights, velocities, learning rate and schedule come from the
// checkpoint; the loader's batches depend only on (seed, epoch, step); and
// dropout, which in tfjs draws its seed from Math.random, gets a Math.random
// seeded from (seed, epoch, step) for the length of each (synchronous) training
// step. So a run stopped and resumed ends with the same weights, bit for bit,
// as one that ran straight through (on the same engine).
//
// Fine-tuning (lib/train/finetune.ts): `init` starts from a model folder or
// another run instead of random weights; the network, its input size and its
// input normalisation come from there, fc8 is re-initialised when the dataset
// has another number of classes. `freeze` and `featuresLrScale` keep the
// pretrained features fixed or slow. A resumed run takes its weights from its
// own checkpoint (init is not applied again) but freezes and scales as before.
import { existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { embeddedDataset } from "../data/embedded";
import { createLoader, type Loader } from "../data/loader";
import { hashSeed, Random } from "../data/random";
import { type Dataset, openDataset } from "../data/shards";
import { batchToTensors } from "../data/tensors";
import { selectEngine } from "../engine/select";
import { ALEXNET_VARIANTS, type AlexNetOptions, type AlexNetVariant, buildAlexNet, planAlexNet } from "../model/alexnet";
import type { InputNormalization } from "../model/card";
import { evaluateModel } from "../eval/evaluate";
import { parseProfile } from "../profiles";
import { describeTrained } from "../run/describe";
import { type EpochMetrics, FREEZE_MODES, type FreezeMode, INTERRUPTED_DIR, RUN_CONFIG_FILE, type RunConfig, type ScheduleSpec, appendRunMetrics, bestCheckpoint, isRunFolder, keepRunMetrics, latestCheckpoint, readRunConfig, writeRunConfig } from "../run/run";
import { inKernel } from "../viz/display";
import { type Figure, LivePlot } from "../viz/plot";
import { Progress } from "../viz/progress";
import { pct } from "../viz/format";
import { loadCheckpoint, readCheckpointInfo, saveCheckpoint } from "./checkpoint";
import { inputTransform, normalizeInput } from "../model/input";
import { featuresLrMultipliers, freeze, headClasses, loadInitModel, replaceHead } from "./finetune";
import { PaperSGD } from "./optimizer";
import { dropEpoch, recordSizeFor, trainProfile } from "./profiles";
import { type LrSchedule, PlateauSchedule, StepSchedule } from "./schedule";
import { type LossFn, softmaxCrossEntropy, trainStep } from "./step";


export type ProgressMode = "tty" | "lines" | "notebook" | "silent";

export interface TrainOptions {
  /** Where checkpoints, metrics.jsonl and run.json go. */
  runDir: string;
  /** A prepared dataset's folder. Default: the profile's embedded dataset, prepared at the profile's record size. */
  data?: string;
  /** smoke, laptop or paper (lib/train/profiles.ts): the defaults of every setting below. Default "smoke". */
  profile?: string;
  model?: AlexNetVariant;
  /** numClasses comes from the dataset; seed from `seed`. */
  modelOptions?: AlexNetOptions;
  /** Total epochs of the run (a resumed run continues up to this). */
  epochs?: number;
  batchSize?: number;
  /** The initial learning rate. */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  schedule?: ScheduleSpec;
  /** Seeds the initial weights, the data order and augmentation, and dropout. Default 1. */
  seed?: number;
  /** The model's input side, so the crop side. Default: the profile's. */
  crop?: number;
  /** Pixels are multiplied by this before the network (see lib/train/profiles.ts). */
  inputScale?: number;
  /** Std of the PCA lighting alphas. */
  lighting?: number;
  /** Random crops and reflections of the training images (section 4.1). Default true; false trains on centre crops (PCA lighting still applies). */
  cropsAndReflections?: boolean;
  /**
   * Start from trained weights: a model folder (model.json + card.json) or a
   * training run folder (its best checkpoint). The variant, model options, crop
   * and input normalisation then come from there, not the profile.
   */
  init?: string;
  /** "features": conv1..conv5 are not trained. Default "none". */
  freeze?: FreezeMode;
  /** Learning-rate factor of conv1..conv5 (e.g. 0.1: ten times slower than fc6..fc8). Default 1. */
  featuresLrScale?: number;
  /** Continue from the newest checkpoint in runDir. */
  resume?: boolean;
  /** Newest checkpoints kept (the best is kept besides). Default 3. */
  keepLast?: number;
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
  onStep?: (info: StepInfo) => void;
  onEpoch?: (metrics: EpochMetrics, history: EpochMetrics[]) => void;
}

export interface StepInfo {
  /** Epoch being trained, from 0. */
  epoch: number;
  /** Step within the epoch, from 0. */
  step: number;
  /** Steps completed over the whole run, this one included. */
  globalStep: number;
  loss: number;
  lr: number;
  /** tf.memory().numTensors after the step's tensors were disposed. */
  numTensors: number;
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

export interface EvalResult {
  top1Error: number;
  top5Error: number;
  /** Mean cross-entropy of the (view-averaged) probabilities. */
  loss: number;
  count: number;
}

/**
 * Runs fn with Math.random drawing from a generator seeded by `seed`, then puts
 * Math.random back. tfjs dropout seeds itself from Math.random, so a training
 * step run inside is reproducible. fn must be synchronous: other code would see
 * the seeded Math.random across an await.
 */
export function withSeededMathRandom<T>(seed: number, fn: () => T): T {
  const rng = new Random(seed);
  const original = Math.random;
  Math.random = () => rng.next();
  try {
    return fn();
  } finally {
    Math.random = original;
  }
}

/**
 * Top-1 and top-5 error of a model over a whole loader, streaming (one batch of
 * tensors alive at a time), dropout off. With several views per image
 * ("ten-crop") the softmax is averaged over the views, as in the paper.
 */
export async function evaluate(model: tf.LayersModel, loader: Loader, options: { inputScale?: number; input?: InputNormalization } = {}): Promise<EvalResult> {
  if (options.input && loader.options.mean !== "none") {
    throw new Error(`evaluate: input normalisation is given, but the loader subtracts the ${loader.options.mean} mean already; create the loader with mean: "none".`);
  }
  const e = await evaluateModel(model, loader, { ...inputTransform(options), keep: 1 });
  if (e.count === 0) throw new Error(`evaluate: the ${loader.options.split} split of ${loader.dataset.dir} has no records; prepare a dataset with a validation split.`);
  return { top1Error: e.top1Error, top5Error: e.top5Error, loss: e.loss, count: e.count };
}

// ------------------------------------------------------------------ settings

function checkCount(what: string, value: number | undefined, min: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min)) throw new Error(`train: ${what} must be a whole number of at least ${min}, got ${String(value)}.`);
}

function checkRate(what: string, value: number | undefined): void {
  if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value >= 0)) throw new Error(`train: ${what} must be a finite number >= 0, got ${String(value)}.`);
}

type Explicit = Partial<Omit<RunConfig, "data">> & { data?: string };

/**
 * The settings of a run: each explicit option, else (when resuming) the one the
 * run started with, else the profile's. An explicit option that contradicts the
 * saved one is an error, since the resumed run would not be the same run.
 */
async function resolveConfig(options: TrainOptions, saved: RunConfig | undefined): Promise<RunConfig> {
  const explicit: Explicit = {
    profile: options.profile,
    data: options.data === undefined ? undefined : path.resolve(options.data),
    model: options.model,
    epochs: options.epochs,
    batchSize: options.batchSize,
    lr: options.lr,
    momentum: options.momentum,
    weightDecay: options.weightDecay,
    schedule: options.schedule,
    seed: options.seed,
    crop: options.crop,
    inputScale: options.inputScale,
    lighting: options.lighting,
    cropsAndReflections: options.cropsAndReflections,
    init: options.init === undefined ? undefined : path.resolve(options.init),
    freeze: options.freeze,
    featuresLrScale: options.featuresLrScale,
  };
  if (saved) {
    // Runs written before fine-tuning existed trained every layer at one rate.
    saved = { freeze: "none", featuresLrScale: 1, cropsAndReflections: true, ...saved };
    for (const [key, value] of Object.entries(explicit)) {
      if (key === "epochs" || value === undefined) continue;
      const before = (saved as unknown as Record<string, unknown>)[key];
      if (!isDeepStrictEqual(before, value)) {
        throw new Error(`train --resume: ${options.runDir} was started with ${key} ${JSON.stringify(before)}, but this call asks for ${JSON.stringify(value)}; leave the option out to keep the run's setting, or start a new run folder.`);
      }
    }
    if (options.modelOptions) {
      const merged = { ...saved.modelOptions, ...options.modelOptions };
      if (!isDeepStrictEqual(merged, saved.modelOptions)) throw new Error(`train --resume: ${options.runDir} was started with model options ${JSON.stringify(saved.modelOptions)}, but this call asks for ${JSON.stringify(options.modelOptions)}; start a new run folder to change the network.`);
    }
    return { ...saved, epochs: options.epochs ?? saved.epochs };
  }
  const profile = trainProfile(options.profile ?? "smoke");
  const init = explicit.init === undefined ? undefined : describeTrained(explicit.init, { role: "init" });
  if (init && options.model !== undefined && options.model !== init.variant) throw new Error(`train: model '${options.model}' was asked for, but the init ${init.dir} is '${init.variant}'; leave model out to fine-tune it.`);
  const model = init ? init.variant : options.model ?? profile.model;
  if (!(ALEXNET_VARIANTS as readonly string[]).includes(model)) throw new Error(`train: model '${model}' is unknown; use one of ${ALEXNET_VARIANTS.join(", ")}.`);
  checkCount("epochs", options.epochs, 1);
  checkCount("batchSize", options.batchSize, 1);
  checkCount("crop", options.crop, 1);
  checkCount("seed", options.seed, 0);
  checkRate("lr", options.lr);
  checkRate("momentum", options.momentum);
  checkRate("weightDecay", options.weightDecay);
  checkRate("inputScale", options.inputScale);
  checkRate("lighting", options.lighting);
  checkRate("featuresLrScale", options.featuresLrScale);
  if (options.lr === 0 || options.inputScale === 0) throw new Error(`train: ${options.lr === 0 ? "lr" : "inputScale"} must be greater than 0.`);
  if (options.freeze !== undefined && !(FREEZE_MODES as readonly string[]).includes(options.freeze)) throw new Error(`train: freeze '${String(options.freeze)}' is unknown; use one of ${FREEZE_MODES.join(", ")}.`);
  if (options.freeze === "features" && (options.featuresLrScale ?? 1) !== 1) throw new Error("train: frozen features are not trained, so featuresLrScale has no effect; choose freeze \"features\" or a featuresLrScale, not both.");
  if (options.featuresLrScale === 0) throw new Error("train: featuresLrScale 0 would leave the features as they are; use freeze \"features\" for that.");
  // The profile's network options apply to its own network; another variant keeps its defaults (torchvision needs 224).
  // With init, the network is the init model's; numClasses comes from the dataset.
  const base: AlexNetOptions = init ? withoutClasses(init.modelOptions) : model === profile.model ? { ...profile.modelOptions } : { init: profile.modelOptions.init };
  const seed = options.seed ?? 1;
  const modelOptions: AlexNetOptions = { ...base, ...options.modelOptions, seed };
  if (init) {
    const size = init.modelOptions.inputSize;
    const asked = options.crop ?? options.modelOptions?.inputSize;
    if (asked !== undefined && asked !== size) throw new Error(`train: crop ${asked} was asked for, but the init ${init.dir} takes ${size}x${size} inputs; leave crop out to fine-tune it.`);
    modelOptions.inputSize = size;
  } else if (options.crop !== undefined) modelOptions.inputSize = options.crop;
  const crop = planAlexNet(model, modelOptions).inputSize;
  modelOptions.inputSize = crop;
  let data = explicit.data;
  if (data === undefined) {
    // The embedded set at records that keep the paper's 224/256 crop ratio.
    const size = crop === profile.crop ? profile.recordSize : recordSizeFor(crop);
    data = (await embeddedDataset(profile.name, { size, progress: options.progress === "silent" ? "silent" : undefined })).dir;
  }
  return {
    profile: profile.name,
    data,
    model,
    modelOptions,
    epochs: options.epochs ?? profile.epochs,
    batchSize: options.batchSize ?? profile.batchSize,
    lr: options.lr ?? profile.lr,
    momentum: options.momentum ?? profile.momentum,
    weightDecay: options.weightDecay ?? profile.weightDecay,
    schedule: options.schedule ?? profile.schedule,
    seed,
    crop,
    inputScale: options.inputScale ?? (init ? init.inputScale : profile.inputScale),
    lighting: options.lighting ?? profile.lighting,
    cropsAndReflections: options.cropsAndReflections ?? true,
    ...(init ? { init: init.dir } : {}),
    freeze: options.freeze ?? "none",
    featuresLrScale: options.featuresLrScale ?? 1,
    ...(init?.input ? { input: init.input } : {}),
  };
}

function withoutClasses(options: AlexNetOptions): AlexNetOptions {
  const copy = { ...options };
  delete copy.numClasses;
  return copy;
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
    const keepHead = before === classes && (init.classes === undefined || isDeepStrictEqual(init.classes, names) || isDeepStrictEqual(init.classes, dataset.classes));
    const model = replaceHead(init, classes, { keepHead, modelOptions: config.modelOptions });
    return { model, note: `from ${init.source}${keepHead ? " (fc8 kept)" : ` (new fc8: ${before} -> ${classes} classes)`}` };
  } finally {
    init.model.dispose();
  }
}

function makeSchedule(spec: ScheduleSpec, lr: number, epochs: number): LrSchedule {
  if (spec.kind === "plateau") return new PlateauSchedule({ initial: lr, factor: spec.factor, patience: spec.patience, maxReductions: spec.maxReductions });
  if (spec.kind === "step") return new StepSchedule({ initial: lr, factor: spec.factor, every: spec.every });
  // One drop: a step schedule of one step, at the drop epoch.
  if (spec.kind === "drop") return new StepSchedule({ initial: lr, factor: spec.factor, every: dropEpoch(spec.after, epochs), maxSteps: 1 });
  throw new Error(`train: schedule kind ${JSON.stringify((spec as { kind: unknown }).kind)} is unknown; use "plateau", "step" or "drop".`);
}

function openData(dir: string): Dataset {
  if (!existsSync(path.join(dir, "manifest.json"))) {
    throw new Error(`no prepared dataset at ${dir} (manifest.json is missing); prepare one with \`alexnet prepare --format ... --out ${dir}\`, or leave --data out to use the embedded dataset.`);
  }
  return openDataset(dir);
}

/** One line per epoch for terminals and logs. */
export function formatEpoch(m: EpochMetrics, epochs: number): string {
  return `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(3)}, top-1 ${pct(m.trainTop1Error)} · val loss ${m.valLoss.toFixed(3)}, top-1 ${pct(m.valTop1Error)}, top-5 ${pct(m.valTop5Error)} · lr ${m.lr} · ${m.imagesPerSecond.toFixed(1)} img/s · ${m.seconds.toFixed(1)} s`;
}

/** The live charts: the error curves (top-1 train and val, top-5 val, chance) and the training loss, per epoch. */
export function curvesFigures(history: EpochMetrics[], chance?: number): { errors: Figure; loss: Figure } {
  const x = history.map((m) => m.epoch);
  const errors: Figure = {
    data: [
      { type: "scatter", mode: "lines+markers", name: "train top-1", x, y: history.map((m) => m.trainTop1Error) },
      { type: "scatter", mode: "lines+markers", name: "val top-1", x, y: history.map((m) => m.valTop1Error) },
      { type: "scatter", mode: "lines+markers", name: "val top-5", x, y: history.map((m) => m.valTop5Error) },
    ],
    layout: { title: "error rates", xaxis: { title: "epoch", integer: true }, yaxis: { title: "error", range: [0, 1] } },
  };
  // After one epoch the line still needs a length: it spans the axis, which then runs one epoch on.
  if (chance !== undefined && x.length > 0) errors.data.push({ type: "scatter", mode: "lines", name: "chance (top-1)", x: [x[0], Math.max(x[x.length - 1], x[0] + 1)], y: [chance, chance] });
  const loss: Figure = {
    data: [
      { type: "scatter", mode: "lines+markers", name: "train loss", x, y: history.map((m) => m.trainLoss) },
      { type: "scatter", mode: "lines+markers", name: "val loss", x, y: history.map((m) => m.valLoss) },
    ],
    layout: { title: "loss (cross-entropy)", xaxis: { title: "epoch", integer: true }, yaxis: { title: "loss" } },
  };
  return { errors, loss };
}

// ------------------------------------------------------------------ the loop

interface EpochTally {
  lossSum: number;
  wrong: number;
  seen: number;
  steps: number;
  seconds: number;
}

const NO_PARTIAL: EpochTally = { lossSum: 0, wrong: 0, seen: 0, steps: 0, seconds: 0 };

/** Trains per the options; see the header comment for the run folder and exact resume. */
export async function train(options: TrainOptions): Promise<TrainResult> {
  if (!options.runDir) throw new Error("train: runDir is required: the folder checkpoints and metrics go to.");
  if (options.profile !== undefined) parseProfile(options.profile);
  checkCount("keepLast", options.keepLast, 1);
  const engine = await selectEngine();
  const runDir = path.resolve(options.runDir);
  const configFile = path.join(runDir, RUN_CONFIG_FILE);
  const interruptedDir = path.join(runDir, INTERRUPTED_DIR);
  const mainLatest = latestCheckpoint(runDir);
  const partLatest = latestCheckpoint(interruptedDir);
  if (!options.resume && (mainLatest || partLatest)) {
    throw new Error(`train: ${runDir} already holds checkpoints of a run; pass resume (--resume) to continue it, or choose a new run folder.`);
  }
  if (options.resume && !existsSync(configFile) && (mainLatest || partLatest)) throw new Error(`train --resume: ${configFile} is missing, so the run's settings are unknown; start a new run folder.`);
  const saved = options.resume && isRunFolder(runDir) ? readRunConfig(runDir) : undefined;
  const config = await resolveConfig(options, saved);
  mkdirSync(runDir, { recursive: true });
  writeRunConfig(runDir, config);

  const dataset = openData(config.data);
  const classes = dataset.classes.length;
  const [side] = dataset.recordShape;
  if (side < config.crop) {
    await dataset.close();
    throw new Error(`train: ${config.data} has ${side}x${side} records, smaller than the ${config.crop}x${config.crop} crops ${config.init ? `the model from ${config.init} takes` : "this run takes"}; prepare the dataset again with \`alexnet prepare --size ${recordSizeFor(config.crop)}\`.`);
  }
  if (config.modelOptions.numClasses !== undefined && config.modelOptions.numClasses !== classes) {
    await dataset.close();
    throw new Error(`train: the model has ${config.modelOptions.numClasses} classes but ${config.data} has ${classes}; leave numClasses out to take the dataset's.`);
  }
  let model: tf.LayersModel | undefined;
  let optimizer: PaperSGD | undefined;
  const loaders: Loader[] = [];
  try {
    // A card's normalisation replaces the mean image (applied by normalizeInput).
    const loaderCommon = { batchSize: config.batchSize, crop: config.crop, seed: config.seed, workers: options.workers, mean: config.input ? ("none" as const) : ("image" as const) };
    const trainLoader = createLoader(dataset, { ...loaderCommon, split: "train", augment: config.cropsAndReflections === false ? "train-center" : "train", lighting: config.lighting });
    const valLoader = createLoader(dataset, { ...loaderCommon, split: "val", augment: "center", batchSize: options.evalBatchSize ?? config.batchSize });
    loaders.push(trainLoader, valLoader);
    const perEpoch = trainLoader.stepsPerEpoch;
    if (perEpoch === 0) throw new Error(`train: the train split of ${config.data} has ${trainLoader.size} records, fewer than one batch of ${config.batchSize}; lower --batch.`);

    // A resumed run's weights come from its checkpoint, so init applies only to a run's start.
    const restoring = options.resume === true && (mainLatest !== undefined || partLatest !== undefined);
    let startNote = "";
    if (config.init !== undefined && !restoring) {
      const start = await initialModel(config, dataset);
      model = start.model;
      startNote = `, ${start.note}`;
    } else {
      model = buildAlexNet(config.model, { ...config.modelOptions, numClasses: classes });
    }
    // Before any checkpoint is restored: it holds velocities for the trainable weights only.
    const frozen = freeze(model, config.freeze ?? "none");
    if (frozen.length > 0) startNote += `, ${frozen.join(" ")} frozen`;
    if (config.cropsAndReflections === false) startNote += ", centre crops only (no random crops or reflections)";
    const featuresLrScale = config.featuresLrScale ?? 1;
    if (featuresLrScale !== 1) startNote += `, features at ${featuresLrScale}x the learning rate`;
    optimizer = new PaperSGD({
      learningRate: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
      ...(featuresLrScale !== 1 ? { lrMultipliers: featuresLrMultipliers(model, featuresLrScale) } : {}),
    });
    const schedule = makeSchedule(config.schedule, config.lr, config.epochs);

    // Where to start: the newest checkpoint, or the mid-epoch one if it is newer.
    let startEpoch = 0;
    let startStep = 0;
    let globalStep = 0;
    let partial: EpochTally = NO_PARTIAL;
    let lastCheckpoint = mainLatest;
    let resumedFrom: string | undefined;
    if (restoring) {
      const mainInfo = mainLatest ? await readCheckpointInfo(mainLatest) : undefined;
      const partInfo = partLatest ? await readCheckpointInfo(partLatest) : undefined;
      const usePart = partInfo !== undefined && (mainInfo === undefined || partInfo.step > mainInfo.step);
      const from = (usePart ? partLatest : mainLatest) as string;
      const info = await loadCheckpoint(from, { model, optimizer, schedule });
      resumedFrom = from;
      lastCheckpoint = from;
      startEpoch = info.epoch;
      globalStep = info.step;
      startStep = info.step - info.epoch * perEpoch;
      if (!(startStep >= 0 && startStep < perEpoch)) throw new Error(`train --resume: ${from} is at step ${info.step} of epoch ${info.epoch + 1}, which does not fit ${perEpoch} steps per epoch; the dataset or batch size changed since the run started.`);
      if (usePart) {
        const m = info.metrics;
        partial = { lossSum: m.trainLossSum ?? 0, wrong: m.trainWrong ?? 0, seen: m.trainSeen ?? 0, steps: m.trainSteps ?? 0, seconds: m.trainSeconds ?? 0 };
      }
    }
    // A fresh start keeps no epochs of an earlier one; a resume keeps those its checkpoint has done.
    const history = keepRunMetrics(runDir, startEpoch);

    const mode: ProgressMode = options.progress ?? (inKernel() ? "notebook" : options.stream?.isTTY ?? process.stderr.isTTY ? "tty" : "lines");
    const stream = options.stream ?? process.stderr;
    // Epoch lines go to the terminal or log; in a notebook the live charts carry them, and only events are printed.
    const say = (line: string, event = false): void => {
      if (mode === "tty") stream.write(`\r\x1b[K${line}\n`);
      else if (mode === "lines") stream.write(`${line}\n`);
      else if (mode === "notebook" && event) console.log(line);
    };
    const plots = mode === "notebook" ? { errors: new LivePlot(), loss: new LivePlot() } : undefined;
    const remainingImages = Math.max(0, (config.epochs - startEpoch) * perEpoch - startStep) * config.batchSize;
    const progress = new Progress("train", remainingImages, { unit: "img", mode, stream });
    if (resumedFrom) say(`resuming from ${resumedFrom} (epoch ${startEpoch + 1}, step ${startStep + 1} of ${perEpoch}, lr ${optimizer.learningRate})`, true);
    say(`training ${config.model} (${config.crop}x${config.crop}, ${classes} classes${startNote}) on ${config.data}: ${trainLoader.size} train / ${valLoader.size} val images, batch ${config.batchSize}, ${config.epochs} epochs, engine ${engine.engine}`, true);

    const lossFn = options.lossFn ?? softmaxCrossEntropy;
    let trainedImages = 0;
    let trainedSeconds = 0;
    let status: "completed" | "interrupted" = "completed";

    for (let epoch = startEpoch; epoch < config.epochs && status === "completed"; epoch++) {
      const first = epoch === startEpoch ? startStep : 0;
      const acc: EpochTally = epoch === startEpoch ? { ...partial } : { ...NO_PARTIAL };
      const epochStart = performance.now();
      let tick = performance.now();
      const lr = optimizer.learningRate;
      for await (const batch of trainLoader.batches({ epoch, step: first, epochs: 1 })) {
        const { xs, ys } = batchToTensors(batch);
        let wrong: tf.Tensor | undefined;
        const countErrors: LossFn = (labels, logits) => {
          wrong = tf.keep(tf.tidy(() => tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32"))));
          return lossFn(labels, logits);
        };
        let loss: number;
        try {
          const input = normalizeInput(xs, config);
          try {
            const m = model;
            const o = optimizer;
            loss = withSeededMathRandom(hashSeed(config.seed, epoch, batch.step), () =>
              trainStep(m, input, ys, o, countErrors, { where: { epoch: epoch + 1, step: batch.step + 1, lastCheckpoint } }),
            );
          } finally {
            if (input !== xs) input.dispose();
          }
          acc.wrong += wrong ? (await wrong.data())[0] : 0;
        } finally {
          if (wrong) wrong.dispose();
          tf.dispose([xs, ys]);
          batch.release();
        }
        globalStep++;
        acc.lossSum += loss;
        acc.steps++;
        acc.seen += batch.labels.length;
        const now = performance.now();
        acc.seconds += (now - tick) / 1000;
        trainedSeconds += (now - tick) / 1000;
        trainedImages += batch.labels.length;
        progress.tick(batch.labels.length, `epoch ${epoch + 1}/${config.epochs} · loss ${loss.toFixed(3)}`);
        options.onStep?.({ epoch, step: batch.step, globalStep, loss, lr, numTensors: tf.memory().numTensors });
        // A macrotask turn, so Ctrl-C and a notebook's display get through between steps.
        await new Promise<void>((resolve) => setImmediate(resolve));
        tick = performance.now();
        if (options.signal?.aborted && batch.step < perEpoch - 1) {
          const saved = await saveCheckpoint(
            interruptedDir,
            {
              model,
              optimizer,
              schedule,
              epoch,
              step: globalStep,
              rng: { dropout: "Math.random seeded per step from hashSeed(seed, epoch, step)", seed: config.seed, epoch, nextStep: batch.step + 1 },
              metrics: { trainLossSum: acc.lossSum, trainWrong: acc.wrong, trainSeen: acc.seen, trainSteps: acc.steps, trainSeconds: acc.seconds },
            },
            { keepLast: 1 },
          );
          lastCheckpoint = saved.path;
          status = "interrupted";
          say(`stopped at epoch ${epoch + 1}, step ${batch.step + 1} of ${perEpoch}; saved ${saved.path}; continue with --resume`, true);
          break;
        }
      }
      if (status === "interrupted") break;

      const val = await evaluate(model, valLoader, { inputScale: config.inputScale, input: config.input });
      const decision = schedule.step(val.top1Error);
      optimizer.learningRate = decision.lr;
      const saved = await saveCheckpoint(
        runDir,
        {
          model,
          optimizer,
          schedule,
          epoch: epoch + 1,
          step: globalStep,
          rng: { dropout: "Math.random seeded per step from hashSeed(seed, epoch, step)", seed: config.seed, epoch: epoch + 1, nextStep: 0 },
          metrics: { valTop1Error: val.top1Error, valTop5Error: val.top5Error, valLoss: val.loss, trainLoss: acc.lossSum / acc.steps, trainTop1Error: acc.wrong / acc.seen },
        },
        { keepLast: options.keepLast ?? 3, best: { metric: "valTop1Error", mode: "min" } },
      );
      lastCheckpoint = saved.path;
      if (existsSync(interruptedDir)) rmSync(interruptedDir, { recursive: true, force: true });
      const metrics: EpochMetrics = {
        epoch: epoch + 1,
        step: globalStep,
        lr,
        nextLr: decision.lr,
        schedule: decision.reason,
        trainLoss: acc.lossSum / acc.steps,
        trainTop1Error: acc.wrong / acc.seen,
        valLoss: val.loss,
        valTop1Error: val.top1Error,
        valTop5Error: val.top5Error,
        imagesPerSecond: acc.seconds > 0 ? acc.seen / acc.seconds : 0,
        seconds: (performance.now() - epochStart) / 1000 + (epoch === startEpoch ? partial.seconds : 0),
        checkpoint: path.relative(runDir, saved.path),
        time: new Date().toISOString(),
      };
      appendRunMetrics(runDir, metrics);
      history.push(metrics);
      say(formatEpoch(metrics, config.epochs) + (decision.changed ? ` · ${decision.reason}` : ""), decision.changed);
      if (plots) {
        const figures = curvesFigures(history, 1 - 1 / classes);
        await plots.errors.update(figures.errors, formatEpoch(metrics, config.epochs));
        await plots.loss.update(figures.loss, `train loss ${metrics.trainLoss.toFixed(3)}, val loss ${metrics.valLoss.toFixed(3)}`);
      }
      options.onEpoch?.(metrics, history);
      if (options.signal?.aborted && epoch + 1 < config.epochs) {
        status = "interrupted";
        say(`stopped after epoch ${epoch + 1}; saved ${saved.path}; continue with --resume`, true);
      }
    }
    progress.finish(status === "interrupted" ? "interrupted" : undefined);
    const trained = model;
    model = undefined; // the caller's now
    return {
      runDir,
      status,
      config,
      history,
      final: history[history.length - 1],
      imagesPerSecond: trainedSeconds > 0 ? trainedImages / trainedSeconds : 0,
      lastCheckpoint,
      bestCheckpoint: bestCheckpoint(runDir),
      resumedFrom,
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
