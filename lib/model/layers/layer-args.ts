import type * as tf from "@tensorflow/tfjs";

/** Fields tfjs passes to every layer's constructor (a subset of tfjs-layers' LayerArgs, which @tensorflow/tfjs does not export). */
export interface BaseLayerArgs {
  name?: string;
  inputShape?: tf.Shape;
  batchInputShape?: tf.Shape;
  batchSize?: number;
  trainable?: boolean;
  dtype?: tf.DataType;
}
