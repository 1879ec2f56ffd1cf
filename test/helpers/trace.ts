// Watches a short training run for what would stall or leak on a GPU engine:
// synchronous reads (Tensor.dataSync/arraySync, which webgpu cannot do in Node
// and which stall a GPU's queue anywhere) and tensors or GPU buffers that pile
// up from step to step.
import assert from "node:assert/strict";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { train } from "../../lib/train/trainer";
import { prepareTinySet } from "./train";

export interface StepCounts {
  epoch: number;
  step: number;
  tensors: number;
  /** webgpu only: buffers held by live tensors, and buffers pooled for reuse. */
  usedBuffers?: number;
  freeBuffers?: number;
}

export interface TrainingTrace {
  backend: string;
  /** One line per synchronous read: which method, and the first frames that called it. */
  syncReads: string[];
  steps: StepCounts[];
}

/** The webgpu backend's buffer pool, where the backend has one. */
interface BufferPool {
  getNumUsedBuffers(): number;
  getNumFreeBuffers(): number;
}

/**
 * Trains a narrow mini network for `epochs` epochs of 5 steps on a tiny synthetic
 * set in `dir`, on whichever engine ALEXNET_BACKEND names (set by the caller),
 * with a spy on every synchronous read from first to last line of train().
 */
export async function traceTraining(dir: string, epochs = 3): Promise<TrainingTrace> {
  const data = path.join(dir, "data");
  await prepareTinySet(data, { seed: 3, classes: 10, trainPerClass: 4, valPerClass: 2 });
  const proto = tf.Tensor.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { dataSync: proto.dataSync, arraySync: proto.arraySync };
  const syncReads: string[] = [];
  for (const [name, original] of Object.entries(originals)) {
    proto[name] = function (this: tf.Tensor, ...args: unknown[]) {
      syncReads.push(`${name} from ${(new Error().stack ?? "").split("\n").slice(2, 5).join(" <")}`);
      return original.apply(this, args);
    };
  }
  const steps: StepCounts[] = [];
  try {
    const result = await train({
      runDir: path.join(dir, "run"),
      data,
      profile: "smoke",
      modelOptions: { widthMultiplier: 0.125, fcUnits: 32, dropout: 0.5 },
      crop: 64,
      batchSize: 8,
      epochs,
      seed: 5,
      workers: 0,
      progress: "silent",
      onStep: ({ epoch, step }) => {
        const pool = (tf.backend() as unknown as { bufferManager?: BufferPool }).bufferManager;
        steps.push({
          epoch,
          step,
          tensors: tf.memory().numTensors,
          usedBuffers: pool?.getNumUsedBuffers(),
          freeBuffers: pool?.getNumFreeBuffers(),
        });
      },
    });
    result.model.dispose();
  } finally {
    Object.assign(proto, originals);
  }
  return { backend: tf.getBackend(), syncReads, steps };
}

/**
 * Fails unless, from each run's second step on, the live tensors and the
 * buffers in use are the same at every step, and the pooled free buffers are
 * the same at every step of the last epoch as of the one before (the pool may
 * grow once, when the first validation pass brings new shapes).
 */
export function assertFlat(trace: TrainingTrace): void {
  const later = trace.steps.slice(1);
  assert.ok(later.length >= 10, `only ${trace.steps.length} steps traced`);
  const first = later[0];
  for (const s of later) {
    const at = `epoch ${s.epoch + 1} step ${s.step + 1}`;
    assert.equal(s.tensors, first.tensors, `live tensors at ${at}`);
    assert.equal(s.usedBuffers, first.usedBuffers, `GPU buffers in use at ${at}`);
  }
  const last = Math.max(...trace.steps.map((s) => s.epoch));
  const pooled = (epoch: number) => trace.steps.filter((s) => s.epoch === epoch).map((s) => s.freeBuffers);
  assert.deepEqual(pooled(last), pooled(last - 1), "pooled GPU buffers, last epoch against the one before");
}
