// torchvision's AlexNet state dict → our "torchvision" variant. The networks
// are the same; only the layouts differ:
//   conv    torch [out, in, kh, kw]  → tfjs [kh, kw, in, out]
//   dense   torch [out, in]          → tfjs [in, out]
//   fc6     also reorders its inputs: torch flattens pool5 channels first
//           (c, h, w), tfjs channels last (h, w, c).
// Widths and class count are read from the tensors, so a width-reduced copy of
// torchvision's network imports as well as alexnet-owt-7be5be79.pth.
import { existsSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { IMAGENET_CLASS_COUNT, imagenetClassNames } from "../../data/imagenet";
import { type AlexNetOptions, buildAlexNet, planAlexNet } from "../alexnet";
import { sha256File } from "../../files";
import { checkOutputFolder } from "../../folders";
import { CARD_FILE, IMAGENET_NORMALIZATION, type ModelCard, readCard, writeCard } from "../card";
import { MODEL_FILE, WEIGHTS_FILE, saveModel } from "../io";
import { type CheckpointFormat, type StateDict, detectCheckpointFormat, readPyTorchCheckpoint } from "./pytorch";
import { readSafetensors } from "./safetensors";
import { EVAL_DIR, isRunFolder, RUN_CONFIG_FILE } from "../../run/run";

export type TorchvisionLayer = "conv1" | "conv2" | "conv3" | "conv4" | "conv5" | "fc6" | "fc7" | "fc8";

/** Our layer → torchvision's module path (features.N, classifier.N in torchvision/models/alexnet.py). */
export const TORCHVISION_MODULES: Readonly<Record<TorchvisionLayer, string>> = {
  conv1: "features.0",
  conv2: "features.3",
  conv3: "features.6",
  conv4: "features.8",
  conv5: "features.10",
  fc6: "classifier.1",
  fc7: "classifier.4",
  fc8: "classifier.6",
};

const CONVS = ["conv1", "conv2", "conv3", "conv4", "conv5"] as const;
/** pool5 is 6x6 at 224x224 input, where torchvision's AdaptiveAvgPool2d((6, 6)) does nothing. */
const POOL5_SIDE = 6;

function shapeText(shape: readonly number[] | undefined): string {
  return shape ? `[${shape.join(", ")}]` : "missing";
}

/** Drops DataParallel's "module." prefix when every key has it. */
function unwrapped(stateDict: StateDict): StateDict {
  const keys = [...stateDict.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith("module."))) return stateDict;
  return new Map([...stateDict].map(([k, v]) => [k.slice("module.".length), v]));
}

/**
 * The buildAlexNet("torchvision", ...) options whose weights have exactly these
 * tensors' shapes: numClasses, fcUnits, and the widthMultiplier that scales
 * torchvision's widths (64, 192, 384, 256, 256) to the convs'. Throws, listing
 * names and shapes, when keys are missing or unexpected or shapes disagree.
 */
