import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { createLoader } from "../../lib/data/loader";
import { prepareDataset } from "../../lib/data/prepare";
import { syntheticSource } from "../../lib/data/synthetic";
import { batchToTensors } from "../../lib/data/tensors";
import { selectEngine } from "../../lib/engine/select";
import { buildAlexNet } from "../../lib/model/alexnet";
import { checkpointsDir, listCheckpoints } from "../../lib/train/checkpoint";
import { NonFiniteLossError } from "../../lib/train/guard";
import { softmaxCrossEntropy } from "../../lib/train/step";
import { type EpochMetrics, type TrainOptions, curvesFigures, evaluate, formatEpoch, METRICS_FILE, train, withSeededMathRandom } from "../../lib/train/trainer";
import { tempDir } from "../helpers/notebooks";
import { weightBytes } from "../helpers/train";

const tmp = tempDir("alexnet-trainer-");
let data = "";
let runs = 0;
const newRun = () => path.join(tmp.dir, `run${runs++}`);

before(async () => {
  await selectEngine({ force: "cpu" });
  // 10 classes x 4 training images (5 steps of 8), 2 val images per class, 73x73 records -> 64x64 crops.
  data = path.join(tmp.dir, "data");
  const set = { seed: 3, classes: 10, trainPerClass: 4, valPerClass: 2 };
  await prepareDataset({ source: syntheticSource(set), out: data, size: 73, sourceDescription: { format: "synthetic", ...set }, progress: "silent" });
});
after(() => tmp.cleanup());

// A narrow mini network (64x64 input) so that a step takes milliseconds on cpu.
const base = (runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  runDir,
  data,
  profile: "smoke",
  modelOptions: { widthMultiplier: 0.125, fcUnits: 32 },
  crop: 64,
  batchSize: 8,
  epochs: 2,
  seed: 5,
  workers: 0,
  progress: "silent",
  ...extra,
});

const withoutTimes = (m: EpochMetrics) => ({ ...m, seconds: 0, imagesPerSecond: 0, time: "" });

test("a run stopped mid-epoch or between epochs and resumed ends with the same weights, bit for bit, as one run straight through", async () => {
  const straight = await train(base(newRun()));
  const expected = weightBytes(straight.model);
  straight.model.dispose();
  assert.equal(straight.status, "completed");
  assert.equal(straight.history.length, 2);

  // Between epochs: 1 epoch, then --resume up to 2.
  const runA = newRun();
  const first = await train(base(runA, { epochs: 1 }));
  first.model.dispose();
  const resumedA = await train(base(runA, { epochs: 2, resume: true }));
  assert.equal(resumedA.resumedFrom, path.join(checkpointsDir(runA), "epoch-0001"));
  assert.deepEqual(weightBytes(resumedA.model), expected);
  resumedA.model.dispose();
  assert.deepEqual(resumedA.history.map(withoutTimes), straight.history.map(withoutTimes));

  // Mid-epoch: the signal stops the run after global step 3 (epoch 1, step 3 of 5); everything else comes from run.json.
  const runB = newRun();
  const controller = new AbortController();
  const stopped = await train(base(runB, { signal: controller.signal, onStep: (s) => s.globalStep === 3 && controller.abort() }));
  stopped.model.dispose();
  assert.equal(stopped.status, "interrupted");
  assert.equal(stopped.history.length, 0);
  assert.match(stopped.lastCheckpoint ?? "", /interrupted/);
  const resumedB = await train({ runDir: runB, resume: true, progress: "silent", workers: 0 });
  assert.equal(resumedB.status, "completed");
  assert.deepEqual(weightBytes(resumedB.model), expected);
  resumedB.model.dispose();
  // The interrupted epoch's training metrics count the steps before the stop too.
  assert.deepEqual(resumedB.history.map(withoutTimes), straight.history.map(withoutTimes));
  assert.ok(!existsSync(path.join(runB, "interrupted")), "the mid-epoch checkpoint is removed once its epoch is done");
});

test("metrics.jsonl has a line per epoch and checkpoints keep the last N and the best", async () => {
  const runDir = newRun();
  const result = await train(base(runDir, { epochs: 3, keepLast: 1 }));
  result.model.dispose();
  const lines = readFileSync(path.join(runDir, METRICS_FILE), "utf8").trim().split("\n").map((l) => JSON.parse(l) as EpochMetrics);
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2, 3]);
  for (const l of lines) {
    for (const k of ["trainLoss", "trainTop1Error", "valTop1Error", "valTop5Error", "imagesPerSecond"] as const) assert.ok(Number.isFinite(l[k]), k);
    assert.ok(l.valTop5Error <= l.valTop1Error);
  }
  const kept = listCheckpoints(runDir).map((c) => c.epoch);
  assert.ok(kept.includes(3));
  assert.ok(kept.length <= 2, `keepLast 1 plus the best, got ${kept}`);
  assert.ok(result.bestCheckpoint && existsSync(result.bestCheckpoint));
});

