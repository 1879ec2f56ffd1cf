// A compact training loop for the notebooks' experiments (ReLU against tanh,
// pooling, dropout): in-memory data, the paper's SGD, one evaluation per epoch.
// The full trainer (streaming loader, checkpoints, resume) is lib/train/trainer.ts.
import * as tf from "@tensorflow/tfjs";
import type { InMemorySplit } from "../data/in-memory";
import { permutation } from "../data/random";
import { PaperSGD } from "./optimizer";
import { trainStepAsync } from "./step";

export interface EpochLog {
  epoch: number;
  /** Optimiser steps so far; a log made mid-epoch (checkEvery) says where in it training stopped. */
  steps: number;
  /** Mean training loss over the epoch's steps (dropout on). */
  trainLoss: number;
  /** Top-1 error on the training set at the end of the epoch (dropout off). */
  trainError: number;
  /** Top-1 error on the validation set, when one is given. */
  valError?: number;
  seconds: number;
}

export interface FitOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  momentum?: number;
  /** 0 unless given: the experiments isolate one idea each, like Figure 1's "no regularization of any kind". */
  weightDecay?: number;
  seed?: number;
  val?: InMemorySplit;
  /** Stop as soon as the training error is at or below this (Figure 1 stops at 25%). */
  stopAtTrainError?: number;
  /**
   * With stopAtTrainError: also measure the training error every this many
   * steps, and stop there (a final, partial epoch's log) once it is reached, so
   * "how long to 25%" is counted in steps rather than whole epochs.
   */
  checkEvery?: number;
  onEpoch?: (log: EpochLog, history: EpochLog[]) => void;
}

/** Top-1 error of a model on in-memory data, in inference mode (dropout off); read back without blocking (webgpu cannot block). */
export async function errorRate(model: tf.LayersModel, data: InMemorySplit, batchSize = 256): Promise<number> {
  let wrong = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const n = Math.min(batchSize, data.count - start);
    const count = tf.tidy(() => {
      const logits = model.apply(data.xs.slice([start, 0, 0, 0], [n, -1, -1, -1]), { training: false }) as tf.Tensor2D;
      return logits
        .argMax(1)
        .notEqual(data.ys.slice([start], [n]))
        .sum();
    });
    try {
      wrong += (await count.data())[0];
    } finally {
      count.dispose();
    }
  }
  return data.count > 0 ? wrong / data.count : NaN;
}

/** Trains with the paper's SGD on shuffled mini-batches; returns one log line per epoch. */
export async function fit(model: tf.LayersModel, train: InMemorySplit, options: FitOptions): Promise<EpochLog[]> {
  const optimizer = new PaperSGD({
    learningRate: options.learningRate,
    momentum: options.momentum ?? 0.9,
    weightDecay: options.weightDecay ?? 0,
  });
  const history: EpochLog[] = [];
  const checkEvery = options.stopAtTrainError !== undefined ? options.checkEvery : undefined;
  if (checkEvery !== undefined && !(Number.isInteger(checkEvery) && checkEvery >= 1))
    throw new Error(`fit: checkEvery is a number of steps (a whole number >= 1), got ${checkEvery}.`);
  let totalSteps = 0;
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const t0 = performance.now();
      const order = permutation(train.count, (options.seed ?? 1) * 1009 + epoch);
      let lossSum = 0;
      let steps = 0;
      let reachedMidEpoch = false;
      for (let start = 0; start + options.batchSize <= train.count || (start === 0 && train.count > 0); start += options.batchSize) {
        const idx = tf.tensor1d(order.subarray(start, Math.min(train.count, start + options.batchSize)), "int32");
        const xs = tf.gather(train.xs, idx);
        const ys = tf.gather(train.ys, idx);
        try {
          lossSum += await trainStepAsync(model, xs, ys, optimizer, undefined, { where: { epoch, step: steps + 1 } });
          steps++;
          totalSteps++;
        } finally {
          tf.dispose([idx, xs, ys]);
        }
        await tf.nextFrame(); // lets a notebook's live display and Ctrl-C through
        const lastOfEpoch = start + 2 * options.batchSize > train.count;
        if (
          checkEvery !== undefined &&
          totalSteps % checkEvery === 0 &&
          !lastOfEpoch &&
          (await errorRate(model, train)) <= options.stopAtTrainError!
        ) {
          reachedMidEpoch = true;
          break;
        }
      }
      const log: EpochLog = {
        epoch,
        steps: totalSteps,
        trainLoss: lossSum / Math.max(1, steps),
        trainError: await errorRate(model, train),
        valError: options.val ? await errorRate(model, options.val) : undefined,
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(log);
      options.onEpoch?.(log, history);
      if (reachedMidEpoch || (options.stopAtTrainError !== undefined && log.trainError <= options.stopAtTrainError)) break;
    }
  } finally {
    optimizer.dispose();
  }
  return history;
}

/** The steps taken when the training error was first at or below `target` (as finely as fit checked), or undefined. */
export function stepsToReach(history: EpochLog[], target: number): number | undefined {
  return history.find((h) => h.trainError <= target)?.steps;
}

/** The first epoch whose training error is at or below `target`, or undefined if none. */
export function epochsToReach(history: EpochLog[], target: number): number | undefined {
  return history.find((h) => h.trainError <= target)?.epoch;
}
