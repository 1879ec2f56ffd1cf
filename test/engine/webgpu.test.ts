// The webgpu engine against the reference engines, on whatever WebGPU adapter
// this machine has (a GPU, or Mesa's software lavapipe). Without an adapter the
// tests skip and say why, except on a CI machine meant to have one
// (CI=true and ALEXNET_EXPECT_WEBGPU=1), where a missing adapter fails.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { DeviceLimitError } from "../../lib/engine/device-limits";
import { missingTrainingKernels } from "../../lib/engine/kernels/index";
import { EngineUnavailableError, selectEngine, type EngineReport } from "../../lib/engine/select";
import { buildAlexNet } from "../../lib/model/alexnet";
import { loadModel, saveModel } from "../../lib/model/io";
import { lrn } from "../../lib/model/layers/lrn";
import { softmaxCrossEntropy } from "../../lib/train/step";
import { train } from "../../lib/train/trainer";
import { tempDir } from "../helpers/notebooks";
import { assertFlat, traceTraining } from "../helpers/trace";
import { prepareTinySet } from "../helpers/train";

let webgpu: EngineReport | undefined;
let unavailable = "";

before(async () => {
  // wasm's thread pool can only be set up before anything else starts it.
  await selectEngine({ force: "wasm" });
  try {
    webgpu = await selectEngine({ force: "webgpu" });
  } catch (err) {
    if (!(err instanceof EngineUnavailableError)) throw err;
    unavailable = err.reason;
  }
  await tf.setBackend("cpu");
});

/** Skips the test when there is no adapter, unless this machine is meant to have one. */
function needsAdapter(t: { skip(message: string): void }): boolean {
  if (webgpu) return true;
  if (process.env.CI === "true" && process.env.ALEXNET_EXPECT_WEBGPU === "1")
    assert.fail(`ALEXNET_EXPECT_WEBGPU=1 but the webgpu engine could not start: ${unavailable}`);
  t.skip(`the webgpu engine cannot start here: ${unavailable}`);
  return false;
}

test("`alexnet engine` on webgpu names the adapter, and tfjs-backend-webgpu has every training kernel", async (t) => {
  if (!needsAdapter(t)) return;
  assert.deepEqual(missingTrainingKernels("webgpu"), [], "the course would have to write these in WGSL");
  assert.ok(!webgpu!.details.some((d) => d.startsWith("lacks training kernels")));
  const r = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "bin", "alexnet.js"), "engine", "--json"], {
    encoding: "utf8",
    env: { ...process.env, ALEXNET_BACKEND: "webgpu" },
  });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout) as EngineReport;
  assert.equal(report.engine, "webgpu");
  assert.equal(report.backend, "webgpu");
  assert.deepEqual(
    report.details.slice(0, 3).map((d) => d.split(":")[0]),
    ["adapter vendor", "architecture", "description"],
  );
  assert.ok(
    report.details.some((d) => /^largest storage binding: \d+ MiB$/.test(d)),
    "the report gives the device's binding limit (lib/engine/device-limits.ts)",
  );
  t.diagnostic(report.details.join(", "));
});

/** Runs `f` on `backend` and reads its tensors back asynchronously (webgpu has no synchronous read in Node). */
async function on(backend: string, f: () => tf.Tensor[]): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const out = f();
  try {
    return (await Promise.all(out.map((t) => t.data()))) as Float32Array[];
  } finally {
    tf.dispose(out);
  }
}

function assertClose(actual: Float32Array[], expected: Float32Array[], rel: number, what: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((a, i) => {
    const e = expected[i];
    assert.equal(a.length, e.length);
    let scale = 0,
      diff = 0;
    for (let j = 0; j < e.length; j++) {
      scale = Math.max(scale, Math.abs(e[j]));
      diff = Math.max(diff, Math.abs(a[j] - e[j]));
    }
    assert.ok(diff <= rel * Math.max(scale, 1e-30), `${what}, output ${i}: max difference ${diff} against a largest value of ${scale}`);
  });
}

