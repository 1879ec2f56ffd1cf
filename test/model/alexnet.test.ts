import assert from "node:assert/strict";
import { before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import {
  type AlexNetVariant,
  buildAlexNet,
  conv1Arithmetic,
  conv1Padding,
  planAlexNet,
  pooledSize,
  predictProbabilities,
  probabilities,
} from "../../lib/model/alexnet";
import { selectEngine } from "../../lib/engine/select";

before(async () => {
  await selectEngine({ force: "wasm" });
});

/** Narrow enough to run forward passes in milliseconds, same topology as the full model. */
const NARROW = { widthMultiplier: 0.125, fcUnits: 32, numClasses: 7 };

function shapes(model: tf.LayersModel): Record<string, number[]> {
  return Object.fromEntries(model.layers.map((l) => [l.name, (l.outputShape as number[]).slice(1)]));
}

function images(n: number, size: number, seed = 3): tf.Tensor4D {
  return tf.randomUniform([n, size, size, 3], -1, 1, "float32", seed) as tf.Tensor4D;
}

test("conv1Arithmetic: 227 fits exactly, 224 needs padding 2 (torchvision) or cuda-convnet's rounding up", () => {
  assert.deepEqual(conv1Arithmetic(227, 0), {
    inputSize: 227,
    padding: 0,
    exact: 55,
    integral: true,
    outputSize: 55,
    unreadColumns: 0,
    unreadImageColumns: 0,
    ceilSize: 55,
  });
  // (224 - 11)/4 + 1 = 54.25: 54 windows leave the last image column unread; rounding up to 55 overhangs by 3.
  assert.deepEqual(conv1Arithmetic(224, 0), {
    inputSize: 224,
    padding: 0,
    exact: 54.25,
    integral: false,
    outputSize: 54,
    unreadColumns: 1,
    unreadImageColumns: 1,
    ceilSize: 55,
  });
  // (224 + 4 - 11)/4 + 1 = 55.25: 55 windows, and the unread column is padding.
  assert.deepEqual(conv1Arithmetic(224, 2), {
    inputSize: 224,
    padding: 2,
    exact: 55.25,
    integral: false,
    outputSize: 55,
    unreadColumns: 1,
    unreadImageColumns: 0,
    ceilSize: 56,
  });
  assert.throws(() => conv1Arithmetic(8, 1), /smaller than conv1's 11x11 kernel/);
  assert.throws(() => conv1Arithmetic(224.5, 0), /inputSize must be a positive integer/);
  assert.throws(() => conv1Arithmetic(224, -1), /padding must be a non-negative integer/);
});

test("conv1Padding: none at 3 mod 4, 2 at 0 mod 4, and a clear refusal otherwise", () => {
  assert.equal(conv1Padding(227), 0);
  assert.equal(conv1Padding(224), 2);
  assert.equal(conv1Padding(128), 2);
  assert.equal(conv1Padding(131), 0);
  assert.throws(() => conv1Padding(225), /inputSize 225 does not fit conv1 \(11x11, stride 4\).*54\.5.*55\.5.*e\.g\. 224 or 227/);
  assert.throws(() => conv1Padding(226), /e\.g\. 224 or 227/);
  assert.throws(() => conv1Padding(5), /at least 11/);
});

test("pooledSize rounds down like tfjs and PyTorch", () => {
  assert.deepEqual(
    [55, 27, 13, 31, 15, 7, 54, 3, 2].map((n) => pooledSize(n)),
    [27, 13, 6, 15, 7, 3, 26, 1, 0],
  );
});

test("planAlexNet resolves each variant's widths and sizes", () => {
  for (const inputSize of [224, 227]) {
    const p = planAlexNet("paper", { inputSize });
    assert.deepEqual(
      p.convs.map((c) => [c.filters, c.kernelSize, c.strides, c.padding, c.groups, c.outputSize]),
      [
        [96, 11, 4, inputSize === 224 ? 2 : 0, 1, 55],
        [256, 5, 1, 2, 2, 27],
        [384, 3, 1, 1, 1, 13],
        [384, 3, 1, 1, 2, 13],
        [256, 3, 1, 1, 2, 13],
      ],
    );
    assert.deepEqual(
      [p.pool1Size, p.pool2Size, p.pool5Size, p.flattenSize, p.fcUnits, p.numClasses, p.dropout, p.lrn, p.dropoutOn],
      [27, 13, 6, 9216, 4096, 1000, 0.5, true, "outputs"],
    );
  }
  assert.deepEqual(
    planAlexNet("paper-1tower").convs.map((c) => c.groups),
    [1, 1, 1, 1, 1],
  );
  const tv = planAlexNet("torchvision");
  assert.deepEqual(
    tv.convs.map((c) => [c.filters, c.padding]),
    [
      [64, 2],
      [192, 2],
      [384, 1],
      [256, 1],
      [256, 1],
    ],
  );
  assert.deepEqual([tv.lrn, tv.dropoutOn, tv.flattenSize], [false, "inputs", 9216]);
  const mini = planAlexNet("mini");
  assert.deepEqual(
    mini.convs.map((c) => [c.filters, c.groups, c.outputSize]),
    [
      [24, 1, 31],
      [64, 2, 15],
      [96, 1, 7],
      [96, 2, 7],
      [64, 2, 7],
    ],
  );
  assert.deepEqual(
    [mini.inputSize, mini.pool5Size, mini.flattenSize, mini.fcUnits, mini.numClasses, mini.lrn],
    [128, 3, 576, 512, 10, true],
  );
});

test("widthMultiplier keeps grouped widths even, so each tower gets whole channels", () => {
  const p = planAlexNet("paper", { widthMultiplier: 0.3 });
  assert.deepEqual(
    p.convs.map((c) => c.filters),
    [28, 76, 116, 116, 76],
  );
  assert.equal(p.fcUnits, 1229);
  assert.deepEqual(
    planAlexNet("torchvision", { widthMultiplier: 0.3 }).convs.map((c) => c.filters),
    [19, 58, 115, 77, 77],
  );
  assert.deepEqual(
    planAlexNet("paper", { widthMultiplier: 0.001 }).convs.map((c) => c.filters),
    [2, 2, 2, 2, 2],
  );
});

test("planAlexNet refuses bad options with the fix in the message", () => {
  assert.throws(() => planAlexNet("paper", { inputSize: 225 }), /does not fit conv1/);
  assert.throws(() => planAlexNet("paper", { inputSize: 60 }), /inputSize 60 is too small.*pool5 0x0.*64 and 67/);
  assert.throws(() => planAlexNet("torchvision", { inputSize: 256 }), /AdaptiveAvgPool2d\(\(6, 6\)\).*pool5 7x7.*inputSize 224/);
  assert.doesNotThrow(() => planAlexNet("torchvision", { inputSize: 227 }));
  assert.throws(() => planAlexNet("paper", { dropout: 1 }), /dropout is a rate in \[0, 1\)/);
  assert.throws(() => planAlexNet("paper", { numClasses: 0 }), /numClasses must be a positive integer/);
  assert.throws(() => planAlexNet("paper", { widthMultiplier: 0 }), /widthMultiplier must be a positive number/);
  assert.throws(() => planAlexNet("paper", { fcUnits: 2.5 }), /fcUnits must be a positive integer/);
  assert.throws(() => planAlexNet("paper", { seed: 0.5 }), /seed must be an integer/);
  assert.throws(
    () => planAlexNet("paper", { init: "kaiming" as never }),
    /init 'kaiming' is not an initialisation scheme; use one of paper, caffe, he/,
  );
  assert.throws(() => planAlexNet("vgg" as AlexNetVariant), /variant 'vgg' is unknown; use one of paper, paper-1tower, torchvision, mini/);
});

const FULL: [AlexNetVariant, number][] = [
  ["paper", 60_965_224],
  ["paper-1tower", 62_378_344],
  ["torchvision", 61_100_840],
];

for (const [variant, params] of FULL) {
  test(`${variant} has exactly ${params.toLocaleString("en")} parameters at 1000 classes`, () => {
    const model = buildAlexNet(variant);
    try {
      assert.equal(model.countParams(), params);
      const s = shapes(model);
      const c1 = variant === "torchvision" ? 64 : 96;
      assert.deepEqual(
        [s.conv1, s.pool1, s.pool2, s.pool5, s.flatten, s.fc6, s.fc7, s.fc8],
        [[55, 55, c1], [27, 27, c1], [13, 13, variant === "torchvision" ? 192 : 256], [6, 6, 256], [9216], [4096], [4096], [1000]],
      );
    } finally {
      model.dispose();
    }
  });
}

test("paper: layer order, two towers as groups on conv2, conv4, conv5, and output shapes at 224", () => {
  const model = buildAlexNet("paper", NARROW);
  try {
    assert.deepEqual(
      model.layers.map((l) => l.name),
      [
        "input",
        "pad1",
        "conv1",
        "lrn1",
        "pool1",
        "conv2",
        "lrn2",
        "pool2",
        "conv3",
        "conv4",
        "conv5",
        "pool5",
        "flatten",
        "fc6",
        "dropout6",
        "fc7",
        "dropout7",
        "fc8",
      ],
    );
    const kernel = (name: string) => model.getLayer(name).getWeights()[0].shape;
    // conv2 and conv4, conv5 read half of their input channels (one tower); conv3 reads all.
    assert.deepEqual(
      [kernel("conv1"), kernel("conv2"), kernel("conv3"), kernel("conv4"), kernel("conv5")],
      [
        [11, 11, 3, 12],
        [5, 5, 6, 32],
        [3, 3, 32, 48],
        [3, 3, 24, 48],
        [3, 3, 24, 32],
      ],
    );
    assert.equal(model.getLayer("conv2").getClassName(), "GroupedConv2D");
    assert.equal(model.getLayer("conv3").getClassName(), "Conv2D");
    const s = shapes(model);
    assert.deepEqual(
      [s.pad1, s.conv1, s.pool1, s.conv2, s.pool2, s.conv5, s.pool5, s.flatten, s.fc6, s.fc8],
      [[228, 228, 3], [55, 55, 12], [27, 27, 12], [27, 27, 32], [13, 13, 32], [13, 13, 32], [6, 6, 32], [1152], [32], [7]],
    );
    const x = images(2, 224);
    const y = model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 7]);
    tf.dispose([x, y]);
  } finally {
    model.dispose();
  }
});

