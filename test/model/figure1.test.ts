import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { activationCurves, passingFraction, saturatedFraction } from "../../lib/model/activations";
import { buildFigure1Net } from "../../lib/model/figure1";

test("activationCurves: values and autodiff derivatives match the closed forms", () => {
  const curves = activationCurves(-3, 3, 61);
  const byName = Object.fromEntries(curves.map((c) => [c.name, c]));
  curves.forEach((c) => assert.equal(c.x.length, 61));
  const i = 40; // x = 1
  assert.ok(Math.abs(byName.relu.x[i] - 1) < 1e-9);
  assert.equal(byName.relu.y[i], 1);
  assert.equal(byName.relu.dy[i], 1);
  assert.equal(byName.relu.dy[10], 0, "ReLU's derivative is 0 for negative inputs");
  assert.ok(Math.abs(byName.tanh.y[i] - Math.tanh(1)) < 1e-6);
  assert.ok(Math.abs(byName.tanh.dy[i] - (1 - Math.tanh(1) ** 2)) < 1e-6);
  const s = 1 / (1 + Math.exp(-1));
  assert.ok(Math.abs(byName.sigmoid.dy[i] - s * (1 - s)) < 1e-6);
});

test("saturatedFraction: tanh saturates at large |x|, ReLU only on the negative side", () => {
  const curves = Object.fromEntries(activationCurves(-4, 4, 161).map((c) => [c.name, c]));
  assert.ok(Math.abs(saturatedFraction(curves.relu) - 80 / 161) < 0.01, "half the range (x < 0) has a zero gradient");
  const tanhSat = saturatedFraction(curves.tanh);
  // tanh'(x) < 0.1 where |x| > atanh(sqrt(0.9)) = 1.818
  assert.ok(Math.abs(tanhSat - (2 * (4 - 1.818)) / 8) < 0.02, `tanh ${tanhSat}`);
  assert.equal(saturatedFraction(curves.sigmoid, 0.26), 1, "the sigmoid's slope never exceeds 1/4");
});

test("passingFraction: ReLU passes the gradient undiminished on half the range, tanh near 0 only, the sigmoid nowhere", () => {
  const curves = Object.fromEntries(activationCurves(-4, 4, 161).map((c) => [c.name, c]));
  // Grid step 0.05; x = 0 is point 80, where tfjs gives ReLU the derivative 0.
  assert.equal(passingFraction(curves.relu), 80 / 161, "x > 0: 80 points with f' = 1");
  // tanh'(x) >= 0.9 where |x| <= atanh(sqrt(0.1)) = 0.327: x = -0.30 .. 0.30, 13 points
  assert.equal(passingFraction(curves.tanh), 13 / 161);
  assert.equal(passingFraction(curves.sigmoid), 0, "the sigmoid's slope never exceeds 1/4");
  assert.equal(passingFraction(curves.sigmoid, 0.25), 1 / 161, "its slope is 1/4 at x = 0 only");
  // ReLU leaves nothing between the two measures; the sigmoid leaves more than half of the range there.
  assert.equal(saturatedFraction(curves.relu) + passingFraction(curves.relu), 1);
  assert.ok(saturatedFraction(curves.sigmoid) + passingFraction(curves.sigmoid) < 0.5);
});

test("buildFigure1Net: three 5x5 convolutions (32, 32, 64) and one fully connected layer", () => {
  const net = buildFigure1Net({ activation: "tanh", classes: 10, inputSize: 32 });
  assert.deepEqual(
    net.layers.filter((l) => l.getClassName() === "Conv2D").map((l) => (l.getConfig() as { filters: number }).filters),
    [32, 32, 64],
  );
  assert.deepEqual(net.outputs[0].shape, [null, 10]);
  // 5*5*3*32+32 + 5*5*32*32+32 + 5*5*32*64+64 + 4*4*64*10+10
  assert.equal(net.countParams(), 2432 + 25632 + 51264 + 10250);
  assert.equal((net.layers[0].getConfig() as { activation: string }).activation, "tanh");
  const again = buildFigure1Net({ activation: "tanh", classes: 10, inputSize: 32 });
  assert.deepEqual(net.getWeights()[0].dataSync().slice(0, 5), again.getWeights()[0].dataSync().slice(0, 5), "seeded");
  const small = buildFigure1Net({ activation: "relu", width: 0.5, inputSize: 16 });
  assert.equal((small.layers[0].getConfig() as { filters: number }).filters, 16);
  tf.dispose([net, again, small].flatMap((m) => m.getWeights()));
});
