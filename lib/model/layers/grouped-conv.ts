// Grouped convolution: the paper's two GPUs (section 3.2) in one layer. With
// groups = 2, each half of the filters sees only its own half of the input
// channels, as conv2, conv4 and conv5 see only their own GPU's previous layer.
//
// The kernel is ONE weight [kh, kw, inChannels / groups, filters], the layout
// TensorFlow uses for grouped convolutions: group g reads input channels
// [g*inC/groups, (g+1)*inC/groups) with kernel[..., g*filters/groups : (g+1)*filters/groups].
// Its size, kh*kw*(inC/groups)*filters + filters, is the paper's two-GPU count.
import * as tf from "@tensorflow/tfjs";
import type { BaseLayerArgs } from "./layer-args";

type Initializer = ReturnType<typeof tf.initializers.ones>;

/** Names accepted for an initializer, as in tf.layers (camelCase). */
export type InitializerName =
  "zeros" | "ones" | "glorotUniform" | "glorotNormal" | "heNormal" | "heUniform" | "leCunNormal" | "leCunUniform";

/** An initializer object (tf.initializers.*), a name, or its serialised form { className, config }. */
export type InitializerSpec = Initializer | InitializerName | { className: string; config: tf.serialization.ConfigDict };

const NAMED_INITIALIZERS: Record<InitializerName, () => Initializer> = {
  zeros: () => tf.initializers.zeros(),
  ones: () => tf.initializers.ones(),
  glorotUniform: () => tf.initializers.glorotUniform({}),
  glorotNormal: () => tf.initializers.glorotNormal({}),
  heNormal: () => tf.initializers.heNormal({}),
  heUniform: () => tf.initializers.heUniform({}),
  leCunNormal: () => tf.initializers.leCunNormal({}),
  leCunUniform: () => tf.initializers.leCunUniform({}),
};

function resolveInitializer(spec: InitializerSpec, what: string): Initializer {
  if (typeof spec === "string") {
    const make = (NAMED_INITIALIZERS as Record<string, () => Initializer>)[spec];
    if (!make)
      throw new Error(
        `${what}: unknown initializer "${spec}"; use one of ${Object.keys(NAMED_INITIALIZERS).join(", ")}, or a tf.initializers.* object.`,
      );
    return make();
  }
  if (spec instanceof tf.serialization.Serializable) return spec as Initializer;
  if (spec !== null && typeof spec === "object" && "className" in spec) {
    // The form getConfig writes; tfjs-layers registers its initializers under these class names.
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    if (!entry)
      throw new Error(`${what}: no registered initializer class "${spec.className}"; register it with tf.serialization.registerClass.`);
    return entry[1](entry[0], spec.config ?? {}) as Initializer;
  }
  throw new Error(`${what}: expected a tf.initializers.* object, a name or { className, config }; got ${JSON.stringify(spec)}.`);
}

function serializeInitializer(init: Initializer): tf.serialization.ConfigDict {
  // An unset seed is undefined here but null after a save and load; write null so both configs agree.
  const config: tf.serialization.ConfigDict = {};
  for (const [key, value] of Object.entries(init.getConfig())) config[key] = value === undefined ? null : value;
  return { className: init.getClassName(), config };
}

// Layers see unknown sizes as null; show them, where join() would print nothing.
function formatShape(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? "null" : String(d))).join(", ")}]`;
}

export type GroupedConvActivation = "relu" | "linear";
export type ConvPadding = "valid" | "same";

export interface GroupedConvOptions {
  groups: number;
  strides?: number | [number, number];
  padding?: ConvPadding;
  activation?: GroupedConvActivation;
}

function pair(v: number | [number, number], what: string): [number, number] {
  const p: [number, number] = Array.isArray(v) ? [v[0], v[1]] : [v, v];
  if (!p.every((n) => Number.isInteger(n) && n >= 1) || (Array.isArray(v) && v.length !== 2)) {
    throw new Error(`${what} must be a positive integer or a pair [height, width] of them; got ${JSON.stringify(v)}.`);
  }
  return p;
}

function positiveInteger(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${what} must be a positive integer; got ${JSON.stringify(v)}.`);
  return v;
}

function checkPadding(p: string): ConvPadding {
  if (p !== "valid" && p !== "same") throw new Error(`padding must be "valid" or "same"; got ${JSON.stringify(p)}.`);
  return p;
}

function checkActivation(a: string | null | undefined): GroupedConvActivation {
  if (a === undefined || a === null || a === "linear") return "linear";
  if (a === "relu") return "relu";
  throw new Error(
    `activation must be "relu" or "linear"; got ${JSON.stringify(a)}. Add other activations as a separate tf.layers.activation layer.`,
  );
}

