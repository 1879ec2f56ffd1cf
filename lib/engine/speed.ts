// How fast the active engine multiplies matrices: the operation that
// dominates AlexNet's convolutions and fully connected layers.
import * as tf from "@tensorflow/tfjs";
import { ENGINES, EngineUnavailableError, type EngineName, restoreEngine, selectEngine } from "./select";

export interface MatmulSpeed {
  engine: string;
  size: number;
  /** Median milliseconds of one size x size by size x size product. */
  ms: number;
  /** 2 n^3 floating-point operations per product, per second, in billions. */
  gflops: number;
}

/** Times an n x n matrix product on the active backend (median of `repeats`, after one warm-up). */
export async function matmulSpeed(size = 512, repeats = 5): Promise<MatmulSpeed> {
  const a = tf.randomNormal([size, size], 0, 1, "float32", 1);
  const b = tf.randomNormal([size, size], 0, 1, "float32", 2);
  const times: number[] = [];
  try {
    for (let i = 0; i <= repeats; i++) {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      c.dispose();
      if (i > 0) times.push(performance.now() - t0);
    }
  } finally {
    a.dispose();
    b.dispose();
  }
  times.sort((x, y) => x - y);
  const ms = times[Math.floor(times.length / 2)];
  return { engine: tf.getBackend(), size, ms, gflops: (2 * size ** 3) / (ms * 1e6) };
}

/**
 * Exercise 00.1, worked: the same product on every engine this machine can
 * start. Leaves the best engine active again afterwards.
 */
export async function compareEngines(
  size = 256,
  engines: EngineName[] = [...ENGINES],
): Promise<(MatmulSpeed | { engine: EngineName; unavailable: string })[]> {
  const rows: (MatmulSpeed | { engine: EngineName; unavailable: string })[] = [];
  // Whatever engine was active before (the best one, or the one forced) is active again after.
  const previous = await selectEngine();
  try {
    for (const engine of engines) {
      try {
        await selectEngine({ force: engine });
        rows.push({ ...(await matmulSpeed(size, 3)), engine });
      } catch (err) {
        if (!(err instanceof EngineUnavailableError)) throw err;
        rows.push({ engine, unavailable: err.reason });
      }
    }
  } finally {
    await restoreEngine(previous);
  }
  return rows;
}
