// The notebooks' experiments as functions: each trains small networks under
// one change (an activation, a pooling, dropout) and returns the curves, so a
// notebook cell only chooses sizes and shows results.
import type * as tf from "@tensorflow/tfjs";
import type { InMemorySplit } from "../data/in-memory";
import { type EpochLog, type FitOptions, epochsToReach, fit, stepsToReach } from "./fit";
import { NonFiniteLossError } from "./guard";

export interface Trial {
  learningRate: number;
  /** Training error after the trial's epochs (1 when the loss diverged). */
  trainError: number;
  /** The loss became NaN or infinite: this rate is too high for the network. */
  diverged?: boolean;
}

export interface RunResult {
  name: string;
  learningRate: number;
  trials: Trial[];
  history: EpochLog[];
  /** First epoch at or below the target training error, if reached. */
  epochsToTarget?: number;
  /** Steps taken when it was reached (to checkEvery steps), if reached. */
  stepsToTarget?: number;
}

export interface ComparisonOptions {
  /** Learning rates tried for a few epochs each; the one with the lowest training error is kept ("chosen independently", as Figure 1's caption says). */
  learningRates: number[];
  searchEpochs: number;
  maxEpochs: number;
  batchSize: number;
  /** Stop each final run once its training error reaches this. */
  targetTrainError?: number;
  /** With targetTrainError: check it every this many steps, not only at the end of each epoch. */
  checkEvery?: number;
  val?: InMemorySplit;
  seed?: number;
  weightDecay?: number;
  /** Called after every epoch of every final run (for live curves). */
  onEpoch?: (name: string, log: EpochLog) => void;
}

/**
 * Trains one fresh network per entry of `builders`, each with its own best
 * learning rate from a short search, and returns every history.
 */
export async function compareNetworks(
  builders: Record<string, () => tf.LayersModel>,
  train: InMemorySplit,
  options: ComparisonOptions,
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  const common: Omit<FitOptions, "epochs" | "learningRate"> = {
    batchSize: options.batchSize,
    seed: options.seed ?? 1,
    weightDecay: options.weightDecay,
  };
  for (const [name, build] of Object.entries(builders)) {
    const trials: Trial[] = [];
    for (const learningRate of options.learningRates.length > 1 ? options.learningRates : []) {
      const model = build();
      try {
        const history = await fit(model, train, { ...common, epochs: options.searchEpochs, learningRate });
        const last = history[history.length - 1]?.trainError ?? 1;
        trials.push({ learningRate, trainError: Number.isFinite(last) ? last : 1 });
      } catch (err) {
        // A rate that makes the loss diverge is a failed trial, as bad as chance or worse; the search goes on.
        if (!(err instanceof NonFiniteLossError)) throw err;
        trials.push({ learningRate, trainError: 1, diverged: true });
      } finally {
        model.dispose();
      }
    }
    const learningRate = trials.length
      ? trials.reduce((a, b) => (b.trainError < a.trainError ? b : a)).learningRate
      : options.learningRates[0];
    const model = build();
    const history = await fit(model, train, {
      ...common,
      epochs: options.maxEpochs,
      learningRate,
      val: options.val,
      stopAtTrainError: options.targetTrainError,
      checkEvery: options.checkEvery,
      onEpoch: (log) => options.onEpoch?.(name, log),
    });
    model.dispose();
    const target = options.targetTrainError;
    results.push({
      name,
      learningRate,
      trials,
      history,
      epochsToTarget: target === undefined ? undefined : epochsToReach(history, target),
      stepsToTarget: target === undefined ? undefined : stepsToReach(history, target),
    });
  }
  return results;
}

/** How many times fewer epochs `fast` needed than `slow` to reach the target; undefined unless both reached it. */
export function speedup(fast: RunResult, slow: RunResult): number | undefined {
  return fast.epochsToTarget && slow.epochsToTarget ? slow.epochsToTarget / fast.epochsToTarget : undefined;
}

/** Final training error, final validation error and their gap, from a run's last epoch. */
export function overfitting(run: RunResult): { trainError: number; valError: number; gap: number } {
  const last = run.history[run.history.length - 1];
  const valError = last?.valError ?? NaN;
  return { trainError: last?.trainError ?? NaN, valError, gap: valError - (last?.trainError ?? NaN) };
}
