import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { buildAlexNet } from "../../lib/model/alexnet";
import { WEIGHT_LAYERS, layerInit, layerInitializers, layerSeed, weightStats } from "../../lib/model/init";
import { selectEngine } from "../../lib/engine/select";

before(async () => {
  await selectEngine({ force: "wasm" });
});

test("layerInit: the paper's N(0, 0.01) with biases 1 in conv2, conv4, conv5, fc6, fc7", () => {
  assert.deepEqual(
    WEIGHT_LAYERS.map((l) => [l, layerInit("paper", l).weightStd, layerInit("paper", l).bias]),
    [
      ["conv1", 0.01, 0],
      ["conv2", 0.01, 1],
      ["conv3", 0.01, 0],
      ["conv4", 0.01, 1],
      ["conv5", 0.01, 1],
      ["fc6", 0.01, 1],
      ["fc7", 0.01, 1],
      ["fc8", 0.01, 0],
    ],
  );
});

test("layerInit: Caffe's biases 0.1 where the paper says 1, std 0.005 on fc6 and fc7", () => {
  assert.deepEqual(
    WEIGHT_LAYERS.map((l) => [l, layerInit("caffe", l).weightStd, layerInit("caffe", l).bias]),
    [
      ["conv1", 0.01, 0],
      ["conv2", 0.01, 0.1],
      ["conv3", 0.01, 0],
      ["conv4", 0.01, 0.1],
      ["conv5", 0.01, 0.1],
      ["fc6", 0.005, 0.1],
      ["fc7", 0.005, 0.1],
      ["fc8", 0.01, 0],
    ],
  );
  assert.throws(() => layerInit("caffe", "pool1"), /'pool1' is not an AlexNet weight layer/);
  assert.throws(() => layerInit("xavier" as never, "conv1"), /init 'xavier' is not an initialisation scheme/);
});

test("layerSeed: stable, distinct per layer and per seed, never 0", () => {
  assert.equal(layerSeed(1, "conv1"), layerSeed(1, "conv1"));
  const seeds = new Set([1, 2, 3].flatMap((s) => WEIGHT_LAYERS.map((l) => layerSeed(s, l))));
  assert.equal(seeds.size, 3 * WEIGHT_LAYERS.length);
  for (const s of seeds) assert.ok(Number.isInteger(s) && s > 0 && s < 2 ** 32);
  assert.throws(() => layerSeed(1.5, "conv1"), /seed must be an integer/);
});

test("layerInitializers draw the same values for the same seed, and say so in their config", () => {
  const a = layerInitializers("paper", "conv3", 9);
  const b = layerInitializers("paper", "conv3", 9);
  const ka = a.kernelInitializer.apply([50, 40]);
  const kb = b.kernelInitializer.apply([50, 40]);
  const kc = layerInitializers("paper", "conv3", 10).kernelInitializer.apply([50, 40]);
  assert.deepEqual(Array.from(ka.dataSync()), Array.from(kb.dataSync()));
  assert.notDeepEqual(Array.from(ka.dataSync()), Array.from(kc.dataSync()));
  assert.deepEqual(a.kernelInitializer.getConfig(), { mean: 0, stddev: 0.01, seed: layerSeed(9, "conv3") });
  const bias = a.biasInitializer.apply([3]);
  assert.deepEqual(Array.from(bias.dataSync()), [0, 0, 0]);
  tf.dispose([ka, kb, kc, bias]);
});

/** Within 5 standard errors: a 1-in-3-million false alarm for a correct draw. */
function assertInitStats(model: tf.LayersModel, scheme: "paper" | "caffe"): void {
  const stats = weightStats(model);
  assert.deepEqual(
    stats.map((s) => s.layer),
    [...WEIGHT_LAYERS],
  );
  for (const s of stats) {
    const want = layerInit(scheme, s.layer);
    const n = s.count;
    assert.ok(Math.abs(s.kernelMean) < (5 * want.weightStd) / Math.sqrt(n), `${s.layer} mean ${s.kernelMean}`);
    assert.ok(
      Math.abs(s.kernelStd / want.weightStd - 1) < 5 / Math.sqrt(2 * n),
      `${s.layer} std ${s.kernelStd} vs ${want.weightStd} over ${n}`,
    );
    assert.equal(s.biasMin, Math.fround(want.bias), `${s.layer} bias`);
    assert.equal(s.biasMax, Math.fround(want.bias), `${s.layer} bias`);
  }
}

