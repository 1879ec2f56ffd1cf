// The epoch loop, top to bottom: train steps over the streaming loader, a
// validation pass, a checkpoint, a line in RUN/metrics.jsonl, then the schedule
// sets the next epoch's rate. Everything it reports goes through hooks (onStart,
// onStep, onEpoch, onStop, onEnd), so it draws nothing itself: lib/viz/training.ts
// turns the hooks into a progress bar, epoch lines and live charts.
//
// Exact resume: the loader's batches depend only on (seed, epoch, step), and
// dropout, which in tfjs draws its seed from Math.random, gets a Math.random
// seeded from (seed, epoch, step) for the length of each (synchronous) training
// step. A stop (AbortSignal) between steps saves a mid-epoch checkpoint under
// RUN/interrupted/, apart from the epoch checkpoints so that epoch-NNNN always
// means "NNNN epochs done".
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Batch, Loader } from "../data/loader";
import { hashSeed, Random } from "../data/random";
import { batchToTensors } from "../data/tensors";
import { evaluateModel } from "../eval/evaluate";
import type { InputNormalization } from "../model/card";
import { inputTransform, normalizeInput } from "../model/input";
import { type EpochMetrics, type RunConfig, appendRunMetrics, clearInterrupted, interruptedDir } from "../run/run";
import { saveCheckpoint } from "./checkpoint";
import type { PaperSGD } from "./optimizer";
import type { LrSchedule } from "./schedule";
import { beginTrainStep, finishTrainStep, type LossFn, pendingLoss } from "./step";

export interface StartInfo {
  config: RunConfig;
  classes: number;
  trainImages: number;
  valImages: number;
  stepsPerEpoch: number;
  /** Where this call starts: epoch and step within it, from 0. */
  startEpoch: number;
  startStep: number;
  lr: number;
  /** The checkpoint a resumed run continues from. */
  resumedFrom: string | undefined;
  /** What is special about the start: ", from X (fc8 kept), conv1 ... frozen". */
  note: string;
  engine: string;
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
  /** Images in this step's batch. */
  images: number;
  /** tf.memory().numTensors after the step's tensors were disposed. */
  numTensors: number;
}

export interface StopInfo {
  /** The epoch stopped in (from 0), and with `step` the last step trained in it (from 0); without, it stopped after the epoch. */
  epoch: number;
  step?: number;
  stepsPerEpoch: number;
  checkpoint: string;
}

export type TrainStatus = "completed" | "interrupted";

/** What a training run tells whoever watches it, in order: onStart, onStep and onEpoch, onStop if stopped, onEnd. */
export interface TrainHooks {
  onStart?: (info: StartInfo) => void;
  onStep?: (info: StepInfo) => void;
  /** A promise it returns is awaited, so a chart can be drawn before the next epoch. */
  onEpoch?: (metrics: EpochMetrics, history: EpochMetrics[]) => void;
  onStop?: (info: StopInfo) => void;
  onEnd?: (status: TrainStatus) => void;
}

