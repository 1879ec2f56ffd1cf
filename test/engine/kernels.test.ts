// The training kernels against two independent references: a float64 loop
// written here, and the cpu backend's stock kernels (kept aside when ours
// replace them). Gradients are taken through tf.grads, so the path a training
// step takes (conv2d's gradient calling our kernels) is what gets checked.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { convGeometry, isChannelsLast } from "../../lib/engine/kernels/conv-geometry";
import { planMatMul } from "../../lib/engine/kernels/batch-matmul";
import { lrnGradValues, lrnValues } from "../../lib/engine/kernels/lrn";
import { maxPoolGradValues } from "../../lib/engine/kernels/max-pool-grad";
import { registerTrainingKernels, stockKernel, trainingKernelNames } from "../../lib/engine/kernels";
import { selectEngine } from "../../lib/engine/select";

const TOL = 1e-5;
type Pad = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** max |got - want| / max |want|: the error relative to the gradient's scale. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  assert.equal(got.length, want.length, "sizes differ");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  assert.ok(scale > 0, "reference gradient is all zeros: the case tests nothing");
  return diff / scale;
}

/** Deterministic values in [-1, 1). */
function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  k: number;
  outCh: number;
  stride: number;
  pad: Pad;
}

/** dx and dW of y = conv2d(x, w) for upstream gradient dy, by the definition, in float64. */
function referenceGrads(c: ConvCase, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const [B, H, W, C] = c.x;
  const info = tf.backend_util.computeConv2DInfo(c.x, [c.k, c.k, C, c.outCh], c.stride, 1, c.pad as "valid");
  const { outHeight: OH, outWidth: OW } = info;
  const { top, left } = info.padInfo;
  const O = c.outCh;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let b = 0; b < B; b++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++)
        for (let kh = 0; kh < c.k; kh++) {
          const h = oh * c.stride + kh - top;
          if (h < 0 || h >= H) continue;
          for (let kw = 0; kw < c.k; kw++) {
            const wi = ow * c.stride + kw - left;
            if (wi < 0 || wi >= W) continue;
            for (let ci = 0; ci < C; ci++) {
              const xi = ((b * H + h) * W + wi) * C + ci;
              for (let o = 0; o < O; o++) {
                const g = dy[((b * OH + oh) * OW + ow) * O + o];
                const wIdx = ((kh * c.k + kw) * C + ci) * O + o;
                dx[xi] += g * w[wIdx];
                dw[wIdx] += g * x[xi];
              }
            }
          }
        }
  return { dx, dw, outShape: [B, OH, OW, O] as [number, number, number, number] };
}

const CASES: ConvCase[] = [
  {
    name: "conv1 11x11/4 pad 0 (valid), batch 1, size 30 (last 3 rows unused)",
    x: [1, 30, 31, 3],
    k: 11,
    outCh: 4,
    stride: 4,
    pad: "valid",
  },
  {
    name: "conv1 11x11/4 pad 2 (explicit, as torchvision), batch 3, 28x27 (last row unused)",
    x: [3, 28, 27, 3],
    k: 11,
    outCh: 5,
    stride: 4,
    pad: [
      [0, 0],
      [2, 2],
      [2, 2],
      [0, 0],
    ],
  },
  { name: "conv1 11x11/4 'same', 224-like remainder, non-square 29x33", x: [2, 29, 33, 3], k: 11, outCh: 4, stride: 4, pad: "same" },
  { name: "conv2 5x5/1 pad 2 (number), batch 3, 13x13", x: [3, 13, 13, 6], k: 5, outCh: 5, stride: 1, pad: 2 },
  { name: "conv3 3x3/1 'same', batch 1, 13x13", x: [1, 13, 13, 8], k: 3, outCh: 7, stride: 1, pad: "same" },
  { name: "3x3/1 'valid', batch 3, 27x27", x: [3, 27, 27, 4], k: 3, outCh: 6, stride: 1, pad: "valid" },
  { name: "3x3/2 'valid', batch 3, 13x13", x: [3, 13, 13, 5], k: 3, outCh: 4, stride: 2, pad: "valid" },
  {
    name: "3x3/2 asymmetric explicit padding",
    x: [2, 13, 14, 3],
    k: 3,
    outCh: 4,
    stride: 2,
    pad: [
      [0, 0],
      [1, 0],
      [0, 2],
      [0, 0],
    ],
  },
  {
    name: "3x3/2 bottom padding wider than the stride (last output row half in padding)",
    x: [1, 11, 11, 3],
    k: 3,
    outCh: 2,
    stride: 2,
    pad: [
      [0, 0],
      [0, 2],
      [0, 2],
      [0, 0],
    ],
  },
  { name: "5x5/3 'same', odd stride", x: [2, 17, 16, 3], k: 5, outCh: 3, stride: 3, pad: "same" },
];

