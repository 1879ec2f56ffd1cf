// The nonlinearities of section 3.1, as values and derivatives computed by
// tfjs itself (the gradients training uses), for plotting and comparing.
import * as tf from "@tensorflow/tfjs";

export const ACTIVATIONS = ["relu", "tanh", "sigmoid"] as const;
export type ActivationName = (typeof ACTIVATIONS)[number];

const FUNCTIONS: Record<ActivationName, (x: tf.Tensor) => tf.Tensor> = {
  relu: (x) => tf.relu(x),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
};

export interface ActivationCurve {
  name: ActivationName;
  x: number[];
  y: number[];
  /** dy/dx by automatic differentiation. */
  dy: number[];
}

/** f(x) and f'(x) on an even grid from `from` to `to`. */
export function activationCurves(from = -4, to = 4, points = 161): ActivationCurve[] {
  const x = Array.from({ length: points }, (_, i) => from + ((to - from) * i) / (points - 1));
  return ACTIVATIONS.map((name) =>
    tf.tidy(() => {
      const input = tf.tensor1d(x);
      const y = FUNCTIONS[name](input);
      const dy = tf.grad((t: tf.Tensor) => FUNCTIONS[name](t).sum())(input);
      return { name, x, y: Array.from(y.dataSync()), dy: Array.from(dy.dataSync()) };
    }),
  );
}

/** Fraction of |x| values where the derivative is below `threshold`: how much of the input range is saturated. */
export function saturatedFraction(curve: ActivationCurve, threshold = 0.1): number {
  return curve.dy.filter((d) => Math.abs(d) < threshold).length / curve.dy.length;
}
