// How much arithmetic one AlexNet step is, from the layer shapes (not from a
// quoted figure), and the matrix shapes whose GFLOP/s bench/ceiling.ts measures.
// A multiply-add counts as 2 flops. A training step does each weighted layer's
// product three times: forward, weight gradient, input gradient; the first
// layer's input gradient is never needed (nothing before it learns).
import { type AlexNetVariant, planAlexNet } from "../model/alexnet";

export interface LayerFlops {
  name: string;
  /** Multiply-adds of the forward product, per image. */
  macs: number;
  /** Forward + backward flops per image. */
  trainFlops: number;
}

export type CeilingShape =
  | {
      kind: "conv";
      name: string;
      gflop: number;
      x: [number, number, number, number];
      w: [number, number, number, number];
      stride: number;
      pad: number;
    }
  | { kind: "matmul"; name: string; gflop: number; m: number; k: number; n: number };

/** Per weighted layer, for one image at the variant's default size (or options.inputSize). */
export function stepFlops(variant: AlexNetVariant, options: { inputSize?: number; numClasses?: number } = {}): LayerFlops[] {
  const plan = planAlexNet(variant, options);
  const layers: LayerFlops[] = [];
  let inChannels = 3;
  for (const c of plan.convs) {
    const macs = c.outputSize * c.outputSize * c.filters * c.kernelSize * c.kernelSize * (inChannels / c.groups);
    layers.push({ name: c.name, macs, trainFlops: 2 * macs * (layers.length === 0 ? 2 : 3) });
    inChannels = c.filters;
  }
  const fc: [string, number, number][] = [
    ["fc6", plan.flattenSize, plan.fcUnits],
    ["fc7", plan.fcUnits, plan.fcUnits],
    ["fc8", plan.fcUnits, plan.numClasses],
  ];
  for (const [name, k, n] of fc) layers.push({ name, macs: k * n, trainFlops: 6 * k * n });
  return layers;
}

/** The forward products of torchvision's AlexNet at `batch` images (224x224): its five convs and three dense layers. */
export function ceilingShapes(batch: number): CeilingShape[] {
  const plan = planAlexNet("torchvision");
  const shapes: CeilingShape[] = [];
  let inChannels = 3;
  for (const c of plan.convs) {
    // conv1 reads the padded 224 input at stride 4; the others keep their size ('same', stride 1).
    const side = c.strides === 1 ? c.outputSize : plan.inputSize;
    const gflop = (2 * batch * c.outputSize * c.outputSize * c.filters * c.kernelSize * c.kernelSize * inChannels) / 1e9;
    shapes.push({
      kind: "conv",
      name: `${c.name} ${batch}x${side}x${side}x${inChannels} k${c.kernelSize} -> ${c.filters}`,
      gflop,
      x: [batch, side, side, inChannels],
      w: [c.kernelSize, c.kernelSize, inChannels, c.filters],
      stride: c.strides,
      pad: c.padding,
    });
    inChannels = c.filters;
  }
  const fc: [string, number, number][] = [
    ["fc6", plan.flattenSize, plan.fcUnits],
    ["fc7", plan.fcUnits, plan.fcUnits],
    ["fc8", plan.fcUnits, plan.numClasses],
  ];
  for (const [name, k, n] of fc)
    shapes.push({ kind: "matmul", name: `${name} ${batch}x${k}x${n}`, gflop: (2 * batch * k * n) / 1e9, m: batch, k, n });
  shapes.push({ kind: "matmul", name: "square 1024x1024x1024", gflop: (2 * 1024 ** 3) / 1e9, m: 1024, k: 1024, n: 1024 });
  return shapes;
}

/**
 * Seconds one training step would take if every product ran at its forward
 * shape's measured rate (GFLOP/s, by layer name as the first word of `shape`):
 * the step's time at the engine's ceiling. Undefined when a layer has no rate.
 */
export function ceilingStepSeconds(layers: LayerFlops[], batch: number, rates: { shape: string; gflops: number }[]): number | undefined {
  let seconds = 0;
  for (const l of layers) {
    const r = rates.find((x) => x.shape.split(" ")[0] === l.name);
    if (!r || !(r.gflops > 0)) return undefined;
    seconds += (l.trainFlops * batch) / (r.gflops * 1e9);
  }
  return seconds;
}
