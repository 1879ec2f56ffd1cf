// Local response normalisation and its gradient in one pass over the channels
// of each pixel, with running window sums. wasm's stock kernels evaluate pow()
// for every element of every window; at the laptop network's shapes (batch 32)
// they took 70 ms of a 315 ms training step (measured with tf.profile), this
// pair under 15 ms. For the paper's beta = 0.75, d^-0.75 is 1/(sqrt(d) sqrt(sqrt(d))),
// which is exact to float32 rounding and much cheaper than pow.
//
//   norm[c] = bias + alpha * sum_{|j-c| <= r} x[j]^2,   y[c] = x[c] norm[c]^-beta
//   dx[i]   = dy[i] norm[i]^-beta - 2 alpha beta x[i] sum_{|j-i| <= r} dy[j] y[j] / norm[j]
//
// (tfjs-backend-cpu's LRNGrad, which reads y, summed the other way round.)
import * as tf from "@tensorflow/tfjs";
import type { TensorInfo } from "./call";
import { heapAccess } from "./max-pool-grad";

export interface LrnAttrs {
  depthRadius: number;
  bias: number;
  alpha: number;
  beta: number;
}

function negativePower(beta: number): (d: number) => number {
  if (beta === 0.75) {
    return (d) => {
      const s = Math.sqrt(d);
      return 1 / (s * Math.sqrt(s));
    };
  }
  if (beta === 0.5) return (d) => 1 / Math.sqrt(d);
  return (d) => Math.pow(d, -beta);
}

/**
 * out[c] = the sum over |j - c| <= r of v[o + j] (squared when `squares`), for
 * the `channels` values of one pixel starting at o: a running sum, one add and
 * one subtract per channel.
 */
function windowSums(v: Float32Array, o: number, channels: number, r: number, squares: boolean, out: Float32Array): void {
  const head = Math.min(r, channels);
  let s = 0;
  // Two copies of one loop: a callback for "square or not" costs three times the time here.
  if (squares) {
    for (let j = 0; j < head; j++) s += v[o + j] * v[o + j];
    for (let c = 0; c < channels; c++) {
      if (c + r < channels) s += v[o + c + r] * v[o + c + r];
      if (c - r - 1 >= 0) s -= v[o + c - r - 1] * v[o + c - r - 1];
      out[c] = s > 0 ? s : 0; // a running sum of squares may dip below 0 by rounding
    }
  } else {
    for (let j = 0; j < head; j++) s += v[o + j];
    for (let c = 0; c < channels; c++) {
      if (c + r < channels) s += v[o + c + r];
      if (c - r - 1 >= 0) s -= v[o + c - r - 1];
      out[c] = s;
    }
  }
}

/** LRN forward on NHWC values (channels last). Exported for tests. */
export function lrnValues(x: Float32Array, channels: number, a: LrnAttrs, out = new Float32Array(x.length)): Float32Array {
  const pow = negativePower(a.beta);
  const sums = new Float32Array(channels);
  for (let o = 0; o < x.length; o += channels) {
    windowSums(x, o, channels, a.depthRadius, true, sums);
    for (let c = 0; c < channels; c++) out[o + c] = x[o + c] * pow(a.bias + a.alpha * sums[c]);
  }
  return out;
}

/** LRN's input gradient, from the input x, the output y and dy. Exported for tests. */
export function lrnGradValues(
  x: Float32Array,
  y: Float32Array,
  dy: Float32Array,
  channels: number,
  a: LrnAttrs,
  dx = new Float32Array(x.length),
): Float32Array {
  const pow = negativePower(a.beta);
  const norm = new Float32Array(channels);
  const t = new Float32Array(channels);
  const w = new Float32Array(channels);
  const k = -2 * a.alpha * a.beta;
  for (let o = 0; o < x.length; o += channels) {
    windowSums(x, o, channels, a.depthRadius, true, norm);
    for (let c = 0; c < channels; c++) {
      norm[c] = a.bias + a.alpha * norm[c];
      t[c] = (dy[o + c] * y[o + c]) / norm[c];
    }
    windowSums(t, 0, channels, a.depthRadius, false, w);
    for (let c = 0; c < channels; c++) dx[o + c] = dy[o + c] * pow(norm[c]) + k * x[o + c] * w[c];
  }
  return dx;
}

function checkAttrs(a: LrnAttrs, what: string): void {
  if (!(Number.isInteger(a.depthRadius) && a.depthRadius >= 0))
    throw new Error(`${what}: depthRadius must be a whole number >= 0, got ${a.depthRadius}.`);
}

export function lrnKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { x } = inputs as { x: TensorInfo };
    const a = attrs as unknown as LrnAttrs;
    checkAttrs(a, "LRN");
    const channels = x.shape[x.shape.length - 1];
    const heap = heapAccess(be);
    if (heap) {
      const out = heap.makeOutput(x.shape, "float32");
      lrnValues(heap.typedArrayFromHeap(x) as Float32Array, channels, a, heap.typedArrayFromHeap(out) as Float32Array);
      return out;
    }
    const y = lrnValues(be.readSync(x.dataId) as Float32Array, channels, a);
    return { dataId: be.write(y, x.shape, "float32"), shape: x.shape, dtype: "float32" };
  };
}

export function lrnGradKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { x, y, dy } = inputs as { x: TensorInfo; y: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as LrnAttrs;
    checkAttrs(a, "LRNGrad");
    const channels = x.shape[x.shape.length - 1];
    const heap = heapAccess(be);
    if (heap) {
      const out = heap.makeOutput(x.shape, "float32");
      lrnGradValues(
        heap.typedArrayFromHeap(x) as Float32Array,
        heap.typedArrayFromHeap(y) as Float32Array,
        heap.typedArrayFromHeap(dy) as Float32Array,
        channels,
        a,
        heap.typedArrayFromHeap(out) as Float32Array,
      );
      return out;
    }
    const dx = lrnGradValues(
      be.readSync(x.dataId) as Float32Array,
      be.readSync(y.dataId) as Float32Array,
      be.readSync(dy.dataId) as Float32Array,
      channels,
      a,
    );
    return { dataId: be.write(dx, x.shape, "float32"), shape: x.shape, dtype: "float32" };
  };
}
