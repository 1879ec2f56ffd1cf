import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { Writable } from "node:stream";
import * as tf from "@tensorflow/tfjs";
import { createLoader } from "../../lib/data/loader";
import { openDataset } from "../../lib/data/shards";
import { batchToTensors } from "../../lib/data/tensors";
import { selectEngine } from "../../lib/engine/select";
import { type AlexNetOptions, buildAlexNet } from "../../lib/model/alexnet";
import { type ModelCard, writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { NonFiniteLossError } from "../../lib/train/guard";
import { softmaxCrossEntropy } from "../../lib/train/step";
import { checkpointsDir, type EpochMetrics, listCheckpoints, METRICS_FILE, RUN_CONFIG_FILE, type RunConfig } from "../../lib/run/run";
import { evaluate, withSeededMathRandom } from "../../lib/train/loop";
import { type TrainOptions, train } from "../../lib/train/trainer";
import { curvesFigures, formatEpoch } from "../../lib/viz/training";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet, weightBytes } from "../helpers/train";

const tmp = tempDir("alexnet-trainer-");
let data = "";
let runs = 0;
const newRun = () => path.join(tmp.dir, `run${runs++}`);

before(async () => {
  await selectEngine({ force: "cpu" });
  // 10 classes x 4 training images (5 steps of 8), 2 val images per class, 73x73 records -> 64x64 crops.
  data = path.join(tmp.dir, "data");
  const set = { seed: 3, classes: 10, trainPerClass: 4, valPerClass: 2 };
  await prepareTinySet(data, set);
});
after(() => tmp.cleanup());

// A narrow mini network (64x64 input) so that a step takes milliseconds on cpu.
const base = (runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
  runDir,
  data,
  profile: "smoke",
  // Dropout on (the smoke profile has none): exact resume must reproduce its masks too.
  modelOptions: { widthMultiplier: 0.125, fcUnits: 32, dropout: 0.5 },
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
  const lines = readFileSync(path.join(runDir, METRICS_FILE), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as EpochMetrics);
  assert.deepEqual(
    lines.map((l) => l.epoch),
    [1, 2, 3],
  );
  for (const l of lines) {
    for (const k of ["trainLoss", "trainTop1Error", "valTop1Error", "valTop5Error", "imagesPerSecond"] as const)
      assert.ok(Number.isFinite(l[k]), k);
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
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.epoch),
    [1],
  );
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
  await assert.rejects(
    train(base(newRun(), { crop: 96 })),
    /has 73x73 records, smaller than the 96x96 crops this run takes; prepare the dataset again with `alexnet prepare --size 110`/,
  );
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
      const order = row
        .map((v, c) => [v, c])
        .sort((a, b) => b[0] - a[0])
        .map((p) => p[1]);
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
  assert.throws(
    () =>
      withSeededMathRandom(1, () => {
        throw new Error("boom");
      }),
    /boom/,
  );
  assert.equal(Math.random, original);
  // tfjs dropout draws its seed from Math.random, so it repeats too.
  const x = tf.ones([1, 64]);
  const masks = [1, 1, 2].map((s) => withSeededMathRandom(s, () => tf.tidy(() => Array.from(tf.dropout(x, 0.5).dataSync()))));
  x.dispose();
  assert.deepEqual(masks[0], masks[1]);
  assert.notDeepEqual(masks[0], masks[2]);
});

test("formatEpoch and curvesFigures show an epoch's numbers", () => {
  const m: EpochMetrics = {
    epoch: 2,
    step: 10,
    lr: 0.01,
    nextLr: 0.01,
    schedule: "",
    trainLoss: 2.1,
    trainTop1Error: 0.8,
    valLoss: 2.2,
    valTop1Error: 0.75,
    valTop5Error: 0.3,
    imagesPerSecond: 100,
    seconds: 3,
    checkpoint: "checkpoints/epoch-0002",
    time: "",
  };
  assert.match(
    formatEpoch(m, 5),
    /^epoch 2\/5: train loss 2\.100, top-1 80\.0% · val loss 2\.200, top-1 75\.0%, top-5 30\.0% · lr 0\.01 · 100\.0 img\/s/,
  );
  const f = curvesFigures([m], 0.9);
  assert.deepEqual(
    f.errors.data.map((t) => t.name),
    ["train top-1", "val top-1", "val top-5", "chance (top-1)"],
  );
  assert.deepEqual(f.errors.data[1].y, [0.75]);
  assert.deepEqual(f.loss.data[0].y, [2.1]);
  assert.deepEqual(f.errors.data[3].x, [2, 3], "after one epoch the chance line still has a length");
  assert.equal(f.errors.layout?.xaxis?.integer, true, "epochs tick at whole numbers");
});

