// A WebGPU shader can bind a tensor only up to the device's
// maxStorageBufferBindingSize. tfjs-backend-webgpu asks for the adapter's own
// limit: usually far more than 128 MiB on a GPU, but 128 MiB on Mesa's lavapipe, where the
// paper model's fc6 kernel (9216 x 4096 floats, 151 MB) does not fit. Dawn then
// rejects each dispatch with a validation message on stderr and training goes
// on with garbage, so the course checks the sizes it can see before training.
import * as tf from "@tensorflow/tfjs";

const MiB = 2 ** 20;

export interface TensorSize {
  /** A weight's name, or "<layer> output". */
  what: string;
  bytes: number;
}

/**
 * Every weight of `model` and every layer's output at `batch` images, largest
 * first, in bytes (4 per float32 value). A kernel's own temporaries are not
 * visible here, so this is a lower bound on the largest buffer a step binds.
 */
export function modelTensorSizes(model: tf.LayersModel, batch: number): TensorSize[] {
  const sizes: TensorSize[] = model.weights.map((w) => ({
    what: w.originalName ?? w.name,
    bytes: 4 * tf.util.sizeFromShape(w.shape as number[]),
  }));
  for (const layer of model.layers) {
    const shapes = layer.outputShape;
    // One output is [null, h, w, c]; several are an array of such shapes.
    const list = (Array.isArray(shapes[0]) || shapes.length === 0 ? shapes : [shapes]) as (number | null)[][];
    for (const shape of list) {
      const values = shape.reduce<number>((n, d) => n * (d ?? batch), 1);
      sizes.push({ what: `${layer.name} output`, bytes: 4 * values });
    }
  }
  return sizes.sort((a, b) => b.bytes - a.bytes);
}

/** The active webgpu device's largest storage-buffer binding in bytes, or undefined on any other backend. */
export function storageBindingLimit(): number | undefined {
  if (tf.getBackend() !== "webgpu") return undefined;
  const device = (tf.backend() as unknown as { device?: { limits?: { maxStorageBufferBindingSize?: number } } }).device;
  return device?.limits?.maxStorageBufferBindingSize;
}

export class DeviceLimitError extends Error {
  constructor(
    readonly tooLarge: TensorSize[],
    readonly limit: number,
  ) {
    const list = tooLarge
      .slice(0, 3)
      .map((t) => `${t.what} (${(t.bytes / MiB).toFixed(0)} MiB)`)
      .join(", ");
    super(
      `webgpu: ${list}${tooLarge.length > 3 ? ` and ${tooLarge.length - 3} more` : ""} ${tooLarge.length === 1 ? "exceeds" : "exceed"} this WebGPU device's largest storage binding, ` +
        `${(limit / MiB).toFixed(0)} MiB (maxStorageBufferBindingSize; Mesa's software lavapipe has 128 MiB, a GPU usually more: \`alexnet engine\` prints this one's). ` +
        `The GPU would reject those tensors and training would produce garbage. Use a smaller batch (for layer outputs), ` +
        `a narrower model (fewer fc units, a smaller width), or another engine (ALEXNET_BACKEND=wasm).`,
    );
    this.name = "DeviceLimitError";
  }
}

/** Throws DeviceLimitError if a weight or a layer output of `model` at `batch` would not fit a storage binding of `limit` bytes. */
export function checkFitsDevice(model: tf.LayersModel, batch: number, limit: number | undefined = storageBindingLimit()): void {
  if (limit === undefined) return;
  const tooLarge = modelTensorSizes(model, batch).filter((t) => t.bytes > limit);
  if (tooLarge.length > 0) throw new DeviceLimitError(tooLarge, limit);
}
