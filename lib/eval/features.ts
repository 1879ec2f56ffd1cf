// What the network "sees": the activations of a hidden layer as one vector per
// image. Figure 4 (right) of the paper compares images by the last hidden layer,
// fc7 (4096 values after its ReLU): images whose fc7 vectors are close are
// similar to the network even when their pixels are not.
import * as tf from "@tensorflow/tfjs";
import type { Loader } from "../data/loader";
import type { InputTransform } from "../model/input";
import { batchOutputs } from "./evaluate";

/**
 * A model from `model`'s input to the output of `layer` (default "fc7": its
 * ReLU is part of the layer, so the output is the paper's last hidden layer).
 * It shares its layers with `model`: training one changes the other, and
 * disposing either disposes the weights of both (tfjs does not count models
 * per layer), so dispose only the original.
 */
export function featureModel(model: tf.LayersModel, layer = "fc7"): tf.LayersModel {
  const names = model.layers.map((l) => l.name);
  if (!names.includes(layer)) throw new Error(`featureModel: the model has no layer "${layer}"; its layers are ${names.join(", ")}.`);
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor, name: `${model.name}_${layer}` });
}

export interface FeatureOptions extends InputTransform {
  /** Default "fc7". */
  layer?: string;
}

export interface FeatureBatch {
  /** Record indices in the split. */
  indices: Int32Array;
  labels: Int32Array;
  /** indices.length rows of `dim` values; with several views per image, their mean. */
  features: Float32Array;
  dim: number;
}

/** Feature vectors of every image of one epoch of `loader`, a batch at a time (dropout off). */
export async function* featureBatches(
  model: tf.LayersModel,
  loader: Loader,
  options: FeatureOptions = {},
): AsyncGenerator<FeatureBatch, void, undefined> {
  // The feature model is not disposed: its layers are the caller's model's.
  const features = featureModel(model, options.layer ?? "fc7");
  for await (const batch of loader.batches({ epochs: 1 })) {
    let out: { values: Float32Array; width: number };
    try {
      out = await batchOutputs(features, batch, options);
    } finally {
      batch.release();
    }
    yield {
      indices: batch.indices,
      labels: batch.labels,
      features: meanOfViews(out.values, batch.labels.length, batch.views, out.width),
      dim: out.width,
    };
  }
}

/** The mean of each image's `views` consecutive rows of `dim` values (the rows themselves when views is 1). */
export function meanOfViews(values: Float32Array, images: number, views: number, dim: number): Float32Array {
  if (views === 1) return values;
  const out = new Float32Array(images * dim);
  for (let i = 0; i < images; i++) {
    for (let v = 0; v < views; v++) {
      const from = (i * views + v) * dim;
      for (let j = 0; j < dim; j++) out[i * dim + j] += values[from + j] / views;
    }
  }
  return out;
}