// ------------------------------------------------------------------ fine-tuning

/** A saved 5-class mini model with a card asking for per-channel normalisation: a stand-in for imported weights. */
async function savedInitModel(dir: string): Promise<{ card: ModelCard; model: tf.LayersModel }> {
  const modelOptions: AlexNetOptions = { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, numClasses: 5, init: "he", seed: 9 };
  const model = buildAlexNet("mini", modelOptions);
  await saveModel(model, dir);
  const card: ModelCard = {
    variant: "mini",
    modelOptions,
    classes: ["a", "b", "c", "d", "e"],
    input: { mean: [120, 115, 100], scale: [1 / 60, 1 / 62, 1 / 64] },
    source: "a test model",
  };
  writeCard(dir, card);
  return { card, model };
}

function capture(): { stream: NodeJS.WritableStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (chunks.push(String(chunk)), done()) });
  return { stream, text: () => chunks.join("") };
}

const layerBytes = (model: tf.LayersModel, name: string) =>
  model
    .getLayer(name)
    .getWeights()
    .map((w) => Buffer.from(w.dataSync().buffer));
const CONVS = ["conv1", "conv2", "conv3", "conv4", "conv5"];

test("init from a model folder: new fc8, frozen features, the card's normalisation in run.json; --resume re-freezes and ends bit for bit as a straight run", async () => {
  const initDir = path.join(tmp.dir, "init-model");
  const { card, model: initModel } = await savedInitModel(initDir);
  const fine = (runDir: string, extra: Partial<TrainOptions> = {}): TrainOptions => ({
    runDir,
    data,
    init: initDir,
    freeze: "features",
    batchSize: 8,
    epochs: 2,
    seed: 5,
    workers: 0,
    progress: "silent",
    ...extra,
  });

  const log = capture();
  const straightDir = newRun();
  const straight = await train(fine(straightDir, { progress: "lines", stream: log.stream }));
  assert.match(log.text(), /10 classes, from a test model \(new fc8: 5 -> 10 classes\), conv1 conv2 conv3 conv4 conv5 frozen\)/);
  const saved = JSON.parse(readFileSync(path.join(straightDir, RUN_CONFIG_FILE), "utf8")) as RunConfig;
  assert.equal(saved.init, initDir);
  assert.equal(saved.freeze, "features");
  assert.equal(saved.featuresLrScale, 1);
  assert.deepEqual(saved.input, card.input);
  assert.equal(saved.inputScale, 1);
  assert.equal(saved.model, "mini");
  assert.equal(saved.crop, 64);
  assert.deepEqual(saved.modelOptions, { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, init: "he", seed: 5 });
  for (const n of CONVS) assert.deepEqual(layerBytes(straight.model, n), layerBytes(initModel, n), `${n} moved`);
  assert.notDeepEqual(layerBytes(straight.model, "fc6")[0], layerBytes(initModel, "fc6")[0]);
  assert.deepEqual(straight.model.getLayer("fc8").getWeights()[0].shape, [32, 10]);
  assert.ok(Number.isFinite(straight.final?.valTop1Error));
  const expected = weightBytes(straight.model);
  straight.model.dispose();

  // One epoch, then resume from run.json alone: weights from the checkpoint (not the init), features frozen again.
  const runDir = newRun();
  (await train(fine(runDir, { epochs: 1 }))).model.dispose();
  await assert.rejects(
    train({ runDir, resume: true, freeze: "none", progress: "silent", workers: 0 }),
    /started with freeze "features", but this call asks for "none"/,
  );
  const resumed = await train({ runDir, resume: true, epochs: 2, progress: "silent", workers: 0 });
  assert.equal(resumed.resumedFrom, path.join(checkpointsDir(runDir), "epoch-0001"));
  assert.deepEqual(weightBytes(resumed.model), expected);
  assert.equal(resumed.model.trainableWeights.length, 6);
  resumed.model.dispose();
  initModel.dispose();
});

