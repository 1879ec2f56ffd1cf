import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { dropoutMoments, invertedDropout, paperDropout } from "../../lib/model/dropout";

const x = tf.tensor1d([1, 2, 3, 4, 5, 6, 7, 8]);

test("paper form: training zeroes units and leaves the rest; test multiplies by 1 - rate", () => {
  const train = Array.from(paperDropout(x, 0.5, { training: true, seed: 3 }).dataSync());
  train.forEach((v, i) => assert.ok(v === 0 || v === i + 1, `unit ${i}: ${v}`));
  assert.ok(train.some((v) => v === 0) && train.some((v) => v !== 0));
  assert.deepEqual(Array.from(paperDropout(x, 0.5, { training: false }).dataSync()), [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
});

test("inverted form: training scales kept units by 1 / (1 - rate); test is the identity", () => {
  const train = Array.from(invertedDropout(x, 0.5, { training: true, seed: 3 }).dataSync());
  train.forEach((v, i) => assert.ok(v === 0 || v === 2 * (i + 1), `unit ${i}: ${v}`));
  assert.deepEqual(Array.from(invertedDropout(x, 0.5, { training: false }).dataSync()), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => invertedDropout(x, 1, { training: true }), /dropout rate must be in \[0, 1\)/);
});

test("both forms agree with their test-time output in expectation", () => {
  const before = tf.memory().numTensors;
  const rows = dropoutMoments(x as tf.Tensor1D, 0.5, 20000, 7);
  assert.deepEqual(
    rows.map((r) => r.form),
    ["paper", "inverted"],
  );
  for (const r of rows) assert.ok(r.maxDifference < 0.15, `${r.form}: ${r.maxDifference}`);
  assert.deepEqual(rows[0].test, [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
  assert.equal(tf.memory().numTensors, before, "no tensors leak");
});
