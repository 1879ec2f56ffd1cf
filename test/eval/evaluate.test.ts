import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { createLoader } from "../../lib/data/loader";
import { compareProtocols, evaluateModel } from "../../lib/eval/evaluate";
import { topKErrors } from "../../lib/eval/metrics";
import { buildAlexNet } from "../../lib/model/alexnet";
import { tinyEvalFixture } from "../helpers/train";

// 10 classes, 2 val images each, 73x73 records -> 64x64 crops; an untrained network whose logits spread enough for distinct top-5s.
const fx = tinyEvalFixture("alexnet-evaluate-", { seed: 4, classes: 10, trainPerClass: 2, valPerClass: 2 }, { seed: 7 });
const SCALE = 1 / 64;

test("ten-crop evaluation equals the average of the softmax of ten patches cut by hand (corners, centre, reflections)", async () => {
  // Whole 73x73 records (minus the same mean image); the patches are cut here, independently of the loader's ten-crop code.
  const whole = createLoader(fx.data, { split: "val", batchSize: 20, augment: "none", workers: 0 });
  const expected: number[][] = [];
  const labels: number[] = [];
  for await (const batch of whole.batches()) {
    const records = tf.tensor4d(batch.images, batch.shape);
    for (let i = 0; i < batch.labels.length; i++) {
      const image = tf.slice(records, [i, 0, 0, 0], [1, 73, 73, 3]);
      // The ten patches go through the network as one batch; each row gets its own softmax.
      const probs = tf.tidy(() => {
        const patches = [
          [0, 0],
          [0, 9],
          [9, 0],
          [9, 9],
          [4, 4],
        ].flatMap(([y, x]) => {
          const patch = tf.slice(image, [0, y, x, 0], [1, 64, 64, 3]);
          return [patch, tf.reverse(patch, 2)];
        });
        return tf.softmax(fx.model.predict(tf.mul(tf.concat(patches), SCALE)) as tf.Tensor2D);
      });
      const p = probs.dataSync() as Float32Array;
      probs.dispose();
      const sum = new Float64Array(10);
      p.forEach((v, j) => (sum[j % 10] += v / 10));
      image.dispose();
      expected.push([...sum]);
      labels.push(batch.labels[i]);
    }
    records.dispose();
    batch.release();
  }
  await whole.close();

  const before = tf.memory().numTensors;
  const loader = createLoader(fx.data, { split: "val", batchSize: 3, augment: "ten-crop", workers: 0 });
  const batches: number[] = [];
  const result = await evaluateModel(fx.model, loader, { inputScale: SCALE, keep: 10, onBatch: (p) => batches.push(p.images) });
  await loader.close();
  assert.equal(tf.memory().numTensors, before, "evaluateModel leaves no tensor behind");
  assert.deepEqual(batches, [3, 6, 9, 12, 15, 18, 20]);

  assert.equal(result.protocol, "ten-crop");
  assert.equal(result.views, 10);
  assert.equal(result.count, 20);
  assert.deepEqual(
    result.predictions.map((p) => p.index),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.deepEqual(
    result.predictions.map((p) => p.label),
    labels,
  );
  result.predictions.forEach((p, i) => {
    assert.equal(p.top.length, 10);
    for (const { class: c, p: prob } of p.top)
      assert.ok(Math.abs(prob - expected[i][c]) < 1e-5, `image ${i} class ${c}: ${prob} vs ${expected[i][c]}`);
    for (let j = 1; j < p.top.length; j++) assert.ok(p.top[j - 1].p >= p.top[j].p);
  });
  const flat = Float32Array.from(expected.flat());
  const [e1, e5] = topKErrors(flat, labels, 10);
  assert.equal(result.top1Error, e1);
  assert.equal(result.top5Error, e5);
  const nll = labels.reduce((s, l, i) => s - Math.log(expected[i][l]), 0) / labels.length;
  assert.ok(Math.abs(result.loss - nll) < 1e-5, `${result.loss} vs ${nll}`);

  // Confusion matrix and per-class numbers agree with the predictions.
  assert.equal(result.confusion.total, 20);
  for (const p of result.predictions) assert.ok(result.confusion.get(p.label, p.top[0].class) > 0);
  assert.equal(result.perClass.length, 10);
  assert.deepEqual(
    result.perClass.map((c) => c.count),
    Array(10).fill(2),
  );
  const wrong1 = result.perClass.reduce((s, c) => s + c.top1Error * c.count, 0);
  assert.ok(Math.abs(wrong1 / 20 - result.top1Error) < 1e-12);
  assert.equal(result.perClass[0].name, loader.classes[0]);
});

test("centre evaluation agrees with tf's own softmax and topk on the same batches; compareProtocols runs both protocols", async () => {
  const loader = createLoader(fx.data, { split: "val", batchSize: 8, augment: "center", workers: 0 });
  const ours = await evaluateModel(fx.model, loader, { inputScale: SCALE });
  // The reference: tf.softmax and tf.topk, not lib/eval/metrics.
  let wrong1 = 0;
  let wrong5 = 0;
  let nll = 0;
  let count = 0;
  for await (const batch of loader.batches({ epochs: 1 })) {
    const probs = tf.tidy(() => tf.softmax(fx.model.predict(tf.mul(tf.tensor4d(batch.images, batch.shape), SCALE)) as tf.Tensor2D));
    const top = (await tf.topk(probs, 5).indices.array()) as number[][];
    const p = (await probs.array()) as number[][];
    probs.dispose();
    batch.labels.forEach((label, i) => {
      if (top[i][0] !== label) wrong1++;
      if (!top[i].includes(label)) wrong5++;
      nll -= Math.log(p[i][label]);
      count++;
    });
    batch.release();
  }
  await loader.close();
  assert.equal(ours.views, 1);
  assert.equal(ours.predictions[0].top.length, 5);
  assert.equal(ours.count, count);
  assert.equal(ours.top1Error, wrong1 / count);
  assert.equal(ours.top5Error, wrong5 / count);
  assert.ok(Math.abs(ours.loss - nll / count) < 1e-5);

  const both = await compareProtocols(fx.model, fx.data, { inputScale: SCALE, batchSize: 8, workers: 0 });
  assert.equal(both.center.protocol, "center");
  assert.equal(both.tenCrop.protocol, "ten-crop");
  assert.equal(both.center.top1Error, ours.top1Error);
  assert.deepEqual(both.center.predictions, ours.predictions);
  assert.equal(both.tenCrop.views, 10);
});

test("a model whose outputs are NaN is refused, not scored 0% error", async () => {
  const broken = buildAlexNet("mini", { inputSize: 64, numClasses: 10, widthMultiplier: 0.125, fcUnits: 32, seed: 7 });
  const fc8 = broken.getLayer("fc8");
  const [w, b] = fc8.getWeights();
  fc8.setWeights([tf.fill(w.shape, NaN), b]);
  const loader = createLoader(fx.data, { split: "val", batchSize: 8, augment: "center", workers: 0 });
  await assert.rejects(
    evaluateModel(broken, loader, { inputScale: SCALE }),
    /output for record \d+ .* is NaN; its weights hold NaN or infinity/,
  );
  await loader.close();
  broken.dispose();
});
