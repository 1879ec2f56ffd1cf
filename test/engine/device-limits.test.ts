import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { checkFitsDevice, DeviceLimitError, modelTensorSizes, storageBindingLimit } from "../../lib/engine/device-limits";
import { selectEngine } from "../../lib/engine/select";
import { buildAlexNet } from "../../lib/model/alexnet";

const MiB = 2 ** 20;

before(async () => {
  await selectEngine({ force: "cpu" });
});

test("the paper model's largest tensor is fc6's kernel, 151 MB: over lavapipe's 128 MiB binding, within a GPU's 2 GiB", () => {
  const model = buildAlexNet("paper", { inputSize: 224, numClasses: 1000 });
  try {
    const [largest] = modelTensorSizes(model, 16);
    assert.match(largest.what, /fc6/);
    assert.equal(largest.bytes, 4 * 9216 * 4096);
    assert.throws(
      () => checkFitsDevice(model, 16, 128 * MiB),
      (e: Error) =>
        e instanceof DeviceLimitError &&
        /fc6\S* \(144 MiB\)/.test(e.message) &&
        /128 MiB/.test(e.message) &&
        /ALEXNET_BACKEND=wasm/.test(e.message),
    );
    checkFitsDevice(model, 128, 2048 * MiB);
  } finally {
    model.dispose();
  }
});

test("layer outputs count at the batch size: a batch that makes conv1's output too large is refused, a smaller one is not", () => {
  const model = buildAlexNet("mini", { inputSize: 64, numClasses: 10, widthMultiplier: 0.125, fcUnits: 32 });
  try {
    const sizes = modelTensorSizes(model, 100);
    const conv1 = sizes.find((s) => /conv1/.test(s.what) && s.what.endsWith("output"));
    assert.ok(conv1, sizes.map((s) => s.what).join(", "));
    const perImage = conv1.bytes / 100;
    assert.equal(modelTensorSizes(model, 1).find((s) => s.what === conv1.what)?.bytes, perImage);
    const limit = perImage * 50;
    assert.throws(
      () => checkFitsDevice(model, 51, limit),
      (e: Error) => e instanceof DeviceLimitError && e.message.includes(conv1.what),
    );
    checkFitsDevice(model, 1, limit);
    // Sorted largest first.
    assert.deepEqual(
      sizes.map((s) => s.bytes),
      [...sizes.map((s) => s.bytes)].sort((a, b) => b - a),
    );
  } finally {
    model.dispose();
  }
});

test("off webgpu there is no binding limit to check", () => {
  assert.equal(tf.getBackend(), "cpu");
  assert.equal(storageBindingLimit(), undefined);
  const model = buildAlexNet("mini", { inputSize: 64, numClasses: 10, widthMultiplier: 0.125, fcUnits: 32 });
  checkFitsDevice(model, 1e6);
  model.dispose();
});