async function useBackend(name: "wasm" | "cpu"): Promise<void> {
  assert.ok(await tf.setBackend(name), `backend ${name} failed to start`);
  registerTrainingKernels(name);
}

function convGradsOnBackend(c: ConvCase, x: Float32Array, w: Float32Array, dy: Float32Array, outShape: number[]) {
  return tf.tidy(() => {
    const f = (xt: tf.Tensor4D, wt: tf.Tensor4D) => tf.conv2d(xt, wt, c.stride, c.pad as "valid");
    const [gx, gw] = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)(
      [tf.tensor4d(x, c.x), tf.tensor4d(w, [c.k, c.k, c.x[3], c.outCh])],
      tf.tensor(dy, outShape),
    );
    return { dx: gx.dataSync(), dw: gw.dataSync() };
  });
}

/** The stock cpu kernels, called directly (ours may be registered in their place). */
function stockCpuGrads(c: ConvCase, x: Float32Array, w: Float32Array, dy: Float32Array, outShape: number[]) {
  const backend = tf.engine().findBackend("cpu");
  const run = (kernel: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown>) => {
    const fn = stockKernel(kernel, "cpu");
    assert.ok(fn, `stock cpu ${kernel} missing`);
    const out = fn({ inputs, backend, attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
    const values = backend.readSync(out.dataId) as Float32Array;
    backend.disposeData(out.dataId);
    return values;
  };
  return tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const wt = tf.tensor4d(w, [c.k, c.k, c.x[3], c.outCh]);
    const dyt = tf.tensor(dy, outShape);
    const common = { strides: c.stride, pad: c.pad, dataFormat: "NHWC", dimRoundingMode: undefined };
    return {
      dx: run(tf.Conv2DBackpropInput, { dy: dyt, filter: wt }, { ...common, inputShape: c.x }),
      dw: run(tf.Conv2DBackpropFilter, { x: xt, dy: dyt }, { ...common, filterShape: [c.k, c.k, c.x[3], c.outCh] }),
    };
  });
}

for (const [i, c] of CASES.entries()) {
  test(`conv gradients, ${c.name}: wasm and cpu match float64 and the stock cpu kernels within 1e-5`, async () => {
    const x = seeded(
      c.x.reduce((a, b) => a * b),
      11 + i,
    );
    const w = seeded(c.k * c.k * c.x[3] * c.outCh, 101 + i);
    const probe = referenceGrads(c, x, w, new Float32Array(0));
    const dy = seeded(
      probe.outShape.reduce((a, b) => a * b),
      1001 + i,
    );
    const ref = referenceGrads(c, x, w, dy);

    await useBackend("cpu");
    const stock = stockCpuGrads(c, x, w, dy, ref.outShape);
    assert.ok(relErr(stock.dx, ref.dx) < TOL, "the float64 reference disagrees with tfjs's stock cpu dx");
    assert.ok(relErr(stock.dw, ref.dw) < TOL, "the float64 reference disagrees with tfjs's stock cpu dW");

    for (const backend of ["wasm", "cpu"] as const) {
      await useBackend(backend);
      const got = convGradsOnBackend(c, x, w, dy, ref.outShape);
      const ex = relErr(got.dx, ref.dx);
      const ew = relErr(got.dw, ref.dw);
      assert.ok(ex < TOL, `${backend} dx relative error ${ex}`);
      assert.ok(ew < TOL, `${backend} dW relative error ${ew}`);
    }
  });
}

