import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import sharp from "sharp";
import { run as predictCli } from "../../lib/cli/predict";
import { createLoader } from "../../lib/data/loader";
import { openDataset } from "../../lib/data/shards";
import { batchToTensors } from "../../lib/data/tensors";
import { selectEngine } from "../../lib/engine/select";
import {
  averagedProbabilities,
  formatPredictions,
  loadPredictor,
  predictFiles,
  predictRecords,
  readImageRecords,
  recordsToInput,
} from "../../lib/eval/predict";
import { buildAlexNet } from "../../lib/model/alexnet";
import { writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { train } from "../../lib/train/trainer";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";
import { latestCheckpoint } from "../../lib/run/run";
import { closeEvalTarget, openEvalTarget } from "../../lib/eval/report";

const tmp = tempDir("alexnet-predict-");
let data = "";
let runDir = "";
let outside = "";

before(async () => {
  await selectEngine({ force: "cpu" });
  data = path.join(tmp.dir, "data");
  const set = { seed: 4, classes: 10, trainPerClass: 2, valPerClass: 1 };
  await prepareTinySet(data, set);
  runDir = path.join(tmp.dir, "run");
  const result = await train({
    runDir,
    data,
    profile: "smoke",
    modelOptions: { widthMultiplier: 0.125, fcUnits: 32 },
    crop: 64,
    batchSize: 10,
    epochs: 1,
    workers: 0,
    progress: "silent",
  });
  result.model.dispose();
  // An image that is not in the dataset: a 120x90 landscape JPEG (so it is resized and cropped).
  const pixels = Buffer.alloc(120 * 90 * 3);
  for (let i = 0; i < 120 * 90; i++) pixels.set([(i * 7) % 256, (i % 120) * 2, Math.floor(i / 120) * 2], i * 3);
  outside = path.join(tmp.dir, "outside.jpg");
  writeFileSync(
    outside,
    await sharp(pixels, { raw: { width: 120, height: 90, channels: 3 } })
      .jpeg()
      .toBuffer(),
  );
});
after(() => tmp.cleanup());

test("predict on an image from outside the dataset: top-5 of the run's classes, sorted, probabilities in (0, 1]", async () => {
  const predictor = await loadPredictor(runDir);
  try {
    assert.equal(predictor.kind, "run");
    assert.equal(predictor.input.recordSize, 73);
    assert.equal(predictor.input.crop, 64);
    const [p] = await predictFiles(predictor, [outside]);
    assert.equal(p.source, outside);
    assert.equal(p.top.length, 5);
    const classes = openDataset(data).classes;
    for (const t of p.top) {
      assert.equal(t.name, classes[t.index]);
      assert.ok(t.p > 0 && t.p <= 1);
    }
    for (let i = 1; i < 5; i++) assert.ok(p.top[i - 1].p >= p.top[i].p);
    assert.equal(new Set(p.top.map((t) => t.index)).size, 5);
    assert.match(formatPredictions([p]), /outside\.jpg\n  1\. \S/);
  } finally {
    predictor.model.dispose();
  }
});

test("a record predicted through predictRecords gets the same probabilities as the validation loader gives it", async () => {
  const predictor = await loadPredictor(runDir);
  const dataset = openDataset(data);
  const loader = createLoader(dataset, { split: "val", batchSize: 10, crop: 64, augment: "ten-crop", workers: 0 });
  try {
    const records = await Promise.all([0, 3, 7].map(async (i) => (await dataset.split("val").readRecord(i)).pixels));
    const ours = await predictRecords(predictor, records, { k: 10, views: "ten-crop" });
    assert.deepEqual(
      await predictRecords(predictor, records, { k: 10, views: "ten-crop", batchSize: 2 }),
      ours,
      "batching does not change the answers",
    );
    let batch;
    for await (const b of loader.batches({ epochs: 1 })) {
      batch = { images: b.images.slice(), shape: b.shape, labels: b.labels.slice(), views: b.views };
      b.release();
      break;
    }
    assert.ok(batch);
    const { xs, ys } = batchToTensors(batch);
    const scaled = tf.mul(xs, predictor.input.scale as number) as tf.Tensor4D;
    const probs = averagedProbabilities(predictor.model, scaled, 10);
    const expected = (await probs.array()) as number[][];
    tf.dispose([xs, ys, scaled, probs]);
    [0, 3, 7].forEach((record, i) => {
      for (const t of ours[i].top)
        assert.ok(
          Math.abs(t.p - expected[record][t.index]) < 1e-5,
          `record ${record}, class ${t.index}: ${t.p} vs ${expected[record][t.index]}`,
        );
    });
  } finally {
    predictor.model.dispose();
    await loader.close();
    await dataset.close();
  }
});

test("a checkpoint folder, as train --init takes one: its own weights and the run's input pipeline; eval writes beside the run's", async () => {
  const whole = await loadPredictor(runDir);
  const checkpoint = latestCheckpoint(runDir)!;
  const one = await loadPredictor(checkpoint);
  try {
    assert.deepEqual([one.kind, one.weights, one.trained.runDir], ["run", checkpoint, runDir]);
    assert.deepEqual(one.input, whole.input);
    assert.deepEqual(one.classes, whole.classes);
  } finally {
    one.model.dispose();
    whole.model.dispose();
  }
  const target = await openEvalTarget(checkpoint);
  try {
    assert.equal(target.outDir, path.join(runDir, "eval", path.basename(checkpoint)), "not inside the checkpoint, which the run may prune");
  } finally {
    await closeEvalTarget(target);
  }
});

test("recordsToInput: centre crop minus the mean, times the scale; per-channel normalisation", () => {
  const S = 4;
  const record = Uint8Array.from({ length: S * S * 3 }, (_, i) => i);
  const x = recordsToInput([record], { recordSize: S, crop: 2, mean: Float32Array.from([1, 2, 3]), scale: [1, 0.5, 2], kernel: "linear" });
  assert.deepEqual(x.shape, [1, 2, 2, 3]);
  // Centre offset floor((4-2)/2) = 1: pixel (1,1) is index (1*4+1)*3 = 15.
  const v = Array.from(x.dataSync());
  assert.deepEqual(v.slice(0, 3), [(15 - 1) * 1, (16 - 2) * 0.5, (17 - 3) * 2]);
  x.dispose();
  assert.throws(
    () => recordsToInput([record.subarray(1)], { recordSize: S, crop: 2, mean: new Float32Array(3), scale: 1, kernel: "linear" }),
    /record 0 has 47 bytes, expected 4x4x3/,
  );
});

test("a model folder (card.json) brings its own class names and normalisation", async () => {
  const dir = path.join(tmp.dir, "model");
  const model = buildAlexNet("mini", { inputSize: 64, numClasses: 3, widthMultiplier: 0.125, fcUnits: 16 });
  await saveModel(model, dir);
  model.dispose();
  writeCard(dir, {
    variant: "mini",
    modelOptions: { inputSize: 64, numClasses: 3, widthMultiplier: 0.125, fcUnits: 16 },
    classes: ["ant", "bee", "cat"],
    input: { mean: [120, 110, 100], scale: [0.02, 0.02, 0.02] },
    source: "test",
  });
  const predictor = await loadPredictor(dir);
  try {
    assert.equal(predictor.kind, "model");
    assert.equal(predictor.input.recordSize, 73);
    const [p] = await predictFiles(predictor, [outside], { k: 9 });
    assert.equal(p.top.length, 3, "k is capped at the number of classes");
    assert.deepEqual(p.top.map((t) => t.name).sort(), ["ant", "bee", "cat"]);
    const sum = p.top.reduce((s, t) => s + t.p, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5);
    const records = await readImageRecords([outside], predictor.input);
    assert.equal(records[0].length, 73 * 73 * 3);
  } finally {
    predictor.model.dispose();
  }
});

test("clear errors: not a run, a dataset that moved, an unreadable image", async () => {
  await assert.rejects(
    loadPredictor(path.join(tmp.dir, "nothing")),
    /nothing is neither a training run \(no run\.json.*nor a model folder \(no card\.json.*: it does not exist/,
  );
  const moved = path.join(tmp.dir, "moved-run");
  const { cpSync, readFileSync } = await import("node:fs");
  cpSync(runDir, moved, { recursive: true });
  const cfg = JSON.parse(readFileSync(path.join(moved, "run.json"), "utf8"));
  writeFileSync(path.join(moved, "run.json"), JSON.stringify({ ...cfg, data: path.join(tmp.dir, "gone") }));
  await assert.rejects(loadPredictor(moved), /names the dataset .*gone.*pass --data DIR/);
  const p = await loadPredictor(moved, { data });
  await assert.rejects(predictFiles(p, [path.join(tmp.dir, "missing.jpg")]), /missing\.jpg: cannot be read \(ENOENT\)/);
  p.model.dispose();
});

test("alexnet predict --json prints top-k per image", async () => {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => lines.push(s);
  try {
    assert.equal(await predictCli(["--run", runDir, "--top", "3", "--json", outside]), 0);
  } finally {
    console.log = log;
  }
  const parsed = JSON.parse(lines[lines.length - 1]);
  assert.equal(parsed.length, 1);
  assert.equal(parsed[0].top.length, 3);
});

test("--max-pixels refuses a larger image, naming it and the way to raise the limit", async () => {
  // outside.jpg is 120x90 = 10,800 pixels.
  await assert.rejects(
    predictCli(["--run", runDir, "--max-pixels", "10000", outside]),
    /outside\.jpg: .*120x90 = 10800 pixels, over the limit of 10000.*--max-pixels N/,
  );
  const log = console.log;
  console.log = () => undefined;
  try {
    assert.equal(await predictCli(["--run", runDir, "--max-pixels", "10800", outside]), 0);
  } finally {
    console.log = log;
  }
  await assert.rejects(
    predictCli(["--run", runDir, "--max-pixels", "0", outside]),
    /--max-pixels 0: expected a whole number of at least 1/,
  );
});
