// Fine-tuning: start a run from trained weights instead of random ones, as
// torchvision users do with alexnet(pretrained=True) and a new last layer.
//
// The start point is a model folder (DIR/model.json + weights.bin + card.json,
// e.g. imported torchvision weights) or a training run folder (RUN/run.json
// and its checkpoints; the best one is taken, else the newest). replaceHead
// builds the same network for the new dataset's classes and copies every
// layer's weights except fc8, which starts as buildAlexNet would start it.
//
// Two ways to keep the pretrained features: freeze them (conv1..conv5 are not
// trained at all; only fc6..fc8 learn) or train them at a fraction of the
// learning rate (featuresLrMultipliers, Caffe's lr_mult).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { ALEXNET_VARIANTS, type AlexNetOptions, type AlexNetVariant, buildAlexNet } from "../model/alexnet";
import { CARD_FILE, type InputNormalization, readCard } from "../model/card";
import { loadModel, MODEL_FILE } from "../model/io";
import { type InputTransform, inputTransformFor, transformInput } from "../eval/evaluate";
import type { ProfileName } from "../profiles";
import { bestCheckpoint, CHECKPOINT_FILE, latestCheckpoint } from "./checkpoint";

// The trainer's RUN_CONFIG_FILE; not imported, since the trainer imports this module.
const RUN_FILE = "run.json";

/** The layers with weights before flatten in every variant: the convolutional features. */
export const FEATURE_LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"] as const;
/** The layer replaceHead re-initialises. */
export const HEAD_LAYER = "fc8";

/**
 * Epochs notebook 10 fine-tunes (and trains from scratch) for, per profile. Few:
 * with features frozen only the classifier learns, and on a CPU every epoch of
 * the full-width network at 224x224 costs minutes even with conv1..conv5 run forward only.
 */
export const FINETUNE_EPOCHS: Readonly<Record<ProfileName, number>> = { smoke: 2, laptop: 6, paper: 30 };

export type FreezeMode = "features" | "none";
export const FREEZE_MODES: readonly FreezeMode[] = ["features", "none"];

/** Where a fine-tuning run starts, read without loading any weights. */
export interface InitInfo {
  /** The folder as given (absolute). */
  dir: string;
  /** "model": a model folder with card.json; "run": a training run (or one of its checkpoints). */
  kind: "model" | "run";
  /** The folder model.json and weights.bin are read from: dir itself, or the run's checkpoint. */
  modelDir: string;
  variant: AlexNetVariant;
  /** The options the network was built with, numClasses and inputSize included. */
  modelOptions: AlexNetOptions;
  /** Names of the outputs, when known (a card; a run whose dataset is still there). */
  classes?: string[];
  /**
   * Per-channel normalisation the weights expect: (pixel - mean[c]) * scale[c] on
   * pixels without mean subtraction. A model card's; a run's if it started from one.
   * Without it the weights expect the loader's mean-image subtraction.
   */
  input?: InputNormalization;
  /** The factor applied after that (a run's inputScale; 1 for a card). */
  inputScale: number;
  /** Where the weights came from, for the reader. */
  source: string;
}

export interface InitModel extends InitInfo {
  /** Every layer trainable; the caller disposes it. */
  model: tf.LayersModel;
}

/** The fields of a run's run.json this module reads (lib/train/trainer.ts RunConfig). */
interface SavedRun {
  model?: AlexNetVariant;
  modelOptions?: AlexNetOptions;
  inputScale?: number;
  input?: InputNormalization;
  data?: string;
  init?: string;
}

const WHAT_TO_PASS = `pass a model folder (model.json + ${CARD_FILE}, e.g. from \`alexnet import-torch\`) or a training run folder (${RUN_FILE} + checkpoints/, from \`alexnet train --out RUN\`)`;

function readJson<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (err) {
    throw new Error(`init: ${file} is not valid JSON (${(err as Error).message}); ${what}.`);
  }
}

/** Units of fc8 as model.json's weight manifest records them (no tensors loaded). */
function headUnitsInFile(modelDir: string): number {
  const file = path.join(modelDir, MODEL_FILE);
  const json = readJson<{ weightsManifest?: { weights?: { name: string; shape: number[] }[] }[] }>(file, "save the model again");
  for (const group of json.weightsManifest ?? []) {
    for (const w of group.weights ?? []) if (w.name === `${HEAD_LAYER}/bias`) return w.shape[0];
  }
  throw new Error(`init: ${file} has no ${HEAD_LAYER}/bias weight; it is not an AlexNet from lib/model/alexnet.ts.`);
}

function datasetClasses(dataDir: string | undefined): string[] | undefined {
  if (dataDir === undefined) return undefined;
  try {
    const m = JSON.parse(readFileSync(path.join(dataDir, "manifest.json"), "utf8")) as { classes?: unknown };
    return Array.isArray(m.classes) ? (m.classes as string[]) : undefined;
  } catch {
    return undefined; // the dataset may be gone; the class names are only a convenience
  }
}

