// The AlexNet family as tfjs LayersModels, one builder for four variants.
//
// Layer names are stable across variants and say what each layer is: pad1,
// conv1, lrn1, pool1, conv2, lrn2, pool2, conv3, conv4, conv5, pool5, flatten,
// fc6, dropout6, fc7, dropout7, fc8 (torchvision: dropout5, fc6, dropout6, fc7, fc8).
// ReLU is fused into each conv and hidden FC layer, so conv1's output is
// already rectified, as the paper's LRN expects ("applied after the ReLU").
//
// The model outputs LOGITS (fc8 has no activation): training wants them for
// tf.losses.softmaxCrossEntropy, and torchvision's weights end in logits too.
// `probabilities` and `predictProbabilities` give the paper's softmax.
//
// Dropout: the paper zeroes "the output of each hidden neuron" of fc6 and fc7,
// so paper, paper-1tower and mini drop fc6's and fc7's outputs (after ReLU,
// as Caffe's drop6/drop7 do). torchvision drops the inputs of fc6 and fc7
// instead (Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear): its dropout5
// drops the flattened pool5, dropout6 drops fc6's output, and fc7's output is
// not dropped. Dropout layers have no seed: tfjs reuses a seeded layer's mask
// on every step.
//
// LRN: lrn1 and lrn2 normalise across all channels, as Caffe does. The 2012 code
// normalised each GPU's half separately; the two differ only at the towers'
// border, where the two channels either side (46-49 after conv1) have one or two
// neighbours from the other tower in their window of 5.
//
// Flatten order: tfjs flattens pool5 as (row, column, channel); PyTorch as
// (channel, row, column). Importing torchvision's fc6 therefore permutes the
// rows of its weight once; every other layer maps one to one.
import * as tf from "@tensorflow/tfjs";
import { type InitScheme, layerInitializers, parseInitScheme } from "./init";
import { groupedConv2d } from "./layers/grouped-conv";
import { localResponseNormalization } from "./layers/lrn";

export type AlexNetVariant = "paper" | "paper-1tower" | "torchvision" | "mini";
export type Pooling = "overlapping" | "non-overlapping";
/** Window and stride of each pooling scheme. */
export const POOLING: Readonly<Record<Pooling, { size: number; stride: number }>> = {
  overlapping: { size: 3, stride: 2 },
  "non-overlapping": { size: 2, stride: 2 },
};
export const ALEXNET_VARIANTS: readonly AlexNetVariant[] = ["paper", "paper-1tower", "torchvision", "mini"];
/** The last layer, one unit per class: fine-tuning replaces it, a saved model's class count is read from it. */
export const HEAD_LAYER = "fc8";

export interface AlexNetOptions {
  /** Side of the square RGB input. Default 224 (mini: 128). See conv1Arithmetic. */
  inputSize?: number;
  /** Default 1000 (mini: 10, the embedded dataset's classes). */
  numClasses?: number;
  /** Dropout rate on the two dropout layers. Default 0.5. */
  dropout?: number;
  /** Scales every conv and hidden FC width. Default 1 (mini: 0.25). */
  widthMultiplier?: number;
  /** Units of fc6 and fc7. Default 4096 x widthMultiplier (mini: half that: 512 at 0.25). */
  fcUnits?: number;
  /** Initialisation scheme (lib/model/init.ts). Default "paper". */
  init?: InitScheme;
  /**
   * Max-pooling windows: "overlapping" 3x3 at stride 2, the paper's (section 3.4), or
   * "non-overlapping" 2x2 at stride 2, the traditional scheme it compares with.
   */
  pooling?: Pooling;
  /** Seed of the initial weights. Default 1. */
  seed?: number;
  /** Local response normalisation after conv1 and conv2. Default true (torchvision: false). */
  lrn?: boolean;
  /**
   * 2: the paper's two towers (paper, mini). 1: the net section 3.2 compares
   * them with, "a net with half as many kernels in each convolutional layer
   * trained on one GPU": no groups and half the kernels of conv1..conv4, with
   * conv5 and the FC layers at full size, as the paper's footnote says its
   * one-GPU net kept them. Only for the two-tower variants.
   */
  towers?: 1 | 2;
  /** Build without this middle convolutional layer (section 3.5: "removing any of the middle layers" costs about 2% top-1). */
  omitConv?: "conv3" | "conv4";
  /** The starting bias of conv2, conv4, conv5, fc6 and fc7, in place of the scheme's (paper: 1; section 5 says it "accelerates the early stages of learning"). */
  hiddenBias?: number;
}