interface Checked {
  groups: number;
  strides: [number, number];
  padding: ConvPadding;
  activation: GroupedConvActivation;
  inPerGroup: number;
  outPerGroup: number;
}

function checkConvInputs(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D | null, o: GroupedConvOptions, what: string): Checked {
  if (x.rank !== 4) throw new Error(`${what}: input must be 4-D NHWC [batch, height, width, channels]; got shape [${x.shape.join(", ")}].`);
  if (kernel.rank !== 4)
    throw new Error(`${what}: kernel must be 4-D [kh, kw, inChannels / groups, filters]; got shape [${kernel.shape.join(", ")}].`);
  const groups = positiveInteger(o.groups, `${what}: groups`);
  const [, , inPerGroup, filters] = kernel.shape;
  const channels = x.shape[3];
  if (inPerGroup * groups !== channels) {
    throw new Error(
      `${what}: input has ${channels} channels but the kernel expects ${inPerGroup} per group x ${groups} groups = ${inPerGroup * groups}; kernel shape must be [kh, kw, ${channels / groups}, filters].`,
    );
  }
  if (filters % groups !== 0)
    throw new Error(`${what}: ${filters} filters do not divide into ${groups} groups; use a multiple of ${groups}.`);
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== filters)) {
    throw new Error(`${what}: bias must have shape [${filters}] (one per filter); got [${bias.shape.join(", ")}].`);
  }
  return {
    groups,
    strides: pair(o.strides ?? 1, `${what}: strides`),
    padding: checkPadding(o.padding ?? "valid"),
    activation: checkActivation(o.activation),
    inPerGroup,
    outPerGroup: filters / groups,
  };
}

/**
 * The layer's computation: split the input channels into groups, convolve each
 * with its slice of the kernel, concatenate, then add the bias and activate.
 */
export function convolveGroups(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D | null, options: GroupedConvOptions): tf.Tensor4D {
  const c = checkConvInputs(x, kernel, bias, options, "convolveGroups");
  return tf.tidy(() => {
    let y: tf.Tensor4D;
    if (c.groups === 1) {
      y = tf.conv2d(x, kernel, c.strides, c.padding);
    } else {
      const xs = tf.split(x, c.groups, 3) as tf.Tensor4D[];
      const ks = tf.split(kernel, c.groups, 3) as tf.Tensor4D[];
      y = tf.concat(
        xs.map((xg, g) => tf.conv2d(xg, ks[g], c.strides, c.padding)),
        3,
      );
    }
    if (bias !== null) y = tf.add(y, bias);
    return c.activation === "relu" ? tf.relu(y) : y;
  });
}

/**
 * The two-GPU computation spelled out: group g (GPU g) takes its own channel
 * slice of the input, its own slice of the kernel and of the bias, and runs an
 * ordinary tf.conv2d; nothing passes between groups until the concatenation.
 * No activation, so it can be compared with a linear GroupedConv2D, or with a ReLU one after tf.relu.
 */
export function splitGroupsConv(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  groups: number,
  strides: number | [number, number] = 1,
  padding: ConvPadding = "valid",
): tf.Tensor4D {
  const c = checkConvInputs(x, kernel, bias, { groups, strides, padding }, "splitGroupsConv");
  const [kh, kw] = kernel.shape;
  const [b, h, w] = x.shape;
  return tf.tidy(() => {
    const outputs: tf.Tensor4D[] = [];
    for (let g = 0; g < c.groups; g++) {
      const xg = tf.slice(x, [0, 0, 0, g * c.inPerGroup], [b, h, w, c.inPerGroup]);
      const kg = tf.slice(kernel, [0, 0, 0, g * c.outPerGroup], [kh, kw, c.inPerGroup, c.outPerGroup]);
      let yg = tf.conv2d(xg, kg, c.strides, c.padding);
      if (bias !== null) yg = tf.add(yg, tf.slice(bias, [g * c.outPerGroup], [c.outPerGroup]));
      outputs.push(yg);
    }
    return tf.concat(outputs, 3);
  });
}

/** Output size of one spatial axis, as tf.conv2d computes it; null when the input size is unknown. */
export function convOutputSize(size: number | null, kernel: number, stride: number, padding: ConvPadding): number | null {
  if (size === null || size === undefined) return null;
  return padding === "same" ? Math.ceil(size / stride) : Math.ceil((size - kernel + 1) / stride);
}

export interface GroupedConv2DArgs extends BaseLayerArgs {
  filters: number;
  kernelSize: number | [number, number];
  strides?: number | [number, number];
  padding?: ConvPadding;
  groups: number;
  /** Default true. */
  useBias?: boolean;
  /** Default "linear". */
  activation?: GroupedConvActivation;
  /** Default glorotUniform, as tf.layers.conv2d. */
  kernelInitializer?: InitializerSpec;
  /** Default zeros. */
  biasInitializer?: InitializerSpec;
}

