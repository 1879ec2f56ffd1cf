import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { selectEngine } from "../../../lib/engine/select";
import { planAlexNet } from "../../../lib/model/alexnet";
import { IMAGENET_NORMALIZATION, readCard } from "../../../lib/model/card";
import { loadModel, saveModel } from "../../../lib/model/io";
import type { StateDict } from "../../../lib/model/weights/pytorch";
import {
  TORCHVISION_MODULES,
  classNamesFor,
  convKernel,
  denseKernel,
  fc6Kernel,
  importTorchvision,
  inferTorchvisionOptions,
  readStateDict,
  stateDictToTorchvision,
} from "../../../lib/model/weights/torchvision";

const FIXTURES = path.join(__dirname, "..", "..", "fixtures", "torch");
const expected = JSON.parse(readFileSync(path.join(FIXTURES, "expected.json"), "utf8")) as {
  input: { shape: [number, number, number, number]; sum: number };
  logits: number[][];
  widths: number[];
  fcUnits: number;
  numClasses: number;
};
const tmp = mkdtempSync(path.join(os.tmpdir(), "alexnet-torchvision-"));

before(async () => {
  await selectEngine({ force: "wasm" });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** make_fixtures.py's input, recomputed exactly, transposed NCHW → NHWC. */
function fixtureInput(): tf.Tensor4D {
  const [N, C, H, W] = expected.input.shape;
  const x = new Float32Array(N * H * W * C);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let h = 0; h < H; h++)
        for (let w = 0; w < W; w++) {
          const i = ((n * C + c) * H + h) * W + w;
          const u = ((i * 2654435761 + 12345) % 2 ** 32) / 2 ** 32;
          const block = (Math.floor(h / 32) + Math.floor(w / 32) * (n + 2) + c) % 5;
          x[((n * H + h) * W + w) * C + c] = u * 2 - 1 + (block - 2) / 2;
        }
  // Float64 sum of the float32 values, as numpy computed it.
  assert.ok(Math.abs(x.reduce((a, b) => a + b, 0) - expected.input.sum) < 1e-6, "the input formula matches make_fixtures.py");
  return tf.tensor4d(x, [N, H, W, C]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

function logits(model: tf.LayersModel, x: tf.Tensor4D): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

/** A state dict with torchvision's names and the given shapes, filled with zeros. */
function shapesOnly(shapes: Record<string, number[]>): StateDict {
  return new Map(Object.entries(shapes).map(([k, shape]) => [k, { dtype: "float32", shape, data: new Float32Array(0) }]));
}

function torchvisionShapes(widths: number[], fc: number, classes: number): Record<string, number[]> {
  const kernels = [11, 5, 3, 3, 3];
  const shapes: Record<string, number[]> = {};
  (["conv1", "conv2", "conv3", "conv4", "conv5"] as const).forEach((c, i) => {
    shapes[`${TORCHVISION_MODULES[c]}.weight`] = [widths[i], i ? widths[i - 1] : 3, kernels[i], kernels[i]];
    shapes[`${TORCHVISION_MODULES[c]}.bias`] = [widths[i]];
  });
  Object.assign(shapes, {
    "classifier.1.weight": [fc, widths[4] * 36],
    "classifier.1.bias": [fc],
    "classifier.4.weight": [fc, fc],
    "classifier.4.bias": [fc],
    "classifier.6.weight": [classes, fc],
    "classifier.6.bias": [classes],
  });
  return shapes;
}

for (const file of ["alexnet-tiny.pth", "alexnet-tiny-legacy.pth", "alexnet-tiny.safetensors"]) {
  test(`${file}: the imported model's logits match PyTorch's within 1e-4`, async () => {
    const { stateDict } = await readStateDict(path.join(FIXTURES, file));
    const model = stateDictToTorchvision(stateDict);
    const x = fixtureInput();
    try {
      const diff = maxAbsDiff(logits(model, x), expected.logits.flat());
      assert.ok(diff < 1e-4, `max |tfjs - torch| = ${diff}`);
    } finally {
      x.dispose();
      model.dispose();
    }
  });
}

test("control: without fc6's row permutation the logits are off", async () => {
  const { stateDict } = await readStateDict(path.join(FIXTURES, "alexnet-tiny.pth"));
  const model = stateDictToTorchvision(stateDict);
  const w = stateDict.get("classifier.1.weight")!;
  const wrong = [
    tf.tensor2d(denseKernel(w.data, w.shape[0], w.shape[1]), [w.shape[1], w.shape[0]]),
    tf.tensor1d(stateDict.get("classifier.1.bias")!.data),
  ];
  model.getLayer("fc6").setWeights(wrong);
  const x = fixtureInput();
  try {
    assert.ok(maxAbsDiff(logits(model, x), expected.logits.flat()) > 1e-2);
  } finally {
    tf.dispose([x, ...wrong]);
    model.dispose();
  }
});

test("widths, fc units and classes are read from the tensors", async () => {
  const { stateDict } = await readStateDict(path.join(FIXTURES, "alexnet-tiny.pth"));
  const options = inferTorchvisionOptions(stateDict);
  assert.deepEqual(options, { inputSize: 224, numClasses: expected.numClasses, widthMultiplier: 0.0625, fcUnits: expected.fcUnits });
  assert.deepEqual(
    planAlexNet("torchvision", options).convs.map((c) => c.filters),
    expected.widths,
  );

  // torchvision's own alexnet-owt-7be5be79.pth has these shapes.
  const full = inferTorchvisionOptions(shapesOnly(torchvisionShapes([64, 192, 384, 256, 256], 4096, 1000)));
  assert.deepEqual(full, { inputSize: 224, numClasses: 1000, widthMultiplier: 1, fcUnits: 4096 });
  const plan = planAlexNet("torchvision", full);
  assert.equal(plan.flattenSize, 9216);
  // DataParallel's "module." prefix is dropped.
  const wrapped = new Map([...shapesOnly(torchvisionShapes([32, 96, 192, 128, 128], 1024, 5))].map(([k, v]) => [`module.${k}`, v]));
  assert.deepEqual(inferTorchvisionOptions(wrapped), { inputSize: 224, numClasses: 5, widthMultiplier: 0.5, fcUnits: 1024 });
});

test("missing, unexpected and misshapen tensors are listed by name and shape", () => {
  const shapes = torchvisionShapes([64, 192, 384, 256, 256], 4096, 1000);
  delete shapes["features.8.bias"];
  shapes["features.1.running_mean"] = [64];
  assert.throws(
    () => inferTorchvisionOptions(shapesOnly(shapes)),
    /missing: features\.8\.bias\n.*unexpected: features\.1\.running_mean \[64\]/,
  );

  const bad = torchvisionShapes([64, 192, 384, 256, 256], 4096, 1000);
  bad["classifier.1.weight"] = [4096, 256 * 5 * 5];
  assert.throws(() => inferTorchvisionOptions(shapesOnly(bad)), /classifier\.1\.weight is \[4096, 6400\], expected \[4096, 9216\]/);

  // Widths no single multiplier gives.
  assert.throws(
    () => inferTorchvisionOptions(shapesOnly(torchvisionShapes([64, 100, 384, 256, 256], 64, 10))),
    /not torchvision's \[64, 192, 384, 256, 256\] scaled by a single widthMultiplier/,
  );
});

test("fc6 permutation: tfjs row (h*S+w)*C+c takes torch column c*S*S+h*S+w", () => {
  // One output, C=2, S=2: torch's columns numbered 0..7 in (c, h, w) order.
  assert.deepEqual([...fc6Kernel(Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]), 1, 2, 2)], [0, 4, 1, 5, 2, 6, 3, 7]);
  // On a random feature map: torch's CHW flatten times its weight = tfjs' HWC flatten times the kernel.
  const [C, S, out] = [3, 4, 5];
  const rand = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);
  const features = rand(S * S * C, 1); // HWC
  const weight = rand(out * C * S * S, 2);
  const kernel = fc6Kernel(weight, out, C, S);
  for (let o = 0; o < out; o++) {
    let torch = 0;
    let tfjs = 0;
    for (let c = 0; c < C; c++)
      for (let h = 0; h < S; h++)
        for (let w = 0; w < S; w++) torch += features[(h * S + w) * C + c] * weight[o * C * S * S + c * S * S + h * S + w];
    for (let r = 0; r < S * S * C; r++) tfjs += features[r] * kernel[r * out + o];
    assert.ok(Math.abs(torch - tfjs) < 1e-5, `output ${o}`);
  }
  // Conv and dense transposes on a hand-made case.
  assert.deepEqual([...denseKernel(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)], [1, 4, 2, 5, 3, 6]);
  // [out=2, in=1, 1, 2] → [1, 2, 1, 2]: kernel[0, x, 0, o] = weight[o, 0, 0, x].
  assert.deepEqual([...convKernel(Float32Array.from([1, 2, 3, 4]), [2, 1, 1, 2])], [1, 3, 2, 4]);
});