test("paper at 227 has no padding layer and the same 55x55 conv1", () => {
  const model = buildAlexNet("paper", { ...NARROW, inputSize: 227 });
  try {
    assert.ok(!model.layers.some((l) => l.name === "pad1"));
    const s = shapes(model);
    assert.deepEqual(
      [s.conv1, s.pool5],
      [
        [55, 55, 12],
        [6, 6, 32],
      ],
    );
    const x = images(2, 227);
    const y = model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 7]);
    tf.dispose([x, y]);
  } finally {
    model.dispose();
  }
});

test("torchvision: dropout before fc6 and fc7, no LRN, one layer per torchvision layer", () => {
  const model = buildAlexNet("torchvision", NARROW);
  try {
    assert.deepEqual(
      model.layers.map((l) => l.name),
      [
        "input",
        "pad1",
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "conv4",
        "conv5",
        "pool5",
        "flatten",
        "dropout5",
        "fc6",
        "dropout6",
        "fc7",
        "fc8",
      ],
    );
    const x = images(1, 224);
    const y = model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [1, 7]);
    tf.dispose([x, y]);
  } finally {
    model.dispose();
  }
});

test("mini: 128x128 input to 10 logits through the paper's structure", () => {
  const model = buildAlexNet("mini");
  try {
    const s = shapes(model);
    assert.deepEqual(
      [s.conv1, s.lrn1, s.pool1, s.conv2, s.pool2, s.conv5, s.pool5, s.fc6, s.fc7, s.fc8],
      [[31, 31, 24], [31, 31, 24], [15, 15, 24], [15, 15, 64], [7, 7, 64], [7, 7, 64], [3, 3, 64], [512], [512], [10]],
    );
    assert.equal(model.getLayer("conv4").getClassName(), "GroupedConv2D");
    const x = images(3, 128);
    const y = model.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [3, 10]);
    assert.ok(Array.from(y.dataSync()).every(Number.isFinite));
    tf.dispose([x, y]);
  } finally {
    model.dispose();
  }
});

