// The paper's optimiser (section 5): stochastic gradient descent with momentum
// 0.9 and weight decay 0.0005, written as
//
//   v <- 0.9 v - 0.0005 eps w - eps <dL/dw>
//   w <- w + v
//
// with eps the learning rate and <dL/dw> the gradient averaged over the batch.
// The weight decay sits INSIDE the velocity, multiplied by the learning rate.
//
// How this relates to PyTorch's SGD (and to tf.train.momentum with an L2 term
// (wd/2)|w|^2 added to the loss, whose gradient is wd w):
//
//   b <- m b + (g + wd w),   w <- w - lr b
//
// Put v = -lr b. Then v_new = -lr (m b + g + wd w) = m v - lr wd w - lr g and
// w_new = w - lr b_new = w + v_new: the paper's rule, step for step, as long
// as lr stays the same. They part when lr changes: PyTorch's buffer b holds
// gradients without lr, so dividing lr by 10 also shrinks the momentum already
// accumulated at once; the paper's v carries the old lr's step sizes and fades
// out over a few steps (0.9^k). paperUpdate, pytorchSgdUpdate and the two
// conversions below let a notebook show both facts with numbers.
//
// Which parameters get weight decay. The paper writes the rule for "a weight w"
// and says nothing about biases. Krizhevsky's own code gives a weight cost only
// to weights (cuda-convnet layer-params: `wc=0.0005` per layer; biases have
// epsB and momB but no weight cost), and Caffe's bvlc_alexnet sets
// `decay_mult: 0` on every bias. So decayBiases defaults to false, following
// the code that produced the paper's numbers; `decayBiases: true` applies the
// formula to every parameter. Both references also give biases twice the
// learning rate (epsB 0.02, lr_mult 2), which the paper does not mention ("an
// equal learning rate for all layers"); lrMultipliers can reproduce it.
import * as tf from "@tensorflow/tfjs";

export const PAPER_LEARNING_RATE = 0.01;
export const PAPER_MOMENTUM = 0.9;
export const PAPER_WEIGHT_DECAY = 0.0005;
export const PAPER_BATCH_SIZE = 128;

export interface PaperSGDOptions {
  /** eps. Default 0.01. Mutable afterwards through `learningRate`. */
  learningRate?: number;
  /** Default 0.9. */
  momentum?: number;
  /** Default 0.0005; multiplied by the learning rate inside the velocity. */
  weightDecay?: number;
  /** Decay biases too. Default false (cuda-convnet, Caffe); see the header comment. */
  decayBiases?: boolean;
  /**
   * Which variables are biases. Default: rank-1 variables, which in the AlexNet
   * family (no batch norm) are exactly the biases; names are not used because
   * tfjs appends _1, _2 to the names of a second model's variables.
   */
  isBias?: (variableName: string, shape: readonly number[]) => boolean;
  /**
   * A factor on the learning rate per variable (e.g. 0 to freeze, 0.1 for
   * pretrained layers, 10 for a new head). It scales eps in both terms, like
   * Caffe's lr_mult. The name is the tfjs variable name, e.g. "fc8/kernel"
   * (LayerVariable.name). Default: 1 for every variable.
   */
  lrMultipliers?: (variableName: string) => number;
}

/** A velocity and the tfjs variable it belongs to. */
export interface NamedVelocity {
  variableName: string;
  velocity: tf.Tensor;
}

export interface PaperSGDState {
  learningRate: number;
  iterations: number;
  /** Owned by the optimizer: read them, don't dispose them. */
  velocities: NamedVelocity[];
}

function checkNonNegative(value: number, what: string): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new Error(`PaperSGD: ${what} must be a finite number >= 0, got ${String(value)}.`);
  }
}

// tfjs-core's NamedTensor, which @tensorflow/tfjs does not re-export.
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const VELOCITY_SUFFIX = "/velocity";

/**
 * The paper's SGD as a tf.Optimizer: use it with trainStep, optimizer.minimize,
 * or model.compile({ optimizer }). Velocities are kept per variable name and
 * created (as zeros) on a variable's first gradient.
 */
export class PaperSGD extends tf.Optimizer {
  static get className(): string {
    return "PaperSGD";
  }

  learningRate: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly decayBiases: boolean;
  private readonly isBias: (variableName: string, shape: readonly number[]) => boolean;
  private readonly lrMultipliers: ((variableName: string) => number) | undefined;
  private readonly velocities = new Map<string, tf.Variable>();

