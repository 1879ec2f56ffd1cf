import assert from "node:assert/strict";
import { relErr, seededUniform } from "../helpers/numeric";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../lib/engine/select";
import {
  LRN_AS_RUN,
  LocalResponseNormalization,
  PAPER_LRN,
  convertLrnConvention,
  effectiveAlpha,
  fromFrameworkLrn,
  hasLrnKernels,
  localResponseNormalization,
  lrn,
  lrnConventionTable,
  lrnDivisors,
  lrnSettingsEffect,
  lrnRelativeChange,
  lrnWindowSums,
  resolveLrnConfig,
  toFrameworkLrn,
  type FrameworkLrnSettings,
  type LrnConfig,
  type LrnImplementation,
} from "../../lib/model/layers/lrn";
import * as layersIndex from "../../lib/model/layers";

type Shape4 = [number, number, number, number];
const ENGINES = ["cpu", "wasm"] as const;
const IMPLEMENTATIONS: LrnImplementation[] = ["kernel", "ops"];

/** Uniform in [-scale, scale], rounded to float32 so the float64 references see exactly what tfjs sees. */
function data(n: number, seed: number, scale: number): Float64Array {
  const r = seededUniform(seed);
  return Float64Array.from({ length: n }, () => Math.fround((2 * r() - 1) * scale));
}

const size = (s: Shape4) => s[0] * s[1] * s[2] * s[3];

// ---------- independent float64 references, each in its framework's own terms ----------

/** The paper's formula, literally: sum over j from max(0, i - n/2) to min(N-1, i + n/2), n/2 rounded down. */
function paperRef(x: Float64Array, shape: Shape4, n: number, k: number, alpha: number, beta: number): Float64Array {
  const N = shape[3];
  const out = new Float64Array(x.length);
  for (let p = 0; p < x.length / N; p++) {
    for (let i = 0; i < N; i++) {
      let sum = 0;
      for (let j = Math.max(0, i - Math.floor(n / 2)); j <= Math.min(N - 1, i + Math.floor(n / 2)); j++) sum += x[p * N + j] ** 2;
      out[p * N + i] = x[p * N + i] / (k + alpha * sum) ** beta;
    }
  }
  return out;
}

/** tf.nn.local_response_normalization: sqr_sum over [d - depth_radius, d + depth_radius]; bias + alpha * sqr_sum. */
function tensorflowRef(x: Float64Array, shape: Shape4, depthRadius: number, bias: number, alpha: number, beta: number): Float64Array {
  const C = shape[3];
  const out = new Float64Array(x.length);
  for (let p = 0; p < x.length / C; p++) {
    for (let d = 0; d < C; d++) {
      let sqrSum = 0;
      for (let e = d - depthRadius; e <= d + depthRadius; e++) if (e >= 0 && e < C) sqrSum += x[p * C + e] ** 2;
      out[p * C + d] = x[p * C + d] / (bias + alpha * sqrSum) ** beta;
    }
  }
  return out;
}

/** torch.nn.functional.local_response_norm: zero-pad size//2 before, (size-1)//2 after, average over size, times alpha, plus k. */
function pytorchRef(x: Float64Array, shape: Shape4, sz: number, alpha: number, beta: number, k: number): Float64Array {
  const C = shape[3];
  const out = new Float64Array(x.length);
  for (let p = 0; p < x.length / C; p++) {
    const padded = new Float64Array(C + sz - 1);
    for (let c = 0; c < C; c++) padded[Math.floor(sz / 2) + c] = x[p * C + c] ** 2;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let j = 0; j < sz; j++) s += padded[c + j];
      const div = ((s / sz) * alpha + k) ** beta;
      out[p * C + c] = x[p * C + c] / div;
    }
  }
  return out;
}

/** Caffe's LRNLayer (ACROSS_CHANNELS): pre_pad = (local_size - 1) / 2, scale = k + alpha / local_size * sum, top = bottom * scale^-beta. */
function caffeRef(x: Float64Array, shape: Shape4, localSize: number, alpha: number, beta: number, k: number): Float64Array {
  const C = shape[3];
  const prePad = (localSize - 1) / 2;
  const out = new Float64Array(x.length);
  for (let p = 0; p < x.length / C; p++) {
    for (let c = 0; c < C; c++) {
      let accum = 0;
      for (let j = c - prePad; j < c - prePad + localSize; j++) if (j >= 0 && j < C) accum += x[p * C + j] ** 2;
      const scale = k + (alpha / localSize) * accum;
      out[p * C + c] = x[p * C + c] * scale ** -beta;
    }
  }
  return out;
}