export interface ConvPlan {
  name: "conv1" | "conv2" | "conv3" | "conv4" | "conv5";
  filters: number;
  kernelSize: number;
  strides: number;
  /** Zero padding on each side. conv1 gets it from a separate pad1 layer; the others use "same". */
  padding: number;
  groups: number;
  /** Side of the output feature map. */
  outputSize: number;
}

/** Everything buildAlexNet decides before it builds: resolved options, widths and spatial sizes. */
export interface AlexNetPlan {
  variant: AlexNetVariant;
  inputSize: number;
  numClasses: number;
  dropout: number;
  widthMultiplier: number;
  fcUnits: number;
  init: InitScheme;
  seed: number;
  lrn: boolean;
  /** "outputs": dropout on fc6's and fc7's outputs (paper, Caffe); "inputs": on fc6's and fc7's inputs (torchvision). */
  dropoutOn: "outputs" | "inputs";
  pooling: Pooling;
  towers: 1 | 2;
  /** The convolutional layers built, in order (an omitted one is not among them). */
  convs: ConvPlan[];
  omitConv?: "conv3" | "conv4";
  hiddenBias?: number;
  pool1Size: number;
  pool2Size: number;
  pool5Size: number;
  /** Length of the flattened pool5: fc6's input. */
  flattenSize: number;
}

interface VariantDefaults {
  inputSize: number;
  numClasses: number;
  widthMultiplier: number;
  /** fc6/fc7 units per unit of widthMultiplier. */
  fcBase: number;
  widths: [number, number, number, number, number];
  kernels: [number, number, number, number, number];
  groups: [number, number, number, number, number];
  lrn: boolean;
  dropoutOn: "outputs" | "inputs";
}

const PAPER_WIDTHS: [number, number, number, number, number] = [96, 256, 384, 384, 256];
const PAPER_KERNELS: [number, number, number, number, number] = [11, 5, 3, 3, 3];
// Two towers: conv2, conv4 and conv5 see only their own GPU's half of the previous layer.
const TWO_TOWERS: [number, number, number, number, number] = [1, 2, 1, 2, 2];
const ONE_TOWER: [number, number, number, number, number] = [1, 1, 1, 1, 1];

const DEFAULTS: Record<AlexNetVariant, VariantDefaults> = {
  paper: {
    inputSize: 224,
    numClasses: 1000,
    widthMultiplier: 1,
    fcBase: 4096,
    widths: PAPER_WIDTHS,
    kernels: PAPER_KERNELS,
    groups: TWO_TOWERS,
    lrn: true,
    dropoutOn: "outputs",
  },
  "paper-1tower": {
    inputSize: 224,
    numClasses: 1000,
    widthMultiplier: 1,
    fcBase: 4096,
    widths: PAPER_WIDTHS,
    kernels: PAPER_KERNELS,
    groups: ONE_TOWER,
    lrn: true,
    dropoutOn: "outputs",
  },
  // "One weird trick" (arXiv 1404.5997) widths, as in torchvision/models/alexnet.py.
  torchvision: {
    inputSize: 224,
    numClasses: 1000,
    widthMultiplier: 1,
    fcBase: 4096,
    widths: [64, 192, 384, 256, 256],
    kernels: PAPER_KERNELS,
    groups: ONE_TOWER,
    lrn: false,
    dropoutOn: "inputs",
  },
  // The paper's structure at a quarter of its widths and 128x128 inputs, for a CPU:
  // 19 M multiply-adds per image against 724 M. At 128 (padding 2, like 224) every
  // 3/2 pool is exact as in the full network (conv1 31, pools 15, 7, 3; there 55,
  // 27, 13, 6); 96 would leave pool5 2x2, 64 1x1. fc6/fc7 get half the scaled
  // width (512): ten classes need far less than 4096.
  mini: {
    inputSize: 128,
    numClasses: 10,
    widthMultiplier: 0.25,
    fcBase: 2048,
    widths: PAPER_WIDTHS,
    kernels: PAPER_KERNELS,
    groups: TWO_TOWERS,
    lrn: true,
    dropoutOn: "outputs",
  },
};

