import assert from "node:assert/strict";
import { relErr, seededUniform } from "../helpers/numeric";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import { GroupedConv2D, convOutputSize, convolveGroups, groupedConv2d, splitGroupsConv } from "../../lib/model/layers/grouped-conv";

function uniform(shape: number[], seed: number, scale = 1): tf.Tensor {
  const r = seededUniform(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (2 * r() - 1) * scale),
    shape,
  );
}

interface Towers {
  xs: tf.Tensor4D[];
  ks: tf.Tensor4D[];
  bs: tf.Tensor1D[];
}

/** Each tower's input, kernel and bias made separately, as if on separate GPUs. */
function makeTowers(
  batch: number,
  h: number,
  w: number,
  inPerGroup: number,
  outPerGroup: number,
  kh: number,
  kw: number,
  groups: number,
  seed: number,
): Towers {
  const t: Towers = { xs: [], ks: [], bs: [] };
  for (let g = 0; g < groups; g++) {
    t.xs.push(uniform([batch, h, w, inPerGroup], seed + 10 * g) as tf.Tensor4D);
    t.ks.push(uniform([kh, kw, inPerGroup, outPerGroup], seed + 10 * g + 1, 0.5) as tf.Tensor4D);
    t.bs.push(uniform([outPerGroup], seed + 10 * g + 2) as tf.Tensor1D);
  }
  return t;
}

/** The reference: independent convolutions, one per tower, concatenated. */
function towersRef(t: Towers, strides: number | [number, number], padding: "valid" | "same"): tf.Tensor4D {
  return tf.concat(
    t.xs.map((x, g) => tf.add(tf.conv2d(x, t.ks[g], strides, padding), t.bs[g]) as tf.Tensor4D),
    3,
  );
}

// AlexNet's grouped layers at reduced sizes (conv2: 5x5 same; conv4/conv5: 3x3 same), strides 1 and 2, odd sizes, batch 1 and 3.
const CASES = [
  { name: "conv2-like 5x5 same, 2 groups", batch: 1, h: 9, w: 9, inG: 6, outG: 8, k: [5, 5], strides: 1, padding: "same", groups: 2 },
  {
    name: "conv4-like 3x3 same, 2 groups, batch 3",
    batch: 3,
    h: 7,
    w: 7,
    inG: 12,
    outG: 12,
    k: [3, 3],
    strides: 1,
    padding: "same",
    groups: 2,
  },
  { name: "3x3 valid stride 2, odd sizes", batch: 3, h: 11, w: 13, inG: 5, outG: 4, k: [3, 3], strides: 2, padding: "valid", groups: 2 },
  {
    name: "5x3 same stride [2,1], 4 groups",
    batch: 1,
    h: 7,
    w: 5,
    inG: 3,
    outG: 2,
    k: [5, 3],
    strides: [2, 1],
    padding: "same",
    groups: 4,
  },
] as const;

for (const engine of ["cpu", "wasm"] as const) {
  test(`${engine}: GroupedConv2D, convolveGroups and splitGroupsConv equal independent per-tower convolutions`, async () => {
    await selectEngine({ force: engine });
    CASES.forEach((c, i) => {
      tf.tidy(() => {
        const t = makeTowers(c.batch, c.h, c.w, c.inG, c.outG, c.k[0], c.k[1], c.groups, 100 * (i + 1));
        const strides = c.strides as number | [number, number];
        const x = tf.concat(t.xs, 3);
        const kernel = tf.concat(t.ks, 3);
        const bias = tf.concat(t.bs);
        const ref = towersRef(t, strides, c.padding);
        const layer = groupedConv2d({
          filters: c.outG * c.groups,
          kernelSize: [...c.k] as [number, number],
          strides,
          padding: c.padding,
          groups: c.groups,
        });
        layer.build(x.shape);
        layer.setWeights([kernel, bias]);
        const viaLayer = layer.apply(x) as tf.Tensor;
        assert.deepEqual(viaLayer.shape, ref.shape, c.name);
        assert.deepEqual(layer.computeOutputShape(x.shape), ref.shape, c.name);
        assert.ok(relErr(viaLayer.dataSync(), ref.dataSync()) < 1e-6, `${c.name}: layer`);
        assert.ok(
          relErr(convolveGroups(x, kernel, bias, { groups: c.groups, strides, padding: c.padding }).dataSync(), ref.dataSync()) < 1e-6,
          `${c.name}: convolveGroups`,
        );
        assert.ok(
          relErr(splitGroupsConv(x, kernel, bias, c.groups, strides, c.padding).dataSync(), ref.dataSync()) < 1e-6,
          `${c.name}: splitGroupsConv`,
        );
        // With ReLU the layer is relu(reference).
        const relu = groupedConv2d({
          filters: c.outG * c.groups,
          kernelSize: [...c.k] as [number, number],
          strides,
          padding: c.padding,
          groups: c.groups,
          activation: "relu",
        });
        relu.build(x.shape);
        relu.setWeights([kernel, bias]);
        assert.ok(relErr((relu.apply(x) as tf.Tensor).dataSync(), tf.relu(ref).dataSync()) < 1e-6, `${c.name}: relu`);
      });
    });
  });

  test(`${engine}: groups = 1 equals tf.layers.conv2d with the same weights`, async () => {
    await selectEngine({ force: engine });
    tf.tidy(() => {
      const x = uniform([2, 9, 8, 5], 1) as tf.Tensor4D;
      const kernel = uniform([3, 3, 5, 6], 2);
      const bias = uniform([6], 3);
      for (const padding of ["same", "valid"] as const) {
        const ours = groupedConv2d({ filters: 6, kernelSize: 3, strides: 2, padding, groups: 1, activation: "relu" });
        const theirs = tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding, activation: "relu" });
        ours.build(x.shape);
        theirs.build(x.shape);
        ours.setWeights([kernel, bias]);
        theirs.setWeights([kernel, bias]);
        assert.ok(relErr((ours.apply(x) as tf.Tensor).dataSync(), (theirs.apply(x) as tf.Tensor).dataSync()) < 1e-6, padding);
        assert.deepEqual(ours.computeOutputShape([null, 9, 8, 5]), theirs.computeOutputShape([null, 9, 8, 5]));
      }
    });
  });
}