export function inferTorchvisionOptions(stateDict: StateDict): AlexNetOptions {
  const sd = unwrapped(stateDict);
  const expected = Object.values(TORCHVISION_MODULES).flatMap((m) => [`${m}.weight`, `${m}.bias`]);
  const missing = expected.filter((k) => !sd.has(k));
  const unexpected = [...sd.keys()].filter((k) => !expected.includes(k));
  if (missing.length || unexpected.length) {
    const lines = [
      ...(missing.length ? [`missing: ${missing.join(", ")}`] : []),
      ...(unexpected.length ? [`unexpected: ${unexpected.map((k) => `${k} ${shapeText(sd.get(k)?.shape)}`).join(", ")}`] : []),
    ];
    throw new Error(`This is not torchvision's AlexNet state dict (keys ${expected.join(", ")}):\n  ${lines.join("\n  ")}`);
  }
  const shape = (k: string) => (sd.get(k) as { shape: number[] }).shape;
  const widths = CONVS.map((c) => shape(`${TORCHVISION_MODULES[c]}.weight`)[0]);
  const fcUnits = shape("classifier.1.weight")[0];
  const numClasses = shape("classifier.6.weight")[0];
  const kernels = [11, 5, 3, 3, 3];
  const want: Record<string, number[]> = {};
  CONVS.forEach((c, i) => {
    const m = TORCHVISION_MODULES[c];
    want[`${m}.weight`] = [widths[i], i === 0 ? 3 : widths[i - 1], kernels[i], kernels[i]];
    want[`${m}.bias`] = [widths[i]];
  });
  want["classifier.1.weight"] = [fcUnits, widths[4] * POOL5_SIDE * POOL5_SIDE];
  want["classifier.1.bias"] = [fcUnits];
  want["classifier.4.weight"] = [fcUnits, fcUnits];
  want["classifier.4.bias"] = [fcUnits];
  want["classifier.6.weight"] = [numClasses, fcUnits];
  want["classifier.6.bias"] = [numClasses];
  const wrong = expected.filter((k) => shapeText(shape(k)) !== shapeText(want[k]));
  if (wrong.length) {
    throw new Error(
      `The tensors' shapes do not fit together as torchvision's AlexNet:\n  ${wrong.map((k) => `${k} is ${shapeText(shape(k))}, expected ${shapeText(want[k])}`).join("\n  ")}`,
    );
  }
  // The variant scales every width by one multiplier (alexnet.ts scaledWidth): find the one that gives these.
  const base = planAlexNet("torchvision").convs.map((c) => c.filters);
  for (const widthMultiplier of widths.map((w, i) => w / base[i])) {
    const options: AlexNetOptions = { inputSize: 224, numClasses, widthMultiplier, fcUnits };
    if (planAlexNet("torchvision", options).convs.every((c, i) => c.filters === widths[i])) return options;
  }
  throw new Error(
    `The conv widths ${shapeText(widths)} are not torchvision's ${shapeText(base)} scaled by a single widthMultiplier, so the "torchvision" variant cannot hold them.`,
  );
}

/** torch conv weight [out, in, kh, kw] → tfjs kernel [kh, kw, in, out]. */
export function convKernel(weight: Float32Array, [out, inC, kh, kw]: readonly number[]): Float32Array {
  const k = new Float32Array(weight.length);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inC; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++) k[((y * kw + x) * inC + i) * out + o] = weight[((o * inC + i) * kh + y) * kw + x];
  return k;
}

/** torch linear weight [out, in] → tfjs kernel [in, out]. */
export function denseKernel(weight: Float32Array, out: number, inputs: number): Float32Array {
  const k = new Float32Array(weight.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inputs; i++) k[i * out + o] = weight[o * inputs + i];
  return k;
}

/**
 * fc6's torch weight [out, C*S*S], whose columns follow torch's flatten of
 * pool5 (c, h, w), → tfjs kernel [S*S*C, out], whose rows follow tfjs' flatten
 * (h, w, c): tfjs row (h*S + w)*C + c takes torch column c*S*S + h*S + w.
 */
export function fc6Kernel(weight: Float32Array, out: number, channels: number, side: number): Float32Array {
  const inputs = channels * side * side;
  if (weight.length !== out * inputs) throw new Error(`fc6Kernel: expected ${out} x ${inputs} weights, got ${weight.length}.`);
  const k = new Float32Array(weight.length);
  for (let h = 0; h < side; h++)
    for (let w = 0; w < side; w++)
      for (let c = 0; c < channels; c++) {
        const row = (h * side + w) * channels + c;
        const column = c * side * side + h * side + w;
        for (let o = 0; o < out; o++) k[row * out + o] = weight[o * inputs + column];
      }
  return k;
}

/** Each layer's [kernel, bias] in tfjs layout, with the kernel's tfjs shape. */
export function torchvisionWeights(
  stateDict: StateDict,
): Map<TorchvisionLayer, { kernel: Float32Array; kernelShape: number[]; bias: Float32Array }> {
  const sd = unwrapped(stateDict);
  inferTorchvisionOptions(sd);
  const out = new Map<TorchvisionLayer, { kernel: Float32Array; kernelShape: number[]; bias: Float32Array }>();
  for (const layer of Object.keys(TORCHVISION_MODULES) as TorchvisionLayer[]) {
    const m = TORCHVISION_MODULES[layer];
    const w = sd.get(`${m}.weight`) as { shape: number[]; data: Float32Array };
    const bias = (sd.get(`${m}.bias`) as { data: Float32Array }).data;
    if (w.shape.length === 4) {
      const [o, i, kh, kw] = w.shape;
      out.set(layer, { kernel: convKernel(w.data, w.shape), kernelShape: [kh, kw, i, o], bias });
    } else {
      const [o, i] = w.shape;
      const kernel = layer === "fc6" ? fc6Kernel(w.data, o, i / (POOL5_SIDE * POOL5_SIDE), POOL5_SIDE) : denseKernel(w.data, o, i);
      out.set(layer, { kernel, kernelShape: [i, o], bias });
    }
  }
  return out;
}