/** conv1: 11x11 kernels at stride 4, in every variant. */
export const CONV1_KERNEL = 11;
export const CONV1_STRIDE = 4;

export interface Conv1Arithmetic {
  inputSize: number;
  /** Zero padding on each side. */
  padding: number;
  /** (inputSize + 2 padding - 11) / 4 + 1, before any rounding. */
  exact: number;
  integral: boolean;
  /** Windows that fit: floor(exact), what tfjs, PyTorch and Caffe compute. */
  outputSize: number;
  /** Columns at the far edge (padding first, then image) that no window reads. */
  unreadColumns: number;
  /** How many of the unread columns are image pixels rather than padding. */
  unreadImageColumns: number;
  /** ceil(exact): cuda-convnet's count, whose last window overhangs the far edge (reading zeros). */
  ceilSize: number;
}

/**
 * conv1's output size for a square input. 227 with no padding gives exactly 55
 * (Caffe). 224 gives 54.25 without padding and 55.25 with torchvision's
 * padding 2: both floor, but with padding 2 the one unread column is padding,
 * so every image pixel is read and the output is 55x55. The 2012 code
 * (cuda-convnet) took 224 with no padding and rounded up to 55: its last
 * windows hang 3 pixels past the edge.
 */
export function conv1Arithmetic(inputSize: number, padding: number): Conv1Arithmetic {
  if (!Number.isInteger(inputSize) || inputSize < 1)
    throw new Error(`conv1Arithmetic: inputSize must be a positive integer, got ${inputSize}.`);
  if (!Number.isInteger(padding) || padding < 0)
    throw new Error(`conv1Arithmetic: padding must be a non-negative integer, got ${padding}.`);
  const span = inputSize + 2 * padding - CONV1_KERNEL;
  if (span < 0)
    throw new Error(
      `conv1Arithmetic: inputSize ${inputSize} with padding ${padding} is smaller than conv1's ${CONV1_KERNEL}x${CONV1_KERNEL} kernel.`,
    );
  const exact = span / CONV1_STRIDE + 1;
  const unread = span % CONV1_STRIDE;
  return {
    inputSize,
    padding,
    exact,
    integral: unread === 0,
    outputSize: Math.floor(exact),
    unreadColumns: unread,
    unreadImageColumns: Math.max(0, unread - padding),
    ceilSize: Math.ceil(exact),
  };
}

/** Output side of a valid max-pool (3/2 in AlexNet), rounding down as tfjs and PyTorch do. */
export function pooledSize(size: number, poolSize = 3, stride = 2): number {
  return size < poolSize ? 0 : Math.floor((size - poolSize) / stride) + 1;
}

function nearestFitting(inputSize: number): string {
  let below = inputSize - 1;
  while (below > 0 && !fitsConv1(below)) below--;
  let above = inputSize + 1;
  while (!fitsConv1(above)) above++;
  return below > 0 ? `${below} or ${above}` : `${above}`;
}

function fitsConv1(inputSize: number): boolean {
  return inputSize % 4 === 3 || inputSize % 4 === 0;
}

/**
 * conv1's padding for an input size, for the two cases the references use:
 * 0 when the 11x11/4 windows tile the input exactly (inputSize = 3 mod 4,
 * Caffe's 227), 2 as torchvision when inputSize = 0 mod 4 (224: the windows
 * read every image pixel and leave one padding column over). Other sizes are
 * refused rather than scanned off-centre or with image columns dropped.
 */
