import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { type AlexNetVariant, buildAlexNet } from "../../lib/model/alexnet";
import { groupedConv2d } from "../../lib/model/layers/grouped-conv";
import { PAPER_NEURONS, PAPER_TOTAL_NEURONS, formatSummary, summarise } from "../../lib/model/summary";
import { selectEngine } from "../../lib/engine/select";

before(async () => {
  await selectEngine({ force: "wasm" });
});

test("summarise: shapes, parameters, multiply-adds and neurons of a model checked by hand", () => {
  const input = tf.input({ shape: [8, 8, 4], name: "in" });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: "relu", name: "a" }).apply(input) as tf.SymbolicTensor;
  x = groupedConv2d({ filters: 8, kernelSize: 3, padding: "same", groups: 2, name: "b" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: "p" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: "f" }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 5, name: "d" }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: x });
  const s = summarise(model);
  assert.deepEqual(s.layers, [
    { name: "in", type: "InputLayer", outputShape: [8, 8, 4], params: 0, macs: 0, neurons: 0 },
    // 6x6x6 outputs, each 3*3*4 multiply-adds; 3*3*4*6 weights + 6 biases.
    { name: "a", type: "Conv2D", outputShape: [6, 6, 6], params: 222, macs: 216 * 36, neurons: 216 },
    // Two groups of 3 input channels: each output reads 3*3*3 inputs; kernel [3,3,3,8] + 8 biases.
    { name: "b", type: "GroupedConv2D", outputShape: [6, 6, 8], params: 224, macs: 288 * 27, neurons: 288 },
    { name: "p", type: "MaxPooling2D", outputShape: [3, 3, 8], params: 0, macs: 0, neurons: 0 },
    { name: "f", type: "Flatten", outputShape: [72], params: 0, macs: 0, neurons: 0 },
    { name: "d", type: "Dense", outputShape: [5], params: 365, macs: 360, neurons: 5 },
  ]);
  assert.deepEqual(s.totals, { params: 811, macs: 7776 + 7776 + 360, neurons: 509 });
  assert.equal(s.totals.params, model.countParams());

  const text = formatSummary(s);
  const lines = text.split("\n");
  assert.equal(lines.length, 2 + 6 + 2);
  assert.match(lines[0], /^layer\s+type\s+output\s+params\s+MACs\s+neurons$/);
  assert.match(text, /^b\s+GroupedConv2D\s+6x6x8\s+224\s+7,776\s+288$/m);
  assert.match(lines[lines.length - 1], /^total\s+811\s+15,912\s+509$/);
  model.dispose();
});

// Hand counts: conv outH*outW*outC * kh*kw*inC/groups; dense in*out.
const FC = 9216 * 4096 + 4096 * 4096 + 4096 * 1000;
const EXPECTED: [AlexNetVariant, number, number][] = [
  [
    "paper",
    55 * 55 * 96 * 11 * 11 * 3 +
      27 * 27 * 256 * 5 * 5 * 48 +
      13 * 13 * 384 * 3 * 3 * 256 +
      13 * 13 * 384 * 3 * 3 * 192 +
      13 * 13 * 256 * 3 * 3 * 192 +
      FC,
    290_400 + 186_624 + 64_896 + 64_896 + 43_264 + 4096 + 4096 + 1000,
  ],
  [
    "paper-1tower",
    55 * 55 * 96 * 11 * 11 * 3 +
      27 * 27 * 256 * 5 * 5 * 96 +
      13 * 13 * 384 * 3 * 3 * 256 +
      13 * 13 * 384 * 3 * 3 * 384 +
      13 * 13 * 256 * 3 * 3 * 384 +
      FC,
    659_272,
  ],
  ["torchvision", 714_188_480, 55 * 55 * 64 + 27 * 27 * 192 + 13 * 13 * (384 + 256 + 256) + 4096 + 4096 + 1000],
];

for (const [variant, macs, neurons] of EXPECTED) {
  test(`${variant}: summary totals at 224 (params = countParams, ${(macs / 1e9).toFixed(3)} GMACs, ${neurons.toLocaleString("en")} neurons)`, () => {
    const model = buildAlexNet(variant);
    try {
      const s = summarise(model);
      assert.equal(s.totals.params, model.countParams());
      assert.equal(s.totals.macs, macs);
      assert.equal(s.totals.neurons, neurons);
      if (variant === "torchvision") assert.equal((s.totals.macs / 1e9).toFixed(3), "0.714"); // torchvision's published GFLOPS
      if (variant === "paper") {
        const byName = Object.fromEntries(s.layers.map((l) => [l.name, l.neurons]));
        // Seven of the paper's eight counts are the built model's; conv1 is 55*55*96 = 290,400, not 253,440.
        for (const name of ["conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]) assert.equal(byName[name], PAPER_NEURONS[name], name);
        assert.equal(byName.conv1, 290_400);
        // 253,440 is 55 * 48 * 96 (a 48 for a 55?) or 48 * 48 * 110: the paper does not say which; it is no square map of 96 or 48 channels.
        assert.equal(PAPER_NEURONS.conv1, 55 * 48 * 96);
        assert.ok(!Number.isInteger(Math.sqrt(PAPER_NEURONS.conv1 / 96)) && !Number.isInteger(Math.sqrt(PAPER_NEURONS.conv1 / 48)));
        // The built total is the one closer to the paper's "650,000 neurons".
        const paperSum = Object.values(PAPER_NEURONS).reduce((a, b) => a + b, 0);
        assert.equal(paperSum, 622_312);
        assert.ok(Math.abs(s.totals.neurons - PAPER_TOTAL_NEURONS) < Math.abs(paperSum - PAPER_TOTAL_NEURONS));
      }
    } finally {
      model.dispose();
    }
  });
}
