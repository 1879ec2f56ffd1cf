// A stand-in for the network of the paper's Figure 1, which the paper
// describes only as "a particular four-layer convolutional network" on
// CIFAR-10, trained with ReLUs and with tanh units. Its layout is cuda-convnet's
// CIFAR-10 example, a plausible choice the paper does not name (layers-18pct.cfg:
// three 5x5 convolutions of 32, 32 and 64 maps with 3x3 stride-2 pooling, then
// one fully connected layer), without the response normalisation, since the
// figure used no regularisation.
import * as tf from "@tensorflow/tfjs";
import type { ActivationName } from "./activations";

export interface Figure1Options {
  inputSize?: number;
  classes?: number;
  activation: ActivationName;
  seed?: number;
  /** Multiplies the 32-32-64 widths. */
  width?: number;
}

export function buildFigure1Net(options: Figure1Options): tf.Sequential {
  const size = options.inputSize ?? 32;
  const seed = options.seed ?? 1;
  const w = options.width ?? 1;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 100 + k });
  const conv = (filters: number, k: number, first = false) =>
    tf.layers.conv2d({
      ...(first ? { inputShape: [size, size, 3] } : {}),
      filters: Math.max(1, Math.round(filters * w)),
      kernelSize: 5,
      padding: "same",
      activation: options.activation,
      kernelInitializer: init(k),
      name: `conv${k}`,
    });
  return tf.sequential({
    name: `figure1-${options.activation}`,
    layers: [
      conv(32, 1, true),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same", name: "pool1" }),
      conv(32, 2),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same", name: "pool2" }),
      conv(64, 3),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: "same", name: "pool3" }),
      tf.layers.flatten({ name: "flatten" }),
      tf.layers.dense({ units: options.classes ?? 10, kernelInitializer: init(4), name: "fc4" }),
    ],
  });
}