test("lrn: false removes both LRN layers and nothing else", () => {
  const a = buildAlexNet("mini", { lrn: false });
  const b = buildAlexNet("mini");
  try {
    assert.deepEqual(
      a.layers.map((l) => l.name),
      b.layers.map((l) => l.name).filter((n) => n !== "lrn1" && n !== "lrn2"),
    );
    assert.equal(a.countParams(), b.countParams());
  } finally {
    a.dispose();
    b.dispose();
  }
});

test("dropout acts only in training; inference is deterministic", () => {
  const model = buildAlexNet("mini", { dropout: 0.5, fcUnits: 64 });
  const x = images(2, 128);
  try {
    const p1 = model.predict(x) as tf.Tensor;
    const p2 = model.predict(x) as tf.Tensor;
    assert.deepEqual(Array.from(p1.dataSync()), Array.from(p2.dataSync()));
    const t = model.apply(x, { training: true }) as tf.Tensor;
    assert.notDeepEqual(Array.from(t.dataSync()), Array.from(p1.dataSync()));
    assert.equal((model.getLayer("dropout6").getConfig() as { rate: number }).rate, 0.5);
    tf.dispose([p1, p2, t]);
  } finally {
    x.dispose();
    model.dispose();
  }
});

test("probabilities: the softmax of the logits, rows summing to 1", () => {
  const model = buildAlexNet("mini");
  const x = images(2, 128);
  try {
    const logits = model.predict(x) as tf.Tensor2D;
    const p = predictProbabilities(model, x);
    const q = probabilities(logits);
    const pv = p.arraySync();
    for (const row of pv) assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    assert.deepEqual(pv, q.arraySync());
    const l = logits.arraySync()[0];
    const e = l.map((v) => Math.exp(v - Math.max(...l)));
    const sum = e.reduce((a, b) => a + b, 0);
    e.forEach((v, i) => assert.ok(Math.abs(v / sum - pv[0][i]) < 1e-6));
    tf.dispose([logits, p, q]);
  } finally {
    x.dispose();
    model.dispose();
  }
});