test("init from a run folder keeps fc8 for the same classes and takes the run's normalisation; featuresLrScale is recorded", async () => {
  const initDir = path.join(tmp.dir, "init-model-2");
  const { card, model: initModel } = await savedInitModel(initDir);
  initModel.dispose();
  const first = newRun();
  (await train({ runDir: first, data, init: initDir, epochs: 1, batchSize: 8, seed: 5, workers: 0, progress: "silent" })).model.dispose();
  const log = capture();
  const second = newRun();
  const r = await train({
    runDir: second,
    data,
    init: first,
    featuresLrScale: 0.1,
    epochs: 1,
    batchSize: 8,
    seed: 6,
    workers: 0,
    progress: "lines",
    stream: log.stream,
  });
  assert.match(log.text(), /from run .*epoch-0001 \(fc8 kept\), features at 0\.1x the learning rate/);
  assert.equal(r.config.init, first);
  assert.equal(r.config.featuresLrScale, 0.1);
  assert.equal(r.config.freeze, "none");
  assert.deepEqual(r.config.input, card.input);
  r.model.dispose();
  await assert.rejects(
    train({ runDir: second, resume: true, featuresLrScale: 1, progress: "silent", workers: 0 }),
    /started with featuresLrScale 0\.1/,
  );
});

test("init errors name the folder, and options that contradict the init model are refused", async () => {
  const initDir = path.join(tmp.dir, "init-model-3");
  (await savedInitModel(initDir)).model.dispose();
  await assert.rejects(
    train({ runDir: newRun(), data, init: tmp.dir, progress: "silent" }),
    new RegExp(`${tmp.dir} is neither a model folder nor a training run`),
  );
  await assert.rejects(
    train({ runDir: newRun(), data, init: path.join(tmp.dir, "nowhere"), progress: "silent" }),
    /nowhere does not exist; pass a model folder/,
  );
  await assert.rejects(
    train({ runDir: newRun(), data, init: initDir, model: "paper", progress: "silent" }),
    /model 'paper' was asked for, but the init .* is 'mini'/,
  );
  await assert.rejects(
    train({ runDir: newRun(), data, init: initDir, crop: 128, progress: "silent" }),
    /crop 128 was asked for, but the init .* takes 64x64 inputs/,
  );
  await assert.rejects(
    train({ runDir: newRun(), data, init: initDir, freeze: "features", featuresLrScale: 0.1, progress: "silent" }),
    /choose freeze "features" or a featuresLrScale/,
  );
  await assert.rejects(train({ runDir: newRun(), data, freeze: "all" as never, progress: "silent" }), /freeze 'all' is unknown/);
});

test("a run.json written before fine-tuning (no freeze, featuresLrScale) still resumes, and keeps training every layer", async () => {
  const runDir = newRun();
  (await train(base(runDir, { epochs: 1 }))).model.dispose();
  const file = path.join(runDir, RUN_CONFIG_FILE);
  const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  assert.equal(config.freeze, "none");
  delete config.freeze;
  delete config.featuresLrScale;
  writeFileSync(file, JSON.stringify(config));
  // Up to the epoch already done: the checkpoint (every weight and velocity) is restored, nothing more is trained.
  const resumed = await train({ runDir, resume: true, progress: "silent", workers: 0 });
  assert.equal(resumed.history.length, 1);
  assert.equal(resumed.model.trainableWeights.length, 16);
  resumed.model.dispose();
  assert.equal((JSON.parse(readFileSync(file, "utf8")) as RunConfig).freeze, "none");
});

test("evaluate applies a card's per-channel normalisation, and refuses it on a loader that subtracts a mean", async () => {
  const model = buildAlexNet("mini", { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, init: "he", seed: 2 });
  const input = { mean: [120, 115, 100] as [number, number, number], scale: [1 / 60, 1 / 62, 1 / 64] as [number, number, number] };
  const loader = createLoader(data, { split: "val", batchSize: 6, crop: 64, augment: "center", workers: 0, mean: "none" });
  let wrong1 = 0;
  for await (const batch of loader.batches({ epochs: 1 })) {
    const { xs, ys } = batchToTensors(batch);
    const x = tf.mul(tf.sub(xs, tf.tensor1d(input.mean)), tf.tensor1d(input.scale));
    const predicted = tf.argMax(model.predict(x) as tf.Tensor2D, 1).arraySync() as number[];
    const labels = ys.arraySync();
    predicted.forEach((p, i) => (wrong1 += p === labels[i] ? 0 : 1));
    tf.dispose([xs, ys, x]);
    batch.release();
  }
  const r = await evaluate(model, loader, { input });
  assert.equal(r.top1Error, wrong1 / 20);
  const withMean = createLoader(data, { split: "val", batchSize: 6, crop: 64, augment: "center", workers: 0 });
  await assert.rejects(
    evaluate(model, withMean, { input }),
    /the loader subtracts the image mean already; create the loader with mean: "none"/,
  );
  await loader.close();
  await withMean.close();
  model.dispose();
});

