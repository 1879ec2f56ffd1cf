// Local response normalisation across channels (paper section 3.3), as a
// function, a tfjs layer that saves and loads, and the table that maps the
// paper's numbers onto the settings of TensorFlow, PyTorch, Caffe and
// cuda-convnet, which do not all mean the same thing by "alpha".
//
//   b[c] = a[c] / (k + alpha * sum_{j=max(0,c-n/2)}^{min(N-1,c+n/2)} a[j]^2)^beta
//
// NHWC (channels last), as everywhere in this course.
import * as tf from "@tensorflow/tfjs";
import type { BaseLayerArgs } from "./layer-args";

/**
 * What alpha multiplies. "paper": the plain sum of squares, as the paper's
 * formula and TensorFlow. "divided-by-size": the mean over the window
 * (alpha / n times the sum), as Caffe, PyTorch and cuda-convnet.
 */
export type AlphaConvention = "paper" | "divided-by-size";
export const ALPHA_CONVENTIONS: readonly AlphaConvention[] = ["paper", "divided-by-size"];

export interface LrnConfig {
  /** n: how many adjacent channels are summed, centred on the channel; odd. Default 5. */
  size?: number;
  /** Additive constant. Default 2. */
  k?: number;
  /** Scale of the sum of squares, read in `alphaConvention`. Default 1e-4. */
  alpha?: number;
  /** Exponent. Default 0.75. */
  beta?: number;
  /** Default "paper". */
  alphaConvention?: AlphaConvention;
}

/** An LrnConfig with every field present and checked. */
export interface LrnSettings {
  size: number;
  k: number;
  alpha: number;
  beta: number;
  alphaConvention: AlphaConvention;
}

/** The paper's numbers: k = 2, n = 5, alpha = 1e-4, beta = 0.75, alpha times the plain sum. */
export const PAPER_LRN: Readonly<LrnSettings> = Object.freeze({ size: 5, k: 2, alpha: 1e-4, beta: 0.75, alphaConvention: "paper" });

/** Fills in defaults and rejects settings that are not an LRN, naming the field and the fix. */
export function resolveLrnConfig(config: LrnConfig = {}): LrnSettings {
  const s: LrnSettings = {
    size: config.size ?? PAPER_LRN.size,
    k: config.k ?? PAPER_LRN.k,
    alpha: config.alpha ?? PAPER_LRN.alpha,
    beta: config.beta ?? PAPER_LRN.beta,
    alphaConvention: config.alphaConvention ?? PAPER_LRN.alphaConvention,
  };
  if (!Number.isInteger(s.size) || s.size < 1 || s.size % 2 === 0) {
    throw new Error(
      `LRN size must be a positive odd integer so the window is centred on its channel; got ${s.size}. Use 5 (the paper's n) or another odd number.`,
    );
  }
  if (!Number.isFinite(s.k) || s.k <= 0) {
    throw new Error(`LRN k must be a finite number > 0 (it keeps the denominator away from 0); got ${s.k}. The paper uses k = 2.`);
  }
  if (!Number.isFinite(s.alpha) || s.alpha < 0) {
    throw new Error(`LRN alpha must be a finite number >= 0; got ${s.alpha}. The paper uses alpha = 1e-4.`);
  }
  if (!Number.isFinite(s.beta) || s.beta < 0) {
    throw new Error(
      `LRN beta must be a finite number >= 0 (a negative beta would amplify, not normalise); got ${s.beta}. The paper uses beta = 0.75.`,
    );
  }
  if (!ALPHA_CONVENTIONS.includes(s.alphaConvention)) {
    throw new Error(
      `LRN alphaConvention must be one of ${ALPHA_CONVENTIONS.map((c) => `"${c}"`).join(", ")}; got ${JSON.stringify(s.alphaConvention)}.`,
    );
  }
  return s;
}

/** The factor that multiplies the plain sum of squares, whatever the convention. */
export function effectiveAlpha(config: LrnConfig = {}): number {
  const s = resolveLrnConfig(config);
  return s.alphaConvention === "divided-by-size" ? s.alpha / s.size : s.alpha;
}

/** True when the active backend has both tfjs kernels LRN and LRNGrad (forward and gradient). */
export function hasLrnKernels(backend: string = tf.getBackend()): boolean {
  return tf.getKernel("LRN", backend) !== undefined && tf.getKernel("LRNGrad", backend) !== undefined;
}