/** Seeded inputs, created on cpu so that every backend sees the same values. */
function inputs(): { x: Float32Array; w: Float32Array; wg: Float32Array } {
  return tf.tidy(() => ({
    x: tf.randomNormal([2, 9, 9, 4], 0, 1, "float32", 1).dataSync() as Float32Array,
    w: tf.randomNormal([3, 3, 4, 6], 0, 0.3, "float32", 2).dataSync() as Float32Array,
    wg: tf.randomNormal([3, 3, 2, 3], 0, 0.3, "float32", 3).dataSync() as Float32Array,
  }));
}

/** conv2d, max-pooling, LRN and a two-group convolution (the paper's two towers), with the gradients of a weighted sum. */
function gradients(v: ReturnType<typeof inputs>): tf.Tensor[] {
  const x = tf.tensor4d(v.x, [2, 9, 9, 4]);
  const w = tf.tensor4d(v.w, [3, 3, 4, 6]);
  const wg = tf.tensor4d(v.wg, [3, 3, 2, 3]);
  const weigh = (y: tf.Tensor) => tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
  const conv = tf.grads((a: tf.Tensor, b: tf.Tensor) => weigh(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, [2, 2], "same")))([x, w]);
  const pool = tf.grad((a: tf.Tensor) => weigh(tf.maxPool(a as tf.Tensor4D, 3, 2, "valid")))(x);
  // alpha 0.5, not the paper's 1e-4, so that the normalisation (and its gradient) is far from the identity.
  const norm = tf.grad((a: tf.Tensor) => weigh(lrn(a as tf.Tensor4D, { size: 5, k: 2, alpha: 0.5, beta: 0.75 }, "kernel")))(x);
  const grouped = tf.grads((a: tf.Tensor, b: tf.Tensor) => {
    const [a0, a1] = tf.split(a, 2, 3);
    const [b0, b1] = tf.split(b, 2, 3);
    const towers = [
      tf.conv2d(a0 as tf.Tensor4D, b0 as tf.Tensor4D, 1, "valid"),
      tf.conv2d(a1 as tf.Tensor4D, b1 as tf.Tensor4D, 1, "valid"),
    ];
    return weigh(tf.concat(towers, 3));
  })([x, tf.concat([wg, wg.mul(-0.5)], 3)]);
  return [...conv, pool, norm, ...grouped];
}

test("webgpu's gradients of conv2d, max-pooling, LRN and a grouped convolution match cpu's to 1e-5", async (t) => {
  if (!needsAdapter(t)) return;
  const v = inputs();
  const expected = await on("cpu", () => gradients(v));
  const actual = await on("webgpu", () => gradients(v));
  assertClose(actual, expected, 1e-5, "webgpu against cpu");
});

/** The mini model, narrow enough to train in seconds, weights seeded on cpu. */
function miniModel(): tf.LayersModel {
  return buildAlexNet("mini", { inputSize: 64, numClasses: 4, widthMultiplier: 0.0625, fcUnits: 32, dropout: 0 });
}

/** `steps` plain SGD steps on `backend` from the same weights and batch; the losses, each read asynchronously. */
async function trainLosses(backend: string, initial: Float32Array[], steps: number): Promise<{ losses: number[]; model: tf.LayersModel }> {
  await tf.setBackend("cpu");
  const model = miniModel();
  await tf.setBackend(backend);
  model.setWeights(initial.map((values, i) => tf.tensor(values, model.weights[i].shape as number[])));
  const xs = tf.randomNormal([4, 64, 64, 3], 0, 1, "float32", 7);
  const ys = tf.tensor1d([0, 1, 2, 3], "int32");
  const optimizer = tf.train.sgd(0.01);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { value, grads } = tf.variableGrads(() => softmaxCrossEntropy(ys, model.apply(xs, { training: true }) as tf.Tensor), variables);
    losses.push((await value.data())[0]);
    optimizer.applyGradients(grads);
    tf.dispose([value, grads]);
  }
  tf.dispose([xs, ys]);
  optimizer.dispose();
  return { losses, model };
}