function describeRun(runDir: string, checkpoint: string, given: string): InitInfo {
  const saved = readJson<SavedRun>(path.join(runDir, RUN_FILE), "the run's settings are unreadable; pass another run or a model folder");
  if (!saved.model || !(ALEXNET_VARIANTS as readonly string[]).includes(saved.model) || !saved.modelOptions) {
    throw new Error(`init: ${path.join(runDir, RUN_FILE)} names no AlexNet variant and model options; it was not written by \`alexnet train\`.`);
  }
  const numClasses = headUnitsInFile(checkpoint);
  return {
    dir: given,
    kind: "run",
    modelDir: checkpoint,
    variant: saved.model,
    modelOptions: { ...saved.modelOptions, numClasses },
    classes: datasetClasses(saved.data),
    ...(saved.input ? { input: saved.input } : {}),
    inputScale: saved.inputScale ?? 1,
    source: `run ${runDir}, checkpoint ${path.basename(checkpoint)}`,
  };
}

/**
 * What a start point holds (variant, options, classes, input normalisation),
 * read from its JSON files only. dir is a model folder, a run folder (its best
 * checkpoint, else its newest) or one checkpoint folder of a run.
 */
export function describeInit(dir: string): InitInfo {
  const given = path.resolve(dir);
  if (!existsSync(given)) throw new Error(`init: ${given} does not exist; ${WHAT_TO_PASS}.`);
  if (existsSync(path.join(given, RUN_FILE))) {
    const checkpoint = bestCheckpoint(given) ?? latestCheckpoint(given);
    if (!checkpoint) throw new Error(`init: the run ${given} has no finished epoch (no checkpoints/epoch-NNNN); train it for an epoch first (\`alexnet train --out ${given} --resume\`), or pass another folder.`);
    return describeRun(given, checkpoint, given);
  }
  if (existsSync(path.join(given, CHECKPOINT_FILE))) {
    // RUN/checkpoints/epoch-NNNN: the run's settings are two folders up.
    const runDir = path.dirname(path.dirname(given));
    if (!existsSync(path.join(runDir, RUN_FILE))) throw new Error(`init: ${given} is a checkpoint, but ${path.join(runDir, RUN_FILE)} is missing, so its network is unknown; pass the whole run folder.`);
    return describeRun(runDir, given, given);
  }
  if (existsSync(path.join(given, MODEL_FILE))) {
    if (!existsSync(path.join(given, CARD_FILE))) {
      throw new Error(`init: ${given} has ${MODEL_FILE} but no ${CARD_FILE}, so its variant and input normalisation are unknown; write one with writeCard (lib/model/card.ts), re-import it with \`alexnet import-torch\`, or pass the run folder it came from.`);
    }
    const card = readCard(given);
    if (!(ALEXNET_VARIANTS as readonly string[]).includes(card.variant)) throw new Error(`init: ${path.join(given, CARD_FILE)} names variant '${card.variant}'; use one of ${ALEXNET_VARIANTS.join(", ")}.`);
    return {
      dir: given,
      kind: "model",
      modelDir: given,
      variant: card.variant,
      modelOptions: { ...card.modelOptions, numClasses: card.modelOptions.numClasses ?? card.classes.length },
      classes: card.classes,
      input: card.input,
      inputScale: 1,
      source: card.source,
    };
  }
  throw new Error(`init: ${given} is neither a model folder nor a training run (no ${MODEL_FILE}, ${CARD_FILE} or ${RUN_FILE}); ${WHAT_TO_PASS}.`);
}

/** describeInit plus the weights, as a LayersModel with every layer trainable. */
export async function loadInitModel(dir: string): Promise<InitModel> {
  const info = describeInit(dir);
  const model = await loadModel(info.modelDir);
  // A checkpoint of a frozen run saves its layers as not trainable; the new run decides.
  for (const layer of model.layers) layer.trainable = true;
  return { ...info, model };
}

/** Outputs of a model's fc8: the classes it was trained for. */
export function headClasses(model: tf.LayersModel): number {
  const head = model.layers.find((l) => l.name === HEAD_LAYER);
  if (!head) throw new Error(`model "${model.name}" has no layer named ${HEAD_LAYER}; it is not an AlexNet from lib/model/alexnet.ts.`);
  const shape = head.outputShape as number[];
  return shape[shape.length - 1];
}

function shapeText(t: { shape: readonly (number | null)[] }): string {
  return `[${t.shape.join(",")}]`;
}

/**
 * Copies the weights of every layer of `to` that has weights, except those in
 * `skip`, from the layer of the same name in `from`; shapes must match.
 */
export function copyLayerWeights(from: tf.LayersModel, to: tf.LayersModel, skip: readonly string[] = []): string[] {
  const copied: string[] = [];
  for (const layer of to.layers) {
    if (layer.weights.length === 0 || skip.includes(layer.name)) continue;
    const source = from.layers.find((l) => l.name === layer.name);
    if (!source) throw new Error(`copyLayerWeights: the init model has no layer named ${layer.name}; start from a model of the same variant.`);
    const a = source.weights;
    const b = layer.weights;
    if (a.length !== b.length) throw new Error(`copyLayerWeights: layer ${layer.name} has ${a.length} weights in the init model but ${b.length} in the new network; start from a model of the same variant.`);
    b.forEach((w, i) => {
      if (!tf.util.arraysEqual(a[i].shape as number[], w.shape as number[])) {
        throw new Error(
          `copyLayerWeights: ${w.originalName} is ${shapeText(a[i])} in the init model but ${shapeText(w)} in the new network; build the new network with the init model's options (inputSize, widthMultiplier, fcUnits).`,
        );
      }
    });
    layer.setWeights(source.getWeights());
    copied.push(layer.name);
  }
  return copied;
}