/**
 * "kernel": tf.localResponseNormalization (the backend's LRN and LRNGrad kernels).
 * "ops": the window sum as a convolution over the channel axis, from ops every backend differentiates.
 * "auto": the kernel when the backend has both, else ops. The kernel is faster on wasm and cpu.
 */
export type LrnImplementation = "auto" | "kernel" | "ops";

function checkNhwc(x: tf.Tensor, what: string): void {
  if (x.rank !== 4) {
    throw new Error(
      `${what} expects a 4-D NHWC tensor [batch, height, width, channels]; got shape [${x.shape.join(", ")}]. Add a batch axis with x.expandDims(0) for one image.`,
    );
  }
  if (x.dtype !== "float32") {
    throw new Error(`${what} expects float32 values; got ${x.dtype}. Convert with x.toFloat().`);
  }
}

/** Local response normalisation of an NHWC tensor across its channels. */
export function lrn(x: tf.Tensor4D, config: LrnConfig = {}, implementation: LrnImplementation = "auto"): tf.Tensor4D {
  checkNhwc(x, "lrn");
  const s = resolveLrnConfig(config);
  const alpha = effectiveAlpha(s);
  const radius = (s.size - 1) / 2;
  let useKernel: boolean;
  switch (implementation) {
    case "auto":
      useKernel = hasLrnKernels();
      break;
    case "kernel":
      if (!hasLrnKernels()) {
        throw new Error(`lrn: backend '${tf.getBackend()}' lacks the LRN or LRNGrad kernel; use implementation "ops" or "auto".`);
      }
      useKernel = true;
      break;
    case "ops":
      useKernel = false;
      break;
    default:
      throw new Error(`lrn: implementation must be "auto", "kernel" or "ops"; got ${JSON.stringify(implementation)}.`);
  }
  if (useKernel) return tf.localResponseNormalization(x, radius, s.k, alpha, s.beta);
  return tf.tidy(() => {
    const sums = lrnWindowSums(x, s.size);
    return tf.div(x, tf.pow(tf.add(tf.mul(sums, alpha), s.k), s.beta)) as tf.Tensor4D;
  });
}

/** S = the sum of a^2 over each unit's window of `size` maps (clipped at the first and last): what alpha multiplies. */
export function lrnWindowSums(x: tf.Tensor4D, size: number): tf.Tensor4D {
  checkNhwc(x, "lrnWindowSums");
  if (!(Number.isInteger(size) && size >= 1 && size % 2 === 1))
    throw new Error(`lrnWindowSums: size must be an odd whole number, got ${size}.`);
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    // Each pixel's channel vector becomes a 1-D signal; convolving its squares with n ones
    // ("same" padding: (n-1)/2 zeros each side) gives the paper's clipped window sum.
    const squares = tf.reshape(tf.square(x), [b * h * w, c, 1]) as tf.Tensor3D;
    const window = tf.ones([size, 1, 1]) as tf.Tensor3D;
    return tf.reshape(tf.conv1d(squares, window, 1, "same"), x.shape) as tf.Tensor4D;
  });
}

/**
 * How much a unit's output changes, relatively, between two LRN settings at
 * window sum S: b = a / (k + alpha S)^beta, so |b_to / b_from - 1|. While
 * alpha S is small against k the divisors are both about k^beta and the change
 * is small; once alpha S passes k, it tends to (alpha_from / alpha_to)^beta - 1.
 * That is why one change of alpha can matter a lot on loud activations and
 * hardly at all on quiet ones.
 */
export function lrnRelativeChange(S: number, from: LrnConfig, to: LrnConfig): number {
  if (!(S >= 0)) throw new Error(`lrnRelativeChange: S is a sum of squares (>= 0), got ${S}.`);
  const f = resolveLrnConfig(from);
  const t = resolveLrnConfig(to);
  return Math.abs((f.k + effectiveAlpha(f) * S) ** f.beta / (t.k + effectiveAlpha(t) * S) ** t.beta - 1);
}