test("pooling: 'non-overlapping' uses 2x2 windows at stride 2, and sizes follow", () => {
  const over = planAlexNet("mini", {});
  const non = planAlexNet("mini", { pooling: "non-overlapping" });
  assert.deepEqual([over.pool1Size, over.pool2Size, over.pool5Size], [15, 7, 3], "3/2: 31 -> 15 -> 7 -> 3");
  assert.deepEqual([non.pool1Size, non.pool2Size, non.pool5Size], [15, 7, 3], "2/2 gives the same sizes here");
  const model = buildAlexNet("mini", { pooling: "non-overlapping" });
  const cfg = model.getLayer("pool1").getConfig() as { poolSize: number[]; strides: number[] };
  assert.deepEqual(
    [cfg.poolSize, cfg.strides],
    [
      [2, 2],
      [2, 2],
    ],
  );
  assert.equal(model.countParams(), buildAlexNet("mini").countParams(), "pooling has no parameters");
  assert.throws(() => planAlexNet("mini", { pooling: "average" as never }), /pooling must be "overlapping" or "non-overlapping"/);
  model.dispose();
});

test("towers: 1 is section 3.2's one-GPU net: no groups, half the kernels of conv1..conv4, conv5 and FC as they were", () => {
  const two = planAlexNet("paper");
  const one = planAlexNet("paper", { towers: 1 });
  assert.deepEqual(
    two.convs.map((c) => c.filters),
    [96, 256, 384, 384, 256],
  );
  assert.deepEqual(
    one.convs.map((c) => c.filters),
    [48, 128, 192, 192, 256],
  );
  assert.deepEqual(
    one.convs.map((c) => c.groups),
    [1, 1, 1, 1, 1],
  );
  assert.equal(one.fcUnits, two.fcUnits);
  assert.equal(one.flattenSize, two.flattenSize);
  assert.deepEqual(
    planAlexNet("mini", { towers: 1 }).convs.map((c) => c.filters),
    [12, 32, 48, 48, 64],
  );
  assert.equal(planAlexNet("mini").towers, 2);
  assert.throws(() => planAlexNet("torchvision", { towers: 1 }), /has one tower already/);
  assert.throws(() => planAlexNet("paper-1tower", { towers: 2 }), /has one tower; towers: 2 needs paper or mini/);
  const m = buildAlexNet("mini", { ...NARROW, inputSize: 64, towers: 1 });
  try {
    assert.equal(m.getLayer("conv2").getClassName(), "Conv2D", "one tower: a plain convolution, not a grouped one");
    assert.deepEqual((m.outputs[0].shape as number[]).slice(1), [7]);
  } finally {
    m.dispose();
  }
});