test("grouped conv (2 groups by split/concat, as conv2/4/5 of the paper): gradients of x and both filters within 1e-5", async () => {
  const c: ConvCase = { name: "group", x: [3, 13, 13, 4], k: 5, outCh: 3, stride: 1, pad: 2 };
  const [B, H, W] = c.x;
  const x = seeded(B * H * W * 8, 7);
  const w1 = seeded(5 * 5 * 4 * 3, 8);
  const w2 = seeded(5 * 5 * 4 * 3, 9);
  const dy = seeded(B * H * W * 6, 10);
  // The float64 reference per group, on the group's channels.
  const channels = (src: Float32Array, total: number, from: number, count: number) => {
    const out = new Float32Array((src.length / total) * count);
    for (let p = 0; p < src.length / total; p++) for (let j = 0; j < count; j++) out[p * count + j] = src[p * total + from + j];
    return out;
  };
  const g1 = referenceGrads(c, channels(x, 8, 0, 4), w1, channels(dy, 6, 0, 3));
  const g2 = referenceGrads(c, channels(x, 8, 4, 4), w2, channels(dy, 6, 3, 3));
  const dxRef = new Float64Array(x.length);
  for (let p = 0; p < B * H * W; p++)
    for (let j = 0; j < 4; j++) {
      dxRef[p * 8 + j] = g1.dx[p * 4 + j];
      dxRef[p * 8 + 4 + j] = g2.dx[p * 4 + j];
    }
  for (const backend of ["wasm", "cpu"] as const) {
    await useBackend(backend);
    const got = tf.tidy(() => {
      const f = (xt: tf.Tensor4D, a: tf.Tensor4D, b: tf.Tensor4D) => {
        const [x1, x2] = tf.split(xt, 2, 3);
        return tf.concat([tf.conv2d(x1 as tf.Tensor4D, a, 1, 2), tf.conv2d(x2 as tf.Tensor4D, b, 1, 2)], 3);
      };
      const gs = tf.grads(f as (...a: tf.Tensor[]) => tf.Tensor)(
        [tf.tensor4d(x, [B, H, W, 8]), tf.tensor4d(w1, [5, 5, 4, 3]), tf.tensor4d(w2, [5, 5, 4, 3])],
        tf.tensor4d(dy, [B, H, W, 6]),
      );
      return gs.map((g) => g.dataSync());
    });
    assert.ok(relErr(got[0], dxRef) < TOL, `${backend} grouped dx`);
    assert.ok(relErr(got[1], g1.dw) < TOL, `${backend} group 1 dW`);
    assert.ok(relErr(got[2], g2.dw) < TOL, `${backend} group 2 dW`);
  }
});

test("matmul gradients of a dense layer (transposed operands) on wasm match float64 within 1e-5, both plans", async () => {
  await useBackend("wasm");
  // [batch, in] x [in, out]: small out exercises one plan, large the other.
  for (const [batch, inputs, outputs] of [
    [3, 37, 11],
    [1, 16, 300],
    [5, 200, 7],
  ]) {
    const a = seeded(batch * inputs, batch + inputs);
    const b = seeded(inputs * outputs, outputs);
    const dy = seeded(batch * outputs, 3 * outputs);
    const da = new Float64Array(a.length);
    const db = new Float64Array(b.length);
    for (let i = 0; i < batch; i++)
      for (let k = 0; k < inputs; k++)
        for (let j = 0; j < outputs; j++) {
          da[i * inputs + k] += dy[i * outputs + j] * b[k * outputs + j];
          db[k * outputs + j] += a[i * inputs + k] * dy[i * outputs + j];
        }
    const got = tf.tidy(() => {
      const f = (x: tf.Tensor2D, w: tf.Tensor2D) => tf.matMul(x, w);
      return tf
        .grads(f as (...t: tf.Tensor[]) => tf.Tensor)(
          [tf.tensor2d(a, [batch, inputs]), tf.tensor2d(b, [inputs, outputs])],
          tf.tensor2d(dy, [batch, outputs]),
        )
        .map((g) => g.dataSync());
    });
    assert.ok(relErr(got[0], da) < TOL, `dx for ${batch}x${inputs}x${outputs}`);
    assert.ok(relErr(got[1], db) < TOL, `dW for ${batch}x${inputs}x${outputs}`);
  }
  // All four transpose combinations directly.
  const a = seeded(6 * 4, 1);
  const b = seeded(4 * 5, 2);
  const want = tf.tidy(() => tf.matMul(tf.tensor2d(a, [6, 4]), tf.tensor2d(b, [4, 5])).dataSync());
  for (const [ta, tb] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    const got = tf.tidy(() => {
      const at = ta ? tf.tensor2d(a, [6, 4]).transpose() : tf.tensor2d(a, [6, 4]);
      const bt = tb ? tf.tensor2d(b, [4, 5]).transpose() : tf.tensor2d(b, [4, 5]);
      return tf.matMul(at, bt, ta, tb).dataSync();
    });
    assert.ok(relErr(got, want) < TOL, `transposeA=${ta} transposeB=${tb}`);
  }
});