// Layers see unknown sizes as null; show them, where join() would print nothing.
function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(", ")}]`;
}

export interface LrnLayerArgs extends LrnConfig, BaseLayerArgs {}

/** The LRN as a tfjs layer; no weights. Saves its settings in the convention they were given in. */
export class LocalResponseNormalization extends tf.layers.Layer {
  static className = "LocalResponseNormalization";
  readonly settings: LrnSettings;

  constructor(config: LrnLayerArgs = {}) {
    const { size, k, alpha, beta, alphaConvention, ...layerArgs } = config;
    super(layerArgs);
    this.settings = resolveLrnConfig({ size, k, alpha, beta, alphaConvention });
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4) {
      throw new Error(
        `LocalResponseNormalization '${this.name}' expects NHWC input [batch, height, width, channels]; got shape ${formatShape(shape)}.`,
      );
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    return lrn(x, this.settings);
  }

  override getConfig(): tf.serialization.ConfigDict {
    const { size, k, alpha, beta, alphaConvention } = this.settings;
    return { ...super.getConfig(), size, k, alpha, beta, alphaConvention };
  }
}
tf.serialization.registerClass(LocalResponseNormalization);

/** Factory in the style of tf.layers.*: localResponseNormalization({ name: "lrn1" }) gives the paper's LRN. */
export function localResponseNormalization(config: LrnLayerArgs = {}): LocalResponseNormalization {
  return new LocalResponseNormalization(config);
}

// ---------------------------------------------------------------------------
// Conventions across frameworks.

export type LrnFramework = "course" | "paper" | "tensorflow" | "pytorch" | "caffe" | "cuda-convnet";
export const LRN_FRAMEWORKS: readonly LrnFramework[] = ["course", "paper", "tensorflow", "pytorch", "caffe", "cuda-convnet"];

/** One framework's LRN settings, under that framework's own parameter names. */
export type FrameworkLrnSettings =
  | { framework: "course"; size: number; k: number; alpha: number; beta: number; alphaConvention: AlphaConvention }
  | { framework: "paper"; n: number; k: number; alpha: number; beta: number }
  | { framework: "tensorflow"; depthRadius: number; bias: number; alpha: number; beta: number }
  | { framework: "pytorch"; size: number; alpha: number; beta: number; k: number }
  | { framework: "caffe"; localSize: number; alpha: number; beta: number; k: number }
  | { framework: "cuda-convnet"; size: number; scale: number; pow: number; minDiv: number };

// 12 significant digits: 1e-4 * 5 prints as 0.0005, not 0.0005000000000000001; far below float32 resolution.
function tidy(v: number): number {
  return Number(v.toPrecision(12));
}

/** The same LRN in the other alpha convention (the function computed is unchanged). */
export function convertLrnConvention(config: LrnConfig, to: AlphaConvention): LrnSettings {
  const s = resolveLrnConfig(config);
  if (!ALPHA_CONVENTIONS.includes(to)) {
    throw new Error(
      `convertLrnConvention: target must be one of ${ALPHA_CONVENTIONS.map((c) => `"${c}"`).join(", ")}; got ${JSON.stringify(to)}.`,
    );
  }
  const plain = effectiveAlpha(s);
  return { ...s, alpha: tidy(to === "divided-by-size" ? plain * s.size : plain), alphaConvention: to };
}

/** The settings that make `framework` compute the same function as `config`. */
export function toFrameworkLrn(config: LrnConfig, framework: LrnFramework): FrameworkLrnSettings {
  const s = resolveLrnConfig(config);
  const plain = tidy(effectiveAlpha(s));
  const divided = tidy(effectiveAlpha(s) * s.size);
  switch (framework) {
    case "course":
      return { framework, size: s.size, k: s.k, alpha: s.alpha, beta: s.beta, alphaConvention: s.alphaConvention };
    case "paper":
      return { framework, n: s.size, k: s.k, alpha: plain, beta: s.beta };
    case "tensorflow":
      return { framework, depthRadius: (s.size - 1) / 2, bias: s.k, alpha: plain, beta: s.beta };
    case "pytorch":
      return { framework, size: s.size, alpha: divided, beta: s.beta, k: s.k };
    case "caffe":
      return { framework, localSize: s.size, alpha: divided, beta: s.beta, k: s.k };
    case "cuda-convnet":
      return { framework, size: s.size, scale: divided, pow: s.beta, minDiv: s.k };
    default:
      throw new Error(`toFrameworkLrn: framework must be one of ${LRN_FRAMEWORKS.join(", ")}; got ${JSON.stringify(framework)}.`);
  }
}

/** A course LrnConfig (in `alphaConvention`) that computes what the framework's settings compute. */
export function fromFrameworkLrn(settings: FrameworkLrnSettings, alphaConvention: AlphaConvention = "paper"): LrnSettings {
  let paper: LrnConfig;
  switch (settings.framework) {
    case "course":
      paper = { size: settings.size, k: settings.k, alpha: settings.alpha, beta: settings.beta, alphaConvention: settings.alphaConvention };
      break;
    case "paper":
      paper = { size: settings.n, k: settings.k, alpha: settings.alpha, beta: settings.beta };
      break;
    case "tensorflow":
      if (!Number.isInteger(settings.depthRadius) || settings.depthRadius < 0) {
        throw new Error(`fromFrameworkLrn: TensorFlow depthRadius must be an integer >= 0; got ${settings.depthRadius}.`);
      }
      paper = { size: 2 * settings.depthRadius + 1, k: settings.bias, alpha: settings.alpha, beta: settings.beta };
      break;
    case "pytorch":
      paper = { size: settings.size, k: settings.k, alpha: settings.alpha, beta: settings.beta, alphaConvention: "divided-by-size" };
      break;
    case "caffe":
      paper = { size: settings.localSize, k: settings.k, alpha: settings.alpha, beta: settings.beta, alphaConvention: "divided-by-size" };
      break;
    case "cuda-convnet":
      paper = { size: settings.size, k: settings.minDiv, alpha: settings.scale, beta: settings.pow, alphaConvention: "divided-by-size" };
      break;
    default:
      throw new Error(
        `fromFrameworkLrn: unknown framework ${JSON.stringify((settings as { framework: unknown }).framework)}; use one of ${LRN_FRAMEWORKS.join(", ")}.`,
      );
  }
  return convertLrnConvention(paper, alphaConvention);
}

/** How to write the settings in that framework. */
export function frameworkLrnCode(settings: FrameworkLrnSettings): string {
  switch (settings.framework) {
    case "course": {
      const conv = settings.alphaConvention === "paper" ? "" : `, alphaConvention: "${settings.alphaConvention}"`;
      return `localResponseNormalization({ size: ${settings.size}, k: ${settings.k}, alpha: ${settings.alpha}, beta: ${settings.beta}${conv} })`;
    }
    case "paper":
      return `b = a / (${settings.k} + ${settings.alpha} * sum of a^2 over ${settings.n} adjacent maps)^${settings.beta}`;
    case "tensorflow":
      return `tf.localResponseNormalization(x, ${settings.depthRadius}, ${settings.bias}, ${settings.alpha}, ${settings.beta})  # Python: tf.nn.local_response_normalization(x, depth_radius=${settings.depthRadius}, bias=${settings.bias}, alpha=${settings.alpha}, beta=${settings.beta})`;
    case "pytorch":
      return `torch.nn.LocalResponseNorm(size=${settings.size}, alpha=${settings.alpha}, beta=${settings.beta}, k=${settings.k})`;
    case "caffe":
      return `lrn_param { local_size: ${settings.localSize} alpha: ${settings.alpha} beta: ${settings.beta} k: ${settings.k} }`;
    case "cuda-convnet":
      return `type=cmrnorm size=${settings.size} scale=${settings.scale} pow=${settings.pow} minDiv=${settings.minDiv}`;
  }
}