test("importTorchvision saves a model and card whose reload gives the same outputs", async () => {
  const file = path.join(FIXTURES, "alexnet-tiny.pth");
  const dir = path.join(tmp, "imported");
  const result = await importTorchvision(file, dir);
  const x = fixtureInput();
  try {
    const sha256 = createHash("sha256").update(readFileSync(file)).digest("hex");
    assert.equal(result.sha256, sha256);
    assert.equal(result.format, "zip");
    const { stateDict } = await readStateDict(file);
    assert.equal(
      result.parameters,
      [...stateDict.values()].reduce((a, t) => a + t.data.length, 0),
    );
    const card = readCard(dir);
    assert.deepEqual(card, {
      variant: "torchvision",
      modelOptions: { inputSize: 224, numClasses: 10, widthMultiplier: 0.0625, fcUnits: 32 },
      classes: Array.from({ length: 10 }, (_, i) => `class ${i}`),
      input: IMAGENET_NORMALIZATION,
      source: `alexnet-tiny.pth sha256:${sha256}`,
    });
    const loaded = await loadModel(dir);
    try {
      const a = logits(result.model, x);
      assert.deepEqual(logits(loaded, x), a);
      assert.ok(maxAbsDiff(a, expected.logits.flat()) < 1e-4);
      // saveModel of the loaded copy writes the same weights again.
      await saveModel(loaded, path.join(tmp, "again"));
      assert.deepEqual(readFileSync(path.join(tmp, "again", "weights.bin")), readFileSync(path.join(dir, "weights.bin")));
    } finally {
      loaded.dispose();
    }
  } finally {
    x.dispose();
    result.model.dispose();
  }
});

test("1000 outputs are named with ImageNet's classes", () => {
  const names = classNamesFor(1000);
  assert.equal(names.length, 1000);
  assert.equal(names[0], "tench");
  assert.deepEqual(classNamesFor(3), ["class 0", "class 1", "class 2"]);
});