test("a loss that becomes NaN stops the run, names the last good checkpoint and leaves it untouched", async () => {
  const runDir = newRun();
  let calls = 0;
  // The 7th step (epoch 2, step 2) returns NaN.
  const lossFn = (labels: tf.Tensor, logits: tf.Tensor): tf.Scalar => {
    const loss = softmaxCrossEntropy(labels, logits);
    if (++calls !== 7) return loss;
    return tf.tidy(() => tf.mul(loss, NaN) as tf.Scalar);
  };
  let savedWeights: Buffer | undefined;
  const before = tf.memory().numTensors;
  await assert.rejects(
    train(base(runDir, { lossFn, onEpoch: (m) => (savedWeights = readFileSync(path.join(runDir, m.checkpoint, "weights.bin"))) })),
    (err: Error) => {
      assert.ok(err instanceof NonFiniteLossError, String(err));
      assert.match(err.message, /loss became NaN at epoch 2 step 2/);
      assert.ok(err.message.includes(path.join(checkpointsDir(runDir), "epoch-0001")), err.message);
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, before, "the failed run disposed its model and optimiser");
  assert.deepEqual(listCheckpoints(runDir).map((c) => c.epoch), [1]);
  assert.ok(!existsSync(path.join(runDir, "interrupted")));
  assert.ok(savedWeights && readFileSync(path.join(checkpointsDir(runDir), "epoch-0001", "weights.bin")).equals(savedWeights));
  // The run continues from that checkpoint once the cause is gone.
  const resumed = await train({ runDir, resume: true, progress: "silent", workers: 0 });
  resumed.model.dispose();
  assert.equal(resumed.history.length, 2);
});

test("the number of live tensors stays the same from step to step, across epochs and validation", async () => {
  const counts: number[] = [];
  const before = tf.memory().numTensors;
  const result = await train(base(newRun(), { onStep: (s) => counts.push(s.numTensors) }));
  assert.equal(counts.length, 10);
  // The first step creates the optimiser's velocities; after that nothing may grow.
  assert.deepEqual(new Set(counts.slice(1)).size, 1, `tensor counts per step: ${counts}`);
  result.model.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("train refuses a run folder with checkpoints unless resuming, contradicting settings, and a missing dataset", async () => {
  const runDir = newRun();
  (await train(base(runDir, { epochs: 1 }))).model.dispose();
  await assert.rejects(train(base(runDir, { epochs: 1 })), /already holds checkpoints.*resume/);
  await assert.rejects(train(base(runDir, { resume: true, batchSize: 4 })), /started with batchSize 8, but this call asks for 4/);
  await assert.rejects(train(base(newRun(), { data: path.join(tmp.dir, "nowhere") })), /no prepared dataset at .*nowhere.*alexnet prepare/);
  await assert.rejects(train(base(newRun(), { profile: "huge" })), /unknown profile 'huge'/);
  await assert.rejects(train(base(newRun(), { epochs: 0 })), /epochs must be a whole number of at least 1/);
});

test("evaluate streams top-1 and top-5 error, as a direct computation gives them, without leaking", async () => {
  const model = buildAlexNet("mini", { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, init: "he", seed: 2 });
  const loader = createLoader(data, { split: "val", batchSize: 6, crop: 64, augment: "center", workers: 0 });
  let wrong1 = 0;
  let wrong5 = 0;
  for await (const batch of loader.batches({ epochs: 1 })) {
    const { xs, ys } = batchToTensors(batch);
    const logits = (model.predict(tf.mul(xs, 1 / 64)) as tf.Tensor2D).arraySync();
    const labels = ys.arraySync();
    logits.forEach((row, i) => {
      const order = row.map((v, c) => [v, c]).sort((a, b) => b[0] - a[0]).map((p) => p[1]);
      if (order[0] !== labels[i]) wrong1++;
      if (!order.slice(0, 5).includes(labels[i])) wrong5++;
    });
    tf.dispose([xs, ys]);
    batch.release();
  }
  const before = tf.memory().numTensors;
  const r = await evaluate(model, loader, { inputScale: 1 / 64 });
  assert.equal(tf.memory().numTensors, before);
  assert.equal(r.count, 20);
  assert.equal(r.top1Error, wrong1 / 20);
  assert.equal(r.top5Error, wrong5 / 20);
  assert.ok(r.loss > 0 && Number.isFinite(r.loss));
  await loader.close();
  model.dispose();
});

test("withSeededMathRandom repeats its draws for a seed and always puts Math.random back", () => {
  const original = Math.random;
  const a = withSeededMathRandom(7, () => [Math.random(), Math.random()]);
  const b = withSeededMathRandom(7, () => [Math.random(), Math.random()]);
  const c = withSeededMathRandom(8, () => [Math.random(), Math.random()]);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.equal(Math.random, original);
  assert.throws(() => withSeededMathRandom(1, () => {
    throw new Error("boom");
  }), /boom/);
  assert.equal(Math.random, original);
  // tfjs dropout draws its seed from Math.random, so it repeats too.
  const x = tf.ones([1, 64]);
  const masks = [1, 1, 2].map((s) => withSeededMathRandom(s, () => tf.tidy(() => Array.from(tf.dropout(x, 0.5).dataSync()))));
  x.dispose();
  assert.deepEqual(masks[0], masks[1]);
  assert.notDeepEqual(masks[0], masks[2]);
});

test("formatEpoch and curvesFigures show an epoch's numbers", () => {
  const m: EpochMetrics = { epoch: 2, step: 10, lr: 0.01, nextLr: 0.01, schedule: "", trainLoss: 2.1, trainTop1Error: 0.8, valLoss: 2.2, valTop1Error: 0.75, valTop5Error: 0.3, imagesPerSecond: 100, seconds: 3, checkpoint: "checkpoints/epoch-0002", time: "" };
  assert.match(formatEpoch(m, 5), /^epoch 2\/5: train loss 2\.100, top-1 80\.0% · val loss 2\.200, top-1 75\.0%, top-5 30\.0% · lr 0\.01 · 100\.0 img\/s/);
  const f = curvesFigures([m], 0.9);
  assert.deepEqual(f.errors.data.map((t) => t.name), ["train top-1", "val top-1", "val top-5", "chance (top-1)"]);
  assert.deepEqual(f.errors.data[1].y, [0.75]);
  assert.deepEqual(f.loss.data[0].y, [2.1]);
});