test("parameters: one kernel [kh, kw, inC/groups, filters] and one bias, the paper's two-GPU counts", () => {
  const input = tf.input({ shape: [27, 27, 96] });
  const conv2 = groupedConv2d({ filters: 256, kernelSize: 5, padding: "same", groups: 2, name: "conv2" });
  conv2.apply(input);
  assert.deepEqual(
    conv2.getWeights().map((w) => w.shape),
    [[5, 5, 48, 256], [256]],
  );
  // Each GPU: 5*5*48*128 weights + 128 biases.
  assert.equal(conv2.countParams(), 2 * (5 * 5 * 48 * 128 + 128));
  assert.equal(conv2.countParams(), 307_456);
  const conv4 = groupedConv2d({ filters: 384, kernelSize: 3, padding: "same", groups: 2 });
  conv4.apply(tf.input({ shape: [13, 13, 384] }));
  assert.equal(conv4.countParams(), 3 * 3 * 192 * 384 + 384);
  const conv5 = groupedConv2d({ filters: 256, kernelSize: 3, padding: "same", groups: 2, useBias: false });
  conv5.apply(tf.input({ shape: [13, 13, 384] }));
  assert.equal(conv5.countParams(), 3 * 3 * 192 * 256);
  assert.equal(conv5.getWeights().length, 1);
  assert.deepEqual(
    conv2.weights.map((w) => w.originalName),
    ["conv2/kernel", "conv2/bias"],
  );
});

test("computeOutputShape for valid and same, unknown batch", () => {
  const shape = (cfg: { k: number; s: number; p: "valid" | "same" }, input: (number | null)[]) =>
    groupedConv2d({ filters: 4, kernelSize: cfg.k, strides: cfg.s, padding: cfg.p, groups: 2 }).computeOutputShape(input);
  assert.deepEqual(shape({ k: 11, s: 4, p: "valid" }, [null, 227, 227, 4]), [null, 55, 55, 4]);
  assert.deepEqual(shape({ k: 5, s: 1, p: "same" }, [null, 27, 27, 96]), [null, 27, 27, 4]);
  assert.deepEqual(shape({ k: 3, s: 2, p: "valid" }, [8, 13, 13, 2]), [8, 6, 6, 4]);
  assert.deepEqual(shape({ k: 3, s: 2, p: "same" }, [null, 13, 12, 2]), [null, 7, 6, 4]);
  assert.deepEqual(shape({ k: 3, s: 1, p: "valid" }, [null, null, 5, 2]), [null, null, 3, 4]);
  assert.equal(convOutputSize(224, 11, 4, "valid"), 54);
  assert.equal(convOutputSize(null, 3, 1, "same"), null);
  assert.throws(() => shape({ k: 5, s: 1, p: "valid" }, [null, 3, 3, 2]), /input 3x3 is smaller than the 5x5 kernel/);
});