/** cuda-convnet cmrnorm: startF = f - size/2 (integer division), scale divided by size in layer.py, denominator minDiv + scale * sum. */
function cudaConvnetRef(x: Float64Array, shape: Shape4, sz: number, scale: number, pow: number, minDiv: number): Float64Array {
  const C = shape[3];
  const addScale = scale / sz;
  const out = new Float64Array(x.length);
  for (let p = 0; p < x.length / C; p++) {
    for (let f = 0; f < C; f++) {
      const startF = f - Math.trunc(sz / 2);
      let sum = 0;
      for (let j = Math.max(0, startF); j < Math.min(C, startF + sz); j++) sum += x[p * C + j] ** 2;
      out[p * C + f] = x[p * C + f] * (minDiv + addScale * sum) ** -pow;
    }
  }
  return out;
}

function frameworkRef(s: FrameworkLrnSettings, x: Float64Array, shape: Shape4): Float64Array {
  switch (s.framework) {
    case "course": {
      const a = s.alphaConvention === "divided-by-size" ? s.alpha / s.size : s.alpha;
      return paperRef(x, shape, s.size, s.k, a, s.beta);
    }
    case "paper":
      return paperRef(x, shape, s.n, s.k, s.alpha, s.beta);
    case "tensorflow":
      return tensorflowRef(x, shape, s.depthRadius, s.bias, s.alpha, s.beta);
    case "pytorch":
      return pytorchRef(x, shape, s.size, s.alpha, s.beta, s.k);
    case "caffe":
      return caffeRef(x, shape, s.localSize, s.alpha, s.beta, s.k);
    case "cuda-convnet":
      return cudaConvnetRef(x, shape, s.size, s.scale, s.pow, s.minDiv);
  }
}

/** Largest elementwise |a - b| / |b|, for values with no zeros. */
function elementRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return worst;
}

function run(x: Float64Array, shape: Shape4, config: LrnConfig, impl: LrnImplementation): Float32Array {
  return tf.tidy(() => lrn(tf.tensor4d(Float32Array.from(x), shape), config, impl).dataSync() as Float32Array);
}

// Shapes chosen for the edges of the channel axis: fewer channels than n, n = 1, one channel, wide windows.
const VALUE_CASES: { shape: Shape4; config: LrnConfig; scale: number }[] = [
  { shape: [2, 3, 4, 7], config: { size: 5, k: 2, alpha: 1e-4, beta: 0.75 }, scale: 40 },
  { shape: [1, 2, 2, 3], config: { size: 5, k: 2, alpha: 1e-2, beta: 0.75 }, scale: 5 },
  { shape: [1, 1, 1, 1], config: { size: 3, k: 1, alpha: 0.5, beta: 0.5 }, scale: 3 },
  { shape: [1, 2, 3, 8], config: { size: 7, k: 1.5, alpha: 0.02, beta: 1.2 }, scale: 4 },
  { shape: [3, 2, 2, 6], config: { size: 1, k: 2, alpha: 0.1, beta: 0.75 }, scale: 3 },
  { shape: [1, 1, 2, 4], config: { size: 11, k: 2, alpha: 0.05, beta: 0.75 }, scale: 3 },
];