  constructor(options: PaperSGDOptions = {}) {
    super();
    this.learningRate = options.learningRate ?? PAPER_LEARNING_RATE;
    this.momentum = options.momentum ?? PAPER_MOMENTUM;
    this.weightDecay = options.weightDecay ?? PAPER_WEIGHT_DECAY;
    this.decayBiases = options.decayBiases ?? false;
    this.isBias = options.isBias ?? ((_name, shape) => shape.length === 1);
    this.lrMultipliers = options.lrMultipliers;
    checkNonNegative(this.learningRate, "learningRate");
    checkNonNegative(this.momentum, "momentum");
    checkNonNegative(this.weightDecay, "weightDecay");
  }

  /** The learning rate and weight decay this variable gets on the next step. */
  coefficients(variableName: string, shape: readonly number[]): { lr: number; weightDecay: number } {
    const multiplier = this.lrMultipliers ? this.lrMultipliers(variableName) : 1;
    if (typeof multiplier !== "number" || !Number.isFinite(multiplier) || multiplier < 0) {
      throw new Error(
        `PaperSGD: lrMultipliers("${variableName}") returned ${String(multiplier)}; return a finite number >= 0 (1 leaves the rate as it is).`,
      );
    }
    checkNonNegative(this.learningRate, "learningRate");
    const decays = this.decayBiases || !this.isBias(variableName, shape);
    return { lr: this.learningRate * multiplier, weightDecay: decays ? this.weightDecay : 0 };
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const pairs: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g): [string, tf.Tensor] => [g.name, g.tensor])
      : Object.keys(variableGradients).map((name): [string, tf.Tensor] => [name, variableGradients[name]]);
    for (const [name, gradient] of pairs) {
      if (gradient == null) continue;
      const variable = tf.engine().registeredVariables[name];
      if (variable === undefined) {
        throw new Error(
          `PaperSGD: no variable named "${name}" is registered; pass gradients keyed by variable name (tf.variableGrads or optimizer.computeGradients give them).`,
        );
      }
      const { lr, weightDecay } = this.coefficients(name, variable.shape);
      const velocity = this.velocityVariable(name, variable);
      tf.tidy(() => {
        // v <- m v - (eps wd) w - eps g;  w <- w + v
        let decrement = tf.mul(gradient, lr);
        if (weightDecay !== 0) decrement = tf.add(decrement, tf.mul(variable, lr * weightDecay));
        const next = tf.sub(tf.mul(velocity, this.momentum), decrement);
        velocity.assign(next);
        variable.assign(tf.add(variable, next));
      });
    }
    this.incrementIterations();
  }

  private velocityVariable(name: string, like: tf.Tensor): tf.Variable {
    let v = this.velocities.get(name);
    if (v === undefined) {
      // Left unnamed: tfjs names must be unique, and a second optimizer on the same model would clash.
      v = tf.tidy(() => tf.variable(tf.zerosLike(like), false));
      this.velocities.set(name, v);
    }
    return v;
  }

  /** Names of the variables this optimizer holds a velocity for, in creation order. */
  velocityNames(): string[] {
    return [...this.velocities.keys()];
  }

  /** The velocity of a variable (owned by the optimizer; don't dispose), or undefined before its first step. */
  velocityOf(variableName: string): tf.Tensor | undefined {
    return this.velocities.get(variableName);
  }

  /** Sets (copies) a variable's velocity; the variable must be registered and of the same shape. */
  setVelocity(variableName: string, value: tf.Tensor): void {
    const variable = tf.engine().registeredVariables[variableName];
    if (variable === undefined)
      throw new Error(
        `PaperSGD.setVelocity: no variable named "${variableName}" is registered; build the model before restoring its optimizer.`,
      );
    if (!tf.util.arraysEqual(variable.shape, value.shape)) {
      throw new Error(
        `PaperSGD.setVelocity: "${variableName}" has shape [${variable.shape}] but the velocity has shape [${value.shape}]; restore state saved from the same architecture.`,
      );
    }
    this.velocityVariable(variableName, variable).assign(value.dtype === variable.dtype ? value : tf.cast(value, variable.dtype));
  }

  /** Drops every velocity (they restart at zero). */
  resetVelocities(): void {
    tf.dispose([...this.velocities.values()]);
    this.velocities.clear();
  }

  get stepsTaken(): number {
    return this.iterations_;
  }

  set stepsTaken(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`PaperSGD: stepsTaken must be an integer >= 0, got ${n}.`);
    this.iterations_ = n;
  }

  getState(): PaperSGDState {
    return {
      learningRate: this.learningRate,
      iterations: this.iterations_,
      velocities: [...this.velocities].map(([variableName, velocity]) => ({ variableName, velocity })),
    };
  }

  /** Restores a state from getState (velocities are copied; the caller keeps its tensors). */
  setState(state: PaperSGDState): void {
    checkNonNegative(state.learningRate, "learningRate");
    this.resetVelocities();
    for (const { variableName, velocity } of state.velocities) this.setVelocity(variableName, velocity);
    this.learningRate = state.learningRate;
    this.stepsTaken = state.iterations;
  }

  // tfjs' own state format: [iterations, ...velocities named "<variable>/velocity"].
  override async getWeights(): Promise<NamedTensor[]> {
    const velocities = [...this.velocities].map(([name, tensor]) => ({ name: name + VELOCITY_SUFFIX, tensor: tensor as tf.Tensor }));
    return [await this.saveIterations(), ...velocities];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    this.resetVelocities();
    for (const { name, tensor } of rest) {
      if (!name.endsWith(VELOCITY_SUFFIX))
        throw new Error(
          `PaperSGD.setWeights: "${name}" is not a velocity (names end in ${VELOCITY_SUFFIX}); pass what PaperSGD.getWeights returned.`,
        );
      this.setVelocity(name.slice(0, -VELOCITY_SUFFIX.length), tensor);
    }
  }

  override dispose(): void {
    this.resetVelocities();
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate, momentum: this.momentum, weightDecay: this.weightDecay, decayBiases: this.decayBiases };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls({
      learningRate: config.learningRate as number,
      momentum: config.momentum as number,
      weightDecay: config.weightDecay as number,
      decayBiases: config.decayBiases as boolean,
    });
  }
}
tf.serialization.registerClass(PaperSGD);