export function conv1Padding(inputSize: number): number {
  if (!Number.isInteger(inputSize) || inputSize < CONV1_KERNEL) {
    throw new Error(`inputSize must be an integer of at least ${CONV1_KERNEL} (conv1's kernel), got ${inputSize}.`);
  }
  if (inputSize % 4 === 3) return 0;
  if (inputSize % 4 === 0) return 2;
  const valid = conv1Arithmetic(inputSize, 0);
  const padded = conv1Arithmetic(inputSize, 2);
  throw new Error(
    `inputSize ${inputSize} does not fit conv1 (11x11, stride 4): (${inputSize}-11)/4+1 = ${valid.exact} without padding ` +
      `and (${inputSize}+4-11)/4+1 = ${padded.exact} with padding 2, not whole numbers. Use a size that is 3 mod 4 ` +
      `(no padding: the windows tile it exactly, like Caffe's 227) or 0 mod 4 (padding 2, like torchvision's 224: one padding column is left over), e.g. ${nearestFitting(inputSize)}.`,
  );
}

function checkPositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${what} must be a positive integer, got ${value}.`);
}

function scaledWidth(base: number, multiplier: number, multipleOf: number): number {
  return Math.max(multipleOf, Math.round((base * multiplier) / multipleOf) * multipleOf);
}

/** Resolves options, widths and spatial sizes, and checks them, without building anything. */
export function planAlexNet(variant: AlexNetVariant, options: AlexNetOptions = {}): AlexNetPlan {
  if (!(ALEXNET_VARIANTS as readonly string[]).includes(variant)) {
    throw new Error(`AlexNet variant '${variant}' is unknown; use one of ${ALEXNET_VARIANTS.join(", ")}.`);
  }
  const d = DEFAULTS[variant];
  const inputSize = options.inputSize ?? d.inputSize;
  const numClasses = options.numClasses ?? d.numClasses;
  const dropout = options.dropout ?? 0.5;
  const widthMultiplier = options.widthMultiplier ?? d.widthMultiplier;
  const init = parseInitScheme(options.init ?? "paper");
  const seed = options.seed ?? 1;
  const lrn = options.lrn ?? d.lrn;
  const twoTowers = d.groups.some((g) => g > 1);
  const towers = options.towers ?? (twoTowers ? 2 : 1);
  if (towers !== 1 && towers !== 2) throw new Error(`towers is 1 or 2, got ${JSON.stringify(towers)}.`);
  if (towers === 2 && !twoTowers) throw new Error(`the ${variant} variant has one tower; towers: 2 needs paper or mini.`);
  if (options.towers === 1 && !twoTowers)
    throw new Error(`towers: 1 halves a two-tower net's kernels (section 3.2); the ${variant} variant has one tower already.`);
  if (options.omitConv !== undefined && options.omitConv !== "conv3" && options.omitConv !== "conv4")
    throw new Error(`omitConv is "conv3" or "conv4" (a middle layer), got ${JSON.stringify(options.omitConv)}.`);
  if (options.hiddenBias !== undefined && !Number.isFinite(options.hiddenBias))
    throw new Error(`hiddenBias must be a number, got ${options.hiddenBias}.`);
  const groups = towers === 2 ? d.groups : ONE_TOWER;
  // The one-GPU net of section 3.2: half the kernels of conv1..conv4; conv5 (fc6's input) as it was.
  const baseWidths = towers === 2 || !twoTowers ? d.widths : (d.widths.map((w, i) => (i < 4 ? w / 2 : w)) as typeof d.widths);
  checkPositiveInteger(numClasses, "numClasses");
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`dropout is a rate in [0, 1), got ${dropout}; the paper uses 0.5.`);
  if (!(widthMultiplier > 0 && Number.isFinite(widthMultiplier)))
    throw new Error(`widthMultiplier must be a positive number, got ${widthMultiplier}.`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}.`);
  const fcUnits = options.fcUnits ?? Math.max(1, Math.round(d.fcBase * widthMultiplier));
  checkPositiveInteger(fcUnits, "fcUnits");

  // torchvision always pads conv1 by 2; the others pad only when the input needs it.
  checkPositiveInteger(inputSize, "inputSize");
  const pad1 = variant === "torchvision" ? 2 : conv1Padding(inputSize);
  const a1 = conv1Arithmetic(inputSize, pad1);
  const c1 = a1.outputSize;
  const pooling = options.pooling ?? "overlapping";
  if (!POOLING[pooling]) throw new Error(`pooling must be "overlapping" or "non-overlapping", got ${JSON.stringify(pooling)}.`);
  const { size: poolWindow, stride: poolStride } = POOLING[pooling];
  const pool1Size = pooledSize(c1, poolWindow, poolStride);
  const pool2Size = pooledSize(pool1Size, poolWindow, poolStride);
  const pool5Size = pooledSize(pool2Size, poolWindow, poolStride);
  if (variant === "torchvision" && pool5Size !== 6) {
    throw new Error(
      `torchvision's AdaptiveAvgPool2d((6, 6)) is only an identity when pool5 is 6x6, for inputSize 223 to 230; inputSize ${inputSize} gives pool5 ${pool5Size}x${pool5Size}. ` +
        `Use inputSize 224, or the 'paper' or 'mini' variant for other sizes.`,
    );
  }
  if (pool5Size < 1) {
    throw new Error(
      `inputSize ${inputSize} is too small: conv1 gives ${c1}x${c1}, pool1 ${pool1Size}x${pool1Size}, pool2 ${pool2Size}x${pool2Size}, pool5 ${pool5Size}x${pool5Size}; the smallest inputs that reach pool5 are 64 and 67.`,
    );
  }

  // A grouped conv splits its filters and its input channels by groups, so a width must divide by
  // its own groups and by the next layer's (groups are 1 or 2, so the larger of the two).
  const multipleOf = (i: number) => Math.max(groups[i], i < 4 ? groups[i + 1] : 1);
  const widths = baseWidths.map((w, i) => scaledWidth(w, widthMultiplier, multipleOf(i)));
  const sizes = [c1, pool1Size, pool2Size, pool2Size, pool2Size];
  const names = ["conv1", "conv2", "conv3", "conv4", "conv5"] as const;
  const convs: ConvPlan[] = names
    .map((name, i) => ({
      name,
      filters: widths[i],
      kernelSize: d.kernels[i],
      strides: i === 0 ? CONV1_STRIDE : 1,
      padding: i === 0 ? pad1 : (d.kernels[i] - 1) / 2,
      groups: groups[i],
      outputSize: sizes[i],
    }))
    .filter((c) => c.name !== options.omitConv);
  return {
    variant,
    inputSize,
    numClasses,
    dropout,
    widthMultiplier,
    fcUnits,
    init,
    seed,
    lrn,
    dropoutOn: d.dropoutOn,
    pooling,
    towers,
    convs,
    ...(options.omitConv ? { omitConv: options.omitConv } : {}),
    ...(options.hiddenBias !== undefined ? { hiddenBias: options.hiddenBias } : {}),
    pool1Size,
    pool2Size,
    pool5Size,
    flattenSize: pool5Size * pool5Size * widths[4],
  };
}