for (const engine of ENGINES) {
  test(`${engine}: the backend has the LRN and LRNGrad kernels`, async () => {
    await selectEngine({ force: engine });
    assert.equal(hasLrnKernels(), true);
    assert.equal(hasLrnKernels("no-such-backend"), false);
  });

  for (const impl of IMPLEMENTATIONS) {
    test(`${engine}/${impl}: lrn equals the paper's formula computed in float64, in both alpha conventions`, async () => {
      await selectEngine({ force: engine });
      VALUE_CASES.forEach(({ shape, config, scale }, i) => {
        const x = data(size(shape), 100 + i, scale);
        const s = resolveLrnConfig(config);
        const expected = paperRef(x, shape, s.size, s.k, s.alpha, s.beta);
        const paper = run(x, shape, { ...config, alphaConvention: "paper" }, impl);
        assert.ok(elementRelErr(paper, expected) < 2e-6, `case ${i} paper: ${elementRelErr(paper, expected)}`);
        // The same numbers read as divided-by-size mean alpha / n on the plain sum.
        const dividedExpected = paperRef(x, shape, s.size, s.k, s.alpha / s.size, s.beta);
        const divided = run(x, shape, { ...config, alphaConvention: "divided-by-size" }, impl);
        assert.ok(elementRelErr(divided, dividedExpected) < 2e-6, `case ${i} divided: ${elementRelErr(divided, dividedExpected)}`);
      });
    });

    test(`${engine}/${impl}: window clipped at the channel edges, checked by hand`, async () => {
      await selectEngine({ force: engine });
      // All ones, 6 channels, n = 5, k = 1, alpha = 1, beta = 1: b = 1 / (1 + number of channels in the window).
      const y = tf.tidy(() => lrn(tf.ones([1, 1, 1, 6]) as tf.Tensor4D, { size: 5, k: 1, alpha: 1, beta: 1 }, impl).dataSync());
      const expected = [1 / 4, 1 / 5, 1 / 6, 1 / 6, 1 / 5, 1 / 4];
      expected.forEach((e, i) => assert.ok(Math.abs(y[i] - e) < 1e-6, `channel ${i}: ${y[i]} vs ${e}`));
    });

    test(`${engine}/${impl}: gradient equals central finite differences of the float64 reference`, async () => {
      await selectEngine({ force: engine });
      const cases: { shape: Shape4; config: LrnConfig; scale: number }[] = [
        // The paper's numbers need large activations before the normalisation does anything.
        { shape: [1, 2, 2, 7], config: PAPER_LRN, scale: 60 },
        { shape: [2, 1, 2, 4], config: { size: 5, k: 1, alpha: 0.05, beta: 0.75 }, scale: 4 },
        { shape: [1, 1, 3, 9], config: { size: 3, k: 2, alpha: 0.5, beta: 0.75, alphaConvention: "divided-by-size" }, scale: 2 },
      ];
      cases.forEach(({ shape, config, scale }, ci) => {
        const s = resolveLrnConfig(config);
        const a = effectiveAlpha(s);
        const x = data(size(shape), 300 + ci, scale);
        const w = data(size(shape), 400 + ci, 1);
        const loss = (v: Float64Array) => paperRef(v, shape, s.size, s.k, a, s.beta).reduce((acc, y, i) => acc + w[i] * y, 0);
        const numeric = new Float64Array(x.length);
        for (let i = 0; i < x.length; i++) {
          const eps = 1e-4 * Math.max(1, Math.abs(x[i]));
          const up = Float64Array.from(x);
          const down = Float64Array.from(x);
          up[i] += eps;
          down[i] -= eps;
          numeric[i] = (loss(up) - loss(down)) / (2 * eps);
        }
        const analytic = tf.tidy(() => {
          const wt = tf.tensor4d(Float32Array.from(w), shape);
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(lrn(t as tf.Tensor4D, config, impl), wt)));
          return g(tf.tensor4d(Float32Array.from(x), shape)).dataSync() as Float32Array;
        });
        const err = relErr(analytic, numeric);
        assert.ok(err < 1e-4, `case ${ci}: relative error ${err}`);
        assert.ok(analytic.every(Number.isFinite));
      });
    });
  }

  test(`${engine}: the ops gradient equals tf.grad of the LRN kernel`, async () => {
    await selectEngine({ force: engine });
    const shape: Shape4 = [2, 3, 3, 10];
    const config: LrnConfig = { size: 5, k: 2, alpha: 1e-3, beta: 0.75 };
    const x = tf.tensor4d(Float32Array.from(data(size(shape), 7, 20)), shape);
    const w = tf.tensor4d(Float32Array.from(data(size(shape), 8, 1)), shape);
    const grad = (impl: LrnImplementation) =>
      tf
        .grad((t: tf.Tensor) => tf.sum(tf.mul(lrn(t as tf.Tensor4D, config, impl), w)))(x)
        .dataSync();
    const err = relErr(grad("ops"), grad("kernel"));
    assert.ok(err < 1e-5, `relative error ${err}`);
    tf.dispose([x, w]);
  });

  test(`${engine}: lrn leaves no tensors behind`, async () => {
    await selectEngine({ force: engine });
    const x = tf.randomNormal([1, 3, 3, 8], 0, 10, "float32", 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    for (const impl of ["auto", ...IMPLEMENTATIONS] as LrnImplementation[]) lrn(x, {}, impl).dispose();
    assert.equal(tf.memory().numTensors, before);
    x.dispose();
  });
}

