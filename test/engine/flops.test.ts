import assert from "node:assert/strict";
import { test } from "node:test";
import { ceilingShapes, ceilingStepSeconds, stepFlops } from "../../lib/engine/flops";
import { buildAlexNet } from "../../lib/model/alexnet";
import { summarise } from "../../lib/model/summary";

test("stepFlops agrees with the built model's multiply-adds, and a step is 3x forward less conv1's input gradient", () => {
  for (const variant of ["torchvision", "paper", "mini"] as const) {
    const model = buildAlexNet(variant);
    const built = summarise(model).totals.macs;
    model.dispose();
    const layers = stepFlops(variant);
    const macs = layers.reduce((s, l) => s + l.macs, 0);
    assert.equal(macs, built, variant);
    const train = layers.reduce((s, l) => s + l.trainFlops, 0);
    assert.equal(train, 6 * macs - 2 * layers[0].macs, variant);
  }
  // torchvision's own figure for AlexNet: 0.714 G multiply-adds per image.
  const tv = stepFlops("torchvision").reduce((s, l) => s + l.macs, 0);
  assert.ok(Math.abs(tv / 1e9 - 0.714) < 0.001, `${tv}`);
});

test("ceilingShapes gives torchvision's five convs and three dense layers at the batch asked for", () => {
  const shapes = ceilingShapes(8);
  const convs = shapes.filter((s) => s.kind === "conv");
  assert.equal(convs.length, 5);
  assert.deepEqual(convs[1].kind === "conv" && convs[1].x, [8, 27, 27, 64]);
  assert.deepEqual(convs[1].kind === "conv" && convs[1].w, [5, 5, 64, 192]);
  const fc6 = shapes.find((s) => s.name.startsWith("fc6"))!;
  assert.equal(fc6.kind === "matmul" && fc6.k, 9216);
  const sum = convs.reduce((s, c) => s + c.gflop, 0) + shapes.filter((s) => s.name.startsWith("fc")).reduce((s, c) => s + c.gflop, 0);
  assert.ok(Math.abs(sum - 8 * 2 * 0.714188) < 0.01, `${sum}`);
});

test("ceilingStepSeconds adds each layer's step flops at its own rate, and gives up when a rate is missing", () => {
  const layers = [
    { name: "conv1", macs: 1e9, trainFlops: 4e9 },
    { name: "fc6", macs: 1e9, trainFlops: 6e9 },
  ];
  const rates = [
    { shape: "conv1 32x224x224x3 k11 -> 64", gflops: 20 },
    { shape: "fc6 32x9216x4096", gflops: 10 },
  ];
  // batch 2: conv1 8 GFLOP at 20 GFLOP/s = 0.4 s; fc6 12 GFLOP at 10 = 1.2 s.
  assert.ok(Math.abs(ceilingStepSeconds(layers, 2, rates)! - 1.6) < 1e-12);
  assert.equal(ceilingStepSeconds(layers, 2, rates.slice(0, 1)), undefined);
});