test("a built paper-init model: every kernel ~N(0, 0.01), biases exactly 1 or 0", () => {
  const model = buildAlexNet("mini");
  try {
    assertInitStats(model, "paper");
  } finally {
    model.dispose();
  }
});

test("a built caffe-init model: fc6, fc7 ~N(0, 0.005), biases exactly 0.1 or 0", () => {
  const model = buildAlexNet("torchvision", { init: "caffe", widthMultiplier: 0.25, numClasses: 20 });
  try {
    assertInitStats(model, "caffe");
  } finally {
    model.dispose();
  }
});

function allWeights(model: tf.LayersModel): number[][] {
  return model.getWeights().map((w) => Array.from(w.dataSync()));
}

test("same seed, same weights; another seed, other weights; layers do not share draws", () => {
  const a = buildAlexNet("mini", { seed: 5 });
  const b = buildAlexNet("mini", { seed: 5 });
  const c = buildAlexNet("mini", { seed: 6 });
  try {
    const wa = allWeights(a);
    assert.deepEqual(wa, allWeights(b));
    const wc = allWeights(c);
    const kernels = a.getWeights().flatMap((w, i) => (w.shape.length > 1 ? [i] : []));
    for (const i of kernels) assert.notDeepEqual(wa[i].slice(0, 16), wc[i].slice(0, 16));
    // conv4 and conv5 have equally shaped kernels per group in mini; their draws must still differ.
    const first = kernels.map((i) => wa[i][0]);
    assert.equal(new Set(first).size, first.length);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

test("the same seed gives the same weights on the wasm and cpu backends", async () => {
  const onWasm = buildAlexNet("mini", { seed: 3 });
  const wasmWeights = allWeights(onWasm);
  onWasm.dispose();
  await selectEngine({ force: "cpu" });
  try {
    const onCpu = buildAlexNet("mini", { seed: 3 });
    assert.deepEqual(allWeights(onCpu), wasmWeights);
    onCpu.dispose();
  } finally {
    await selectEngine({ force: "wasm" });
  }
});

test("weightStats computes mean, std and bias range on known weights", () => {
  const input = tf.input({ shape: [2] });
  const dense = tf.layers.dense({ units: 2, name: "d" });
  const model = tf.model({ inputs: input, outputs: dense.apply(input) as tf.SymbolicTensor });
  dense.setWeights([
    tf.tensor2d([
      [1, 2],
      [3, 6],
    ]),
    tf.tensor1d([-1, 4]),
  ]);
  const [s] = weightStats(model);
  assert.deepEqual(s, { layer: "d", count: 4, kernelMean: 3, kernelStd: Math.sqrt((4 + 1 + 0 + 9) / 4), biasMin: -1, biasMax: 4 });
  model.dispose();
});

test("a built he-init model: every kernel ~N(0, 2 / fan_in), biases 0", () => {
  assert.deepEqual(layerInit("he", "conv2"), { weightStd: NaN, bias: 0 });
  const model = buildAlexNet("mini", { init: "he" });
  for (const s of weightStats(model)) {
    const kernel = model.getLayer(s.layer).getWeights()[0];
    const fanIn = kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const want = Math.sqrt(2 / fanIn);
    // heNormal draws from a normal truncated at two standard deviations: its std is 0.88 of the nominal.
    assert.ok(Math.abs(s.kernelStd / want - 0.88) < 0.08, `${s.layer}: std ${s.kernelStd} against ${want}`);
    assert.equal(s.biasMin, 0);
    assert.equal(s.biasMax, 0);
  }
  model.dispose();
});