test("the two alpha conventions: divided-by-size with alpha 5e-4 is the paper's alpha 1e-4", async () => {
  await selectEngine({ force: "cpu" });
  const shape: Shape4 = [1, 2, 2, 12];
  const x = data(size(shape), 21, 50);
  const paper = run(x, shape, PAPER_LRN, "kernel");
  const divided = run(x, shape, { size: 5, k: 2, alpha: 5e-4, beta: 0.75, alphaConvention: "divided-by-size" }, "kernel");
  assert.ok(elementRelErr(divided, paper) < 1e-6);
  // The same number under the other convention is a different normalisation.
  const literal = run(x, shape, { size: 5, k: 2, alpha: 5e-4, beta: 0.75, alphaConvention: "paper" }, "kernel");
  assert.ok(elementRelErr(literal, paper) > 1e-2);
  assert.equal(effectiveAlpha({ alpha: 5e-4, alphaConvention: "divided-by-size" }), 1e-4);
  assert.equal(effectiveAlpha(PAPER_LRN), 1e-4);
});

test("lrnConventionTable: the paper's LRN in every framework's terms", () => {
  const rows = lrnConventionTable();
  const by = (f: string) => rows.filter((r) => r.settings.framework === f);
  assert.deepEqual(
    by("course").map((r) => r.settings),
    [
      { framework: "course", size: 5, k: 2, alpha: 1e-4, beta: 0.75, alphaConvention: "paper" },
      { framework: "course", size: 5, k: 2, alpha: 5e-4, beta: 0.75, alphaConvention: "divided-by-size" },
    ],
  );
  assert.deepEqual(by("paper")[0].settings, { framework: "paper", n: 5, k: 2, alpha: 1e-4, beta: 0.75 });
  assert.deepEqual(by("tensorflow")[0].settings, { framework: "tensorflow", depthRadius: 2, bias: 2, alpha: 1e-4, beta: 0.75 });
  assert.deepEqual(by("pytorch")[0].settings, { framework: "pytorch", size: 5, alpha: 5e-4, beta: 0.75, k: 2 });
  assert.deepEqual(by("caffe")[0].settings, { framework: "caffe", localSize: 5, alpha: 5e-4, beta: 0.75, k: 2 });
  assert.deepEqual(by("cuda-convnet")[0].settings, { framework: "cuda-convnet", size: 5, scale: 5e-4, pow: 0.75, minDiv: 2 });
  assert.equal(by("pytorch")[0].code, "torch.nn.LocalResponseNorm(size=5, alpha=0.0005, beta=0.75, k=2)");
  assert.match(by("tensorflow")[0].code, /^tf\.localResponseNormalization\(x, 2, 2, 0\.0001, 0\.75\)/);
  assert.equal(by("caffe")[0].code, "lrn_param { local_size: 5 alpha: 0.0005 beta: 0.75 k: 2 }");
  assert.equal(by("cuda-convnet")[0].code, "type=cmrnorm size=5 scale=0.0005 pow=0.75 minDiv=2");
  assert.equal(
    by("course")[1].code,
    'localResponseNormalization({ size: 5, k: 2, alpha: 0.0005, beta: 0.75, alphaConvention: "divided-by-size" })',
  );
  assert.deepEqual(
    rows.filter((r) => r.alphaDividedBySize).map((r) => r.settings.framework),
    ["course", "pytorch", "caffe", "cuda-convnet"],
  );
});

test("every row of the table computes the same function, by each framework's own formula and by lrn", async () => {
  await selectEngine({ force: "cpu" });
  const shape: Shape4 = [1, 3, 2, 9];
  const x = data(size(shape), 33, 60);
  for (const config of [PAPER_LRN, { size: 3, k: 1, alpha: 0.03, beta: 0.6, alphaConvention: "divided-by-size" } as LrnConfig]) {
    const s = resolveLrnConfig(config);
    const expected = paperRef(x, shape, s.size, s.k, effectiveAlpha(s), s.beta);
    for (const row of lrnConventionTable(config)) {
      // The framework's formula, in float64, on its own parameters.
      assert.ok(elementRelErr(frameworkRef(row.settings, x, shape), expected) < 1e-12, `${row.label}: framework formula`);
      // This course's lrn, configured from that framework's settings.
      for (const convention of ["paper", "divided-by-size"] as const) {
        const y = run(x, shape, fromFrameworkLrn(row.settings, convention), "kernel");
        assert.ok(elementRelErr(y, expected) < 2e-6, `${row.label} -> ${convention}`);
      }
    }
  }
});

