// Two guards for training: a loss that stops being a number ends the run with
// a message saying where and what to do, and a tensor count that must not grow.
import * as tf from "@tensorflow/tfjs";

/** Where a loss was computed: every field is optional and appears in the message when given. */
export interface LossContext {
  epoch?: number;
  step?: number;
  lr?: number;
  /** Path of the last checkpoint written before this step, if any. */
  lastCheckpoint?: string;
}

function describeValue(loss: number): string {
  return Number.isNaN(loss) ? "NaN" : loss > 0 ? "infinite" : "-infinite";
}

/** The message a NonFiniteLossError carries. */
export function nonFiniteLossMessage(loss: number, where: LossContext = {}): string {
  const at = [where.epoch !== undefined ? `epoch ${where.epoch}` : "", where.step !== undefined ? `step ${where.step}` : ""]
    .filter((s) => s !== "")
    .join(" ");
  const lr = where.lr !== undefined ? ` (lr ${where.lr})` : "";
  const checkpoint =
    where.lastCheckpoint !== undefined ? `the last good checkpoint is ${where.lastCheckpoint}` : "no checkpoint was written before it";
  return `loss became ${describeValue(loss)}${at ? ` at ${at}` : ""}${lr}; ${checkpoint}; lower --lr or check the data`;
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly loss: number,
    readonly where: LossContext = {},
  ) {
    super(nonFiniteLossMessage(loss, where));
    this.name = "NonFiniteLossError";
  }
}

/** Throws NonFiniteLossError when the loss is NaN or infinite. */
export function checkFinite(loss: number, where: LossContext = {}): void {
  if (!Number.isFinite(loss)) throw new NonFiniteLossError(loss, where);
}

/**
 * Runs fn and throws if it left more live tensors than there were before
 * (fn must return plain values, not tensors). Returns fn's result.
 */
export async function assertNoLeak<T>(fn: () => T | Promise<T>, label = "the function"): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(
      `${label} leaked ${after - before} tensor(s): ${before} live before, ${after} after; wrap it in tf.tidy or dispose what it creates.`,
    );
  }
  return result;
}