test("max-pool gradient on wasm matches the cpu backend's stock MaxPoolGrad, ties after ReLU included", async () => {
  const cases: { x: [number, number, number, number]; size: number; stride: number; pad: "valid" | "same" }[] = [
    { x: [1, 13, 13, 5], size: 3, stride: 2, pad: "valid" },
    { x: [3, 27, 27, 4], size: 3, stride: 2, pad: "valid" },
    { x: [2, 14, 11, 3], size: 3, stride: 2, pad: "same" },
    { x: [3, 9, 9, 2], size: 2, stride: 2, pad: "valid" },
  ];
  for (const [i, c] of cases.entries()) {
    // ReLU of values centred below zero: many windows are all zeros and tie.
    const x = seeded(
      c.x.reduce((a, b) => a * b),
      50 + i,
    ).map((v) => Math.max(0, v - 0.3));
    const grad = () =>
      tf.tidy(() => {
        const xt = tf.tensor4d(x, c.x);
        const y = tf.maxPool(xt, c.size, c.stride, c.pad);
        const dy = tf.tensor(seeded(y.size, 60 + i), y.shape);
        return tf
          .grad((t: tf.Tensor) => tf.maxPool(t as tf.Tensor4D, c.size, c.stride, c.pad))(xt, dy)
          .dataSync();
      });
    await useBackend("cpu");
    const want = grad();
    await useBackend("wasm");
    const got = grad();
    assert.ok(relErr(got, want) < TOL, `pool ${JSON.stringify(c)}: relative error ${relErr(got, want)}`);
  }
});

test("maxPoolGradValues sends each window's dy to its first maximum, summing over overlapping windows", () => {
  // One 1x3x3x1 image, 2x2 windows, stride 1 (overlapping): windows share the centre.
  const x = new Float32Array([0, 0, 1, 0, 5, 0, 2, 2, 0]);
  const info = tf.backend_util.computePool2DInfo([1, 3, 3, 1], 2, 1, 1, "valid");
  const dx = maxPoolGradValues(x, new Float32Array([1, 10, 100, 1000]), info);
  // Every window holds the centre 5: all four send their dy there.
  assert.deepEqual([...dx], [0, 0, 0, 0, 1111, 0, 0, 0, 0]);
  // All-zero windows tie: the first position (row-major) wins.
  const zeros = maxPoolGradValues(new Float32Array(9), new Float32Array([1, 10, 100, 1000]), info);
  assert.deepEqual([...zeros], [1, 10, 0, 100, 1000, 0, 0, 0, 0]);
});

/** LRN and its input gradient by the definition, in float64: y[c] = x[c] / (bias + alpha sum x[j]^2)^beta over |j - c| <= r. */
function referenceLrn(x: Float32Array, dy: Float32Array, channels: number, r: number, bias: number, alpha: number, beta: number) {
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += channels) {
    const norm = (c: number) => {
      let s = 0;
      for (let j = Math.max(0, c - r); j <= Math.min(channels - 1, c + r); j++) s += x[o + j] * x[o + j];
      return bias + alpha * s;
    };
    for (let c = 0; c < channels; c++) y[o + c] = x[o + c] * norm(c) ** -beta;
    // dx[i] = sum over outputs c whose window holds i of dy[c] * d y[c] / d x[i].
    for (let c = 0; c < channels; c++) {
      const n = norm(c);
      for (let i = Math.max(0, c - r); i <= Math.min(channels - 1, c + r); i++) {
        const d = (i === c ? n ** -beta : 0) - 2 * alpha * beta * x[o + c] * x[o + i] * n ** (-beta - 1);
        dx[o + i] += dy[o + c] * d;
      }
    }
  }
  return { y, dx };
}

