import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { buildAlexNet } from "../../lib/model/alexnet";
import { activationMemory, receptiveFields, timeLayers, towerTraffic, trainingMemoryPerCard } from "../../lib/model/anatomy";
import { selectEngine } from "../../lib/engine/select";

let paper: tf.LayersModel;
before(async () => {
  await selectEngine({ force: "wasm" });
  paper = buildAlexNet("paper", { numClasses: 1000 });
});
after(() => paper.dispose());

test("receptive fields of the paper's net at 224: 11 at conv1, 163 at conv5, 195 at pool5, the whole image from fc6", () => {
  const rf = Object.fromEntries(receptiveFields(paper).map((r) => [r.name, r]));
  const sizes = Object.fromEntries(Object.entries(rf).map(([k, r]) => [k, [r.size, r.jump]]));
  assert.deepEqual(sizes, {
    conv1: [11, 4],
    pool1: [19, 8],
    conv2: [51, 8],
    pool2: [67, 16],
    conv3: [99, 16],
    conv4: [131, 16],
    conv5: [163, 16],
    pool5: [195, 32],
    fc6: [228, 32],
    fc7: [228, 32],
    fc8: [228, 32],
  });
  assert.equal(rf.pool5.wholeImage, false);
  assert.equal(rf.fc6.wholeImage, true);
  assert.equal(rf.conv5.wholeImage, false);
  const shallow = buildAlexNet("mini", { inputSize: 64, widthMultiplier: 0.125, fcUnits: 8, omitConv: "conv4" });
  assert.equal(receptiveFields(shallow).find((r) => r.name === "conv5")!.size, 131, "one 3x3 layer fewer: 32 pixels less");
  shallow.dispose();
});

test("activation memory: conv1's 55x55x96 outputs at batch 128 are 149 MB of float32", () => {
  const m = activationMemory(paper, 128);
  const conv1 = m.layers.find((l) => l.name === "conv1")!;
  assert.equal(conv1.values, 55 * 55 * 96);
  assert.equal(conv1.bytes, 55 * 55 * 96 * 128 * 4);
  assert.equal(
    m.totalBytes,
    m.layers.reduce((a, l) => a + l.bytes, 0),
  );
  assert.equal(activationMemory(paper, 1).totalBytes * 128, m.totalBytes);
  assert.throws(() => activationMemory(paper, 0), /batch must be a whole number/);
  const one = trainingMemoryPerCard(paper, 128);
  assert.equal(one.weightStateBytes, 12 * 60_965_224);
  assert.equal(one.perCardBytes, 2 * m.totalBytes + 12 * 60_965_224);
  assert.equal(trainingMemoryPerCard(paper, 128, 2).perCardBytes, one.perCardBytes / 2);
  assert.throws(() => trainingMemoryPerCard(paper, 128, 0), /cards must be a whole number/);
});

test("tower traffic: each tower sends its half of conv3's, fc6's, fc7's and fc8's inputs; one tower sends nothing", () => {
  const t = towerTraffic(paper, 128);
  assert.deepEqual(
    t.map((x) => [x.into, x.valuesPerImage]),
    [
      ["conv3", (13 * 13 * 256) / 2],
      ["fc6", (6 * 6 * 256) / 2],
      ["fc7", 2048],
      ["fc8", 2048],
    ],
  );
  assert.equal(t[0].bytesPerBatch, 4 * 21632 * 128);
  const one = buildAlexNet("mini", { inputSize: 64, widthMultiplier: 0.125, fcUnits: 8, towers: 1 });
  assert.deepEqual(towerTraffic(one, 128), []);
  one.dispose();
});

test("timeLayers times every layer's forward pass on the current engine and leaks no tensors", async () => {
  const m = buildAlexNet("mini", { inputSize: 64, widthMultiplier: 0.125, fcUnits: 8 });
  const before = tf.memory().numTensors;
  const times = await timeLayers(m, { batch: 2, repeats: 2 });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(
    times.map((t) => t.name),
    m.layers.filter((l) => l.getClassName() !== "InputLayer").map((l) => l.name),
  );
  assert.ok(times.every((t) => Number.isFinite(t.ms) && t.ms >= 0));
  await assert.rejects(timeLayers(m, { repeats: 0 }), /repeats must be a whole number/);
  m.dispose();
});
