// The gradient of max pooling, in one pass over the windows: each window sends
// its dy to the first position holding its maximum (tfjs's and TensorFlow's
// rule, which matters after a ReLU, where windows of zeros tie). wasm's stock
// MaxPoolGrad took 100-250 ms per AlexNet pooling layer at batch 32.
import * as tf from "@tensorflow/tfjs";
import type { TensorInfo } from "./call";

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

export function maxPoolGradKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { dy, input } = inputs as { dy: TensorInfo; input: TensorInfo };
    const a = attrs as unknown as MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad as "valid",
      a.dimRoundingMode,
    );
    const heap = heapAccess(be);
    if (heap) {
      // Allocate first: growing wasm memory would detach views taken before.
      const out = heap.makeOutput(input.shape, "float32");
      maxPoolGradValues(
        heap.typedArrayFromHeap(input) as Float32Array,
        heap.typedArrayFromHeap(dy) as Float32Array,
        info,
        heap.typedArrayFromHeap(out) as Float32Array,
      );
      return out;
    }
    const dx = maxPoolGradValues(be.readSync(input.dataId) as Float32Array, be.readSync(dy.dataId) as Float32Array, info);
    return { dataId: be.write(dx, input.shape, "float32"), shape: input.shape, dtype: "float32" };
  };
}

export interface HeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): ArrayLike<number>;
}

/** wasm's backend exposes views of its heap; reading them avoids copying tens of MB per call. */
export function heapAccess(be: tf.KernelBackend): HeapBackend | undefined {
  const h = be as unknown as Partial<HeapBackend>;
  return typeof h.makeOutput === "function" && typeof h.typedArrayFromHeap === "function" ? (h as HeapBackend) : undefined;
}

/** dx for NHWC x and dy, given tfjs's pooling geometry (exported for tests). */
export function maxPoolGradValues(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  dx = new Float32Array(x.length),
): Float32Array {
  const {
    batchSize: B,
    inHeight: H,
    inWidth: W,
    inChannels: C,
    outHeight: OH,
    outWidth: OW,
    strideHeight: sh,
    strideWidth: sw,
    filterHeight: fh,
    filterWidth: fw,
  } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  dx.fill(0);
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oh = 0; oh < OH; oh++) {
      const h0 = Math.max(0, oh * sh - top);
      const h1 = Math.min(H, oh * sh - top + fh);
      for (let ow = 0; ow < OW; ow++) {
        const w0 = Math.max(0, ow * sw - left);
        const w1 = Math.min(W, ow * sw - left + fw);
        best.fill(-Infinity);
        where.fill(-1);
        for (let h = h0; h < h1; h++) {
          for (let w = w0; w < w1; w++) {
            const base = ((b * H + h) * W + w) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c];
              if (v > best[c]) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const out = ((b * OH + oh) * OW + ow) * C;
        for (let c = 0; c < C; c++) if (where[c] >= 0) dx[where[c]] += dy[out + c];
      }
    }
  }
  return dx;
}