function convLayer(plan: AlexNetPlan, c: ConvPlan): tf.layers.Layer {
  const common = {
    filters: c.filters,
    kernelSize: c.kernelSize,
    strides: c.strides,
    // conv1's padding comes from pad1; 'same' at stride 1 with an odd kernel pads (k-1)/2 each side, like PyTorch.
    padding: (c.name === "conv1" ? "valid" : "same") as "valid" | "same",
    activation: "relu" as const,
    name: c.name,
    ...layerInitializers(plan.init, c.name, plan.seed, plan.hiddenBias),
  };
  return c.groups > 1 ? groupedConv2d({ ...common, groups: c.groups }) : tf.layers.conv2d(common);
}

function denseLayer(plan: AlexNetPlan, name: "fc6" | "fc7" | "fc8", units: number, activation: "relu" | "linear"): tf.layers.Layer {
  return tf.layers.dense({ units, activation, name, ...layerInitializers(plan.init, name, plan.seed, plan.hiddenBias) });
}

/** The tfjs model for a plan from planAlexNet. */
export function buildAlexNetFromPlan(plan: AlexNetPlan): tf.LayersModel {
  const { size: poolSize, stride: poolStride } = POOLING[plan.pooling];
  const pool = (name: string) => tf.layers.maxPooling2d({ poolSize, strides: poolStride, padding: "valid", name });
  const lrn = (name: string) => localResponseNormalization({ size: 5, k: 2, alpha: 1e-4, beta: 0.75, alphaConvention: "paper", name });
  const dropout = (name: string) => tf.layers.dropout({ rate: plan.dropout, name });
  const conv = (name: ConvPlan["name"]) => plan.convs.find((c) => c.name === name);
  const [c1, c2, c3, c4, c5] = (["conv1", "conv2", "conv3", "conv4", "conv5"] as const).map(conv);

  const input = tf.input({ shape: [plan.inputSize, plan.inputSize, 3], name: "input" });
  let x: tf.SymbolicTensor = input;
  const apply = (layer: tf.layers.Layer) => {
    x = layer.apply(x) as tf.SymbolicTensor;
  };
  if (c1!.padding > 0) apply(tf.layers.zeroPadding2d({ padding: c1!.padding, name: "pad1" }));
  apply(convLayer(plan, c1!));
  if (plan.lrn) apply(lrn("lrn1"));
  apply(pool("pool1"));
  apply(convLayer(plan, c2!));
  if (plan.lrn) apply(lrn("lrn2"));
  apply(pool("pool2"));
  for (const c of [c3, c4]) if (c) apply(convLayer(plan, c));
  apply(convLayer(plan, c5!));
  apply(pool("pool5"));
  apply(tf.layers.flatten({ name: "flatten" }));
  if (plan.dropoutOn === "inputs") {
    apply(dropout("dropout5"));
    apply(denseLayer(plan, "fc6", plan.fcUnits, "relu"));
    apply(dropout("dropout6"));
    apply(denseLayer(plan, "fc7", plan.fcUnits, "relu"));
  } else {
    apply(denseLayer(plan, "fc6", plan.fcUnits, "relu"));
    apply(dropout("dropout6"));
    apply(denseLayer(plan, "fc7", plan.fcUnits, "relu"));
    apply(dropout("dropout7"));
  }
  apply(denseLayer(plan, HEAD_LAYER, plan.numClasses, "linear"));
  return tf.model({ inputs: input, outputs: x, name: `alexnet-${plan.variant}` });
}

/**
 * Builds an AlexNet variant with freshly initialised weights; the output is
 * logits [batch, numClasses] for NHWC float inputs [batch, S, S, 3].
 * - paper: two towers as groups=2 on conv2, conv4, conv5; LRN; 60,965,224 parameters at 1000 classes.
 * - paper-1tower: the same without groups; 62,378,344.
 * - torchvision: 64-192-384-256-256, no LRN, torchvision's dropout; 61,100,840.
 * - mini: the paper's structure at width 0.25, FC 512, 128x128 inputs, 10 classes.
 */
export function buildAlexNet(variant: AlexNetVariant, options: AlexNetOptions = {}): tf.LayersModel {
  return buildAlexNetFromPlan(planAlexNet(variant, options));
}

/** Softmax over the last axis: the paper's class probabilities from the model's logits. */
export function probabilities(logits: tf.Tensor): tf.Tensor {
  return tf.softmax(logits);
}

/** Runs the model in inference mode and returns class probabilities [batch, numClasses]. */
export function predictProbabilities(model: tf.LayersModel, images: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => tf.softmax(model.predict(images) as tf.Tensor2D));
}
