// PaperSGD's state inside a checkpoint folder (lib/train/checkpoint.ts):
//
//   optimizer.json   its settings, step count, and an index of optimizer.bin
//   optimizer.bin    one float32 velocity per trainable weight, in model order
//
// Velocities are matched to weights by order and checked by shape, as the
// weights themselves are, so a resume into another architecture is refused.
import { readFile } from "node:fs/promises";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { writeFileSynced } from "../files";
import type { PaperSGD } from "./optimizer";

export const OPTIMIZER_INDEX_FILE = "optimizer.json";
export const OPTIMIZER_FILE = "optimizer.bin";

interface VelocityEntry {
  /** The model weight's saved name (LayerVariable.originalName). */
  weight: string;
  shape: number[];
  dtype: "float32";
  byteOffset: number;
  byteLength: number;
}

interface OptimizerIndex {
  class: "PaperSGD";
  config: { learningRate: number; momentum: number; weightDecay: number; decayBiases: boolean };
  iterations: number;
  velocities: VelocityEntry[];
}

export async function writeOptimizer(dir: string, model: tf.LayersModel, optimizer: PaperSGD): Promise<void> {
  const entries: VelocityEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const w of model.trainableWeights) {
    const v = optimizer.velocityOf(w.name);
    // A weight without a velocity has not been stepped yet: its velocity is zero.
    const values = v ? ((await v.data()) as Float32Array) : new Float32Array(w.shape.reduce((a: number, b) => a * (b ?? 1), 1));
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    entries.push({
      weight: w.originalName,
      shape: w.shape.map((d) => d ?? 1),
      dtype: "float32",
      byteOffset: offset,
      byteLength: bytes.byteLength,
    });
    parts.push(bytes);
    offset += bytes.byteLength;
  }
  const index: OptimizerIndex = {
    class: "PaperSGD",
    config: {
      learningRate: optimizer.learningRate,
      momentum: optimizer.momentum,
      weightDecay: optimizer.weightDecay,
      decayBiases: optimizer.decayBiases,
    },
    iterations: optimizer.stepsTaken,
    velocities: entries,
  };
  const all = new Uint8Array(offset);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.byteLength;
  }
  await writeFileSynced(path.join(dir, OPTIMIZER_FILE), all);
  await writeFileSynced(path.join(dir, OPTIMIZER_INDEX_FILE), JSON.stringify(index, null, 2));
}

export async function restoreOptimizer(model: tf.LayersModel, optimizer: PaperSGD, dir: string): Promise<void> {
  const indexFile = path.join(dir, OPTIMIZER_INDEX_FILE);
  let index: OptimizerIndex;
  try {
    index = JSON.parse(await readFile(indexFile, "utf8")) as OptimizerIndex;
  } catch (err) {
    throw new Error(
      `loadCheckpoint: ${indexFile} is not valid JSON (${(err as Error).message}); the checkpoint is damaged, resume from another one.`,
    );
  }
  const c = index.config;
  const differs = (["momentum", "weightDecay", "decayBiases"] as const).filter((k) => c[k] !== optimizer[k]);
  if (differs.length > 0) {
    const saved = differs.map((k) => `${k} ${String(c[k])}`).join(", ");
    const now = differs.map((k) => `${k} ${String(optimizer[k])}`).join(", ");
    throw new Error(
      `loadCheckpoint: ${dir} was trained with ${saved} but this PaperSGD has ${now}; construct it with the saved settings to resume exactly.`,
    );
  }
  const trainable = model.trainableWeights;
  if (index.velocities.length !== trainable.length) {
    throw new Error(
      `loadCheckpoint: ${indexFile} holds velocities for ${index.velocities.length} weights but the model has ${trainable.length} trainable weights; restore into the architecture that was saved.`,
    );
  }
  const bytes = await readFile(path.join(dir, OPTIMIZER_FILE));
  optimizer.resetVelocities();
  trainable.forEach((w, i) => {
    const e = index.velocities[i];
    const shape = w.shape.map((d) => d ?? 1);
    if (!tf.util.arraysEqual(shape, e.shape)) {
      throw new Error(
        `loadCheckpoint: velocity ${i} is for ${e.weight} [${e.shape}] but the model's trainable weight ${i} is ${w.originalName} [${shape}]; restore into the architecture that was saved.`,
      );
    }
    if (e.byteOffset + e.byteLength > bytes.byteLength)
      throw new Error(
        `loadCheckpoint: ${path.join(dir, OPTIMIZER_FILE)} is shorter than ${OPTIMIZER_INDEX_FILE} says; the checkpoint is damaged, resume from another one.`,
      );
    const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + e.byteOffset, bytes.byteOffset + e.byteOffset + e.byteLength));
    const t = tf.tensor(values, e.shape, "float32");
    try {
      optimizer.setVelocity(w.name, t);
    } finally {
      t.dispose();
    }
  });
  optimizer.learningRate = c.learningRate;
  optimizer.stepsTaken = index.iterations;
}
