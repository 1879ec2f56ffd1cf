import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { NonFiniteLossError } from "../../lib/train/guard";
import { PaperSGD } from "../../lib/train/optimizer";
import { softmaxCrossEntropy, trainStep, trainStepAsync } from "../../lib/train/step";
import { batchAt, SeededRandom, seedMathRandom, tinyConvNet, weightBytes } from "../helpers/train";

before(async () => {
  await selectEngine({ force: "cpu" });
});

test("softmaxCrossEntropy takes class indices or one-hot labels and averages over the batch", () => {
  const logits = tf.tensor2d([
    [2, 0, 0],
    [0, 0, 0],
  ]);
  const byIndex = softmaxCrossEntropy(tf.tensor1d([0, 2], "int32"), logits);
  const byOneHot = softmaxCrossEntropy(
    tf.tensor2d([
      [1, 0, 0],
      [0, 0, 1],
    ]),
    logits,
  );
  const expected = (-Math.log(Math.exp(2) / (Math.exp(2) + 2)) - Math.log(1 / 3)) / 2;
  assert.ok(Math.abs(byIndex.dataSync()[0] - expected) < 1e-6);
  assert.ok(Math.abs(byOneHot.dataSync()[0] - expected) < 1e-6);
  assert.throws(() => softmaxCrossEntropy(tf.tensor2d([[1, 0]]), logits), /labels of shape \[1,2\] do not match logits of shape \[2,3\]/);
  tf.dispose([logits, byIndex, byOneHot]);
});

test("trainStep returns the loss before the update and moves the weights", () => {
  const model = tinyConvNet(1, 0);
  const opt = new PaperSGD({ learningRate: 0.1 });
  const { xs, ys } = batchAt(0);
  const expected = tf.tidy(() => softmaxCrossEntropy(ys, model.predict(xs) as tf.Tensor).dataSync()[0]);
  const before = weightBytes(model);
  const loss = trainStep(model, xs, ys, opt);
  assert.ok(Math.abs(loss - expected) < 1e-6, `loss ${loss} vs ${expected}`);
  const after = weightBytes(model);
  assert.ok(
    after.some((b, i) => !b.equals(before[i])),
    "no weight moved",
  );
  assert.equal(opt.stepsTaken, 1);
  assert.equal(opt.velocityNames().length, model.trainableWeights.length);
  const second = trainStep(model, xs, ys, opt);
  assert.ok(second < loss, `the loss should fall on the same batch: ${loss} -> ${second}`);
  tf.dispose([xs, ys]);
  opt.dispose();
  model.dispose();
});

test("trainStepAsync (which webgpu needs: it reads the loss without blocking) takes the same steps as trainStep", async () => {
  const [a, b] = [tinyConvNet(4, 0), tinyConvNet(4, 0)];
  const [optA, optB] = [new PaperSGD({ learningRate: 0.1 }), new PaperSGD({ learningRate: 0.1 })];
  let before = 0;
  for (let step = 0; step < 3; step++) {
    const { xs, ys } = batchAt(step);
    assert.equal(await trainStepAsync(b, xs, ys, optB), trainStep(a, xs, ys, optA));
    tf.dispose([xs, ys]);
    // The first step creates the optimisers' velocities; after it, the count stays put.
    if (step === 0) before = tf.memory().numTensors;
  }
  assert.deepEqual(weightBytes(b), weightBytes(a));
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  await assert.rejects(
    trainStepAsync(tinyConvNet(5, 0), tf.fill([4, 6, 6, 2], NaN), tf.tensor1d([0, 1, 2, 0], "int32"), optB),
    NonFiniteLossError,
  );
  for (const x of [optA, optB, a, b]) x.dispose();
});

test("trainStep keeps dropout in training mode", () => {
  const model = tinyConvNet(2, 0.5);
  const opt = new PaperSGD({ learningRate: 0 }); // weights stay put, so only dropout can change the loss
  const { xs, ys } = batchAt(1);
  const restore = seedMathRandom(new SeededRandom(3));
  const losses = [0, 1, 2, 3].map(() => trainStep(model, xs, ys, opt));
  restore();
  assert.ok(new Set(losses).size > 1, `the same batch gave the same loss each time: ${losses}`);
  tf.dispose([xs, ys]);
  opt.dispose();
  model.dispose();
});

test("the number of live tensors stays constant from step to step", () => {
  const model = tinyConvNet(3);
  const opt = new PaperSGD();
  const batches = [0, 1, 2, 3, 4, 5].map((s) => batchAt(s));
  trainStep(model, batches[0].xs, batches[0].ys, opt); // creates one velocity per weight
  const count = tf.memory().numTensors;
  for (const b of batches.slice(1)) {
    trainStep(model, b.xs, b.ys, opt);
    assert.equal(tf.memory().numTensors, count);
  }
  tf.dispose(batches.flatMap((b) => [b.xs, b.ys]));
  opt.dispose();
  model.dispose();
});

test("a NaN loss throws before the update: the weights and velocities keep their last good values", () => {
  const model = tinyConvNet(4);
  const opt = new PaperSGD();
  const good = batchAt(0);
  trainStep(model, good.xs, good.ys, opt);
  const weights = weightBytes(model);
  const count = tf.memory().numTensors;
  const bad = tf.tidy(() => tf.mul(good.xs, NaN));
  assert.throws(
    () =>
      trainStep(model, bad, good.ys, opt, softmaxCrossEntropy, {
        where: { epoch: 3, step: 120, lastCheckpoint: "RUN/checkpoints/epoch-0002" },
      }),
    (err: unknown) => {
      assert.ok(err instanceof NonFiniteLossError);
      assert.equal(
        err.message,
        "loss became NaN at epoch 3 step 120 (lr 0.01); the last good checkpoint is RUN/checkpoints/epoch-0002; lower --lr or check the data",
      );
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, count + 1); // only `bad`
  assert.deepEqual(weightBytes(model), weights);
  assert.equal(opt.stepsTaken, 1);
  tf.dispose([good.xs, good.ys, bad]);
  opt.dispose();
  model.dispose();
});

test("trainStep works with any tf.Optimizer and refuses a loss that is not a scalar", () => {
  const model = tinyConvNet(5);
  const opt = tf.train.momentum(0.01, 0.9);
  const { xs, ys } = batchAt(2);
  assert.ok(Number.isFinite(trainStep(model, xs, ys, opt)));
  const perExample = (labels: tf.Tensor, logits: tf.Tensor) =>
    tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, "int32"), 3), logits, undefined, undefined, tf.Reduction.NONE) as tf.Scalar;
  assert.throws(
    () => trainStep(model, xs, ys, opt, perExample),
    /lossFn must return a scalar \(the mean over the batch\), got shape \[4\]/,
  );
  tf.dispose([xs, ys]);
  opt.dispose();
  model.dispose();
});
