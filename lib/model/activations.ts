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

/**
 * Fraction of the curve's grid points where |f'(x)| is below `threshold`: how
 * much of the range passes (almost) no gradient back. For ReLU that is x <= 0,
 * where the unit is off and f' is exactly 0; for tanh and the sigmoid it is the
 * saturated tails.
 */
export function saturatedFraction(curve: ActivationCurve, threshold = 0.1): number {
  return curve.dy.filter((d) => Math.abs(d) < threshold).length / curve.dy.length;
}

/**
 * Fraction of the curve's grid points where |f'(x)| is at least `threshold`:
 * how much of the range passes the gradient back almost undiminished. ReLU:
 * x > 0 (f' = 1); tanh: |x| < atanh(sqrt(0.1)) = 0.327 at 0.9; the sigmoid:
 * nowhere, since its slope never exceeds 1/4.
 */
export function passingFraction(curve: ActivationCurve, threshold = 0.9): number {
  return curve.dy.filter((d) => Math.abs(d) >= threshold).length / curve.dy.length;
}