/**
 * True for a PaperSGD. Needed because `instanceof` cannot tell: tf.Optimizer
 * defines Symbol.hasInstance to accept any object with minimize,
 * computeGradients and applyGradients, so every tfjs optimizer passes
 * `x instanceof PaperSGD`.
 */
export function isPaperSGD(x: unknown): x is PaperSGD {
  return (
    x != null &&
    typeof (x as PaperSGD).velocityOf === "function" &&
    typeof (x as PaperSGD).getClassName === "function" &&
    (x as PaperSGD).getClassName() === "PaperSGD"
  );
}

// ---------- the update rules on plain numbers, for notebooks and tests ----------

export interface SgdHyperparameters {
  lr: number;
  momentum: number;
  weightDecay: number;
}

function checkSameLength(arrays: Record<string, readonly number[]>): void {
  const entries = Object.entries(arrays);
  const n = entries[0][1].length;
  for (const [name, a] of entries) {
    if (a.length !== n) throw new Error(`${name} has ${a.length} values but ${entries[0][0]} has ${n}; pass one value per weight.`);
  }
}

/** One step of the paper's rule in float64: v <- m v - lr wd w - lr g; w <- w + v. */
export function paperUpdate(
  w: readonly number[],
  v: readonly number[],
  g: readonly number[],
  h: SgdHyperparameters,
): { w: number[]; v: number[] } {
  checkSameLength({ w, v, g });
  const vNext = w.map((wi, i) => h.momentum * v[i] - h.lr * h.weightDecay * wi - h.lr * g[i]);
  return { w: w.map((wi, i) => wi + vNext[i]), v: vNext };
}

/** One step of PyTorch's SGD (dampening 0, no Nesterov) in float64: b <- m b + (g + wd w); w <- w - lr b. */
export function pytorchSgdUpdate(
  w: readonly number[],
  buf: readonly number[],
  g: readonly number[],
  h: SgdHyperparameters,
): { w: number[]; buf: number[] } {
  checkSameLength({ w, buf, g });
  const bNext = w.map((wi, i) => h.momentum * buf[i] + (g[i] + h.weightDecay * wi));
  return { w: w.map((wi, i) => wi - h.lr * bNext[i]), buf: bNext };
}

/** PyTorch's momentum buffer equivalent to the paper's velocity at learning rate lr: b = -v / lr. */
export function pytorchBufferFromVelocity(v: readonly number[], lr: number): number[] {
  if (!(lr > 0)) throw new Error(`pytorchBufferFromVelocity: lr must be > 0, got ${lr}.`);
  return v.map((x) => -x / lr);
}

/** The paper's velocity equivalent to PyTorch's momentum buffer at learning rate lr: v = -lr b. */
export function velocityFromPytorchBuffer(buf: readonly number[], lr: number): number[] {
  return buf.map((x) => -lr * x);
}
