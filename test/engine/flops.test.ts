import assert from "node:assert/strict";
import { test } from "node:test";
import { ceilingShapes, stepFlops } from "../../lib/engine/flops";
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
