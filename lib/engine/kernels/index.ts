// Registers the kernels that make training usable on the pure-JS engines.
// wasm lacks Conv2DBackpropFilter and runs Conv2DBackpropInput, MaxPoolGrad and
// transposed matmuls as slow scalar loops; cpu's filter gradient is a naive
// loop; both evaluate LRN and its gradient with a pow() per window element. The convolution gradients become one forward convolution each (XNNPACK
// on wasm), transposed matmuls become untransposed ones, MaxPoolGrad and LRN one
// pass each in JavaScript. Native backends ("tensorflow") are never touched.
import * as tf from "@tensorflow/tfjs";
import { batchMatMulKernel } from "./batch-matmul";
import { isOurs, markOurs, rememberStockKernel, type TrainingBackend } from "./call";
import { conv2dBackpropFilterKernel } from "./conv2d-backprop-filter";
import { conv2dBackpropInputKernel } from "./conv2d-backprop-input";
import { lrnGradKernel, lrnKernel } from "./lrn";
import { maxPoolGradKernel } from "./max-pool-grad";

export { stockKernel, type TrainingBackend } from "./call";

const KERNELS: Record<TrainingBackend, Record<string, (backendName: string) => tf.KernelFunc>> = {
  wasm: {
    [tf.Conv2DBackpropFilter]: conv2dBackpropFilterKernel,
    [tf.Conv2DBackpropInput]: conv2dBackpropInputKernel,
    [tf.BatchMatMul]: batchMatMulKernel,
    [tf.MaxPoolGrad]: maxPoolGradKernel,
    [tf.LRN]: lrnKernel,
    [tf.LRNGrad]: lrnGradKernel,
  },
  cpu: {
    [tf.Conv2DBackpropFilter]: conv2dBackpropFilterKernel,
    [tf.LRN]: lrnKernel,
    [tf.LRNGrad]: lrnGradKernel,
  },
};

/** Every kernel that training the course's models calls beyond the forward pass's plain ops. */
export const TRAINING_KERNELS = [
  tf.Conv2DBackpropFilter,
  tf.Conv2DBackpropInput,
  tf.BatchMatMul,
  tf.MaxPoolGrad,
  tf.LRN,
  tf.LRNGrad,
] as const;

/**
 * The training kernels a registered backend lacks (for webgpu, whose kernels run
 * on the GPU and cannot be replaced by the JavaScript ones here).
 */
export function missingTrainingKernels(backend: string): string[] {
  const have = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  return TRAINING_KERNELS.filter((name) => !have.has(name));
}

/** The kernels registerTrainingKernels replaces or adds on a backend. */
export function trainingKernelNames(backend: TrainingBackend): string[] {
  return Object.keys(KERNELS[backend]);
}

/**
 * Registers the training kernels for `backend` ("wasm" or "cpu"); safe to call
 * any number of times. The backend must have been registered with tfjs (for
 * wasm: @tensorflow/tfjs-backend-wasm imported). Returns the kernel names.
 */
export function registerTrainingKernels(backend: TrainingBackend): string[] {
  if (backend !== "wasm" && backend !== "cpu") {
    throw new Error(
      `registerTrainingKernels("${String(backend)}"): only "wasm" and "cpu" get training kernels; native backends keep their own.`,
    );
  }
  if (!tf.findBackendFactory(backend)) {
    throw new Error(
      `registerTrainingKernels("${backend}"): backend '${backend}' is not registered with TensorFlow.js; ${backend === "wasm" ? "import @tensorflow/tfjs-backend-wasm first" : "import @tensorflow/tfjs first"}.`,
    );
  }
  for (const [kernelName, make] of Object.entries(KERNELS[backend])) {
    if (isOurs(kernelName, backend)) continue;
    const existing = tf.getKernelsForBackend(backend).find((k) => k.kernelName === kernelName);
    if (existing) {
      rememberStockKernel(kernelName, backend, existing.kernelFunc);
      tf.unregisterKernel(kernelName, backend);
    }
    tf.registerKernel({ kernelName, backendName: backend, kernelFunc: markOurs(make(backend)) });
  }
  return trainingKernelNames(backend);
}
