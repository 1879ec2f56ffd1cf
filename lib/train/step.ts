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

/** A step's loss and gradients, computed but not yet applied (see beginTrainStep). */
export interface PendingStep {
  value: tf.Scalar;
  grads: tf.NamedTensorMap;
}

/**
 * The synchronous half of a step: forward with dropout on, the loss, the
 * gradients. Nothing is read back, so it suits engines without synchronous
 * reads (webgpu); finishTrainStep applies the update once the loss is read.
 */
export function beginTrainStep(model: tf.LayersModel, xs: tf.Tensor, ys: tf.Tensor, lossFn: LossFn = softmaxCrossEntropy): PendingStep {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (variables.length === 0)
    throw new Error(`trainStep: model "${model.name}" has no trainable weights; unfreeze a layer (layer.trainable = true).`);
  return tf.variableGrads(() => {
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
}

/**
 * The second half: checks `loss` (the pending value, read back) and applies the
 * update, or throws NonFiniteLossError with the weights untouched. Disposes the
 * pending tensors either way; returns the loss.
 */
export function finishTrainStep(pending: PendingStep, loss: number, optimizer: tf.Optimizer, options: TrainStepOptions = {}): number {
  try {
    checkFinite(loss, { ...options.where, lr: options.where?.lr ?? learningRateOf(optimizer) });
    optimizer.applyGradients(pending.grads);
    return loss;
  } finally {
    disposePending(pending);
  }
}

/** Frees a step's loss and gradients (applied or not). */
function disposePending(pending: PendingStep): void {
  pending.value.dispose();
  tf.dispose(pending.grads);
}

/** Reads a pending step's loss without blocking: the only way on webgpu, and no slower elsewhere. */
export async function pendingLoss(pending: PendingStep): Promise<number> {
  try {
    return (await pending.value.data())[0];
  } catch (err) {
    disposePending(pending);
    throw err;
  }
}

/**
 * One SGD step on a batch; returns the loss before the update. Throws
 * NonFiniteLossError (and leaves the weights untouched) if the loss is not finite.
 * Every tensor it creates is disposed; xs and ys stay the caller's. Reads the
 * loss synchronously, which webgpu cannot do: use trainStepAsync there.
 */
export function trainStep(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  optimizer: tf.Optimizer,
  lossFn: LossFn = softmaxCrossEntropy,
  options: TrainStepOptions = {},
): number {
  const pending = beginTrainStep(model, xs, ys, lossFn);
  let loss: number;
  try {
    loss = pending.value.dataSync()[0];
  } catch (err) {
    disposePending(pending);
    throw err;
  }
  return finishTrainStep(pending, loss, optimizer, options);
}

/** trainStep reading the loss asynchronously, for every engine including webgpu. */
export async function trainStepAsync(
  model: tf.LayersModel,
  xs: tf.Tensor,
  ys: tf.Tensor,
  optimizer: tf.Optimizer,
  lossFn: LossFn = softmaxCrossEntropy,
  options: TrainStepOptions = {},
): Promise<number> {
  const pending = beginTrainStep(model, xs, ys, lossFn);
  return finishTrainStep(pending, await pendingLoss(pending), optimizer, options);
}

function learningRateOf(optimizer: tf.Optimizer): number | undefined {
  const lr = (optimizer as unknown as { learningRate?: unknown }).learningRate;
  return typeof lr === "number" ? lr : undefined;
}
