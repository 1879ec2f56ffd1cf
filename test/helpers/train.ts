// Small models, seeded batches and a seeded Math.random for training tests.
import path from "node:path";
import { after, before } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { buildAlexNet } from "../../lib/model/alexnet";
import { SeededRandom } from "./numeric";
import { tempDir } from "./notebooks";

export { SeededRandom };

/** conv 3x3 -> dense -> dropout -> dense: every kind of gradient the real model has, in milliseconds on cpu. */
export function tinyConvNet(seed: number, dropout = 0.5): tf.LayersModel {
  const init = (k: number) => tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: seed * 10 + k });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [6, 6, 2],
        filters: 3,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: init(1),
        biasInitializer: init(2),
      }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 8, activation: "relu", kernelInitializer: init(3), biasInitializer: init(4) }),
      tf.layers.dropout({ rate: dropout }),
      tf.layers.dense({ units: 3, kernelInitializer: init(5), biasInitializer: init(6) }),
    ],
  });
}

/** Batch number `step` of a seeded stream: the same step always gives the same batch. */
export function batchAt(step: number, size = 4): { xs: tf.Tensor; ys: tf.Tensor } {
  return tf.tidy(() => {
    const xs = tf.randomNormal([size, 6, 6, 2], 0, 1, "float32", 1000 + step);
    const ys = tf.argMax(tf.sum(tf.reshape(xs, [size, 3, 24]), 2), 1);
    return { xs, ys };
  });
}

/** Routes Math.random (which unseeded tfjs dropout draws from) through a seeded generator until restored. */
export function seedMathRandom(rng: SeededRandom): () => void {
  const original = Math.random;
  Math.random = () => rng.next();
  return () => {
    Math.random = original;
  };
}

/** The bytes of every weight, for bitwise comparison. */
export function weightBytes(model: tf.LayersModel): Buffer[] {
  return model.weights.map((w) => {
    const v = w.read().dataSync() as Float32Array;
    return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  });
}

export function tensorBytes(t: tf.Tensor): Buffer {
  const v = t.dataSync() as Float32Array;
  return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

/** A small prepared synthetic dataset at `dir` (73x73 records: 64x64 crops at the paper's 224/256 ratio). */
export async function prepareTinySet(
  dir: string,
  set: { seed: number; classes: number; trainPerClass: number; valPerClass: number },
  size = 73,
): Promise<void> {
  // Imported here so that tests of the model alone do not load the data pipeline.
  const { prepareDataset } = await import("../../lib/data/prepare");
  const { syntheticSource } = await import("../../lib/data/synthetic");
  await prepareDataset({
    source: syntheticSource(set),
    out: dir,
    size,
    sourceDescription: { format: "synthetic", ...set },
    progress: "silent",
  });
}

export interface TinyEvalFixture {
  /** The prepared dataset's folder (after `before`). */
  data: string;
  /** A narrow untrained mini network for 64x64 crops of that set (after `before`). */
  model: tf.LayersModel;
}

/**
 * Registers before/after hooks that make a tiny prepared set and a seeded,
 * narrow (width 0.125, fc 32) mini network on the wasm engine, and clean up.
 */
export function tinyEvalFixture(
  prefix: string,
  set: { seed: number; classes: number; trainPerClass: number; valPerClass: number },
  modelOptions: { seed: number; init?: "paper" | "he" },
): TinyEvalFixture {
  const tmp = tempDir(prefix);
  const fixture = { data: "" } as TinyEvalFixture;
  before(async () => {
    await selectEngine({ force: "wasm" });
    fixture.data = path.join(tmp.dir, "data");
    await prepareTinySet(fixture.data, set);
    fixture.model = buildAlexNet("mini", { inputSize: 64, numClasses: set.classes, widthMultiplier: 0.125, fcUnits: 32, ...modelOptions });
  });
  after(() => {
    fixture.model?.dispose();
    tmp.cleanup();
  });
  return fixture;
}
