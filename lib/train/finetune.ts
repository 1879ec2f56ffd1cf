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
import * as tf from "@tensorflow/tfjs";
import { type AlexNetOptions, buildAlexNet, HEAD_LAYER } from "../model/alexnet";
import { loadModel } from "../model/io";
import type { ProfileName } from "../profiles";
import { describeTrained, type TrainedInfo } from "../run/describe";
import { FREEZE_MODES, type FreezeMode } from "../run/run";

/** The layers with weights before flatten in every variant: the convolutional features. */
export const FEATURE_LAYERS = ["conv1", "conv2", "conv3", "conv4", "conv5"] as const;

/**
 * Epochs notebook 10 fine-tunes (and trains from scratch) for, per profile. Few:
 * with features frozen only the classifier learns, and on a CPU every epoch of
 * the full-width network at 224x224 costs minutes even with conv1..conv5 run forward only.
 */
export const FINETUNE_EPOCHS: Readonly<Record<ProfileName, number>> = { smoke: 2, laptop: 6, paper: 30 };

export interface InitModel extends TrainedInfo {
  /** Every layer trainable; the caller disposes it. */
  model: tf.LayersModel;
}

/** describeTrained (lib/run/describe.ts) plus the weights, as a LayersModel with every layer trainable. */
export async function loadInitModel(dir: string): Promise<InitModel> {
  const info = describeTrained(dir, { role: "init" });
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
    if (!source)
      throw new Error(`copyLayerWeights: the init model has no layer named ${layer.name}; start from a model of the same variant.`);
    const a = source.weights;
    const b = layer.weights;
    if (a.length !== b.length)
      throw new Error(
        `copyLayerWeights: layer ${layer.name} has ${a.length} weights in the init model but ${b.length} in the new network; start from a model of the same variant.`,
      );
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
export function replaceHead(
  source: Pick<InitModel, "model" | "variant" | "modelOptions">,
  numClasses: number,
  options: ReplaceHeadOptions = {},
): tf.LayersModel {
  const before = headClasses(source.model);
  if (options.keepHead && numClasses !== before) {
    throw new Error(
      `replaceHead: keepHead needs the same number of classes, but the model has ${before} and ${numClasses} were asked for; leave keepHead out to start a new ${HEAD_LAYER}.`,
    );
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
  if (end < 0)
    throw new Error(
      `model "${model.name}" has no layer named flatten, so its features cannot be told from its classifier; use an AlexNet from lib/model/alexnet.ts.`,
    );
  return model.layers
    .slice(0, end)
    .filter((l) => l.weights.length > 0)
    .map((l) => l.name);
}

/**
 * "features": conv1..conv5 stop training (layer.trainable = false, so they drop
 * out of model.trainableWeights, which trainStep and the checkpoint's velocities
 * use); "none": every layer trains. Returns the frozen layers' names.
 */
export function freeze(model: tf.LayersModel, what: FreezeMode): string[] {
  if (!(FREEZE_MODES as readonly string[]).includes(what))
    throw new Error(`freeze: '${String(what)}' is not a freeze mode; use one of ${FREEZE_MODES.join(", ")}.`);
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
  if (!(Number.isFinite(scale) && scale >= 0))
    throw new Error(`featuresLrMultipliers: scale must be a finite number >= 0, got ${String(scale)}.`);
  const names = new Set<string>();
  for (const name of featureLayerNames(model)) for (const w of model.getLayer(name).weights) names.add(w.name);
  return (variableName) => (names.has(variableName) ? scale : 1);
}