test("LRN and its gradient match float64 by the definition and the cpu backend's stock kernels, through tf.grad", async () => {
  const cases: { shape: [number, number, number, number]; r: number; bias: number; alpha: number; beta: number; scale: number }[] = [
    // The paper's settings at conv1's and conv2's widths (channels 24 and 64 in the mini network), and edge cases.
    { shape: [2, 5, 5, 24], r: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 3 },
    { shape: [1, 3, 4, 64], r: 2, bias: 2, alpha: 1e-4, beta: 0.75, scale: 30 },
    { shape: [2, 3, 3, 3], r: 2, bias: 1, alpha: 0.5, beta: 0.75, scale: 2 }, // window wider than the channels
    { shape: [1, 2, 2, 7], r: 1, bias: 1.5, alpha: 0.2, beta: 0.6, scale: 2 }, // a beta without a shortcut
    { shape: [1, 2, 2, 6], r: 3, bias: 2, alpha: 1e-3, beta: 0.5, scale: 5 },
  ];
  for (const [i, c] of cases.entries()) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const channels = c.shape[3];
    // ReLU'd values, as after conv1; large enough that alpha's term matters.
    const x = seeded(n, 70 + i).map((v) => Math.max(0, v) * c.scale);
    const dy = seeded(n, 80 + i);
    const ref = referenceLrn(x, dy, channels, c.r, c.bias, c.alpha, c.beta);
    const attrs = { depthRadius: c.r, bias: c.bias, alpha: c.alpha, beta: c.beta };
    assert.ok(relErr(lrnValues(x, channels, attrs), ref.y) < TOL, `case ${i}: lrnValues`);
    const y32 = Float32Array.from(ref.y);
    assert.ok(relErr(lrnGradValues(x, y32, dy, channels, attrs), ref.dx) < TOL, `case ${i}: lrnGradValues`);
    const run = () =>
      tf.tidy(() => {
        const f = (t: tf.Tensor) => tf.localResponseNormalization(t as tf.Tensor4D, c.r, c.bias, c.alpha, c.beta);
        const xt = tf.tensor4d(x, c.shape);
        return { y: f(xt).dataSync(), dx: tf.grad(f)(xt, tf.tensor(dy, xt.shape)).dataSync() };
      });
    for (const backend of ["wasm", "cpu"] as const) {
      await useBackend(backend);
      const got = run();
      assert.ok(relErr(got.y, ref.y) < TOL, `case ${i}, ${backend}: forward relative error ${relErr(got.y, ref.y)}`);
      assert.ok(relErr(got.dx, ref.dx) < TOL, `case ${i}, ${backend}: gradient relative error ${relErr(got.dx, ref.dx)}`);
    }
    // And against the stock kernels the course replaces (cpu's, kept aside).
    await useBackend("cpu");
    const xt = tf.tensor4d(x, c.shape);
    const yt = tf.tensor4d(y32, xt.shape);
    const dyt = tf.tensor4d(dy, xt.shape);
    const be = tf.backend();
    const stockY = stockKernel(tf.LRN, "cpu")!({ inputs: { x: xt }, backend: be, attrs }) as tf.TensorInfo;
    const stockDx = stockKernel(tf.LRNGrad, "cpu")!({ inputs: { x: xt, y: yt, dy: dyt }, backend: be, attrs }) as tf.TensorInfo;
    assert.ok(relErr(be.readSync(stockY.dataId) as Float32Array, ref.y) < TOL, `case ${i}: stock LRN disagrees with the reference`);
    assert.ok(relErr(be.readSync(stockDx.dataId) as Float32Array, ref.dx) < TOL, `case ${i}: stock LRNGrad disagrees with the reference`);
    be.disposeData(stockY.dataId);
    be.disposeData(stockDx.dataId);
    tf.dispose([xt, yt, dyt]);
  }
});

