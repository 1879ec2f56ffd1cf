// Composite kernels call other kernels of the same backend directly, as tfjs's
// own backends do: going through tf ops inside a kernel would put the
// intermediates on the gradient tape and in the engine's bookkeeping.
import * as tf from "@tensorflow/tfjs";

export type TrainingBackend = "wasm" | "cpu";
export type TensorInfo = tf.TensorInfo;

/**
 * The kernel functions registered before ours replaced them, per backend. Kept
 * on globalThis: a notebook can load lib/ twice (through notebooks/lib and
 * directly), and the copy that did not register must still find the originals.
 */
const STOCK = Symbol.for("alexnet.stockKernels");
const stock: Map<string, tf.KernelFunc> =
  ((globalThis as Record<symbol, unknown>)[STOCK] as Map<string, tf.KernelFunc> | undefined) ?? new Map();
(globalThis as Record<symbol, unknown>)[STOCK] = stock;

export function rememberStockKernel(kernelName: string, backendName: string, fn: tf.KernelFunc): void {
  if (!stock.has(`${backendName}/${kernelName}`)) stock.set(`${backendName}/${kernelName}`, fn);
}

/** The backend's own kernel function for kernelName, even after ours replaced it; undefined if it had none. */
export function stockKernel(kernelName: string, backendName: string): tf.KernelFunc | undefined {
  return (
    stock.get(`${backendName}/${kernelName}`) ??
    (isOurs(kernelName, backendName) ? undefined : registered(kernelName, backendName)?.kernelFunc)
  );
}

const OURS = Symbol.for("alexnet.trainingKernel");

export function markOurs(fn: tf.KernelFunc): tf.KernelFunc {
  (fn as unknown as Record<symbol, boolean>)[OURS] = true;
  return fn;
}

export function isOurs(kernelName: string, backendName: string): boolean {
  const k = registered(kernelName, backendName);
  return k !== undefined && (k.kernelFunc as unknown as Record<symbol, boolean>)[OURS] === true;
}

function registered(kernelName: string, backendName: string): tf.KernelConfig | undefined {
  return tf.getKernelsForBackend(backendName).find((k) => k.kernelName === kernelName);
}

/** Runs the backend's stock kernel (never ours, so composites cannot recurse). */
export function callStock(
  backend: tf.KernelBackend,
  backendName: string,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const fn = stockKernel(kernelName, backendName);
  if (!fn)
    throw new Error(
      `kernel '${kernelName}' is not registered for backend '${backendName}'; the training kernels need it (is @tensorflow/tfjs ${tf.version.tfjs} complete?)`,
    );
  const out = fn({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  return Array.isArray(out) ? out[0] : out;
}

/** Frees intermediates made inside a composite kernel (reshapes share data and only drop a reference). */
export function release(backend: tf.KernelBackend, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}
