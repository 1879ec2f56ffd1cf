// One training step: forward with dropout on, the batch-mean loss, gradients
// for the model's trainable weights, one optimiser update. The loss is checked
// BEFORE the update, so a NaN never reaches the weights.
import * as tf from "@tensorflow/tfjs";
import { checkFinite, type LossContext } from "./guard";

/** labels, logits -> the mean loss over the batch (a scalar). */
export type LossFn = (labels: tf.Tensor, logits: tf.Tensor) => tf.Scalar;

/**
 * The paper's objective: softmax cross-entropy on logits, averaged over the
 * batch ("<dL/dw> averaged over the batch"). Labels are class indices (int32,
 * shape [batch]) or one-hot / soft targets (shape [batch, classes]).
 */
export function softmaxCrossEntropy(labels: tf.Tensor, logits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    if (logits.rank !== 2) throw new Error(`softmaxCrossEntropy: logits must have shape [batch, classes], got [${logits.shape}].`);
    const targets = labels.rank === 1 ? tf.oneHot(tf.cast(labels, "int32"), logits.shape[1] as number) : labels;
    if (!tf.util.arraysEqual(targets.shape, logits.shape)) {
      throw new Error(
        `softmaxCrossEntropy: labels of shape [${labels.shape}] do not match logits of shape [${logits.shape}]; pass class indices [batch] or one-hot [batch, classes].`,
      );
    }
    return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
  });
}

export interface TrainStepOptions {
  /** Named in the error if the loss is NaN or infinite. */
  where?: LossContext;
}

/**
 * One SGD step on a batch; returns the loss before the update. Throws
 * NonFiniteLossError (and leaves the weights untouched) if the loss is not finite.
 * Every tensor it creates is disposed; xs and ys stay the caller's.
 */
export function trainStep(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  optimizer: tf.Optimizer,
  lossFn: LossFn = softmaxCrossEntropy,
  options: TrainStepOptions = {},
): number {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (variables.length === 0)
    throw new Error(`trainStep: model "${model.name}" has no trainable weights; unfreeze a layer (layer.trainable = true).`);
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(xs, { training: true });
    // Duck-typed: tfjs-node may bring its own copy of the Tensor class.
    if (Array.isArray(out) || typeof (out as tf.Tensor).dataSync !== "function") {
      throw new Error(
        `trainStep: model "${model.name}" must have one output tensor; it returned ${Array.isArray(out) ? `${out.length} outputs` : "a symbolic tensor"}.`,
      );
    }
    const loss = lossFn(ys, out as tf.Tensor);
    if (loss.rank !== 0) throw new Error(`trainStep: lossFn must return a scalar (the mean over the batch), got shape [${loss.shape}].`);
    return loss;
  }, variables);
  try {
    const loss = value.dataSync()[0];
    checkFinite(loss, { ...options.where, lr: options.where?.lr ?? learningRateOf(optimizer) });
    optimizer.applyGradients(grads);
    return loss;
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}

function learningRateOf(optimizer: tf.Optimizer): number | undefined {
  const lr = (optimizer as unknown as { learningRate?: unknown }).learningRate;
  return typeof lr === "number" ? lr : undefined;
}
