// How pixels become network input (lib/model/input.ts): the per-channel
// transform a model card asks for, and a run's inputScale on top.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { inputTransformFor, normalizeInput, transformInput } from "../../lib/model/input";

test("per-channel offset and scale: input = (x + offset[c]) * scale[c], as a model card asks", () => {
  const xs = tf.tensor4d([10, 20, 30, 40, 50, 60], [1, 1, 2, 3]);
  const t = inputTransformFor({ mean: [1, 2, 3], scale: [2, 0.5, 0.1] });
  assert.deepEqual(t, { inputOffset: [-1, -2, -3], inputScale: [2, 0.5, 0.1] });
  const out = tf.tidy(() => transformInput(xs, t));
  const got = out.dataSync();
  const want = [18, 9, 2.7, 78, 24, 5.7];
  want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) < 1e-5, `${got[i]} vs ${w}`));
  // Identity transforms give the input back, and a single number applies to every channel.
  assert.equal(transformInput(xs, { inputScale: 1, inputOffset: [0, 0, 0] }), xs);
  const half = tf.tidy(() => transformInput(xs, { inputScale: 0.5, inputOffset: 2 }));
  assert.deepEqual([...half.dataSync()], [6, 11, 16, 21, 26, 31]);
  tf.dispose([xs, out, half]);
});

test("normalizeInput applies (x - mean[c]) * scale[c], then inputScale, and passes x through when there is nothing to do", () => {
  const xs = tf.tensor4d([10, 20, 30, 110, 120, 130], [1, 1, 2, 3]);
  assert.equal(normalizeInput(xs, {}), xs);
  assert.equal(normalizeInput(xs, { inputScale: 1 }), xs);
  const y = normalizeInput(xs, { input: { mean: [10, 20, 40], scale: [1, 0.5, 0.25] }, inputScale: 2 });
  assert.deepEqual(Array.from(y.dataSync()), [0, 0, -5, 200, 100, 45]);
  const z = normalizeInput(xs, { inputScale: 0.5 });
  assert.deepEqual(Array.from(z.dataSync()), [5, 10, 15, 55, 60, 65]);
  tf.dispose([xs, y, z]);
});