export interface ReplaceHeadOptions {
  /** Seed of the new fc8 (lib/model/init.ts: it depends on the seed and the layer name only). Default: the model's. */
  seed?: number;
  /** Initialisation scheme of the new fc8. Default: the model's. */
  init?: AlexNetOptions["init"];
  /** Copy fc8 too (numClasses must equal the model's). Default false. */
  keepHead?: boolean;
  /** Options that differ in the new network and carry no weights (e.g. dropout). */
  modelOptions?: AlexNetOptions;
}

/**
 * A new LayersModel of the same variant with numClasses outputs: every layer's
 * weights copied from source.model except fc8, which is freshly initialised as
 * buildAlexNet(variant, {...modelOptions, numClasses, seed}) would do it. The
 * source model is left as it was (the caller disposes it).
 */
export function replaceHead(source: Pick<InitModel, "model" | "variant" | "modelOptions">, numClasses: number, options: ReplaceHeadOptions = {}): tf.LayersModel {
  const before = headClasses(source.model);
  if (options.keepHead && numClasses !== before) {
    throw new Error(`replaceHead: keepHead needs the same number of classes, but the model has ${before} and ${numClasses} were asked for; leave keepHead out to start a new ${HEAD_LAYER}.`);
  }
  const merged: AlexNetOptions = { ...source.modelOptions, ...options.modelOptions, numClasses };
  if (options.seed !== undefined) merged.seed = options.seed;
  if (options.init !== undefined) merged.init = options.init;
  const target = buildAlexNet(source.variant, merged);
  try {
    copyLayerWeights(source.model, target, options.keepHead ? [] : [HEAD_LAYER]);
  } catch (err) {
    target.dispose();
    throw err;
  }
  return target;
}

/** Names of the layers with weights before flatten (conv1..conv5 in every variant). */
export function featureLayerNames(model: tf.LayersModel): string[] {
  const end = model.layers.findIndex((l) => l.name === "flatten");
  if (end < 0) throw new Error(`model "${model.name}" has no layer named flatten, so its features cannot be told from its classifier; use an AlexNet from lib/model/alexnet.ts.`);
  return model.layers.slice(0, end).filter((l) => l.weights.length > 0).map((l) => l.name);
}

/**
 * "features": conv1..conv5 stop training (layer.trainable = false, so they drop
 * out of model.trainableWeights, which trainStep and the checkpoint's velocities
 * use); "none": every layer trains. Returns the frozen layers' names.
 */
export function freeze(model: tf.LayersModel, what: FreezeMode): string[] {
  if (!(FREEZE_MODES as readonly string[]).includes(what)) throw new Error(`freeze: '${String(what)}' is not a freeze mode; use one of ${FREEZE_MODES.join(", ")}.`);
  const features = new Set(what === "features" ? featureLayerNames(model) : []);
  for (const layer of model.layers) layer.trainable = !features.has(layer.name);
  return [...features];
}

/**
 * PaperSGD's lrMultipliers: `scale` for the feature layers' variables, 1 for the
 * rest. Matched by the model's own variable names (tfjs appends _1, _2 to the
 * names of a second model's variables, so "conv1/kernel" alone would not do).
 */
export function featuresLrMultipliers(model: tf.LayersModel, scale: number): (variableName: string) => number {
  if (!(Number.isFinite(scale) && scale >= 0)) throw new Error(`featuresLrMultipliers: scale must be a finite number >= 0, got ${String(scale)}.`);
  const names = new Set<string>();
  for (const name of featureLayerNames(model)) for (const w of model.getLayer(name).weights) names.add(w.name);
  return (variableName) => (names.has(variableName) ? scale : 1);
}

/**
 * The network's input from a batch of pixels (0..255, NHWC): the per-channel
 * normalisation (x - mean[c]) * scale[c] when given, then times inputScale.
 * Returns xs itself when there is nothing to do; otherwise a new tensor the
 * caller disposes.
 */
export function normalizeInput(xs: tf.Tensor, options: { input?: InputNormalization; inputScale?: number }): tf.Tensor {
  return tf.tidy(() => transformInput(xs as tf.Tensor4D, inputTransform(options)));
}

/** The same as an InputTransform (offset, then scale) for evaluateModel and feature extraction. */
export function inputTransform(options: { input?: InputNormalization; inputScale?: number }): InputTransform {
  const scale = options.inputScale ?? 1;
  if (!options.input) return { inputScale: scale };
  const t = inputTransformFor(options.input);
  return { inputOffset: t.inputOffset, inputScale: t.inputScale.map((s) => s * scale) as [number, number, number] };
}
