// How AlexNet's weights start. The paper (section 5): weights from N(0, 0.01)
// in every layer; biases 1 in conv2, conv4, conv5 and the hidden FC layers
// ("accelerates the early stages of learning by providing the ReLUs with
// positive inputs"), 0 elsewhere. Caffe's bvlc_alexnet changed two things:
// biases 0.1 where the paper says 1 (1 gave a flat loss) and std 0.005 on fc6, fc7.
// Every layer draws from its own seed, derived from the model seed and the
// layer's name, so the same seed gives the same weights on every backend
// (tfjs draws random numbers in JavaScript, not in the backend).
import * as tf from "@tensorflow/tfjs";

// "he" is not the paper's: N(0, 2/fan_in) weights and zero biases (He et al. 2015), the
// start that lets a deep ReLU net learn from the first steps. The notebooks' short
// experiments use it; with the paper's N(0, 0.01) the small nets sit at chance for
// the few epochs a laptop can afford.
export type InitScheme = "paper" | "caffe" | "he";
export const INIT_SCHEMES: readonly InitScheme[] = ["paper", "caffe", "he"];

/** The layers an initialisation scheme speaks about, by their names in lib/model/alexnet.ts. */
export const WEIGHT_LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"] as const;
export type WeightLayerName = (typeof WEIGHT_LAYERS)[number];

export interface LayerInit {
  /** Standard deviation of the zero-mean normal the kernel is drawn from; NaN when it depends on the layer's fan-in ("he": sqrt(2 / fan_in)). */
  weightStd: number;
  /** The constant every bias starts at. */
  bias: number;
}

const PAPER_BIAS_ONE: readonly WeightLayerName[] = ["conv2", "conv4", "conv5", "fc6", "fc7"];

export function parseInitScheme(value: string): InitScheme {
  if ((INIT_SCHEMES as readonly string[]).includes(value)) return value as InitScheme;
  throw new Error(`init '${value}' is not an initialisation scheme; use one of ${INIT_SCHEMES.join(", ")}.`);
}

/** The weight std and bias constant of one layer under a scheme. */
export function layerInit(scheme: InitScheme, layer: string): LayerInit {
  parseInitScheme(scheme);
  if (!(WEIGHT_LAYERS as readonly string[]).includes(layer)) {
    throw new Error(`layerInit: '${layer}' is not an AlexNet weight layer; use one of ${WEIGHT_LAYERS.join(", ")}.`);
  }
  const biasOne = PAPER_BIAS_ONE.includes(layer as WeightLayerName);
  if (scheme === "paper") return { weightStd: 0.01, bias: biasOne ? 1 : 0 };
  if (scheme === "he") return { weightStd: NaN, bias: 0 };
  return { weightStd: layer === "fc6" || layer === "fc7" ? 0.005 : 0.01, bias: biasOne ? 0.1 : 0 };
}

/**
 * A layer's own seed: FNV-1a of "seed:name". Never 0, because tfjs treats a
 * falsy seed as "no seed" and draws from Math.random.
 */
export function layerSeed(seed: number, layer: string): number {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}.`);
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${layer}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h === 0 ? 1 : h;
}

/** tfjs does not export its Initializer class by name. */
export type Initializer = ReturnType<typeof tf.initializers.constant>;

export interface LayerInitializers {
  kernelInitializer: Initializer;
  biasInitializer: Initializer;
}

/**
 * The tfjs initialisers a layer is built with; they are saved in the model's JSON.
 * `hiddenBias` replaces the starting bias of the layers the paper starts at 1.
 */
export function layerInitializers(scheme: InitScheme, layer: string, seed: number, hiddenBias?: number): LayerInitializers {
  const init = layerInit(scheme, layer);
  const weightStd = init.weightStd;
  const bias = hiddenBias !== undefined && PAPER_BIAS_ONE.includes(layer as WeightLayerName) ? hiddenBias : init.bias;
  return {
    kernelInitializer:
      scheme === "he"
        ? tf.initializers.heNormal({ seed: layerSeed(seed, layer) })
        : tf.initializers.randomNormal({ mean: 0, stddev: weightStd, seed: layerSeed(seed, layer) }),
    biasInitializer: tf.initializers.constant({ value: bias }),
  };
}

export interface WeightStats {
  layer: string;
  /** Number of kernel values. */
  count: number;
  kernelMean: number;
  kernelStd: number;
  biasMin: number;
  biasMax: number;
}

/** Mean and std of every kernel and the range of every bias, for layers that have both. */
export function weightStats(model: tf.LayersModel): WeightStats[] {
  const rows: WeightStats[] = [];
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length !== 2) continue;
    const [kernel, bias] = weights;
    const k = kernel.dataSync();
    let sum = 0;
    for (let i = 0; i < k.length; i++) sum += k[i];
    const mean = sum / k.length;
    let sq = 0;
    for (let i = 0; i < k.length; i++) sq += (k[i] - mean) ** 2;
    const b = bias.dataSync();
    let lo = Infinity,
      hi = -Infinity;
    for (let i = 0; i < b.length; i++) {
      if (b[i] < lo) lo = b[i];
      if (b[i] > hi) hi = b[i];
    }
    rows.push({ layer: layer.name, count: k.length, kernelMean: mean, kernelStd: Math.sqrt(sq / k.length), biasMin: lo, biasMax: hi });
  }
  return rows;
}