export interface LrnConventionRow {
  /** Who, e.g. "PyTorch". */
  label: string;
  /** True when the framework divides its alpha by the window size. */
  alphaDividedBySize: boolean;
  settings: FrameworkLrnSettings;
  code: string;
}

const LABELS: Record<LrnFramework, string> = {
  course: "this course",
  paper: "paper, section 3.3",
  tensorflow: "TensorFlow / TF.js",
  pytorch: "PyTorch",
  caffe: "Caffe",
  "cuda-convnet": "cuda-convnet(2) cmrnorm",
};

/**
 * One LRN written for every framework: each row computes the same function.
 * Two rows for this course, one per alpha convention.
 */
export function lrnConventionTable(config: LrnConfig = PAPER_LRN): LrnConventionRow[] {
  const rows: LrnConventionRow[] = [];
  for (const convention of ALPHA_CONVENTIONS) {
    const settings = toFrameworkLrn(convertLrnConvention(config, convention), "course");
    rows.push({
      label: `${LABELS.course} (${convention})`,
      alphaDividedBySize: convention === "divided-by-size",
      settings,
      code: frameworkLrnCode(settings),
    });
  }
  for (const framework of LRN_FRAMEWORKS) {
    if (framework === "course") continue;
    const settings = toFrameworkLrn(config, framework);
    rows.push({
      label: LABELS[framework],
      alphaDividedBySize: framework === "pytorch" || framework === "caffe" || framework === "cuda-convnet",
      settings,
      code: frameworkLrnCode(settings),
    });
  }
  return rows;
}

