// The input gradient of a 2-D convolution as one forward convolution of dy
// (dilated by the stride) with the filter rotated by 180 degrees and its
// channel axes swapped. wasm's stock Conv2DBackpropInput is a plain C++ loop;
// this runs on XNNPACK's convolution instead.
import * as tf from "@tensorflow/tfjs";
import { callStock, release, stockKernel, type TensorInfo } from "./call";
import { convGeometry, isChannelsLast } from "./conv-geometry";

interface BackpropInputAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][];
  dataFormat?: string;
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

export function conv2dBackpropInputKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
    const a = attrs as unknown as BackpropInputAttrs;
    const fast = isChannelsLast(a.dataFormat) ? inputGradByConv(be, backendName, dy, filter, a) : undefined;
    if (fast) return fast;
    const fallback = stockKernel(tf.Conv2DBackpropInput, backendName);
    if (!fallback)
      throw new Error(
        `Conv2DBackpropInput on '${backendName}' supports dataFormat 'NHWC' only (got '${a.dataFormat}'); use channels-last tensors.`,
      );
    return fallback({ inputs, backend, attrs });
  };
}

/** Undefined when the padding is outside what a forward conv can express (the stock kernel then runs). */
function inputGradByConv(
  be: tf.KernelBackend,
  backendName: string,
  dy: TensorInfo,
  filter: TensorInfo,
  a: BackpropInputAttrs,
): TensorInfo | undefined {
  const g = convGeometry(a.inputShape, filter.shape as [number, number, number, number], a.strides, a.pad, a.dimRoundingMode);
  const sh = g.strideHeight;
  const sw = g.strideWidth;
  const padTop = g.filterHeight - 1 - g.padTop;
  const padLeft = g.filterWidth - 1 - g.padLeft;
  // dy dilated with stride-1 zeros after every element (also after the last: cheaper to build, trimmed by the padding below).
  const rows = g.outHeight * sh;
  const cols = g.outWidth * sw;
  const padBottom = g.inHeight + g.filterHeight - 1 - rows - padTop;
  const padRight = g.inWidth + g.filterWidth - 1 - cols - padLeft;
  // Trailing zeros may exceed what the output needs; real dy values must not be cut.
  if (padTop < 0 || padLeft < 0 || padBottom < -(sh - 1) || padRight < -(sw - 1)) return undefined;
  const temps: TensorInfo[] = [];
  try {
    let dyDilated = dy;
    if (sh > 1 || sw > 1) {
      const dy6 = callStock(be, backendName, tf.Reshape, { x: dy }, { shape: [g.batch, g.outHeight, 1, g.outWidth, 1, g.outChannels] });
      temps.push(dy6);
      const padded = callStock(
        be,
        backendName,
        tf.PadV2,
        { x: dy6 },
        {
          paddings: [
            [0, 0],
            [0, 0],
            [0, sh - 1],
            [0, 0],
            [0, sw - 1],
            [0, 0],
          ],
          constantValue: 0,
        },
      );
      temps.push(padded);
      dyDilated = callStock(be, backendName, tf.Reshape, { x: padded }, { shape: [g.batch, rows, cols, g.outChannels] });
      temps.push(dyDilated);
      if (padBottom < 0 || padRight < 0) {
        dyDilated = callStock(
          be,
          backendName,
          tf.Slice,
          { x: dyDilated },
          { begin: [0, 0, 0, 0], size: [g.batch, rows + Math.min(padBottom, 0), cols + Math.min(padRight, 0), g.outChannels] },
        );
        temps.push(dyDilated);
      }
    }
    const rotated = rotateFilter(be, filter);
    temps.push(rotated);
    return callStock(
      be,
      backendName,
      tf.Conv2D,
      { x: dyDilated, filter: rotated },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [padTop, Math.max(padBottom, 0)],
          [padLeft, Math.max(padRight, 0)],
          [0, 0],
        ],
        dataFormat: "NHWC",
        dilations: [1, 1],
      },
    );
  } finally {
    release(be, ...temps);
  }
}

/**
 * [KH, KW, Ci, Co] -> [KH, KW, Co, Ci], rotated by 180 degrees in space. One
 * pass in JavaScript: wasm's Reverse kernel took 20 ms for a 5x5x64x192 filter.
 */
export function rotateFilter(be: tf.KernelBackend, filter: TensorInfo): TensorInfo {
  const [kh, kw, ci, co] = filter.shape;
  const src = be.readSync(filter.dataId) as Float32Array;
  const dst = new Float32Array(src.length);
  for (let h = 0; h < kh; h++) {
    for (let w = 0; w < kw; w++) {
      const from = ((kh - 1 - h) * kw + (kw - 1 - w)) * ci * co;
      const to = (h * kw + w) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[from + i * co + o];
      }
    }
  }
  const shape = [kh, kw, co, ci];
  return { dataId: be.write(dst, shape, "float32"), shape, dtype: "float32" };
}