test("omitConv builds the net without that middle layer, and the rest as before", () => {
  const full = buildAlexNet("mini", { ...NARROW, inputSize: 64 });
  const noConv4 = buildAlexNet("mini", { ...NARROW, inputSize: 64, omitConv: "conv4" });
  const noConv3 = buildAlexNet("mini", { ...NARROW, inputSize: 64, omitConv: "conv3" });
  try {
    const names = (m: tf.LayersModel) => m.layers.map((l) => l.name);
    assert.deepEqual(
      names(noConv4),
      names(full).filter((n) => n !== "conv4"),
    );
    assert.deepEqual(
      names(noConv3),
      names(full).filter((n) => n !== "conv3"),
    );
    assert.ok(noConv4.countParams() < full.countParams());
    const x = images(2, 64);
    const y = noConv3.predict(x) as tf.Tensor;
    assert.deepEqual(y.shape, [2, 7]);
    tf.dispose([x, y]);
    assert.throws(() => planAlexNet("mini", { omitConv: "conv1" as "conv3" }), /omitConv is "conv3" or "conv4"/);
  } finally {
    [full, noConv4, noConv3].forEach((m) => m.dispose());
  }
});

test("hiddenBias replaces the paper's starting bias of 1 in conv2, conv4, conv5, fc6, fc7 only", () => {
  const m = buildAlexNet("mini", { ...NARROW, inputSize: 64, init: "paper", hiddenBias: 0 });
  const p = buildAlexNet("mini", { ...NARROW, inputSize: 64, init: "paper" });
  try {
    const biasOf = (model: tf.LayersModel, name: string) => (model.getLayer(name).getWeights()[1].dataSync() as Float32Array)[0];
    for (const name of ["conv2", "conv4", "conv5", "fc6", "fc7"]) {
      assert.equal(biasOf(p, name), 1, name);
      assert.equal(biasOf(m, name), 0, name);
    }
    for (const name of ["conv1", "conv3", "fc8"]) assert.equal(biasOf(m, name), 0, name);
    const q = buildAlexNet("mini", { ...NARROW, inputSize: 64, init: "he", hiddenBias: 0.5 });
    assert.equal(biasOf(q, "conv3"), 0);
    assert.equal(biasOf(q, "fc6"), 0.5);
    q.dispose();
  } finally {
    m.dispose();
    p.dispose();
  }
});
