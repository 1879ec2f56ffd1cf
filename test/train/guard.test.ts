import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { assertNoLeak, checkFinite, NonFiniteLossError, nonFiniteLossMessage } from "../../lib/train/guard";

before(async () => {
  await selectEngine({ force: "cpu" });
});

test("the message says what the loss became, where, at which rate, and what to resume from", () => {
  assert.equal(
    nonFiniteLossMessage(NaN, { epoch: 3, step: 120, lr: 0.01, lastCheckpoint: "RUN/checkpoints/epoch-0002" }),
    "loss became NaN at epoch 3 step 120 (lr 0.01); the last good checkpoint is RUN/checkpoints/epoch-0002; lower --lr or check the data",
  );
  assert.equal(
    nonFiniteLossMessage(Infinity, { step: 7 }),
    "loss became infinite at step 7; no checkpoint was written before it; lower --lr or check the data",
  );
  assert.equal(nonFiniteLossMessage(-Infinity), "loss became -infinite; no checkpoint was written before it; lower --lr or check the data");
});

test("checkFinite passes numbers and throws NonFiniteLossError for NaN and infinities", () => {
  checkFinite(0);
  checkFinite(12.5);
  for (const bad of [NaN, Infinity, -Infinity]) {
    assert.throws(
      () => checkFinite(bad, { epoch: 1 }),
      (err: unknown) =>
        err instanceof NonFiniteLossError && Object.is(err.loss, bad) && err.where.epoch === 1 && err.name === "NonFiniteLossError",
    );
  }
});

test("assertNoLeak returns the result of a clean function and names the count of a leaky one", async () => {
  const kept: tf.Tensor[] = [];
  assert.equal(await assertNoLeak(() => tf.tidy(() => tf.ones([2]).sum().dataSync()[0])), 2);
  assert.equal(await assertNoLeak(async () => 5), 5);
  await assert.rejects(
    assertNoLeak(() => {
      kept.push(tf.ones([2]), tf.zeros([3]));
    }, "the step"),
    /^Error: the step leaked 2 tensor\(s\): \d+ live before, \d+ after; wrap it in tf\.tidy or dispose what it creates\.$/,
  );
  tf.dispose(kept);
});
