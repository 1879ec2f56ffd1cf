// The device check a GPU user runs: which adapter the engine found, how fast
// one training profile's step is on it (by default the paper's: two towers, 224,
// batch 128, the paper's SGD), how much GPU memory the step holds, and whether
// the first steps' losses agree with the wasm engine's from the same weights,
// batches and dropout masks. Speed on a real GPU is what this check measures;
// the course promises none. Writes bench/results/<out>.json.
// Usage: npm run bench -- bench/gpu-check.ts [--engine webgpu|cuda] [--profile paper|laptop|smoke]
//        [--batch 128] [--steps 10] [--check-steps 3] [--classes 1000] [--out gpu-check]
import os from "node:os";
import * as tf from "@tensorflow/tfjs";
import { hashSeed } from "../lib/data/random";
import { checkFitsDevice, DeviceLimitError, storageBindingLimit } from "../lib/engine/device-limits";
import { formatEngineReport, parseEngineName, selectEngine, type EngineReport } from "../lib/engine/select";
import { buildAlexNet } from "../lib/model/alexnet";
import { withSeededMathRandom } from "../lib/train/loop";
import { PaperSGD } from "../lib/train/optimizer";
import { trainProfile, type TrainProfile } from "../lib/train/profiles";
import { beginTrainStep, finishTrainStep, pendingLoss } from "../lib/train/step";
import { median, option, writeResult } from "./common";

/** Relative agreement asked of the first steps' losses: float32 sums in another order, over a whole network. */
const LOSS_TOLERANCE = 1e-3;
const SEED = 1;

interface Check {
  profile: TrainProfile;
  batch: number;
  classes: number;
}

interface Batch {
  xs: Float32Array;
  labels: Int32Array;
}

interface StepsRun {
  losses: number[];
  seconds: number[];
  /** The most GPU memory the engine held after any step, in bytes (webgpu: its buffer pool; cuda: live tensors). */
  peakBytes: number;
}

/** Two fixed batches of seeded noise, made once on the reference engine and replayed on both. */
function makeBatches(c: Check): Batch[] {
  const size = c.profile.crop;
  return [0, 1].map((i) => ({
    xs: tf.tidy(() => tf.randomNormal([c.batch, size, size, 3], 0, 1, "float32", 100 + i).dataSync() as Float32Array),
    labels: Int32Array.from({ length: c.batch }, (_, j) => (j * 37 + i) % c.classes),
  }));
}

function gpuBytes(): number {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  return m.numBytesAllocatedInGPU ?? m.numBytes;
}

/** `steps` steps of the course's own training step (lib/train/step.ts), dropout masks seeded per step as the trainer seeds them. */
async function runSteps(model: tf.LayersModel, c: Check, batches: Batch[], steps: number): Promise<StepsRun> {
  const optimizer = new PaperSGD({ learningRate: c.profile.lr, momentum: c.profile.momentum, weightDecay: c.profile.weightDecay });
  const size = c.profile.crop;
  const run: StepsRun = { losses: [], seconds: [], peakBytes: 0 };
  try {
    for (let s = 0; s < steps; s++) {
      const b = batches[s % batches.length];
      const t0 = performance.now();
      const xs = tf.tensor4d(b.xs, [c.batch, size, size, 3]);
      const ys = tf.tensor1d(b.labels, "int32");
      try {
        const pending = withSeededMathRandom(hashSeed(SEED, 0, s), () => beginTrainStep(model, xs, ys));
        run.losses.push(finishTrainStep(pending, await pendingLoss(pending), optimizer));
      } finally {
        tf.dispose([xs, ys]);
      }
      run.seconds.push((performance.now() - t0) / 1000);
      run.peakBytes = Math.max(run.peakBytes, gpuBytes());
      process.stdout.write(`  step ${s + 1}/${steps}: loss ${run.losses[s].toFixed(5)}, ${run.seconds[s].toFixed(2)} s\n`);
    }
  } finally {
    optimizer.dispose();
  }
  return run;
}

function build(c: Check): tf.LayersModel {
  return buildAlexNet(c.profile.model, { ...c.profile.modelOptions, numClasses: c.classes, seed: SEED });
}

const imagesPerSecond = (c: Check, seconds: number[]) => (seconds.length ? c.batch / median(seconds) : undefined);
const round = (x: number | undefined, digits = 3) => (x === undefined ? undefined : Number(x.toFixed(digits)));

/** The reference: the check steps on wasm, from weights seeded there. Returns those weights for the GPU run. */
async function onWasm(c: Check, batches: Batch[], checkSteps: number): Promise<{ run: StepsRun; weights: Float32Array[] }> {
  await selectEngine({ force: "wasm" });
  const model = build(c);
  // Read here, on wasm: a GPU engine's weights could only be read back asynchronously.
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  console.log(`wasm reference, ${checkSteps} steps:`);
  const run = await runSteps(model, c, batches, checkSteps);
  model.dispose();
  return { run, weights };
}