test("conversions round-trip, and the settings the references actually ran are pinned", () => {
  const r = seededUniform(5);
  for (let i = 0; i < 50; i++) {
    const config: LrnConfig = {
      size: 1 + 2 * Math.floor(r() * 5),
      k: 0.5 + 3 * r(),
      alpha: r() * 1e-2,
      beta: r(),
      alphaConvention: r() < 0.5 ? "paper" : "divided-by-size",
    };
    const s = resolveLrnConfig(config);
    for (const framework of ["course", "paper", "tensorflow", "pytorch", "caffe", "cuda-convnet"] as const) {
      const back = fromFrameworkLrn(toFrameworkLrn(config, framework), s.alphaConvention);
      assert.equal(back.size, s.size);
      assert.equal(back.k, s.k);
      assert.equal(back.beta, s.beta);
      assert.ok(Math.abs(back.alpha - s.alpha) <= 1e-11 * s.alpha, `${framework}: ${back.alpha} vs ${s.alpha}`);
    }
    const there = convertLrnConvention(config, "divided-by-size");
    assert.ok(Math.abs(effectiveAlpha(there) - effectiveAlpha(s)) <= 1e-11 * effectiveAlpha(s));
  }
  // alexnet-facts.md: the 2012 code and cuda-convnet2 divide scale 1e-4 by size 5 (alpha_tf = 2e-5, k = 2);
  // Caffe's bvlc_alexnet uses alpha 1e-4 divided by local_size 5 with k = 1.
  const asRun = LRN_AS_RUN.map((r) => ({ source: r.source, paper: fromFrameworkLrn(r.settings) }));
  assert.deepEqual(
    asRun.map((r) => r.paper),
    [
      { size: 5, k: 2, alpha: 1e-4, beta: 0.75, alphaConvention: "paper" },
      { size: 5, k: 2, alpha: 2e-5, beta: 0.75, alphaConvention: "paper" },
      { size: 5, k: 1, alpha: 2e-5, beta: 0.75, alphaConvention: "paper" },
    ],
  );
  assert.deepEqual(toFrameworkLrn(fromFrameworkLrn(LRN_AS_RUN[1].settings), "tensorflow"), {
    framework: "tensorflow",
    depthRadius: 2,
    bias: 2,
    alpha: 2e-5,
    beta: 0.75,
  });
});

test("bad settings fail with errors that name the field and the fix", async () => {
  await selectEngine({ force: "cpu" });
  assert.throws(() => resolveLrnConfig({ size: 4 }), /size must be a positive odd integer.*got 4.*Use 5/);
  assert.throws(() => resolveLrnConfig({ size: 2.5 }), /size must be a positive odd integer/);
  assert.throws(() => resolveLrnConfig({ beta: -0.75 }), /beta must be a finite number >= 0.*got -0\.75/);
  assert.throws(() => resolveLrnConfig({ k: 0 }), /k must be a finite number > 0/);
  assert.throws(() => resolveLrnConfig({ alpha: Number.NaN }), /alpha must be a finite number/);
  assert.throws(
    () => resolveLrnConfig({ alphaConvention: "caffe" as never }),
    /alphaConvention must be one of "paper", "divided-by-size"; got "caffe"/,
  );
  assert.throws(() => localResponseNormalization({ size: 6 }), /size must be a positive odd integer/);
  assert.throws(() => new LocalResponseNormalization({ beta: -1 }), /beta must be/);
  assert.throws(() => lrn(tf.zeros([2, 2, 5]) as unknown as tf.Tensor4D), /4-D NHWC.*\[2, 2, 5\].*expandDims/);
  assert.throws(() => lrn(tf.zeros([1, 2, 2, 5], "int32") as tf.Tensor4D), /float32.*int32/);
  assert.throws(() => lrn(tf.zeros([1, 1, 1, 3]) as tf.Tensor4D, {}, "fast" as never), /implementation must be "auto", "kernel" or "ops"/);
  assert.throws(() => convertLrnConvention({}, "torch" as never), /target must be one of/);
  assert.throws(() => toFrameworkLrn({}, "keras" as never), /framework must be one of/);
  assert.throws(
    () => fromFrameworkLrn({ framework: "tensorflow", depthRadius: 1.5, bias: 2, alpha: 1e-4, beta: 0.75 }),
    /depthRadius must be an integer/,
  );
  const model = tf.sequential({ layers: [tf.layers.dense({ units: 3, inputShape: [4] })] });
  assert.throws(() => model.add(localResponseNormalization()), /LocalResponseNormalization '.*' expects NHWC input.*\[null, 3\]/);
});