/**
 * What the reference implementations actually ran (alexnet-facts.md), in each
 * one's own terms; fromFrameworkLrn turns them into the paper's convention.
 */
export const LRN_AS_RUN: readonly { source: string; settings: FrameworkLrnSettings }[] = [
  { source: "paper, section 3.3 (the formula as printed)", settings: { framework: "paper", n: 5, k: 2, alpha: 1e-4, beta: 0.75 } },
  {
    source: "original 2012 code and akrizhevsky/cuda-convnet2 (scale divided by size in code)",
    settings: { framework: "cuda-convnet", size: 5, scale: 1e-4, pow: 0.75, minDiv: 2 },
  },
  { source: "BVLC/caffe models/bvlc_alexnet", settings: { framework: "caffe", localSize: 5, alpha: 1e-4, beta: 0.75, k: 1 } },
];

/**
 * What LRN divides each active unit by: a / b for every unit with a > minActivity
 * (units near 0 give 0/0). k^beta alone when the neighbours are quiet; more
 * where maps are loud.
 */
export function lrnDivisors(x: tf.Tensor4D, config: LrnConfig = {}, minActivity = 1): number[] {
  const out = lrn(x, config);
  const a = x.dataSync();
  const b = out.dataSync();
  out.dispose();
  const divisors: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] > minActivity) divisors.push(a[i] / b[i]);
  return divisors;
}

export interface LrnSettingsEffect {
  /** Units with a > 0 (b = 0 under any setting for the others). */
  units: number;
  /** alpha S / k of `from` over the active units, S its window sum: how far the neighbour term is from negligible. */
  medianLoad: number;
  largestLoad: number;
  /** |b_to / b_from - 1| over the active units, as lrn computes it. */
  meanChange: number;
  largestChange: number;
  /** lrnRelativeChange at the largest S: what the formula says the largest change is. */
  changeAtLargestS: number;
}

/**
 * How much switching LRN settings from `from` to `to` changes the outputs on
 * activations x, and why: how large alpha S gets against k (while it is small
 * both divisors are about k^beta; past k their ratio tends to the ratio of the
 * alphas to the power beta). Window sums use `from`'s size.
 */
export function lrnSettingsEffect(x: tf.Tensor4D, from: LrnConfig, to: LrnConfig): LrnSettingsEffect {
  const f = resolveLrnConfig(from);
  const alpha = effectiveAlpha(f);
  const [S, bFrom, bTo] = [lrnWindowSums(x, f.size), lrn(x, from), lrn(x, to)];
  const a = x.dataSync(),
    sums = S.dataSync(),
    p = bFrom.dataSync(),
    c = bTo.dataSync();
  tf.dispose([S, bFrom, bTo]);
  const loads: number[] = [];
  let largestChange = 0,
    changeSum = 0,
    largestS = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] <= 0) continue;
    loads.push((alpha * sums[i]) / f.k);
    const change = Math.abs(c[i] / p[i] - 1);
    largestChange = Math.max(largestChange, change);
    changeSum += change;
    largestS = Math.max(largestS, sums[i]);
  }
  if (loads.length === 0) throw new Error("lrnSettingsEffect: no unit is active (a > 0); LRN changes nothing there.");
  loads.sort((u, v) => u - v);
  return {
    units: loads.length,
    medianLoad: loads[Math.floor(loads.length / 2)],
    largestLoad: loads[loads.length - 1],
    meanChange: changeSum / loads.length,
    largestChange,
    changeAtLargestS: lrnRelativeChange(largestS, from, to),
  };
}
