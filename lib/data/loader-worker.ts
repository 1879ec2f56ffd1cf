// The loader's worker thread: makes the batches the main thread asks for, into
// shared memory, so nothing is copied on the way back. Started by lib/data/loader.ts
// through ts-worker.ts; importing this file outside a worker does nothing.
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { BatchMaker } from "./batches";
import type { BatchRecipe } from "./batches";

/**
 * A request from the loader: the records of one batch, and the shared memory slot to
 * write it into (its memory comes with the first job that names the slot).
 */
export interface WorkerJob {
  id: number;
  epoch: number;
  indices: Int32Array;
  slot: number;
  memory?: SharedArrayBuffer;
}

/** The loader no longer uses slot `forget`. */
export interface WorkerForget {
  forget: number;
}

/** The images are in the slot; only the labels come back. */
export type WorkerReply = { id: number; labels: Int32Array } | { id: number; error: string };

if (!isMainThread && parentPort && (workerData as { recipe?: BatchRecipe } | undefined)?.recipe) {
  const port = parentPort;
  const maker = new BatchMaker((workerData as { recipe: BatchRecipe }).recipe);
  const slots = new Map<number, Float32Array>();
  port.on("message", (message: WorkerJob | WorkerForget) => {
    if ("forget" in message) {
      slots.delete(message.forget);
      return;
    }
    const job = message;
    let reply: WorkerReply;
    try {
      if (job.memory) slots.set(job.slot, new Float32Array(job.memory));
      const slot = slots.get(job.slot);
      if (!slot) throw new Error(`loader worker: slot ${job.slot} was never given its memory`);
      const { labels } = maker.make(job.epoch, job.indices, slot.subarray(0, maker.batchLength(job.indices.length)));
      reply = { id: job.id, labels };
    } catch (err) {
      reply = { id: job.id, error: err instanceof Error ? err.message : String(err) };
    }
    // Cloned, not transferred: detaching any ArrayBuffer in a thread makes V8 recompile
    // typed-array loops there with checks for detached buffers, a third slower.
    port.postMessage(reply);
  });
  port.on("close", () => maker.close());
}