test("the layer: defaults are the paper's, getConfig round-trips, output is lrn's", async () => {
  await selectEngine({ force: "cpu" });
  const layer = localResponseNormalization({ name: "lrn1" });
  assert.ok(layer instanceof LocalResponseNormalization);
  assert.deepEqual(layer.settings, PAPER_LRN);
  const cfg = new LocalResponseNormalization({
    size: 3,
    k: 1,
    alpha: 5e-4,
    beta: 0.5,
    alphaConvention: "divided-by-size",
    name: "n",
  }).getConfig();
  assert.equal(cfg.alphaConvention, "divided-by-size");
  assert.equal(cfg.alpha, 5e-4);
  assert.deepEqual(new LocalResponseNormalization(cfg as LrnConfig).getConfig(), cfg);
  const x = tf.tensor4d(Float32Array.from(data(2 * 3 * 3 * 6, 9, 60)), [2, 3, 3, 6]);
  const viaLayer = (layer.apply(x) as tf.Tensor).dataSync();
  assert.deepEqual(Array.from(viaLayer), Array.from(lrn(x, PAPER_LRN).dataSync()));
  assert.deepEqual(layer.computeOutputShape([null, 27, 27, 96]), [null, 27, 27, 96]);
  assert.equal(layer.countParams(), 0);
});

test("a model with LRN layers saves and loads with identical outputs and config, conventions preserved", async () => {
  await selectEngine({ force: "cpu" });
  const input = tf.input({ shape: [5, 5, 3] });
  const conv = tf.layers.conv2d({
    filters: 8,
    kernelSize: 3,
    padding: "same",
    activation: "relu",
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 2, seed: 3 }),
  });
  const a = localResponseNormalization({ name: "lrn_paper" });
  const b = localResponseNormalization({ name: "lrn_divided", size: 3, k: 1, alpha: 0.3, beta: 0.6, alphaConvention: "divided-by-size" });
  const model = tf.model({ inputs: input, outputs: b.apply(a.apply(conv.apply(input))) as tf.SymbolicTensor });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
    }),
  );
  assert.ok(saved);
  const json = JSON.stringify(saved.modelTopology);
  assert.match(json, /"class_name":"LocalResponseNormalization"/);
  assert.match(json, /"alpha_convention":"divided-by-size"/);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved));
  const la = loaded.getLayer("lrn_paper");
  const lb = loaded.getLayer("lrn_divided");
  assert.ok(la instanceof LocalResponseNormalization && lb instanceof LocalResponseNormalization);
  assert.deepEqual(la.getConfig(), a.getConfig());
  assert.deepEqual(lb.getConfig(), b.getConfig());
  assert.equal(lb.settings.alphaConvention, "divided-by-size");
  const x = tf.randomNormal([2, 5, 5, 3], 0, 1, "float32", 4);
  assert.deepEqual(Array.from((loaded.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()));
});

test("lib/model/layers registers both layer classes for deserialisation", () => {
  const names = Object.keys(tf.serialization.SerializationMap.getMap().classNameMap);
  assert.ok(names.includes("LocalResponseNormalization"));
  assert.ok(names.includes("GroupedConv2D"));
  assert.equal(layersIndex.LocalResponseNormalization, LocalResponseNormalization);
  assert.equal(typeof layersIndex.groupedConv2d, "function");
});

