import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import type { InMemorySplit } from "../../lib/data/in-memory";
import { selectEngine } from "../../lib/engine/select";
import { compareNetworks, overfitting, speedup, type RunResult } from "../../lib/train/experiments";

let data: InMemorySplit;
before(async () => {
  await selectEngine({ force: "cpu" });
  // Two classes, separable by the sign of the first pixel.
  const n = 64;
  const values = tf.randomNormal([n, 2, 2, 1], 0, 1, "float32", 5);
  const labels = tf.tidy(() => tf.cast(tf.greater(values.slice([0, 0, 0, 0], [n, 1, 1, 1]).reshape([n]), 0), "int32")) as tf.Tensor1D;
  data = { xs: values as tf.Tensor4D, ys: labels, count: n, classes: 2 };
});

const linear = (seed: number) => () =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [2, 2, 1] }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotNormal({ seed }) }),
    ],
  });

test("compareNetworks keeps each network's best learning rate and trains it to the target", async () => {
  const seen: string[] = [];
  const results = await compareNetworks({ a: linear(1), b: linear(2) }, data, {
    learningRates: [1e-6, 0.5],
    searchEpochs: 3,
    maxEpochs: 30,
    batchSize: 16,
    targetTrainError: 0.1,
    onEpoch: (name) => seen.push(name),
  });
  assert.deepEqual(
    results.map((r) => r.name),
    ["a", "b"],
  );
  for (const r of results) {
    assert.deepEqual(
      r.trials.map((t) => t.learningRate),
      [1e-6, 0.5],
    );
    assert.equal(r.learningRate, 0.5, "a learning rate of 1e-6 barely moves; 0.5 wins the search");
    assert.ok(r.epochsToTarget !== undefined && r.epochsToTarget <= 30);
    assert.equal(r.history.length, r.epochsToTarget, "the final run stops at the target");
  }
  assert.equal(seen.filter((s) => s === "a").length, results[0].history.length, "onEpoch sees every epoch of the final runs only");
});

test("a learning rate that makes the loss diverge is a failed trial, not the end of the search", async () => {
  const [r] = await compareNetworks({ a: linear(4) }, data, { learningRates: [1e38, 0.5], searchEpochs: 2, maxEpochs: 1, batchSize: 16 });
  assert.deepEqual(
    r.trials.map((t) => [t.learningRate, t.trainError, t.diverged ?? false]),
    [
      [1e38, 1, true],
      [0.5, r.trials[1].trainError, false],
    ],
  );
  assert.equal(r.learningRate, 0.5);
});

test("a single learning rate skips the search", async () => {
  const [r] = await compareNetworks({ only: linear(3) }, data, { learningRates: [0.1], searchEpochs: 5, maxEpochs: 2, batchSize: 16 });
  assert.deepEqual(r.trials, []);
  assert.equal(r.learningRate, 0.1);
  assert.equal(r.history.length, 2);
  assert.equal(r.epochsToTarget, undefined);
});

test("speedup and overfitting read the runs", () => {
  const run = (epochsToTarget: number | undefined, trainError: number, valError: number): RunResult => ({
    name: "x",
    learningRate: 0.1,
    trials: [],
    history: [{ epoch: 1, steps: 10, trainLoss: 1, trainError, valError, seconds: 1 }],
    epochsToTarget,
  });
  assert.equal(speedup(run(5, 0, 0), run(30, 0, 0)), 6);
  assert.equal(speedup(run(5, 0, 0), run(undefined, 0, 0)), undefined);
  const o = overfitting(run(1, 0.1, 0.35));
  assert.ok(Math.abs(o.gap - 0.25) < 1e-12);
  assert.equal(o.trainError, 0.1);
});