test("5 training steps of the mini model on webgpu give wasm's losses to 1e-4; the model saves and loads", async (t) => {
  if (!needsAdapter(t)) return;
  await tf.setBackend("cpu");
  const seed = miniModel();
  const initial = seed.getWeights().map((w) => w.dataSync() as Float32Array);
  seed.dispose();

  const wasm = await trainLosses("wasm", initial, 5);
  const gpu = await trainLosses("webgpu", initial, 5);
  t.diagnostic(`losses: wasm ${wasm.losses.map((l) => l.toFixed(6)).join(" ")}; webgpu ${gpu.losses.map((l) => l.toFixed(6)).join(" ")}`);
  assert.ok(gpu.losses[4] < gpu.losses[0], "the loss falls");
  gpu.losses.forEach((l, i) =>
    assert.ok(Math.abs(l - wasm.losses[i]) <= 1e-4 * Math.abs(wasm.losses[i]), `step ${i}: ${l} vs wasm ${wasm.losses[i]}`),
  );

  const { dir, cleanup } = tempDir("webgpu-save-");
  t.after(cleanup);
  await saveModel(gpu.model, dir);
  const loaded = await loadModel(dir);
  const saved = await Promise.all(gpu.model.getWeights().map((w) => w.data()));
  const back = await Promise.all(loaded.getWeights().map((w) => w.data()));
  assertClose(back as Float32Array[], saved as Float32Array[], 0, "loaded weights");
  const probe = tf.randomNormal([1, 64, 64, 3], 0, 1, "float32", 9);
  const [a, b] = await Promise.all([gpu.model.predict(probe) as tf.Tensor, loaded.predict(probe) as tf.Tensor].map((p) => p.data()));
  assertClose([b as Float32Array], [a as Float32Array], 0, "predictions of the loaded model");
  tf.dispose([probe]);
  wasm.model.dispose();
  gpu.model.dispose();
  loaded.dispose();
  await tf.setBackend("cpu");
});

test("train() on webgpu makes no synchronous read, and its tensors and GPU buffers stay flat over 15 steps", async (t) => {
  if (!needsAdapter(t)) return;
  const { dir, cleanup } = tempDir("webgpu-trace-");
  t.after(cleanup);
  const saved = process.env.ALEXNET_BACKEND;
  process.env.ALEXNET_BACKEND = "webgpu";
  try {
    const trace = await traceTraining(dir);
    assert.equal(trace.backend, "webgpu");
    assert.deepEqual(trace.syncReads, [], "synchronous reads in train()");
    assert.ok(
      trace.steps.every((s) => s.usedBuffers !== undefined && s.freeBuffers !== undefined),
      "the buffer pool was counted",
    );
    t.diagnostic(
      `per step: ${trace.steps.at(-1)!.tensors} tensors, ${trace.steps.at(-1)!.usedBuffers} buffers in use, ${trace.steps.at(-1)!.freeBuffers} pooled`,
    );
    assertFlat(trace);
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
    await tf.setBackend("cpu");
  }
});

test("train() on webgpu refuses, before any step, a tensor over the device's storage binding limit, naming it", async (t) => {
  if (!needsAdapter(t)) return;
  const { dir, cleanup } = tempDir("webgpu-limit-");
  t.after(cleanup);
  await prepareTinySet(path.join(dir, "data"), { seed: 3, classes: 10, trainPerClass: 4, valPerClass: 2 });
  const saved = process.env.ALEXNET_BACKEND;
  process.env.ALEXNET_BACKEND = "webgpu";
  const steps: number[] = [];
  try {
    // A validation batch of a million images: conv1's output alone would be gigabytes.
    await assert.rejects(
      train({
        runDir: path.join(dir, "run"),
        data: path.join(dir, "data"),
        profile: "smoke",
        modelOptions: { widthMultiplier: 0.125, fcUnits: 32 },
        crop: 64,
        batchSize: 8,
        evalBatchSize: 1_000_000,
        epochs: 1,
        workers: 0,
        progress: "silent",
        onStep: ({ step }) => steps.push(step),
      }),
      (e: Error) => e instanceof DeviceLimitError && /conv1\S* output \(\d+ MiB\) .*largest storage binding/.test(e.message),
    );
    assert.deepEqual(steps, [], "no step ran");
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
    await tf.setBackend("cpu");
  }
});