test("lrnWindowSums is the clipped sum of squares over n maps; lrnRelativeChange predicts what a change of alpha does", async () => {
  await selectEngine({ force: "wasm" });
  const x = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 1, 1, 6]);
  const S = lrnWindowSums(x, 5);
  // Map 0 sees maps 0..2, map 2 sees 0..4, map 5 sees 3..5.
  assert.deepEqual(Array.from(S.dataSync()), [
    1 + 4 + 9,
    1 + 4 + 9 + 16,
    1 + 4 + 9 + 16 + 25,
    4 + 9 + 16 + 25 + 36,
    9 + 16 + 25 + 36,
    16 + 25 + 36,
  ]);
  assert.throws(() => lrnWindowSums(x, 4), /odd whole number/);
  // The 2012 code's alpha/5 against the printed formula: small while alpha S << k, towards 5^0.75 - 1 when alpha S >> k.
  const code2012 = fromFrameworkLrn(LRN_AS_RUN[1].settings);
  assert.ok(lrnRelativeChange(100, PAPER_LRN, code2012) < 0.005);
  assert.ok(Math.abs(lrnRelativeChange(1e12, PAPER_LRN, code2012) - (5 ** 0.75 - 1)) < 1e-3);
  assert.equal(lrnRelativeChange(0, PAPER_LRN, PAPER_LRN), 0);
  // It is exactly the ratio lrn computes, unit by unit.
  const loud = tf.mul(x, 60) as tf.Tensor4D;
  const a = lrn(loud, PAPER_LRN).dataSync();
  const b = lrn(loud, code2012).dataSync();
  const sums = lrnWindowSums(loud, 5).dataSync();
  for (let i = 0; i < 6; i++)
    assert.ok(Math.abs(Math.abs(b[i] / a[i] - 1) - lrnRelativeChange(sums[i], PAPER_LRN, code2012)) < 1e-4, `map ${i}`);
  tf.dispose([x, S, loud]);
});

test("lrnDivisors: a / b of the active units, k^beta where the neighbours are quiet", async () => {
  await selectEngine({ force: "wasm" });
  const x = tf.tensor4d([0, 0.5, 10, 0, 0, 0, 0, 300], [1, 1, 1, 8]);
  const d = lrnDivisors(x, PAPER_LRN);
  assert.equal(d.length, 2, "units at or below 1 are left out");
  assert.ok(Math.abs(d[0] - (2 + 1e-4 * 100) ** 0.75) < 1e-4, `map 2 sees only itself: ${d[0]}`);
  assert.ok(Math.abs(d[1] - (2 + 1e-4 * 90000) ** 0.75) < 1e-3, `map 7 sees only itself: ${d[1]}`);
  assert.equal(lrnDivisors(x, PAPER_LRN, 0.1).length, 3);
  x.dispose();
});

test("lrnSettingsEffect: the load alpha S / k and the change between two settings, measured and from the formula", async () => {
  await selectEngine({ force: "wasm" });
  const code2012 = fromFrameworkLrn(LRN_AS_RUN[1].settings);
  const x = tf.tensor4d([0, 100, 0, 0, 0, 0, 0, 400, -5], [1, 1, 1, 9]);
  const e = lrnSettingsEffect(x, PAPER_LRN, code2012);
  assert.equal(e.units, 2, "zeros and negatives are left out");
  // Map 1 sees 100^2; map 7 sees 400^2 + 5^2.
  assert.ok(Math.abs(e.medianLoad - (1e-4 * 160025) / 2) < 1e-6, `the median of two is the larger: ${e.medianLoad}`);
  assert.ok(Math.abs(e.largestLoad - (1e-4 * 160025) / 2) < 1e-6);
  const changes = [lrnRelativeChange(10000, PAPER_LRN, code2012), lrnRelativeChange(160025, PAPER_LRN, code2012)];
  assert.ok(Math.abs(e.meanChange - (changes[0] + changes[1]) / 2) < 1e-4, `${e.meanChange}`);
  assert.ok(Math.abs(e.largestChange - changes[1]) < 1e-4);
  assert.ok(Math.abs(e.changeAtLargestS - changes[1]) < 1e-9);
  const same = lrnSettingsEffect(x, PAPER_LRN, PAPER_LRN);
  assert.equal(same.largestChange, 0);
  assert.equal(same.changeAtLargestS, 0);
  const quiet = tf.zeros([1, 1, 1, 4]) as tf.Tensor4D;
  assert.throws(() => lrnSettingsEffect(quiet, PAPER_LRN, code2012), /no unit is active/);
  tf.dispose([x, quiet]);
});
