// How pixels become a network's input, the one place that says it: a network
// trained here takes the loader's pixels minus the training mean image, times the
// run's inputScale; a model with a card (an imported torchvision AlexNet, or a
// run fine-tuned from one) takes raw pixels normalised per channel,
// (pixel - mean[c]) * scale[c], then times inputScale. Training (lib/train),
// evaluation and prediction (lib/eval) and feature extraction all apply it from here.
import * as tf from "@tensorflow/tfjs";
import type { InputNormalization } from "./card";

/** One number for every channel, or one per channel (RGB). */
export type ChannelValues = number | [number, number, number];

/**
 * What happens to the loader's pixels (already minus its mean) before the
 * network: input = (x + inputOffset[c]) * inputScale[c]. A network trained here
 * needs only the training run's inputScale. A torchvision import wants
 * (pixel - mean[c]) * scale[c]: use a loader with mean "none" and
 * inputTransformFor(card.input).
 */
export interface InputTransform {
  /** Added first. Default 0. */
  inputOffset?: ChannelValues;
  /** Multiplied second. Default 1. */
  inputScale?: ChannelValues;
}

/** The transform that turns raw 0..255 pixels (loader mean "none") into a model card's normalised input. */
export function inputTransformFor(norm: InputNormalization): {
  inputOffset: [number, number, number];
  inputScale: [number, number, number];
} {
  return { inputOffset: [-norm.mean[0], -norm.mean[1], -norm.mean[2]], inputScale: [norm.scale[0], norm.scale[1], norm.scale[2]] };
}

function isIdentity(v: ChannelValues | undefined, identity: number): boolean {
  return v === undefined || (typeof v === "number" ? v === identity : v.every((x) => x === identity));
}

/** xs transformed as InputTransform says; call inside tf.tidy (it may return xs itself). */
export function transformInput(xs: tf.Tensor4D, t: InputTransform = {}): tf.Tensor4D {
  let out = xs;
  // A per-channel value broadcasts along the last (channel) axis of NHWC.
  const channels = (v: ChannelValues): tf.Tensor | number => (typeof v === "number" ? v : tf.tensor1d(v, "float32"));
  if (!isIdentity(t.inputOffset, 0)) out = tf.add(out, channels(t.inputOffset as ChannelValues));
  if (!isIdentity(t.inputScale, 1)) out = tf.mul(out, channels(t.inputScale as ChannelValues));
  return out;
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