test("init keeps fc8 only for the same classes: same count and, when the card names them, the same names", async () => {
  const dir = path.join(tmp.dir, "init-ten");
  const modelOptions: AlexNetOptions = { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, numClasses: 10, init: "he", seed: 9 };
  const model = buildAlexNet("mini", modelOptions);
  await saveModel(model, dir);
  model.dispose();
  const input = { mean: [120, 115, 100] as [number, number, number], scale: [1 / 60, 1 / 62, 1 / 64] as [number, number, number] };
  const run = async (classes: string[]): Promise<string> => {
    writeCard(dir, { variant: "mini", modelOptions, classes, input, source: "ten" });
    const log = capture();
    (
      await train({
        runDir: newRun(),
        data,
        init: dir,
        batchSize: 8,
        epochs: 1,
        seed: 5,
        workers: 0,
        progress: "lines",
        stream: log.stream,
      })
    ).model.dispose();
    return log.text();
  };
  const dataset = openDataset(data);
  const names = dataset.manifest.classNames ?? dataset.classes;
  await dataset.close();
  assert.match(await run(Array.from({ length: 10 }, (_, i) => `class ${i}`)), /from ten \(new fc8: 10 -> 10 classes\)/);
  assert.match(await run(names), /from ten \(fc8 kept\)/);
});

test('a "drop" schedule lowers the rate once, after 80% of the run\'s epochs, and run.json keeps the rule', async () => {
  const r = await train(base(newRun(), { epochs: 5, lr: 0.02, schedule: { kind: "drop", after: 0.8, factor: 0.1 } }));
  r.model.dispose();
  assert.deepEqual(
    r.history.map((m) => m.lr),
    [0.02, 0.02, 0.02, 0.02, 0.002],
  );
  assert.deepEqual(r.config.schedule, { kind: "drop", after: 0.8, factor: 0.1 });
  assert.match(r.history[3].schedule, /lr 0.02 -> 0.002/);
});

test("cropsAndReflections false trains on centre crops, unmirrored: the batches equal the validation crops of the same records", async () => {
  const runDir = newRun();
  const seen: { epoch: number }[] = [];
  const r = await train(base(runDir, { epochs: 1, cropsAndReflections: false, lighting: 0, onStep: (s) => seen.push({ epoch: s.epoch }) }));
  r.model.dispose();
  assert.equal(r.config.cropsAndReflections, false);
  assert.equal(JSON.parse(readFileSync(path.join(runDir, RUN_CONFIG_FILE), "utf8")).cropsAndReflections, false);
  assert.ok(seen.length > 0);
  // What the loader gives in that mode: each record's centre crop, whatever the epoch's shuffle.
  const dataset = openDataset(data);
  const training = createLoader(dataset, {
    split: "train",
    augment: "train-center",
    crop: 64,
    batchSize: 8,
    seed: 5,
    lighting: 0,
    workers: 0,
  });
  const centre = createLoader(dataset, { split: "train", augment: "center", crop: 64, batchSize: 40, workers: 0 });
  try {
    const all = (await centre.batches().next()).value!;
    const size = 64 * 64 * 3;
    const byLabelAndPixels = new Set<string>();
    for (let i = 0; i < all.labels.length; i++)
      byLabelAndPixels.add(`${all.labels[i]}:${all.images.subarray(i * size, i * size + 64).join(",")}`);
    const batch = (await training.batches().next()).value!;
    for (let i = 0; i < batch.labels.length; i++) {
      assert.ok(
        byLabelAndPixels.has(`${batch.labels[i]}:${batch.images.subarray(i * size, i * size + 64).join(",")}`),
        `training image ${i} is not a record's centre crop`,
      );
    }
    batch.release();
    all.release();
  } finally {
    await training.close();
    await centre.close();
    await dataset.close();
  }
  // And a run written before the option existed still resumes, with crops on.
  const config = JSON.parse(readFileSync(path.join(runDir, RUN_CONFIG_FILE), "utf8"));
  delete config.cropsAndReflections;
  writeFileSync(path.join(runDir, RUN_CONFIG_FILE), JSON.stringify(config));
  const resumed = await train(base(runDir, { epochs: 2, resume: true }));
  resumed.model.dispose();
  assert.equal(resumed.config.cropsAndReflections, true);
});