export interface TorchvisionBuildOptions {
  /** Dropout rate of the built model (inactive at inference). Default 0.5, torchvision's. */
  dropout?: number;
}

/** Builds our "torchvision" variant with the state dict's weights; the output is logits. */
export function stateDictToTorchvision(stateDict: StateDict, options: TorchvisionBuildOptions = {}): tf.LayersModel {
  const modelOptions = { ...inferTorchvisionOptions(stateDict), ...(options.dropout === undefined ? {} : { dropout: options.dropout }) };
  const weights = torchvisionWeights(stateDict);
  const model = buildAlexNet("torchvision", modelOptions);
  for (const [layer, { kernel, kernelShape, bias }] of weights) {
    const tensors = [tf.tensor(kernel, kernelShape), tf.tensor1d(bias)];
    model.getLayer(layer).setWeights(tensors);
    tf.dispose(tensors);
  }
  return model;
}

/** Reads a state dict from a .pth (zip or legacy) or .safetensors file, telling them apart by their bytes. */
export async function readStateDict(file: string): Promise<{ format: CheckpointFormat; stateDict: StateDict }> {
  const format = await detectCheckpointFormat(file);
  const stateDict = format === "safetensors" ? await readSafetensors(file) : await readPyTorchCheckpoint(file);
  return { format, stateDict };
}

/** The source a model folder's card names, or undefined when the card cannot be read. */
function readCardSource(dir: string): string | undefined {
  try {
    return readCard(dir).source;
  } catch {
    return undefined;
  }
}

/** Output names: ImageNet's 1000 classes for 1000 outputs, otherwise "class 0".."class N-1". */
export function classNamesFor(numClasses: number): string[] {
  if (numClasses === IMAGENET_CLASS_COUNT) return imagenetClassNames();
  return Array.from({ length: numClasses }, (_, i) => `class ${i}`);
}

export interface TorchvisionImport {
  model: tf.LayersModel;
  card: ModelCard;
  format: CheckpointFormat;
  /** Weights in the model. */
  parameters: number;
  sha256: string;
  /** Where model.json, weights.bin and card.json were written, when an outDir was given. */
  outDir?: string;
}

/**
 * Imports a torchvision AlexNet checkpoint; with outDir, saves the model and its
 * card.json there. outDir must be empty, or hold an import of the same file
 * (imported again); `force` replaces another model and writes beside other files.
 */
export async function importTorchvision(file: string, outDir?: string, options: { force?: boolean } = {}): Promise<TorchvisionImport> {
  // A folder with both run.json and card.json would be read as a run by eval and as a model by predict.
  if (outDir !== undefined && isRunFolder(outDir))
    throw new Error(
      `${outDir} holds a training run (${RUN_CONFIG_FILE}); import into a folder of its own, e.g. --out ${path.join(path.dirname(outDir), "torchvision")}.`,
    );
  const [{ format, stateDict }, sha256] = await Promise.all([readStateDict(file), sha256File(file)]);
  const source = `${path.basename(file)} sha256:${sha256}`;
  if (outDir !== undefined) {
    const sameImport = existsSync(path.join(outDir, CARD_FILE)) && readCardSource(outDir) === source;
    checkOutputFolder(outDir, {
      kind: "a model",
      own: [MODEL_FILE, WEIGHTS_FILE, CARD_FILE, EVAL_DIR],
      continuing: sameImport,
      force: options.force,
      continueHint: "import the same file into it again",
    });
  }
  const modelOptions = inferTorchvisionOptions(stateDict);
  const model = stateDictToTorchvision(stateDict);
  const card: ModelCard = {
    variant: "torchvision",
    modelOptions,
    classes: classNamesFor(modelOptions.numClasses as number),
    input: IMAGENET_NORMALIZATION,
    source,
  };
  if (outDir !== undefined) {
    await saveModel(model, outDir);
    writeCard(outDir, card);
  }
  return { model, card, format, parameters: model.countParams(), sha256, ...(outDir === undefined ? {} : { outDir }) };
}
