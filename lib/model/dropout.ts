// Dropout in the paper's form and in the inverted form frameworks implement,
// as plain functions so the two can be put side by side. The network itself
// uses tf.layers.dropout (inverted): its test-time output then needs no scaling.
import * as tf from "@tensorflow/tfjs";

export interface DropoutMode {
  training: boolean;
  seed?: number;
}

function keepMask(x: tf.Tensor, rate: number, seed?: number): tf.Tensor {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${rate}; the paper uses 0.5.`);
  return tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", seed), rate), "float32");
}

/** Section 4.2: zero each unit with probability `rate` when training; at test time keep all, times (1 - rate). */
export function paperDropout(x: tf.Tensor, rate: number, mode: DropoutMode): tf.Tensor {
  return tf.tidy(() => (mode.training ? tf.mul(x, keepMask(x, rate, mode.seed)) : tf.mul(x, 1 - rate)));
}

/** What tfjs and PyTorch do: kept units times 1 / (1 - rate) when training; identity at test time. */
export function invertedDropout(x: tf.Tensor, rate: number, mode: DropoutMode): tf.Tensor {
  return tf.tidy(() => (mode.training ? tf.div(tf.mul(x, keepMask(x, rate, mode.seed)), 1 - rate) : tf.clone(x)));
}

export interface DropoutMoments {
  form: "paper" | "inverted";
  /** Mean training-time output per unit over `trials` masks. */
  trainMean: number[];
  /** Test-time output per unit. */
  test: number[];
  maxDifference: number;
}

/** Compares the average training-time output with the test-time output, for both forms. */
export function dropoutMoments(x: tf.Tensor1D, rate: number, trials: number, seed = 1): DropoutMoments[] {
  return (["paper", "inverted"] as const).map((form) => {
    const fn = form === "paper" ? paperDropout : invertedDropout;
    const mean = tf.tidy(() => {
      const batch = tf.tile(x.expandDims(0), [trials, 1]);
      return fn(batch, rate, { training: true, seed }).mean(0);
    });
    const test = fn(x, rate, { training: false });
    const trainMean = Array.from(mean.dataSync());
    const testValues = Array.from(test.dataSync());
    tf.dispose([mean, test]);
    return { form, trainMean, test: testValues, maxDifference: Math.max(...trainMean.map((v, i) => Math.abs(v - testValues[i]))) };
  });
}