test("cpu: gradients w.r.t. input, kernel and bias are finite and equal the per-tower reference's", async () => {
  await selectEngine({ force: "cpu" });
  for (const c of [CASES[0], CASES[2], CASES[3]]) {
    const t = makeTowers(c.batch, c.h, c.w, c.inG, c.outG, c.k[0], c.k[1], c.groups, 7);
    const strides = c.strides as number | [number, number];
    const outShape = tf.tidy(() => towersRef(t, strides, c.padding).shape);
    const w = uniform(outShape, 99);
    // Reference: gradient of each tower's own tensors, concatenated as the layer lays them out.
    const refLoss = (...args: tf.Tensor[]) => {
      const g = c.groups;
      const tw: Towers = {
        xs: args.slice(0, g) as tf.Tensor4D[],
        ks: args.slice(g, 2 * g) as tf.Tensor4D[],
        bs: args.slice(2 * g) as tf.Tensor1D[],
      };
      return tf.sum(tf.mul(towersRef(tw, strides, c.padding), w));
    };
    const refGrads = tf.grads(refLoss)([...t.xs, ...t.ks, ...t.bs]);
    const g = c.groups;
    const refX = tf.concat(refGrads.slice(0, g), 3);
    const refK = tf.concat(refGrads.slice(g, 2 * g), 3);
    const refB = tf.concat(refGrads.slice(2 * g));
    const x = tf.concat(t.xs, 3);
    const kernel = tf.concat(t.ks, 3);
    const bias = tf.concat(t.bs);

    const [gx, gk, gb] = tf.grads((xx: tf.Tensor, kk: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(
        tf.mul(convolveGroups(xx as tf.Tensor4D, kk as tf.Tensor4D, bb as tf.Tensor1D, { groups: g, strides, padding: c.padding }), w),
      ),
    )([x, kernel, bias]);
    for (const [ours, ref, what] of [
      [gx, refX, "input"],
      [gk, refK, "kernel"],
      [gb, refB, "bias"],
    ] as const) {
      assert.ok(ours.dataSync().every(Number.isFinite), `${c.name}: ${what} finite`);
      assert.ok(relErr(ours.dataSync(), ref.dataSync()) < 1e-5, `${c.name}: d/d${what}`);
    }

    // Through the layer: its two variables get the same gradients.
    const layer = groupedConv2d({ filters: c.outG * g, kernelSize: [...c.k] as [number, number], strides, padding: c.padding, groups: g });
    layer.build(x.shape);
    layer.setWeights([kernel, bias]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, w)) as tf.Scalar);
    const [kVar, bVar] = layer.trainableWeights.map((v) => v.name);
    assert.ok(relErr(grads[kVar].dataSync(), refK.dataSync()) < 1e-5, `${c.name}: layer kernel grad`);
    assert.ok(relErr(grads[bVar].dataSync(), refB.dataSync()) < 1e-5, `${c.name}: layer bias grad`);
    tf.dispose([...t.xs, ...t.ks, ...t.bs, w, ...refGrads, refX, refK, refB, x, kernel, bias, gx, gk, gb, ...Object.values(grads)]);
    layer.weights.forEach((v) => v.dispose());
  }
});

test("a model with GroupedConv2D saves and loads with identical outputs, weights and config", async () => {
  await selectEngine({ force: "cpu" });
  const input = tf.input({ shape: [9, 9, 4] });
  const g1 = groupedConv2d({
    filters: 6,
    kernelSize: [3, 5],
    strides: 2,
    padding: "same",
    groups: 2,
    activation: "relu",
    name: "conv2",
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.3, seed: 11 }),
    biasInitializer: tf.initializers.constant({ value: 1 }),
  });
  const g2 = groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, useBias: false, name: "conv3", kernelInitializer: "heNormal" });
  const model = tf.model({ inputs: input, outputs: g2.apply(g1.apply(input)) as tf.SymbolicTensor });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  assert.ok(saved);
  assert.match(JSON.stringify(saved.modelTopology), /"class_name":"GroupedConv2D"/);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
  for (const name of ["conv2", "conv3"]) {
    const a = model.getLayer(name);
    const b = loaded.getLayer(name);
    assert.ok(b instanceof GroupedConv2D);
    assert.deepEqual(b.getConfig(), a.getConfig());
    assert.deepEqual(
      b.getWeights().map((w) => Array.from(w.dataSync())),
      a.getWeights().map((w) => Array.from(w.dataSync())),
    );
  }
  const cfg = model.getLayer("conv2").getConfig();
  assert.deepEqual(cfg.kernelInitializer, { className: "RandomNormal", config: { mean: 0, stddev: 0.3, seed: 11 } });
  assert.deepEqual(cfg.biasInitializer, { className: "Constant", config: { value: 1 } });
  const x = tf.randomNormal([2, 9, 9, 4], 0, 1, "float32", 5);
  assert.deepEqual(Array.from((loaded.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()));
});

