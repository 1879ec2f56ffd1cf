import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { createLoader } from "../../lib/data/loader";
import { featureBatches, featureModel, meanOfViews } from "../../lib/eval/features";
import { buildAlexNet, planAlexNet } from "../../lib/model/alexnet";
import { tinyEvalFixture } from "../helpers/train";

// He init (zero biases): with the paper's bias of 1 every fc7 pre-activation would be positive and the ReLU untested.
const fx = tinyEvalFixture("alexnet-features-", { seed: 5, classes: 4, trainPerClass: 2, valPerClass: 2 }, { seed: 3, init: "he" });
const SCALE = 1 / 64;

test("featureModel: fc7 has the mini network's fc units, and its output is fc7's ReLU (non-negative)", () => {
  const fc7 = featureModel(fx.model);
  assert.deepEqual(fc7.outputs[0].shape, [null, 32]);
  assert.deepEqual(featureModel(fx.model, "pool5").outputs[0].shape.slice(0, 1), [null]);
  assert.throws(() => featureModel(fx.model, "fc9"), /no layer "fc9"; its layers are .*fc7/);
  // The default mini network: fc7 has planAlexNet's fcUnits (512 at width 0.25).
  const mini = buildAlexNet("mini", { inputSize: 64, numClasses: 10 });
  assert.deepEqual(featureModel(mini).outputs[0].shape, [null, planAlexNet("mini", { inputSize: 64 }).fcUnits]);
  assert.equal(planAlexNet("mini", { inputSize: 64 }).fcUnits, 512);
  mini.dispose();

  // fc7 = relu(fc6 · W + b), fc6 taken from the same network with dropout off.
  const x = tf.randomNormal([6, 64, 64, 3], 0, 1, "float32", 11);
  const [got, pre] = tf.tidy(() => {
    const fc6 = featureModel(fx.model, "fc6").predict(x) as tf.Tensor2D;
    const [w, b] = fx.model.getLayer("fc7").getWeights();
    return [fc7.predict(x) as tf.Tensor2D, tf.add(tf.matMul(fc6, w as tf.Tensor2D), b)];
  });
  const g = got.dataSync() as Float32Array;
  const p = pre.dataSync() as Float32Array;
  assert.ok(
    p.some((v) => v < -1e-3),
    "some pre-activations are negative, so the ReLU matters",
  );
  assert.ok(g.every((v) => v >= 0));
  p.forEach((v, i) => assert.ok(Math.abs(Math.max(v, 0) - g[i]) < 1e-4, `[${i}] ${g[i]} vs relu(${v})`));
  tf.dispose([x, got, pre]);
});

test("featureBatches streams one vector per image: the feature model's rows, or the mean of an image's ten patches", async () => {
  const before = tf.memory().numTensors;
  for (const augment of ["center", "ten-crop"] as const) {
    const loader = createLoader(fx.data, { split: "val", batchSize: 3, augment, workers: 0 });
    // The reference: the same loader's batches straight through the feature model.
    const expected: Float32Array[] = [];
    for await (const batch of loader.batches()) {
      const out = tf.tidy(() => featureModel(fx.model).predict(tf.mul(tf.tensor4d(batch.images, batch.shape), SCALE)) as tf.Tensor2D);
      expected.push(meanOfViews(out.dataSync() as Float32Array, batch.labels.length, batch.views, 32));
      out.dispose();
      batch.release();
    }
    const got = [];
    for await (const b of featureBatches(fx.model, loader, { inputScale: SCALE })) got.push(b);
    await loader.close();
    assert.deepEqual(
      got.map((b) => [...b.indices]),
      [
        [0, 1, 2],
        [3, 4, 5],
        [6, 7],
      ],
    );
    assert.deepEqual(
      got.map((b) => [...b.labels]),
      [
        [0, 1, 2],
        [3, 0, 1],
        [2, 3],
      ],
    );
    got.forEach((b, i) => {
      assert.equal(b.dim, 32);
      assert.equal(b.features.length, b.indices.length * 32);
      b.features.forEach((v, j) => assert.ok(Math.abs(v - expected[i][j]) < 1e-5, `${augment} batch ${i} [${j}]`));
    });
  }
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  // The model itself is untouched (the feature models share its layers and were never disposed).
  const y = tf.tidy(() => fx.model.predict(tf.zeros([1, 64, 64, 3])) as tf.Tensor);
  assert.deepEqual(y.shape, [1, 4]);
  y.dispose();
});

test("meanOfViews averages each image's consecutive rows", () => {
  assert.deepEqual([...meanOfViews(Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 2, 2, 2)], [2, 3, 6, 7]);
  const same = Float32Array.from([1, 2]);
  assert.equal(meanOfViews(same, 1, 1, 2), same);
});
