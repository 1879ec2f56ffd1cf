// What a built network looks like from inside, for notebook 05: how much of
// the image each layer sees (receptive field), how much memory its outputs
// take during training, what the two towers send each other, and how long each
// layer takes on the current engine. All read off the model's layers, so they
// follow any variant, size or option.
import * as tf from "@tensorflow/tfjs";

type Pair = number | number[];
const first = (v: Pair | undefined, fallback: number) => (v === undefined ? fallback : Array.isArray(v) ? v[0] : v);

function shapeOf(shape: tf.Shape | tf.Shape[]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as (number | null)[];
  if (s.slice(1).some((d) => d === null))
    throw new Error(`anatomy: a layer has an unknown size ${JSON.stringify(s)}; build the model with a fixed input size.`);
  return s.slice(1) as number[];
}

/** A layer's input shape without the batch axis (tfjs keeps it on the layer's inbound node). */
function inputShapeOf(layer: tf.layers.Layer): number[] {
  const node = layer.inboundNodes[0];
  if (!node) throw new Error(`anatomy: layer '${layer.name}' is not connected in a model.`);
  return shapeOf(node.inputShapes as tf.Shape | tf.Shape[]);
}

export interface ReceptiveField {
  name: string;
  /** Side of the input square one output unit depends on ("same" and zero padding included); for dense layers, the whole padded input. */
  size: number;
  /** Input pixels between neighbouring output units (the product of the strides so far). */
  jump: number;
  /** Whether the field covers the whole (padded) input. */
  wholeImage: boolean;
}

/**
 * The receptive field after every spatial layer and dense layer: r grows by
 * (k - 1) * jump at each window of side k, and jump multiplies by the stride.
 * At 224 the paper's conv1 units see 11x11 pixels and pool5's 195x195.
 */
export function receptiveFields(model: tf.LayersModel): ReceptiveField[] {
  const input = shapeOf(model.inputs[0].shape);
  let side = input[0];
  let size = 1;
  let jump = 1;
  const out: ReceptiveField[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const config = layer.getConfig() as { kernelSize?: Pair; strides?: Pair; poolSize?: Pair; padding?: unknown };
    if (cls === "ZeroPadding2D") {
      const p = config.padding;
      const pad = typeof p === "number" ? p : Array.isArray(p) ? first(p.flat() as number[], 0) : 0;
      side += 2 * pad;
      continue;
    }
    let k: number | undefined;
    let s = 1;
    if (cls === "Conv2D" || cls === "GroupedConv2D") {
      k = first(config.kernelSize, 1);
      s = first(config.strides, 1);
    } else if (cls === "MaxPooling2D" || cls === "AveragePooling2D") {
      k = first(config.poolSize, 2);
      s = first(config.strides, k);
    } else if (cls === "Dense") {
      size = side;
      out.push({ name: layer.name, size, jump, wholeImage: true });
      continue;
    }
    if (k === undefined) continue;
    size += (k - 1) * jump;
    jump *= s;
    out.push({ name: layer.name, size, jump, wholeImage: size >= side });
  }
  return out;
}

export interface ActivationMemory {
  name: string;
  /** Output values per image. */
  values: number;
  /** float32 bytes of the layer's output for the whole batch. */
  bytes: number;
}

/**
 * Bytes of every layer's output for one batch in float32: what training keeps
 * for the backward pass (and about as much again for their gradients while it
 * runs). Dropout's output is counted like any other layer's.
 */
export function activationMemory(model: tf.LayersModel, batch: number): { layers: ActivationMemory[]; totalBytes: number } {
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`activationMemory: batch must be a whole number >= 1, got ${batch}.`);
  const layers = model.layers
    .filter((l) => l.getClassName() !== "InputLayer")
    .map((l) => {
      const values = shapeOf(l.outputShape).reduce((a, b) => a * b, 1);
      return { name: l.name, values, bytes: 4 * values * batch };
    });
  return { layers, totalBytes: layers.reduce((a, l) => a + l.bytes, 0) };
}

/**
 * A floor on what training needs per card: every layer's outputs for the batch,
 * their gradients (as large, while the backward pass runs), and the weights with
 * their gradients and the momentum (3 x 4 bytes a parameter), split evenly over
 * `cards`. Convolution workspace and data buffers come on top.
 */
export function trainingMemoryPerCard(
  model: tf.LayersModel,
  batch: number,
  cards = 1,
): { activationBytes: number; weightStateBytes: number; perCardBytes: number } {
  if (!(Number.isInteger(cards) && cards >= 1)) throw new Error(`trainingMemoryPerCard: cards must be a whole number >= 1, got ${cards}.`);
  const activationBytes = activationMemory(model, batch).totalBytes;
  const weightStateBytes = 3 * 4 * model.countParams();
  return { activationBytes, weightStateBytes, perCardBytes: (2 * activationBytes + weightStateBytes) / cards };
}

export interface TowerTraffic {
  /** The layer whose input crosses between the towers. */
  into: string;
  /** Values each tower sends the other per image: its half of that layer's input. */
  valuesPerImage: number;
  /** float32 bytes each tower sends for a batch. */
  bytesPerBatch: number;
}

/**
 * What the two GPUs exchange (section 3.2: "the GPUs communicate only in certain
 * layers"). In a two-tower model every layer's units are split half and half; a
 * layer with weights that is not grouped (conv3, fc6, fc7, fc8) reads both
 * halves of its input, so each tower sends the other its half. conv1 reads the
 * image, which both GPUs hold. A one-tower model sends nothing.
 */
export function towerTraffic(model: tf.LayersModel, batch: number): TowerTraffic[] {
  const weighted = model.layers.filter((l) => ["Conv2D", "GroupedConv2D", "Dense"].includes(l.getClassName()));
  const twoTowers = weighted.some((l) => ((l.getConfig() as { groups?: number }).groups ?? 1) > 1);
  if (!twoTowers) return [];
  return weighted.slice(1).flatMap((l) => {
    if (((l.getConfig() as { groups?: number }).groups ?? 1) > 1) return [];
    const values = inputShapeOf(l).reduce((a, b) => a * b, 1) / 2;
    return [{ into: l.name, valuesPerImage: values, bytesPerBatch: 4 * values * batch }];
  });
}

export interface LayerTime {
  name: string;
  /** Median milliseconds of one forward pass of the layer on a batch. */
  ms: number;
}

/**
 * Times each layer's forward pass (inference) on a batch of random inputs of
 * its own input shape: a warm-up call, then the median of `repeats`. Measured
 * on whatever engine is active, so it shows where that engine spends its time.
 */
export async function timeLayers(model: tf.LayersModel, options: { batch?: number; repeats?: number } = {}): Promise<LayerTime[]> {
  const batch = options.batch ?? 1;
  const repeats = options.repeats ?? 3;
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`timeLayers: repeats must be a whole number >= 1, got ${repeats}.`);
  const out: LayerTime[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const x = tf.randomNormal([batch, ...inputShapeOf(layer)], 0, 1, "float32", 1);
    const run = async () => {
      const t0 = performance.now();
      const y = layer.apply(x, { training: false }) as tf.Tensor;
      await y.data();
      y.dispose();
      return performance.now() - t0;
    };
    try {
      await run();
      const times: number[] = [];
      for (let i = 0; i < repeats; i++) times.push(await run());
      times.sort((a, b) => a - b);
      out.push({ name: layer.name, ms: times[Math.floor(times.length / 2)] });
    } finally {
      x.dispose();
    }
  }
  return out;
}