/** One set of hooks calling each of `all` in turn (the default reporter first, then the caller's). */
export function composeHooks(...all: TrainHooks[]): Required<TrainHooks> {
  return {
    onStart: (info) => all.forEach((h) => h.onStart?.(info)),
    onStep: (info) => all.forEach((h) => h.onStep?.(info)),
    onEpoch: async (metrics, history) => {
      for (const h of all) await h.onEpoch?.(metrics, history);
    },
    onStop: (info) => all.forEach((h) => h.onStop?.(info)),
    onEnd: (status) => all.forEach((h) => h.onEnd?.(status)),
  };
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
export async function evaluate(
  model: tf.LayersModel,
  loader: Loader,
  options: { inputScale?: number; input?: InputNormalization } = {},
): Promise<EvalResult> {
  if (options.input && loader.options.mean !== "none") {
    throw new Error(
      `evaluate: input normalisation is given, but the loader subtracts the ${loader.options.mean} mean already; create the loader with mean: "none".`,
    );
  }
  const e = await evaluateModel(model, loader, { ...inputTransform(options), keep: 1 });
  if (e.count === 0)
    throw new Error(
      `evaluate: the ${loader.options.split} split of ${loader.dataset.dir} has no records; prepare a dataset with a validation split.`,
    );
  return { top1Error: e.top1Error, top5Error: e.top5Error, loss: e.loss, count: e.count };
}

/** Sums over an epoch's training steps so far (a mid-epoch checkpoint carries them). */
export interface EpochTally {
  lossSum: number;
  wrong: number;
  seen: number;
  steps: number;
  seconds: number;
}

export const NO_PARTIAL: EpochTally = { lossSum: 0, wrong: 0, seen: 0, steps: 0, seconds: 0 };

const DROPOUT_RNG = "Math.random seeded per step from hashSeed(seed, epoch, step)";

export interface LoopSetup {
  runDir: string;
  config: RunConfig;
  model: tf.LayersModel;
  optimizer: PaperSGD;
  schedule: LrSchedule;
  trainLoader: Loader;
  valLoader: Loader;
  lossFn: LossFn;
  /** Where to start: epoch and step within it (from 0), steps done, and the sums of a stopped epoch. */
  startEpoch: number;
  startStep: number;
  globalStep: number;
  partial: EpochTally;
  lastCheckpoint: string | undefined;
  /** Epochs done so far; each new one is appended. */
  history: EpochMetrics[];
  keepLast: number;
  signal: AbortSignal | undefined;
  hooks: Required<TrainHooks>;
}

export interface LoopResult {
  status: TrainStatus;
  lastCheckpoint: string | undefined;
  /** Training images and seconds in this call (validation excluded). */
  trainedImages: number;
  trainedSeconds: number;
}

/** Trains from the start position to config.epochs, or until the signal stops it. */
export async function runEpochs(s: LoopSetup): Promise<LoopResult> {
  const { config, optimizer, trainLoader } = s;
  const perEpoch = trainLoader.stepsPerEpoch;
  let { globalStep, lastCheckpoint } = s;
  let trainedImages = 0;
  let trainedSeconds = 0;
  for (let epoch = s.startEpoch; epoch < config.epochs; epoch++) {
    const first = epoch === s.startEpoch ? s.startStep : 0;
    const acc: EpochTally = epoch === s.startEpoch ? { ...s.partial } : { ...NO_PARTIAL };
    const epochStart = performance.now();
    let tick = performance.now();
    const lr = optimizer.learningRate;
    for await (const batch of trainLoader.batches({ epoch, step: first, epochs: 1 })) {
      const images = batch.labels.length;
      const { loss, wrong } = await stepOn(s, batch, epoch, lastCheckpoint);
      globalStep++;
      acc.lossSum += loss;
      acc.wrong += wrong;
      acc.steps++;
      acc.seen += images;
      const now = performance.now();
      acc.seconds += (now - tick) / 1000;
      trainedSeconds += (now - tick) / 1000;
      trainedImages += images;
      s.hooks.onStep({ epoch, step: batch.step, globalStep, loss, lr, images, numTensors: tf.memory().numTensors });
      // A macrotask turn, so Ctrl-C and a notebook's display get through between steps.
      await new Promise<void>((resolve) => setImmediate(resolve));
      tick = performance.now();
      if (s.signal?.aborted && batch.step < perEpoch - 1) {
        const saved = await saveMidEpoch(s, epoch, batch.step, globalStep, acc);
        s.hooks.onStop({ epoch, step: batch.step, stepsPerEpoch: perEpoch, checkpoint: saved });
        return { status: "interrupted", lastCheckpoint: saved, trainedImages, trainedSeconds };
      }
    }
    const metrics = await finishEpoch(s, { epoch, acc, lr, epochStart, globalStep });
    lastCheckpoint = path.join(s.runDir, metrics.checkpoint);
    s.history.push(metrics);
    await s.hooks.onEpoch(metrics, s.history);
    if (s.signal?.aborted && epoch + 1 < config.epochs) {
      s.hooks.onStop({ epoch, stepsPerEpoch: perEpoch, checkpoint: lastCheckpoint });
      return { status: "interrupted", lastCheckpoint, trainedImages, trainedSeconds };
    }
  }
  return { status: "completed", lastCheckpoint, trainedImages, trainedSeconds };
}

/** One SGD step on a batch (dropout seeded from (seed, epoch, step)); the loss and how many of its images were wrong. */
async function stepOn(
  s: LoopSetup,
  batch: Batch,
  epoch: number,
  lastCheckpoint: string | undefined,
): Promise<{ loss: number; wrong: number }> {
  const { config, model, optimizer } = s;
  const { xs, ys } = batchToTensors(batch);
  let wrong: tf.Tensor | undefined;
  const countErrors: LossFn = (labels, logits) => {
    wrong = tf.keep(tf.tidy(() => tf.sum(tf.cast(tf.notEqual(tf.argMax(logits, 1), tf.cast(labels, "int32")), "float32"))));
    return s.lossFn(labels, logits);
  };
  try {
    const input = normalizeInput(xs, config);
    try {
      const where = { epoch: epoch + 1, step: batch.step + 1, lastCheckpoint };
      // Only the forward and backward passes run under the seeded Math.random; the loss is read after, without blocking (webgpu cannot block).
      const pending = withSeededMathRandom(hashSeed(config.seed, epoch, batch.step), () => beginTrainStep(model, input, ys, countErrors));
      // Both numbers are asked for at once: one wait for the device per step, not two.
      const [value, wrongCount] = await Promise.all([pendingLoss(pending), wrong ? wrong.data() : Promise.resolve([0])]);
      return { loss: finishTrainStep(pending, value, optimizer, { where }), wrong: wrongCount[0] };
    } finally {
      if (input !== xs) input.dispose();
    }
  } finally {
    if (wrong) wrong.dispose();
    tf.dispose([xs, ys]);
    batch.release();
  }
}

/** The checkpoint of a run stopped mid-epoch, with the epoch's tally so far; its path. */
async function saveMidEpoch(s: LoopSetup, epoch: number, step: number, globalStep: number, acc: EpochTally): Promise<string> {
  const { model, optimizer, schedule, config } = s;
  const rng = { dropout: DROPOUT_RNG, seed: config.seed, epoch, nextStep: step + 1 };
  const metrics = {
    trainLossSum: acc.lossSum,
    trainWrong: acc.wrong,
    trainSeen: acc.seen,
    trainSteps: acc.steps,
    trainSeconds: acc.seconds,
  };
  const saved = await saveCheckpoint(
    interruptedDir(s.runDir),
    { model, optimizer, schedule, epoch, step: globalStep, rng, metrics },
    { keepLast: 1 },
  );
  return saved.path;
}

/** The end of an epoch: validation, the schedule's decision, the checkpoint, and the epoch's line in metrics.jsonl. */
async function finishEpoch(
  s: LoopSetup,
  e: { epoch: number; acc: EpochTally; lr: number; epochStart: number; globalStep: number },
): Promise<EpochMetrics> {
  const { config, model, optimizer, schedule } = s;
  const { epoch, acc } = e;
  const val = await evaluate(model, s.valLoader, { inputScale: config.inputScale, input: config.input });
  const decision = schedule.step(val.top1Error);
  optimizer.learningRate = decision.lr;
  const trainLoss = acc.lossSum / acc.steps;
  const trainTop1Error = acc.wrong / acc.seen;
  const saved = await saveCheckpoint(
    s.runDir,
    {
      model,
      optimizer,
      schedule,
      epoch: epoch + 1,
      step: e.globalStep,
      rng: { dropout: DROPOUT_RNG, seed: config.seed, epoch: epoch + 1, nextStep: 0 },
      metrics: { valTop1Error: val.top1Error, valTop5Error: val.top5Error, valLoss: val.loss, trainLoss, trainTop1Error },
    },
    { keepLast: s.keepLast, best: { metric: "valTop1Error", mode: "min" } },
  );
  clearInterrupted(s.runDir);
  const metrics: EpochMetrics = {
    epoch: epoch + 1,
    step: e.globalStep,
    lr: e.lr,
    nextLr: decision.lr,
    schedule: decision.reason,
    trainLoss,
    trainTop1Error,
    valLoss: val.loss,
    valTop1Error: val.top1Error,
    valTop5Error: val.top5Error,
    imagesPerSecond: acc.seconds > 0 ? acc.seen / acc.seconds : 0,
    seconds: (performance.now() - e.epochStart) / 1000 + (epoch === s.startEpoch ? s.partial.seconds : 0),
    checkpoint: path.relative(s.runDir, saved.path),
    time: new Date().toISOString(),
  };
  appendRunMetrics(s.runDir, metrics);
  return metrics;
}