test("getConfig round-trips and the initializer it names draws the same weights", async () => {
  await selectEngine({ force: "cpu" });
  const a = groupedConv2d({
    filters: 8,
    kernelSize: 3,
    groups: 2,
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: 3 }),
  });
  const b = new GroupedConv2D(a.getConfig() as never);
  assert.deepEqual(b.getConfig(), a.getConfig());
  a.build([null, 5, 5, 4]);
  b.build([null, 5, 5, 4]);
  assert.deepEqual(Array.from(b.getWeights()[0].dataSync()), Array.from(a.getWeights()[0].dataSync()));
  // Defaults follow tf.layers.conv2d: glorotUniform kernel, zero bias, linear, valid, stride 1.
  const d = groupedConv2d({ filters: 2, kernelSize: 1, groups: 2 }).getConfig();
  assert.deepEqual([d.padding, d.strides, d.activation, d.useBias], ["valid", [1, 1], "linear", true]);
  assert.equal((d.kernelInitializer as { className: string }).className, "VarianceScaling");
  assert.equal((d.biasInitializer as { className: string }).className, "Zeros");
});

test("bad configs and inputs fail with errors that name the thing and the fix", async () => {
  await selectEngine({ force: "cpu" });
  assert.throws(
    () => groupedConv2d({ filters: 250, kernelSize: 3, groups: 3 }),
    /filters \(250\) must divide by groups \(3\); use a multiple of 3/,
  );
  assert.throws(() => groupedConv2d({ filters: 4, kernelSize: 3, groups: 0 }), /groups must be a positive integer; got 0/);
  assert.throws(() => groupedConv2d({ filters: 4, kernelSize: 0, groups: 2 }), /kernelSize must be a positive integer or a pair/);
  assert.throws(() => groupedConv2d({ filters: 4, kernelSize: 3, strides: [1, 2, 3] as never, groups: 2 }), /strides must be/);
  assert.throws(
    () => groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, padding: "causal" as never }),
    /padding must be "valid" or "same"; got "causal"/,
  );
  assert.throws(
    () => groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, activation: "tanh" as never }),
    /activation must be "relu" or "linear"; got "tanh"/,
  );
  assert.throws(
    () => groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, kernelInitializer: "gaussian" as never }),
    /unknown initializer "gaussian"; use one of zeros, ones, glorotUniform/,
  );
  assert.throws(
    () => groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, kernelInitializer: { className: "NoSuchInit", config: {} } }),
    /no registered initializer class "NoSuchInit"/,
  );
  assert.throws(() => new GroupedConv2D(undefined as never), /needs a config with at least filters, kernelSize and groups/);
  const layer = groupedConv2d({ filters: 4, kernelSize: 3, groups: 2, name: "conv2" });
  assert.throws(() => layer.apply(tf.input({ shape: [9, 9, 5] })), /GroupedConv2D 'conv2': 5 input channels do not divide into 2 groups/);
  assert.throws(
    () => groupedConv2d({ filters: 4, kernelSize: 3, groups: 2 }).apply(tf.input({ shape: [9, 4] })),
    /expects NHWC input.*\[null, 9, 4\]/,
  );
  const x = tf.zeros([1, 5, 5, 4]) as tf.Tensor4D;
  assert.throws(
    () => convolveGroups(x, tf.zeros([3, 3, 4, 4]) as tf.Tensor4D, null, { groups: 2 }),
    /input has 4 channels but the kernel expects 4 per group x 2 groups = 8; kernel shape must be \[kh, kw, 2, filters\]/,
  );
  assert.throws(
    () => convolveGroups(x, tf.zeros([3, 3, 2, 5]) as tf.Tensor4D, null, { groups: 2 }),
    /5 filters do not divide into 2 groups/,
  );
  assert.throws(
    () => splitGroupsConv(x, tf.zeros([3, 3, 2, 4]) as tf.Tensor4D, tf.zeros([3]) as tf.Tensor1D, 2),
    /bias must have shape \[4\]/,
  );
  assert.throws(
    () => convolveGroups(tf.zeros([5, 5, 4]) as never, tf.zeros([3, 3, 2, 4]) as tf.Tensor4D, null, { groups: 2 }),
    /input must be 4-D NHWC/,
  );
});

test("convolveGroups and splitGroupsConv leave no tensors behind", async () => {
  await selectEngine({ force: "cpu" });
  const x = uniform([1, 5, 5, 4], 1) as tf.Tensor4D;
  const k = uniform([3, 3, 2, 6], 2) as tf.Tensor4D;
  const b = uniform([6], 3) as tf.Tensor1D;
  const before = tf.memory().numTensors;
  convolveGroups(x, k, b, { groups: 2, padding: "same", activation: "relu" }).dispose();
  splitGroupsConv(x, k, b, 2, 1, "same").dispose();
  assert.equal(tf.memory().numTensors, before);
});
