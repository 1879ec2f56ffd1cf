// The filter gradient of a 2-D convolution, computed as one forward convolution
// with the roles swapped: channels become the batch, the batch becomes the
// channels, and dy becomes the filter (dilated by the stride). On wasm that
// forward convolution is XNNPACK's; on cpu it is the stock Conv2D loop, which
// is far faster than the stock filter-gradient loop.
import * as tf from "@tensorflow/tfjs";
import { callStock, release, stockKernel, type TensorInfo } from "./call";
import { convGeometry, isChannelsLast } from "./conv-geometry";

interface BackpropFilterAttrs {
  strides: number | [number, number];
  pad: "valid" | "same" | number | number[][];
  dataFormat?: string;
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
    const a = attrs as unknown as BackpropFilterAttrs;
    if (!isChannelsLast(a.dataFormat)) {
      const fallback = stockKernel(tf.Conv2DBackpropFilter, backendName);
      if (fallback) return fallback({ inputs, backend, attrs });
      throw new Error(
        `Conv2DBackpropFilter on '${backendName}' supports dataFormat 'NHWC' only (got '${a.dataFormat}'); use channels-last tensors.`,
      );
    }
    return filterGradByConv(be, backendName, x, dy, a);
  };
}

function filterGradByConv(be: tf.KernelBackend, backendName: string, x: TensorInfo, dy: TensorInfo, a: BackpropFilterAttrs): TensorInfo {
  const g = convGeometry(x.shape as [number, number, number, number], a.filterShape, a.strides, a.pad, a.dimRoundingMode);
  // Rows and columns of x past the last window are never read. A conv cannot take negative padding, so those
  // extra rows make extra output rows, cropped from the (small) result: cheaper than cropping x.
  const padBottom = g.filterHeight + (g.outHeight - 1) * g.strideHeight - g.inHeight - g.padTop;
  const padRight = g.filterWidth + (g.outWidth - 1) * g.strideWidth - g.inWidth - g.padLeft;
  const temps: TensorInfo[] = [];
  try {
    const xSwapped = callStock(be, backendName, tf.Transpose, { x }, { perm: [3, 1, 2, 0] }); // [Ci, H, W, B]
    temps.push(xSwapped);
    const dySwapped = callStock(be, backendName, tf.Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [OH, OW, B, Co]
    temps.push(dySwapped);
    let grad = callStock(
      be,
      backendName,
      tf.Conv2D,
      { x: xSwapped, filter: dySwapped },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [g.padTop, Math.max(padBottom, 0)],
          [g.padLeft, Math.max(padRight, 0)],
          [0, 0],
        ],
        dataFormat: "NHWC",
        dilations: [g.strideHeight, g.strideWidth],
      },
    ); // [Ci, KH (+ extra), KW (+ extra), Co]
    temps.push(grad);
    if (padBottom < 0 || padRight < 0) {
      grad = callStock(
        be,
        backendName,
        tf.Slice,
        { x: grad },
        { begin: [0, 0, 0, 0], size: [g.inChannels, g.filterHeight, g.filterWidth, g.outChannels] },
      );
      temps.push(grad);
    }
    return callStock(be, backendName, tf.Transpose, { x: grad }, { perm: [1, 2, 0, 3] });
  } finally {
    release(be, ...temps);
  }
}