/** Starts the engine once to read its device's limits, and says why the model would not fit (lib/engine/device-limits.ts), before any step. */
async function deviceRefuses(engine: string, c: Check): Promise<{ report: EngineReport; message: string } | undefined> {
  const report = await selectEngine({ force: engine });
  const limit = storageBindingLimit();
  await selectEngine({ force: "wasm" });
  const model = build(c);
  try {
    checkFitsDevice(model, c.batch, limit);
    return undefined;
  } catch (err) {
    if (!(err instanceof DeviceLimitError)) throw err;
    return { report, message: err.message };
  } finally {
    model.dispose();
  }
}

async function onEngine(engine: string, c: Check, batches: Batch[], weights: Float32Array[], steps: number) {
  const report: EngineReport = await selectEngine({ force: engine });
  console.log(formatEngineReport(report));
  const model = build(c);
  model.setWeights(weights.map((w, i) => tf.tensor(w, model.weights[i].shape as number[])));
  console.log(`${report.engine}, ${steps} steps:`);
  const run = await runSteps(model, c, batches, steps);
  model.dispose();
  return { report, run };
}

async function main() {
  const profile = trainProfile(option("profile", "paper"));
  const engine = parseEngineName(option("engine", "webgpu"), "--engine");
  const c: Check = {
    profile,
    batch: Number(option("batch", String(profile.batchSize))),
    classes: Number(option("classes", profile.name === "paper" ? "1000" : "10")),
  };
  const checkSteps = Number(option("check-steps", "3"));
  const steps = Math.max(checkSteps + 1, Number(option("steps", "10")));
  const out = option("out", "gpu-check");
  console.log(`gpu-check: the ${profile.name} profile's model '${profile.model}', ${profile.crop}x${profile.crop}, batch ${c.batch}`);

  await selectEngine({ force: "wasm" }); // first: wasm's threads are fixed when it starts, and the batches are made there
  const refused = await deviceRefuses(engine, c);
  if (refused) {
    console.log(refused.message);
    console.log(
      `wrote ${writeResult(out, { engine: refused.report, profile: profile.name, model: profile.model, batch: c.batch, refused: refused.message })}`,
    );
    process.exitCode = 2;
    return;
  }
  const batches = makeBatches(c);
  const wasm = await onWasm(c, batches, checkSteps);
  const gpu = await onEngine(engine, c, batches, wasm.weights, steps);
  // The first step compiles kernels (WebGPU pipelines, CUDA's PTX JIT): timed apart from the others.
  const timed = gpu.run.seconds.slice(1);
  const diffs = wasm.run.losses.map((l, i) => Math.abs(gpu.run.losses[i] - l) / Math.max(Math.abs(l), 1e-12));
  const agree = diffs.every((d) => d <= LOSS_TOLERANCE);
  const speed = imagesPerSecond(c, timed)!;
  const wasmSpeed = imagesPerSecond(c, wasm.run.seconds.slice(1));
  console.log(
    `${gpu.report.engine}: ${speed.toFixed(2)} img/s (median of ${timed.length} steps; first step ${gpu.run.seconds[0].toFixed(1)} s)` +
      (wasmSpeed ? `; wasm here ${wasmSpeed.toFixed(2)} img/s` : ""),
  );
  console.log(`GPU memory after a step, at most: ${(gpu.run.peakBytes / 2 ** 20).toFixed(0)} MiB`);
  console.log(
    `losses of the first ${checkSteps} steps against wasm: largest relative difference ${Math.max(...diffs).toExponential(2)} (${agree ? "agree" : "DISAGREE"} at ${LOSS_TOLERANCE})`,
  );
  const file = writeResult(out, {
    engine: gpu.report,
    profile: profile.name,
    model: profile.model,
    input: `${profile.crop}x${profile.crop}x3, ${c.classes} classes, seeded noise`,
    batch: c.batch,
    optimizer: `PaperSGD lr ${profile.lr}, momentum ${profile.momentum}, weight decay ${profile.weightDecay}`,
    imagesPerSecond: round(speed),
    stepSeconds: gpu.run.seconds.map((s) => round(s)),
    firstStepSeconds: round(gpu.run.seconds[0]),
    peakGpuMiB: round(gpu.run.peakBytes / 2 ** 20, 1),
    wasm: { imagesPerSecond: round(wasmSpeed), stepSeconds: wasm.run.seconds.map((s) => round(s)) },
    loadAverage: os.loadavg().map((l) => round(l, 2)),
    lossCheck: { steps: checkSteps, wasm: wasm.run.losses, engine: gpu.run.losses.slice(0, checkSteps), tolerance: LOSS_TOLERANCE, agree },
  });
  console.log(`wrote ${file}`);
  if (!agree) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