test("planMatMul transposes the small operand of a dense layer's gradient, never the weights", () => {
  // dx = dy W^T with W [9216, 4096]: compute (W dy^T)^T.
  assert.equal(planMatMul([8, 4096], [9216, 4096], false, true), "swapped");
  // dW = x^T dy: transpose x (small), not the product.
  assert.equal(planMatMul([8, 9216], [8, 4096], true, false), "direct");
  assert.equal(planMatMul([4096, 8], [8, 4096], false, false), "direct");
});

test("convGeometry resolves same, valid, numeric and explicit padding", () => {
  const same = convGeometry([1, 224, 224, 3], [11, 11, 3, 64], 4, "same");
  assert.deepEqual([same.outHeight, same.padTop, same.padLeft], [56, 3, 3]);
  const valid = convGeometry([2, 227, 227, 3], [11, 11, 3, 96], 4, "valid");
  assert.deepEqual([valid.batch, valid.outHeight, valid.padTop], [2, 55, 0]);
  const explicit = convGeometry(
    [1, 224, 224, 3],
    [11, 11, 3, 64],
    [4, 4],
    [
      [0, 0],
      [2, 2],
      [2, 2],
      [0, 0],
    ],
  );
  assert.deepEqual([explicit.outHeight, explicit.padTop], [55, 2]);
  assert.equal(convGeometry([1, 13, 13, 8], [3, 3, 8, 8], 1, 1).padTop, 1);
  assert.ok(isChannelsLast("NHWC") && isChannelsLast(undefined) && !isChannelsLast("NCHW"));
});

test("NCHW gradients on cpu fall back to the stock kernel and agree with NHWC", async () => {
  await useBackend("cpu");
  const x = seeded(2 * 9 * 9 * 3, 5);
  const w = seeded(3 * 3 * 3 * 4, 6);
  const [nhwc, nchw] = tf.tidy(() => {
    const xt = tf.tensor4d(x, [2, 9, 9, 3]);
    const wt = tf.tensor4d(w, [3, 3, 3, 4]);
    const a = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf
        .conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, "same")
        .square()
        .sum(),
    )([xt, wt]);
    const b = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf
        .conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, "same", "NCHW")
        .square()
        .sum(),
    )([xt.transpose([0, 3, 1, 2]), wt]);
    return [a[1].dataSync(), b[1].dataSync()];
  });
  assert.ok(relErr(nchw, nhwc) < TOL);
});

test("registerTrainingKernels is idempotent, keeps the stock kernels aside and refuses native backends", async () => {
  await useBackend("wasm");
  const first = tf.getKernel(tf.Conv2DBackpropFilter, "wasm").kernelFunc;
  assert.deepEqual(registerTrainingKernels("wasm"), trainingKernelNames("wasm"));
  assert.equal(tf.getKernel(tf.Conv2DBackpropFilter, "wasm").kernelFunc, first);
  // wasm had no filter gradient of its own; it had the others.
  assert.equal(stockKernel(tf.Conv2DBackpropFilter, "wasm"), undefined);
  assert.notEqual(stockKernel(tf.Conv2DBackpropInput, "wasm"), tf.getKernel(tf.Conv2DBackpropInput, "wasm").kernelFunc);
  assert.ok(stockKernel(tf.BatchMatMul, "wasm"));
  assert.ok(stockKernel(tf.MaxPoolGrad, "wasm"));
  assert.ok(stockKernel(tf.LRN, "wasm") && stockKernel(tf.LRNGrad, "wasm"));
  assert.deepEqual(trainingKernelNames("cpu"), [tf.Conv2DBackpropFilter, tf.LRN, tf.LRNGrad]);
  assert.throws(() => registerTrainingKernels("tensorflow" as "cpu"), /only "wasm" and "cpu"/);
});

test("selectEngine registers the training kernels when it activates wasm or cpu", async () => {
  for (const engine of ["cpu", "wasm"] as const) {
    const report = await selectEngine({ force: engine });
    const ours = tf.getKernel(tf.Conv2DBackpropFilter, engine).kernelFunc;
    assert.notEqual(ours, stockKernel(tf.Conv2DBackpropFilter, engine));
    // This file started wasm itself (single-threaded): too late for threads, and the report says so.
    if (engine === "wasm")
      assert.ok(
        report.details.includes("single-threaded (the wasm backend had already started in this process)"),
        report.details.join(", "),
      );
  }
});