function layerArgsOf(
  config: GroupedConv2DArgs,
): Pick<GroupedConv2DArgs, "name" | "inputShape" | "batchInputShape" | "batchSize" | "trainable" | "dtype"> {
  if (config === undefined || config === null)
    throw new Error("GroupedConv2D needs a config with at least filters, kernelSize and groups.");
  const { name, inputShape, batchInputShape, batchSize, trainable, dtype } = config;
  return { name, inputShape, batchInputShape, batchSize, trainable, dtype };
}

/** A 2-D convolution whose filters are split into `groups` that each see only their share of the input channels. NHWC. */
export class GroupedConv2D extends tf.layers.Layer {
  static className = "GroupedConv2D";
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: ConvPadding;
  readonly groups: number;
  readonly useBias: boolean;
  readonly activation: GroupedConvActivation;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  private kernel: tf.LayerVariable | null;
  private bias: tf.LayerVariable | null;

  constructor(config: GroupedConv2DArgs) {
    super(layerArgsOf(config));
    const { filters, kernelSize, strides, padding, groups, useBias, activation, kernelInitializer, biasInitializer } = config;
    this.kernel = null;
    this.bias = null;
    const who = `GroupedConv2D${config.name ? ` '${config.name}'` : ""}`;
    this.filters = positiveInteger(filters, `${who}: filters`);
    this.groups = positiveInteger(groups, `${who}: groups`);
    if (this.filters % this.groups !== 0) {
      throw new Error(`${who}: filters (${this.filters}) must divide by groups (${this.groups}); use a multiple of ${this.groups}.`);
    }
    this.kernelSize = pair(kernelSize, `${who}: kernelSize`);
    this.strides = pair(strides ?? 1, `${who}: strides`);
    this.padding = checkPadding(padding ?? "valid");
    this.useBias = useBias ?? true;
    this.activation = checkActivation(activation);
    this.kernelInitializer = resolveInitializer(kernelInitializer ?? "glorotUniform", `${who}: kernelInitializer`);
    this.biasInitializer = resolveInitializer(biasInitializer ?? "zeros", `${who}: biasInitializer`);
  }

  private inputChannels(inputShape: tf.Shape | tf.Shape[]): { shape: tf.Shape; channels: number } {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    if (shape.length !== 4) {
      throw new Error(`GroupedConv2D '${this.name}' expects NHWC input [batch, height, width, channels]; got shape ${formatShape(shape)}.`);
    }
    const channels = shape[3];
    if (channels === null || channels === undefined)
      throw new Error(`GroupedConv2D '${this.name}': the number of input channels must be known; got shape ${formatShape(shape)}.`);
    if (channels % this.groups !== 0) {
      throw new Error(
        `GroupedConv2D '${this.name}': ${channels} input channels do not divide into ${this.groups} groups; the previous layer needs a multiple of ${this.groups} channels.`,
      );
    }
    return { shape, channels };
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const { channels } = this.inputChannels(inputShape);
    const [kh, kw] = this.kernelSize;
    this.kernel = this.addWeight("kernel", [kh, kw, channels / this.groups, this.filters], "float32", this.kernelInitializer);
    if (this.useBias) this.bias = this.addWeight("bias", [this.filters], "float32", this.biasInitializer);
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const { shape } = this.inputChannels(inputShape);
    const [kh, kw] = this.kernelSize;
    const h = convOutputSize(shape[1], kh, this.strides[0], this.padding);
    const w = convOutputSize(shape[2], kw, this.strides[1], this.padding);
    if ((h !== null && h < 1) || (w !== null && w < 1)) {
      throw new Error(
        `GroupedConv2D '${this.name}': input ${shape[1]}x${shape[2]} is smaller than the ${kh}x${kw} kernel with padding "valid"; use padding "same" or a larger input.`,
      );
    }
    return [shape[0], h, w, this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
    if (!this.kernel) throw new Error(`GroupedConv2D '${this.name}' was called before it was built; apply it to an input first.`);
    const kernel = this.kernel.read() as tf.Tensor4D;
    const bias = this.bias ? (this.bias.read() as tf.Tensor1D) : null;
    return convolveGroups(x, kernel, bias, {
      groups: this.groups,
      strides: this.strides,
      padding: this.padding,
      activation: this.activation,
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      groups: this.groups,
      useBias: this.useBias,
      activation: this.activation,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
      biasInitializer: serializeInitializer(this.biasInitializer),
    };
  }
}
tf.serialization.registerClass(GroupedConv2D);

/** Factory in the style of tf.layers.conv2d. */
export function groupedConv2d(config: GroupedConv2DArgs): GroupedConv2D {
  return new GroupedConv2D(config);
}
