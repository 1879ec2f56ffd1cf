import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { batchToTensors } from "../../lib/data/tensors";

before(async () => {
  await tf.setBackend("cpu");
});

function fakeBatch(n: number, views: number, side = 2): { images: Float32Array; shape: [number, number, number, number]; labels: Int32Array; views: number } {
  const rows = n * views;
  return { images: Float32Array.from({ length: rows * side * side * 3 }, (_, i) => i / 10), shape: [rows, side, side, 3], labels: Int32Array.from({ length: n }, (_, i) => (i * 2) % 5), views };
}

test("batchToTensors: NHWC float32 images and int32 labels, values unchanged", () => {
  const batch = fakeBatch(3, 1);
  const { xs, ys } = batchToTensors(batch);
  assert.deepEqual(xs.shape, [3, 2, 2, 3]);
  assert.equal(xs.dtype, "float32");
  assert.deepEqual(Array.from(xs.dataSync()), Array.from(batch.images));
  assert.equal(ys.dtype, "int32");
  assert.deepEqual(Array.from(ys.dataSync()), [0, 2, 4]);
  tf.dispose([xs, ys]);
});

test("batchToTensors: one-hot labels, one per record even with ten views", () => {
  const batch = fakeBatch(2, 10);
  const { xs, ys } = batchToTensors(batch, { oneHot: 5 });
  assert.deepEqual(xs.shape, [20, 2, 2, 3]);
  assert.deepEqual(ys.shape, [2, 5]);
  assert.equal(ys.dtype, "float32");
  assert.deepEqual(ys.arraySync(), [
    [1, 0, 0, 0, 0],
    [0, 0, 1, 0, 0],
  ]);
  tf.dispose([xs, ys]);
});

test("batchToTensors refuses a released batch, mismatched labels and labels outside the classes, leaking nothing", () => {
  const before = tf.memory().numTensors;
  const released = { ...fakeBatch(2, 1), images: new Float32Array(0) };
  assert.throws(() => batchToTensors(released), /was the batch released/);
  assert.throws(() => batchToTensors({ ...fakeBatch(2, 1), views: 10 }), /2 images for 2 labels with 10 views each/);
  assert.throws(() => batchToTensors(fakeBatch(3, 1), { oneHot: 3 }), /label 4 is outside 0..2; pass oneHot: the dataset's number of classes/);
  assert.throws(() => batchToTensors(fakeBatch(1, 1), { oneHot: 0 }), /oneHot must be the number of classes/);
  assert.equal(tf.memory().numTensors, before);
});
